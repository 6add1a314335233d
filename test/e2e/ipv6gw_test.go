package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// ipv6Sources counts the source addresses of captured ICMPv6 packets of
// the given type.
func ipv6Sources(pkts []testbed.Packet, typ uint8) map[string]int {
	out := map[string]int{}
	for _, p := range pkts {
		ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		icmp, ok2 := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if ok && ok2 && icmp.TypeCode.Type() == typ {
			out[ip.SrcIP.String()]++
		}
	}
	return out
}

// upstream6 makes an external host the upstream IPv6 router of the
// external network: IPv6 on (the test bed's external hosts start
// without), addr on eth0, and a route to each tenant prefix via the
// router's gateway address, as an operator configures it.
func upstream6(t *testing.T, h *testbed.Host, addr string, via string, prefixes ...string) {
	t.Helper()
	steps := [][]string{
		{"sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.eth0.disable_ipv6=0",
			"net.ipv6.conf.eth0.accept_ra=0", "net.ipv6.conf.eth0.accept_dad=0"},
		{"ip", "-6", "addr", "add", addr, "dev", "eth0", "nodad"},
	}
	for _, p := range prefixes {
		steps = append(steps, []string{"ip", "-6", "route", "replace", p, "via", via, "dev", "eth0"})
	}
	for _, s := range steps {
		if out, err := h.Exec(s...); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
}

// TestExternalIPv6Gateway: a router's gateway on an external network with
// an IPv4 and an IPv6 subnet (dual stack), routed for IPv6 without NAT, as
// Neutron does. gw1 (a gateway chassis mapping physnet1) is the router's
// active gateway (or gw2: the election decides); VM a is on ch1 (no mapping: its traffic crosses the
// tunnel to gw1), VM b on gw1 itself, both with a SLAAC address on
// 2001:db8:71::/64. The outside host 2001:db8:ffff::1 is the external
// IPv6 subnet's gateway_ip, the upstream router, with a static route to
// 2001:db8:71::/64 via the router's gateway IPv6 address.
//   - The VMs ping the outside host, and the outside host pings them, by
//     their own addresses: the echoes reach the outside with the VM's
//     address as source (no translation).
//   - gw1 learned the outside host's MAC by Neighbour Discovery (no
//     --external-nexthop-mac), and the outside host the gateway's MAC.
//   - A metering label's IPv6 rules count exactly the echoes crossing the
//     gateway each way to and from a second address of the outside host.
//   - IPv4 SNAT of the same router keeps working.
//   - gw2, a standby gateway chassis, resolved the outside host by ND too;
//     when the active gateway dies, IPv6 moves to the other one within
//     failoverBound, which announces the address (an unsolicited
//     neighbour advertisement).
func TestExternalIPv6Gateway(t *testing.T) {
	ttl := fmt.Sprintf("%ds", int(natLeaseTTL.Seconds()))
	l := newLab(t, lab.Options{AgentArgs: []string{"--metering-interval", "300ms", "--lease-ttl", ttl}})
	outside, err := l.Bed.AddExternalHost("up6", netip.MustParsePrefix("203.0.113.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	omac, err := outside.MAC()
	if err != nil {
		t.Fatal(err)
	}
	brEx := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-ex") }
	gw1, err := l.AddChassisWith("gw1", brEx, []string{"--bridge-mappings", "physnet1:br-ex", "--gateway"})
	if err != nil {
		t.Fatal(err)
	}
	gw2, err := l.AddChassisWith("gw2", brEx, []string{"--bridge-mappings", "physnet1:br-ex", "--gateway"})
	if err != nil {
		t.Fatal(err)
	}
	gws := map[string]*testbed.Chassis{"gw1": gw1, "gw2": gw2}
	ch1, err := l.AddChassis("ch1")
	if err != nil {
		t.Fatal(err)
	}

	ext, _ := extNet(t, l)
	var ext6 struct{ Subnet model.Subnet }
	if err := l.Do("POST", "/v2.0/subnets", "admin", map[string]any{"subnet": map[string]any{
		"network_id": ext.ID, "cidr": "2001:db8:ffff::/64", "ip_version": 6, "gateway_ip": "2001:db8:ffff::1",
		"enable_dhcp": false}}, &ext6); err != nil {
		t.Fatal(err)
	}
	n1, s1, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.71.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	s1v6 := subnet6(t, l, "p1", n1.ID, "2001:db8:71::/64", "slaac")
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{"name": "r6",
		"external_gateway_info": map[string]any{"network_id": ext.ID}}}, &r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []model.Subnet{s1, s1v6} {
		if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "p1", map[string]any{"subnet_id": s.ID}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var gw4, gw6 string
	for _, f := range r.Router.Gateway.ExternalFixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil && a.Is4() {
			gw4 = f.IPAddress
		} else if err == nil {
			gw6 = f.IPAddress
		}
	}
	if gw4 == "" || gw6 == "" || !netip.MustParsePrefix("2001:db8:ffff::/64").Contains(netip.MustParseAddr(gw6)) {
		t.Fatalf("router gateway addresses %+v: want one IPv4 and one on 2001:db8:ffff::/64", r.Router.Gateway.ExternalFixedIPs)
	}
	upstream6(t, outside, "2001:db8:ffff::1/64", gw6, "2001:db8:71::/64")

	open := secGroup(t, l, "p1", "open6")
	rule(t, l, "p1", map[string]any{"security_group_id": open, "direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp"})
	with := map[string]any{"security_groups": []string{open}}
	a, pa := boot6(t, l, ch1, "a", n1, s1, with)
	b, pb := boot6(t, l, gw1, "b", n1, s1, with)
	a6, b6 := addrOn(t, pa, s1v6), addrOn(t, pb, s1v6)
	for _, vm := range []*testbed.VM{a, b} {
		if err := vm.SetGateway("10.71.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	waitAddr6(t, l, a, a6)
	waitAddr6(t, l, b, b6)
	defer func() {
		if t.Failed() {
			logFlows(t, gw1, gw2, ch1)
			neigh, _ := outside.Exec("ip", "-6", "neigh")
			routes, _ := outside.Exec("ip", "-6", "route")
			t.Logf("outside's neighbours:\n%s\nroutes:\n%s\n%s", neigh, routes, l.Bed.LogTails(30))
		}
	}()

	// The router's active gateway (the agents' election) answers for its
	// IPv6 address.
	active, standby := "", ""
	for name, gw := range gws {
		if len(flowsMention(t, gw, "nd_target="+gw6)) > 0 {
			active = name
		} else {
			standby = name
		}
	}
	if active == "" || standby == "" {
		t.Fatalf("the gateway's IPv6 address is answered by %q, not answered by %q: want one of gw1, gw2 each", active, standby)
	}
	act := gws[active]

	t.Run("VMs reach the outside, untranslated", func(t *testing.T) {
		for _, vm := range []*testbed.VM{a, b} {
			deadline := time.Now().Add(15 * time.Second)
			for {
				if n, _ := vm.Ping("2001:db8:ffff::1", 1, time.Second); n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s → 2001:db8:ffff::1: no reply within 15 s", vm.Name)
				}
			}
		}
		capture, err := outside.Capture("eth0", "icmp6")
		if err != nil {
			t.Fatal(err)
		}
		mustPing(t, l, a, "2001:db8:ffff::1")
		mustPing(t, l, b, "2001:db8:ffff::1")
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if src := ipv6Sources(pkts, layers.ICMPv6TypeEchoRequest); src[a6] < 2 || src[b6] < 2 || len(src) != 2 {
			t.Fatalf("echo requests at the outside host by source: %v, want %s and %s", src, a6, b6)
		}
	})

	t.Run("the outside reaches the VMs by their addresses", func(t *testing.T) {
		for _, dst := range []string{a6, b6} {
			capture, err := outside.Capture("eth0", "icmp6")
			if err != nil {
				t.Fatal(err)
			}
			if n, err := outside.Ping(dst, 3, 10*time.Second); err != nil {
				t.Fatalf("outside → %s: %d replies: %v", dst, n, err)
			}
			pkts, err := capture.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if src := ipv6Sources(pkts, layers.ICMPv6TypeEchoReply); src[dst] < 3 || len(src) != 1 {
				t.Fatalf("echo replies by source: %v, want only %s", src, dst)
			}
		}
	})

	t.Run("neighbour discovery both ways", func(t *testing.T) {
		// The active gateway sends IPv6 out to the MAC it resolved by ND.
		out := flowsMention(t, act, "priority=100,ipv6,metadata=")
		if len(out) == 0 || !strings.Contains(strings.Join(out, "\n"), "->eth_dst") || !strings.Contains(strings.Join(out, "\n"), omac) {
			t.Fatalf("%s's IPv6 way out does not go to the outside host's MAC %s:\n%s", active, omac, strings.Join(out, "\n"))
		}
		for _, ch := range []*testbed.Chassis{ch1, gws[standby]} {
			if fl := flowsMention(t, ch, omac); len(fl) != 0 {
				t.Fatalf("%s (not the active gateway) sends to the outside host itself:\n%s", ch.Name, strings.Join(fl, "\n"))
			}
		}
		// The outside host resolved the gateway address to the gateway
		// port's MAC.
		var gp struct{ Ports []model.Port }
		if err := l.Do("GET", "/v2.0/ports?device_owner=network:router_gateway&device_id="+r.Router.ID, "admin", nil, &gp); err != nil || len(gp.Ports) != 1 {
			t.Fatalf("gateway port: %v %v", gp.Ports, err)
		}
		neigh, _ := outside.Exec("ip", "-6", "neigh", "show", gw6)
		if !strings.Contains(neigh, gp.Ports[0].MACAddress) {
			t.Fatalf("outside's neighbour entry for %s: %q, want %s", gw6, neigh, gp.Ports[0].MACAddress)
		}
	})

	t.Run("metering", func(t *testing.T) {
		// To an address of the outside host no other subtest used: no
		// earlier packet of the datapath's flows is counted.
		if out, err := outside.Exec("ip", "-6", "addr", "add", "2001:db8:ffff::100/64", "dev", "eth0", "nodad"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var lb struct {
			Label struct{ ID string } `json:"metering_label"`
		}
		if err := l.Do("POST", "/v2.0/metering/metering-labels", "p1", map[string]any{"metering_label": map[string]any{"name": "v6"}}, &lb); err != nil {
			t.Fatal(err)
		}
		ruleIDs := map[string]string{}
		for _, dir := range []string{"egress", "ingress"} {
			var out struct {
				Rule struct{ ID string } `json:"metering_label_rule"`
			}
			if err := l.Do("POST", "/v2.0/metering/metering-label-rules", "admin", map[string]any{"metering_label_rule": map[string]any{
				"metering_label_id": lb.Label.ID, "direction": dir, "remote_ip_prefix": "2001:db8:ffff::100/128"}}, &out); err != nil {
				t.Fatal(err)
			}
			ruleIDs[dir] = out.Rule.ID
		}
		waitFlows(t, act, "ipv6_dst=2001:db8:ffff::100 actions=drop", "ipv6_src=2001:db8:ffff::100 actions=drop",
			fmt.Sprintf("resubmit(,%d),dec_ttl", pipeline.TableMeterOut.Number()))
		const n, frame = 5, 14 + 40 + 8 + meterPayload // an echo on br-int
		out, _ := a.Exec("ping", "-n", "-q", "-i", "0.2", "-W", "2", "-s", strconv.Itoa(meterPayload), "-c", strconv.Itoa(n), "2001:db8:ffff::100")
		if !strings.Contains(out, fmt.Sprintf("%d received", n)) {
			t.Fatalf("ping: %s", out)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c := meterCounters(t, l)
			eg, in := c[ruleIDs["egress"]], c[ruleIDs["ingress"]]
			if eg.Packets >= n && in.Packets >= n {
				if eg.Packets != n || in.Packets != n || eg.Bytes != n*frame || in.Bytes != n*frame {
					t.Fatalf("counted egress %+v ingress %+v, want %d echoes of %d bytes each way", eg, in, n, frame)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("counters after 10 s: egress %+v ingress %+v, want %d packets", eg, in, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("IPv4 SNAT alongside", func(t *testing.T) {
		capture, err := outside.Capture("eth0", "icmp")
		if err != nil {
			t.Fatal(err)
		}
		mustPing(t, l, a, "203.0.113.1")
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if src := ipv4Sources(pkts, layers.ICMPv4TypeEchoRequest); src[gw4] < 2 || len(src) != 1 {
			t.Fatalf("IPv4 echo requests by source: %v, want only the gateway's %s", src, gw4)
		}
	})

	t.Run("gateway failover", func(t *testing.T) {
		// The standby resolved the outside host by a solicitation from ::
		// (it routes nothing there yet).
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(filepath.Join(gws[standby].RunDir, "wyvern-agent.log"))
			if strings.Contains(string(b), `msg="upstream router resolved" chassis=`+standby+` ip=2001:db8:ffff::1 mac=`+omac) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("standby %s has not resolved the outside host %s by ND", standby, omac)
			}
			time.Sleep(50 * time.Millisecond)
		}
		capture, err := outside.Capture("eth0", "icmp6 and ip6[40] == 136")
		if err != nil {
			t.Fatal(err)
		}
		const interval = 20 * time.Millisecond
		const count = 400 // 8 s
		wait := fastPing(t, a, "2001:db8:ffff::1", interval, count)
		time.Sleep(time.Second) // a steady stream first
		if err := l.KillAgent(gws[active]); err != nil {
			t.Fatal(err)
		}
		if err := gws[active].SetLinks(false); err != nil {
			t.Fatal(err)
		}
		st := wait()
		gap := longestGap(st.out, st.sent, interval)
		t.Logf("active gateway %s killed 1 s into the run: %d/%d replies, longest outage %s (bound %s)",
			active, st.received, st.sent, gap, failoverBound)
		if st.received == 0 || gap > failoverBound {
			t.Fatalf("IPv6 through the gateway: %d/%d, longest outage %s (bound %s)", st.received, st.sent, gap, failoverBound)
		}
		if len(flowsMention(t, gws[standby], "nd_target="+gw6)) == 0 {
			t.Fatalf("%s did not take over the gateway's IPv6 address", standby)
		}
		tail := st.out[max(0, len(st.out)-2000):]
		if !strings.Contains(tail, "bytes from 2001:db8:ffff::1") {
			t.Fatalf("IPv6 did not resume after the failover:\n%s", tail)
		}
		if n, err := outside.Ping(a6, 3, 10*time.Second); err != nil {
			t.Fatalf("outside → %s after the failover: %d replies: %v", a6, n, err)
		}
		// The new gateway announced the address: an unsolicited
		// advertisement to all nodes.
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if n := testbed.Count(pkts, func(p testbed.Packet) bool {
			ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			na, ok2 := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
			return ok && ok2 && ip.DstIP.String() == "ff02::1" && na.TargetAddress.String() == gw6 && !na.Solicited() && na.Override()
		}); n == 0 {
			t.Fatalf("no unsolicited advertisement of %s at the outside host after the failover", gw6)
		}
	})
}
