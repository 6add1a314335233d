package e2e

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// TestProviderNetworks: a vlan network (its VLAN allocated from the
// server's --network-vlan-ranges) and a flat network, both on physnet1,
// which two chassis map to their br-phys; each br-phys holds the chassis'
// link to the physical network (the bed's external bridge). A VM on each
// chassis on each network takes its address by DHCP, and the VMs of each
// network ping each other across the chassis. A capture on ch1's physical
// link shows the vlan network's packets tagged with its segmentation id
// and the flat network's untagged; ch1's underlay carries no Geneve nor
// VXLAN packet at all. A security group on the vlan network admits TCP
// 5001 and refuses 5002.
func TestProviderNetworks(t *testing.T) {
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
	vlan, _ := network("vlan", map[string]any{"provider:network_type": "vlan", "provider:physical_network": "physnet1"}, "10.20.0.0/24")
	flat, _ := network("flat", map[string]any{"provider:network_type": "flat", "provider:physical_network": "physnet1"}, "10.30.0.0/24")
	seg := vlan.SegmentationID
	if seg < 100 || seg > 199 || vlan.PhysicalNetwork != "physnet1" {
		t.Fatalf("vlan network got VLAN %d on %q, want one of physnet1:100:199", seg, vlan.PhysicalNetwork)
	}
	web := secGroup(t, l, "p1", "web")
	rule(t, l, "p1", map[string]any{"security_group_id": web, "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"})
	rule(t, l, "p1", map[string]any{"security_group_id": web, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "tcp", "port_range_min": 5001, "port_range_max": 5001})

	physCapture, err := chs[0].Capture(testbed.ExternalIface)
	if err != nil {
		t.Fatal(err)
	}
	underlay, err := chs[0].CaptureUnderlay()
	if err != nil {
		t.Fatal(err)
	}

	// dhcpVM boots a VM in the web group and configures it by DHCP.
	dhcpVM := func(ch *testbed.Chassis, name string, n model.Network) (*testbed.VM, string) {
		t.Helper()
		vm, p, err := l.Boot(ch, name, "p1", n.ID, map[string]any{"security_groups": []string{web}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.WaitPort(p.ID, 10*time.Second, func(p model.Port) bool {
			return p.Status == model.StatusActive && p.HostID == ch.Name
		}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		lease, err := vm.DHCP(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%s DHCP: %v\n%s", name, err, l.Bed.LogTails(20))
		}
		if got := lease.Addr.Addr().String(); got != lab.FixedIP(p) || lease.MTU != n.MTU {
			t.Fatalf("%s: DHCP gave %s mtu %d, the port has %s on a network of mtu %d", name, lease.Addr, lease.MTU, lab.FixedIP(p), n.MTU)
		}
		return vm, lab.FixedIP(p)
	}
	v1, v1IP := dhcpVM(chs[0], "v1", vlan)
	v2, v2IP := dhcpVM(chs[1], "v2", vlan)
	f1, f1IP := dhcpVM(chs[0], "f1", flat)
	f2, f2IP := dhcpVM(chs[1], "f2", flat)

	mustPing(t, l, v1, v2IP)
	mustPing(t, l, v2, v1IP)
	mustPing(t, l, f1, f2IP)
	mustPing(t, l, f2, f1IP)
	// The networks stay apart: the same physical link, another VLAN.
	mustNotPing(t, v1, f2IP)

	t.Run("security group", func(t *testing.T) {
		tcpServe(t, v2, 5001)
		tcpServe(t, v2, 5002)
		if !tcpConnect(v1, v2IP, 5001, 10*time.Second) {
			t.Fatalf("v1 → v2 tcp/5001 (allowed by web) failed\n%s", l.Bed.LogTails(15))
		}
		if tcpConnect(v1, v2IP, 5002, 3*time.Second) {
			t.Fatal("v1 → v2 tcp/5002 connected: web admits only 5001")
		}
	})

	pkts, err := physCapture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	ul, err := underlay.Stop()
	if err != nil {
		t.Fatal(err)
	}
	vlanNet, flatNet := netip.MustParsePrefix("10.20.0.0/24"), netip.MustParsePrefix("10.30.0.0/24")
	var tagged, untaggedFlat, strays []string
	for _, p := range pkts {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok || p.Layer(layers.LayerTypeICMPv4) == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
		q, isTagged := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
		switch {
		case vlanNet.Contains(src) && isTagged && int(q.VLANIdentifier) == seg:
			tagged = append(tagged, p.Summary())
		case flatNet.Contains(src) && !isTagged:
			untaggedFlat = append(untaggedFlat, p.Summary())
		default:
			strays = append(strays, p.Summary())
		}
	}
	t.Logf("on ch1's physical link: %d ICMP packets of the vlan network tagged %d, %d of the flat network untagged",
		len(tagged), seg, len(untaggedFlat))
	// Two pings of two echoes each way per network: 8 packets each.
	if len(tagged) < 8 || len(untaggedFlat) < 8 || len(strays) > 0 {
		t.Fatalf("physical link: %d tagged %d (want 8+), %d flat untagged (want 8+), strays:\n%s",
			len(tagged), seg, len(untaggedFlat), strings.Join(strays, "\n"))
	}
	tunnelled := testbed.Count(ul, func(p testbed.Packet) bool {
		_, g := p.Geneve()
		_, x := p.VXLAN()
		return g || x
	}) + testbed.Count(pkts, func(p testbed.Packet) bool {
		_, g := p.Geneve()
		_, x := p.VXLAN()
		return g || x
	})
	if tunnelled != 0 {
		t.Fatalf("%d Geneve/VXLAN packets on ch1's links: provider networks use no tunnel", tunnelled)
	}
}
