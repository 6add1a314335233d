package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// TestProviderRouting: a router joins two vlan networks (va, vb), a flat
// network (f) and a geneve network (g), all with VMs, on two chassis mapping physnet1 to
// their br-phys. Ping and TCP work across the router both ways, between
// VMs on different chassis and on the same chassis. Captures on both
// chassis' physical links show no frame from any of the router's MACs
// (its gateways are answered on each chassis), every routed frame tagged
// with the destination network's VLAN (untagged for the flat network) and
// sent from the sending chassis' chassis MAC, and no tunnel packet.
func TestProviderRouting(t *testing.T) {
	l := newLab(t, lab.Options{ServerArgs: []string{"--network-vlan-ranges", "physnet1:100:199"}})
	brPhys := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-phys") }
	var chs []*testbed.Chassis
	for _, name := range []string{"ch1", "ch2"} {
		ch, err := l.AddChassisWith(name, brPhys, []string{"--bridge-mappings", "physnet1:br-phys"})
		if err != nil {
			t.Fatal(err)
		}
		chs = append(chs, ch)
	}
	network := func(name string, body map[string]any, cidr string) (model.Network, model.Subnet) {
		t.Helper()
		body["name"] = name
		var n struct{ Network model.Network }
		if err := l.Do("POST", "/v2.0/networks", "p1", map[string]any{"network": body}, &n); err != nil {
			t.Fatal(err)
		}
		var s struct{ Subnet model.Subnet }
		if err := l.Do("POST", "/v2.0/subnets", "p1", map[string]any{"subnet": map[string]any{
			"network_id": n.Network.ID, "cidr": cidr, "ip_version": 4}}, &s); err != nil {
			t.Fatal(err)
		}
		return n.Network, s.Subnet
	}
	vlan := map[string]any{"provider:network_type": "vlan", "provider:physical_network": "physnet1"}
	va, sa := network("va", vlan, "10.40.0.0/24")
	vb, sb := network("vb", map[string]any{"provider:network_type": "vlan", "provider:physical_network": "physnet1"}, "10.42.0.0/24")
	g, sg := network("g", map[string]any{"provider:network_type": "geneve"}, "10.41.0.0/24")
	f, sf := network("f", map[string]any{"provider:network_type": "flat", "provider:physical_network": "physnet1"}, "10.43.0.0/24")
	rid := router(t, l, "p1", sa, sb, sg, sf)
	var rports struct{ Ports []model.Port }
	if err := l.Do("GET", "/v2.0/ports?device_id="+rid, "p1", nil, &rports); err != nil {
		t.Fatal(err)
	}
	if len(rports.Ports) != 4 {
		t.Fatalf("router has %d ports, want 4", len(rports.Ports))
	}
	routerMACs := map[string]bool{}
	for _, p := range rports.Ports {
		routerMACs[strings.ToLower(p.MACAddress)] = true
	}
	chassisMAC := map[string]string{}
	for _, ch := range chs {
		chassisMAC[logical.ChassisMAC(ch.Name, "physnet1").String()] = ch.Name
	}
	vlanOf := map[netip.Prefix]int{
		netip.MustParsePrefix(sa.CIDR): va.SegmentationID,
		netip.MustParsePrefix(sb.CIDR): vb.SegmentationID,
		netip.MustParsePrefix(sf.CIDR): 0, // flat: untagged
	}

	captures := make([]*testbed.Capture, len(chs))
	for i, ch := range chs {
		c, err := ch.Capture(testbed.ExternalIface)
		if err != nil {
			t.Fatal(err)
		}
		captures[i] = c
	}

	vm := func(ch *testbed.Chassis, name string, n model.Network, s model.Subnet, ip, gw string) *testbed.VM {
		t.Helper()
		v, _ := boot(t, l, ch, name, "p1", n, fixed(s.ID, ip))
		if err := v.SetGateway(gw); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a1 := vm(chs[0], "a1", va, sa, "10.40.0.11", "10.40.0.1")
	a2 := vm(chs[1], "a2", va, sa, "10.40.0.12", "10.40.0.1")
	b2 := vm(chs[1], "b2", vb, sb, "10.42.0.12", "10.42.0.1")
	g1 := vm(chs[0], "g1", g, sg, "10.41.0.11", "10.41.0.1")
	g2 := vm(chs[1], "g2", g, sg, "10.41.0.12", "10.41.0.1")
	f2 := vm(chs[1], "f2", f, sf, "10.43.0.12", "10.43.0.1")

	// Every pair across the router, both ways: vlan ↔ geneve and vlan ↔
	// vlan, across chassis and on one chassis.
	pairs := []struct {
		from *testbed.VM
		to   string
	}{
		{a1, "10.41.0.12"}, {g2, "10.40.0.11"}, // vlan ch1 ↔ geneve ch2
		{g1, "10.40.0.12"}, {a2, "10.41.0.11"}, // geneve ch1 ↔ vlan ch2
		{a1, "10.42.0.12"}, {b2, "10.40.0.11"}, // vlan ch1 ↔ vlan ch2
		{a1, "10.41.0.11"}, {g1, "10.40.0.11"}, // vlan ↔ geneve on ch1
		{a2, "10.42.0.12"}, {b2, "10.40.0.12"}, // vlan ↔ vlan on ch2
		{a1, "10.43.0.12"}, {f2, "10.40.0.11"}, // vlan ch1 ↔ flat ch2
		{g1, "10.43.0.12"}, {f2, "10.41.0.11"}, // geneve ch1 ↔ flat ch2
		{a1, "10.40.0.12"}, // switched on va, for comparison
	}
	for _, p := range pairs {
		mustPing(t, l, p.from, p.to)
	}
	tcp := []struct {
		from   *testbed.VM
		server *testbed.VM
		to     string
	}{
		{a1, b2, "10.42.0.12"}, {b2, a1, "10.40.0.11"},
		{g2, a1, "10.40.0.11"}, {a1, g2, "10.41.0.12"},
		{g1, a2, "10.40.0.12"},
	}
	served := map[*testbed.VM]bool{}
	for i, c := range tcp {
		if !served[c.server] {
			served[c.server] = true
			tcpServe(t, c.server, 5001)
		}
		if !tcpConnect(c.from, c.to, 5001, 10*time.Second) {
			t.Fatalf("tcp %d: %s → %s:5001 failed\n%s", i, c.from.Name, c.to, l.Bed.LogTails(15))
		}
	}

	var routedFrom = map[string]int{}
	var switched int
	for i, c := range captures {
		pkts, err := c.Stop()
		if err != nil {
			t.Fatal(err)
		}
		var bad []string
		for _, p := range pkts {
			eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			if !ok {
				continue
			}
			if routerMACs[eth.SrcMAC.String()] {
				bad = append(bad, "router MAC as source: "+p.Summary())
				continue
			}
			if arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok && routerMACs[net.HardwareAddr(arp.SourceHwAddress).String()] {
				bad = append(bad, "router MAC in ARP: "+p.Summary())
				continue
			}
			if _, g := p.Geneve(); g {
				bad = append(bad, "tunnel: "+p.Summary())
				continue
			}
			if _, x := p.VXLAN(); x {
				bad = append(bad, "tunnel: "+p.Summary())
				continue
			}
			ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if !ok {
				continue
			}
			src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
			dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
			if dst.IsMulticast() || dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				continue
			}
			var dstNet netip.Prefix
			for pf := range vlanOf {
				if pf.Contains(dst) {
					dstNet = pf
				}
			}
			if !dstNet.IsValid() {
				bad = append(bad, "not to a vlan network: "+p.Summary())
				continue
			}
			q, tagged := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
			if want := vlanOf[dstNet]; want == 0 && tagged || want != 0 && (!tagged || int(q.VLANIdentifier) != want) {
				bad = append(bad, fmt.Sprintf("not tagged %d (0: untagged): %s", want, p.Summary()))
				continue
			}
			if dstNet.Contains(src) {
				switched++
				continue
			}
			// Routed: from the chassis MAC of a chassis.
			name, ok := chassisMAC[eth.SrcMAC.String()]
			if !ok {
				bad = append(bad, "routed, not from a chassis MAC: "+p.Summary())
				continue
			}
			if i == 0 { // count each frame once: on ch1's link
				routedFrom[name]++
			}
		}
		if len(bad) > 0 {
			text, _ := c.Text()
			t.Fatalf("%s's physical link:\n%s\ncapture:\n%s", chs[i].Name, strings.Join(bad, "\n"), text)
		}
	}
	t.Logf("on ch1's physical link: routed frames from ch1's chassis MAC %d, from ch2's %d; switched on a vlan network %d",
		routedFrom["ch1"], routedFrom["ch2"], switched)
	// Cross-chassis routed pings onto a vlan network: g2 → a1, a1 → b2
	// and b2 → a1 (sent or answered by ch2, and by ch1), plus TCP.
	if routedFrom["ch1"] < 4 || routedFrom["ch2"] < 4 || switched < 4 {
		t.Fatalf("ch1's physical link: %d routed frames from ch1's chassis MAC, %d from ch2's (want 4+ each), %d switched (want 4+)",
			routedFrom["ch1"], routedFrom["ch2"], switched)
	}
}

// TestProviderRoutingSNAT: a router with a gateway on a flat external
// network and an interface on a vlan network, both on physnet1, which gw1
// (the only --gateway chassis, so the router's active gateway) and ch1
// map. a1 on ch1 and a0 on gw1 reach the outside host by ping and TCP
// through SNAT to the router's gateway address, and a floating IP of a1
// (distributed: ch1 maps the external network) reaches a1 from outside.
// ch1's physical link shows a1's SNAT traffic handed to gw1 tagged with
// the vlan network's VLAN, from ch1's chassis MAC to gw1's, and its
// replies routed back from gw1's, never a frame from a router interface's
// MAC; ch1's underlay carries no tunnel packet.
func TestProviderRoutingSNAT(t *testing.T) {
	l := newLab(t, lab.Options{ServerArgs: []string{"--network-vlan-ranges", "physnet1:100:199"}})
	outside, err := l.Bed.AddExternalHost("outside", netip.MustParsePrefix("203.0.113.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	gw1, ch1 := gatewayAndChassis(t, l)
	ext, _ := extNet(t, l)
	var n struct{ Network model.Network }
	if err := l.Do("POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "va",
		"provider:network_type": "vlan", "provider:physical_network": "physnet1"}}, &n); err != nil {
		t.Fatal(err)
	}
	va := n.Network
	var s struct{ Subnet model.Subnet }
	if err := l.Do("POST", "/v2.0/subnets", "p1", map[string]any{"subnet": map[string]any{
		"network_id": va.ID, "cidr": "10.40.0.0/24", "ip_version": 4}}, &s); err != nil {
		t.Fatal(err)
	}
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{"name": "r",
		"external_gateway_info": map[string]any{"network_id": ext.ID}}}, &r); err != nil {
		t.Fatal(err)
	}
	if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "p1", map[string]any{"subnet_id": s.Subnet.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if r.Router.Gateway == nil || len(r.Router.Gateway.ExternalFixedIPs) == 0 {
		t.Fatalf("router without a gateway address: %+v", r.Router)
	}
	gwIP := r.Router.Gateway.ExternalFixedIPs[0].IPAddress
	var ifs struct{ Ports []model.Port }
	if err := l.Do("GET", "/v2.0/ports?device_id="+r.Router.ID+"&device_owner=network:router_interface", "p1", nil, &ifs); err != nil {
		t.Fatal(err)
	}
	if len(ifs.Ports) != 1 {
		t.Fatalf("router has %d interfaces, want 1", len(ifs.Ports))
	}
	routerMAC := strings.ToLower(ifs.Ports[0].MACAddress)

	open := secGroup(t, l, "p1", "open")
	rule(t, l, "p1", map[string]any{"security_group_id": open, "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"})
	rule(t, l, "p1", map[string]any{"security_group_id": open, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "tcp", "port_range_min": 5001, "port_range_max": 5001})
	with := func(ip string) map[string]any {
		m := fixed(s.Subnet.ID, ip)
		m["security_groups"] = []string{open}
		return m
	}
	a1, p1 := boot(t, l, ch1, "a1", "p1", va, with("10.40.0.11"))
	a0, _ := boot(t, l, gw1, "a0", "p1", va, with("10.40.0.10"))
	for _, vm := range []*testbed.VM{a1, a0} {
		if err := vm.SetGateway("10.40.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	phys, err := ch1.Capture(testbed.ExternalIface)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			logFlows(t, ch1, gw1)
			text, _ := phys.Text()
			t.Logf("ch1's physical link:\n%s", text)
		}
	}()
	underlay, err := ch1.CaptureUnderlay()
	if err != nil {
		t.Fatal(err)
	}
	atOutside, err := outside.Capture("eth0", "icmp")
	if err != nil {
		t.Fatal(err)
	}
	srv := outside.Command("busybox", "nc", "-ll", "-p", "6000", "-e", "echo", "hello")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })

	for _, vm := range []*testbed.VM{a1, a0} {
		mustPing(t, l, vm, "203.0.113.1")
		if !tcpConnect(vm, "203.0.113.1", 6000, 10*time.Second) {
			t.Fatalf("TCP %s → outside through SNAT failed\n%s", vm.Name, l.Bed.LogTails(15))
		}
	}
	pkts, err := atOutside.Stop()
	if err != nil {
		t.Fatal(err)
	}
	// What the outside host takes in: untagged, to its MAC (a handed-off
	// frame to gw1's chassis MAC may be flooded before the physical
	// network has learnt where that MAC is, tagged).
	omac, err := outside.MAC()
	if err != nil {
		t.Fatal(err)
	}
	forOutside := untaggedTo(pkts, omac)
	if src := ipv4Sources(forOutside, layers.ICMPv4TypeEchoRequest); src[gwIP] < 4 || len(src) != 1 {
		t.Fatalf("echo requests to the outside host by source: %v, want only the router's gateway %s", src, gwIP)
	}

	// A floating IP of a1, NATed on ch1 itself.
	var f fipOut
	if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": ext.ID, "port_id": p1.ID}}, &f); err != nil {
		t.Fatal(err)
	}
	waitPing(t, outside, f.FloatingIP.FloatingIPAddress, 10*time.Second)
	tcpServe(t, a1, 5001)
	if !outsideTCP(outside, f.FloatingIP.FloatingIPAddress, 5001, 10*time.Second) {
		t.Fatal("TCP outside → a1's floating IP failed")
	}

	frames, err := phys.Stop()
	if err != nil {
		t.Fatal(err)
	}
	ul, err := underlay.Stop()
	if err != nil {
		t.Fatal(err)
	}
	ch1MAC, gw1MAC := logical.ChassisMAC("ch1", "physnet1").String(), logical.ChassisMAC("gw1", "physnet1").String()
	var handed, back int
	var bad []string
	for _, p := range frames {
		eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if !ok {
			continue
		}
		if eth.SrcMAC.String() == routerMAC {
			bad = append(bad, "router interface MAC as source: "+p.Summary())
			continue
		}
		if arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok && net.HardwareAddr(arp.SourceHwAddress).String() == routerMAC {
			bad = append(bad, "router interface MAC in ARP: "+p.Summary())
			continue
		}
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			continue
		}
		q, tagged := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
		switch {
		case ip.SrcIP.String() == "10.40.0.11" && ip.DstIP.String() == "203.0.113.1":
			if !tagged || int(q.VLANIdentifier) != va.SegmentationID || eth.SrcMAC.String() != ch1MAC || eth.DstMAC.String() != gw1MAC {
				bad = append(bad, fmt.Sprintf("handed to gw1 but not tagged %d from %s to %s: %s", va.SegmentationID, ch1MAC, gw1MAC, p.Summary()))
				continue
			}
			handed++
		case ip.SrcIP.String() == "203.0.113.1" && ip.DstIP.String() == "10.40.0.11":
			if !tagged || int(q.VLANIdentifier) != va.SegmentationID || eth.SrcMAC.String() != gw1MAC {
				bad = append(bad, fmt.Sprintf("routed back by gw1 but not tagged %d from %s: %s", va.SegmentationID, gw1MAC, p.Summary()))
				continue
			}
			back++
		}
	}
	tunnelled := testbed.Count(ul, func(p testbed.Packet) bool {
		_, g := p.Geneve()
		_, x := p.VXLAN()
		return g || x
	})
	t.Logf("ch1's physical link: %d frames of a1 handed to gw1 for SNAT, %d routed back; %d tunnel packets on ch1's underlay", handed, back, tunnelled)
	if len(bad) > 0 || handed < 2 || back < 2 || tunnelled != 0 {
		text, _ := phys.Text()
		t.Fatalf("ch1's physical link: %d handed (want 2+), %d back (want 2+), %d tunnelled (want 0):\n%s\ncapture:\n%s",
			handed, back, tunnelled, strings.Join(bad, "\n"), text)
	}
}

// TestProviderRoutingIPv6Gateway: a router with a dual-stack gateway on a
// flat external network and an IPv6 (SLAAC) subnet on a vlan network,
// both on physnet1, which gw1 (the only --gateway chassis, the router's
// active gateway) and ch1 map. a1 on ch1 pings the upstream router
// 2001:db8:ffff::1 from its own address (routed without NAT by gw1); on
// ch1's physical link its echo requests go to gw1, tagged with the vlan
// network's VLAN, from ch1's chassis MAC to gw1's, and the replies come
// back from gw1's chassis MAC; no frame from a router interface's MAC.
func TestProviderRoutingIPv6Gateway(t *testing.T) {
	l := newLab(t, lab.Options{ServerArgs: []string{"--network-vlan-ranges", "physnet1:100:199"}})
	outside, err := l.Bed.AddExternalHost("up6", netip.MustParsePrefix("203.0.113.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	omac, err := outside.MAC()
	if err != nil {
		t.Fatal(err)
	}
	gw1, ch1 := gatewayAndChassis(t, l)
	ext, _ := extNet(t, l)
	if err := l.Do("POST", "/v2.0/subnets", "admin", map[string]any{"subnet": map[string]any{
		"network_id": ext.ID, "cidr": "2001:db8:ffff::/64", "ip_version": 6, "gateway_ip": "2001:db8:ffff::1",
		"enable_dhcp": false}}, nil); err != nil {
		t.Fatal(err)
	}
	var n struct{ Network model.Network }
	if err := l.Do("POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "va",
		"provider:network_type": "vlan", "provider:physical_network": "physnet1"}}, &n); err != nil {
		t.Fatal(err)
	}
	va := n.Network
	var s4 struct{ Subnet model.Subnet }
	if err := l.Do("POST", "/v2.0/subnets", "p1", map[string]any{"subnet": map[string]any{
		"network_id": va.ID, "cidr": "10.40.0.0/24", "ip_version": 4}}, &s4); err != nil {
		t.Fatal(err)
	}
	s6 := subnet6(t, l, "p1", va.ID, "2001:db8:40::/64", "slaac")
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{"name": "r6",
		"external_gateway_info": map[string]any{"network_id": ext.ID}}}, &r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []model.Subnet{s4.Subnet, s6} {
		if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "p1", map[string]any{"subnet_id": s.ID}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var gw6 string
	for _, f := range r.Router.Gateway.ExternalFixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil && a.Is6() {
			gw6 = f.IPAddress
		}
	}
	if gw6 == "" {
		t.Fatalf("router gateway addresses %+v: want one on 2001:db8:ffff::/64", r.Router.Gateway.ExternalFixedIPs)
	}
	upstream6(t, outside, "2001:db8:ffff::1/64", gw6, "2001:db8:40::/64")
	var ifs struct{ Ports []model.Port }
	if err := l.Do("GET", "/v2.0/ports?device_id="+r.Router.ID+"&device_owner=network:router_interface", "p1", nil, &ifs); err != nil {
		t.Fatal(err)
	}
	routerMACs := map[string]bool{}
	for _, p := range ifs.Ports {
		routerMACs[strings.ToLower(p.MACAddress)] = true
	}
	if len(routerMACs) == 0 {
		t.Fatal("router has no interface")
	}

	open := secGroup(t, l, "p1", "open6")
	rule(t, l, "p1", map[string]any{"security_group_id": open, "direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp"})
	a1, p1 := boot6(t, l, ch1, "a1", va, s4.Subnet, map[string]any{"security_groups": []string{open}})
	a6 := addrOn(t, p1, s6)
	waitAddr6(t, l, a1, a6)

	phys, err := ch1.Capture(testbed.ExternalIface)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			logFlows(t, ch1, gw1)
			text, _ := phys.Text()
			t.Logf("ch1's physical link:\n%s\n%s", text, l.Bed.LogTails(20))
		}
	}()
	// The first echoes may go while gw1 learns the upstream router by ND.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if got, _ := a1.Ping("2001:db8:ffff::1", 1, time.Second); got == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a1 → 2001:db8:ffff::1: no reply within 15 s")
		}
	}
	atOutside, err := outside.Capture("eth0", "icmp6")
	if err != nil {
		t.Fatal(err)
	}
	mustPing(t, l, a1, "2001:db8:ffff::1")
	pkts, err := atOutside.Stop()
	if err != nil {
		t.Fatal(err)
	}
	forOutside := untaggedTo(pkts, omac)
	if src := ipv6Sources(forOutside, layers.ICMPv6TypeEchoRequest); src[a6] < 2 || len(src) != 1 {
		t.Fatalf("echo requests to the outside host by source: %v, want only a1's own %s", src, a6)
	}

	frames, err := phys.Stop()
	if err != nil {
		t.Fatal(err)
	}
	ch1MAC, gw1MAC := logical.ChassisMAC("ch1", "physnet1").String(), logical.ChassisMAC("gw1", "physnet1").String()
	var handed, back int
	var bad []string
	for _, p := range frames {
		eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if !ok {
			continue
		}
		if routerMACs[eth.SrcMAC.String()] {
			bad = append(bad, "router interface MAC as source: "+p.Summary())
			continue
		}
		ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		if !ok || p.Layer(layers.LayerTypeICMPv6) == nil {
			continue
		}
		q, tagged := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
		onVLAN := tagged && int(q.VLANIdentifier) == va.SegmentationID
		switch {
		case ip.SrcIP.String() == a6 && ip.DstIP.String() == "2001:db8:ffff::1":
			if !onVLAN || eth.SrcMAC.String() != ch1MAC || eth.DstMAC.String() != gw1MAC {
				bad = append(bad, fmt.Sprintf("handed to gw1 but not tagged %d from %s to %s: %s", va.SegmentationID, ch1MAC, gw1MAC, p.Summary()))
				continue
			}
			handed++
		case ip.SrcIP.String() == "2001:db8:ffff::1" && ip.DstIP.String() == a6:
			if !onVLAN || eth.SrcMAC.String() != gw1MAC {
				bad = append(bad, fmt.Sprintf("routed back by gw1 but not tagged %d from %s: %s", va.SegmentationID, gw1MAC, p.Summary()))
				continue
			}
			back++
		}
	}
	t.Logf("ch1's physical link: %d IPv6 echoes of a1 handed to gw1, %d routed back", handed, back)
	if len(bad) > 0 || handed < 2 || back < 2 {
		t.Fatalf("ch1's physical link: %d handed (want 2+), %d back (want 2+):\n%s", handed, back, strings.Join(bad, "\n"))
	}
}

// gatewayAndChassis adds gw1, the only --gateway chassis (so the routers'
// active gateway), and ch1, both mapping physnet1 to br-phys.
func gatewayAndChassis(t *testing.T, l *lab.Lab) (gw1, ch1 *testbed.Chassis) {
	t.Helper()
	brPhys := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-phys") }
	mapped := []string{"--bridge-mappings", "physnet1:br-phys"}
	gw1, err := l.AddChassisWith("gw1", brPhys, append(mapped, "--gateway"))
	if err != nil {
		t.Fatal(err)
	}
	ch1, err = l.AddChassisWith("ch1", brPhys, mapped)
	if err != nil {
		t.Fatal(err)
	}
	return gw1, ch1
}

// untaggedTo keeps the frames of pkts without a VLAN tag sent to mac.
func untaggedTo(pkts []testbed.Packet, mac string) []testbed.Packet {
	var out []testbed.Packet
	for _, p := range pkts {
		eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if ok && p.Layer(layers.LayerTypeDot1Q) == nil && strings.EqualFold(eth.DstMAC.String(), mac) {
			out = append(out, p)
		}
	}
	return out
}
