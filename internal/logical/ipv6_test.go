package logical

import (
	"net"
	"net/netip"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// An IPv6 subnet's modes reach the view, and a router interface on it
// becomes an IPv6 router port with the subnet's prefix length, beside the
// IPv4 one.
func TestBuildIPv6(t *testing.T) {
	in := topo(3, network("n1", "geneve", 100, 1))
	nd := in.Networks["n1"]
	sub6 := &model.Subnet{NetworkID: "n1", IPVersion: 6, CIDR: "2001:db8:1::/64", GatewayIP: "2001:db8:1::1",
		EnableDHCP: true, IPv6RAMode: "dhcpv6-stateful", IPv6AddressMode: "dhcpv6-stateful"}
	sub6.ID = "s6"
	nd.Subnets[sub6.ID] = sub6
	ri := nd.Ports["ri-n1"]
	ri.FixedIPs = append(ri.FixedIPs, model.FixedIP{SubnetID: "s6", IPAddress: "2001:db8:1::1"})
	res, err := Build(in, NewKeys())
	if err != nil {
		t.Fatal(err)
	}
	var modes []string
	for _, s := range res.View.Subnets {
		if s.ID == "s6" {
			modes = []string{s.IPv6RAMode, s.IPv6AddressMode}
		}
	}
	if len(modes) != 2 || modes[0] != "dhcpv6-stateful" || modes[1] != "dhcpv6-stateful" {
		t.Fatalf("subnet modes %v", modes)
	}
	if len(res.View.Routers) != 1 {
		t.Fatalf("routers %v", res.View.Routers)
	}
	got := map[netip.Prefix]bool{}
	for _, p := range res.View.Routers[0].Ports {
		got[p.Address] = true
	}
	for _, want := range []string{"10.0.0.1/24", "2001:db8:1::1/64"} {
		if !got[netip.MustParsePrefix(want)] {
			t.Errorf("router ports %v lack %s", res.View.Routers[0].Ports, want)
		}
	}
}

// withGateway6 gives withGateway's external network an IPv6 subnet
// (gateway_ip 2001:db8:ffff::1) and the router's gateway port an address
// on it: a dual-stack gateway.
func withGateway6(in *Inputs) *Inputs {
	ext := in.Networks["ext"]
	sub := &model.Subnet{NetworkID: "ext", IPVersion: 6, CIDR: "2001:db8:ffff::/64", GatewayIP: "2001:db8:ffff::1"}
	sub.ID = "s-ext6"
	ext.Subnets[sub.ID] = sub
	gw := ext.Ports["gw"]
	gw.FixedIPs = append(gw.FixedIPs, model.FixedIP{SubnetID: "s-ext6", IPAddress: "2001:db8:ffff::2"})
	return in
}

// A dual-stack gateway port gives the router's gateway its IPv6 address
// beside the IPv4 one, and the external network its upstream IPv6 router
// (the IPv6 subnet's gateway_ip), resolved by Neighbour Discovery: the
// active gateway asks from its gateway's IPv6 address, a standby by a
// solicitation from the unspecified address; the operator's IPv4 next
// hop MAC does not apply to it. Without an IPv4 address the gateway is
// IPv6 only.
func TestBuildGateway6(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	build := func(gateway bool, resolved net.HardwareAddr, override net.HardwareAddr) *Result {
		in := withGateway6(withGateway(topo(9, network("n1", "geneve", 1, 1)), "n1"))
		in.Ext = External{Gateway: gateway, Mappings: map[string]string{"public": "br-ex"}, Ports: map[string]uint32{"public": 99},
			NextHop: map[string]net.HardwareAddr{}, Resolved: map[netip.Addr]net.HardwareAddr{}}
		if resolved != nil {
			in.Ext.Resolved[netip.MustParseAddr("2001:db8:ffff::1")] = resolved
		}
		if override != nil {
			in.Ext.NextHop["public"] = override
		}
		res, err := Build(in, NewKeys())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := build(true, nil, nil)
	r := res.View.Routers[0]
	if gw := r.Gateway; gw == nil || gw.Address != netip.MustParsePrefix("203.0.113.2/24") ||
		gw.Address6 != netip.MustParsePrefix("2001:db8:ffff::2/64") || gw.Chassis != "ch1" {
		t.Fatalf("gateway %+v", r.Gateway)
	}
	if e := res.View.External[0]; e.NextHopIP6 != netip.MustParseAddr("2001:db8:ffff::1") || e.NextHopMAC6 != nil {
		t.Fatalf("external %+v", e)
	}
	want6 := NextHopQuery{Physnet: "public", Port: 99, Target: netip.MustParseAddr("2001:db8:ffff::1"),
		SrcIP: netip.MustParseAddr("2001:db8:ffff::2"), SrcMAC: "fa:16:3e:ee:00:02"}
	if len(res.Resolve) != 2 || res.Resolve[1] != want6 || !res.Resolve[0].Target.Is4() {
		t.Fatalf("resolve %+v, want the IPv4 router and %+v", res.Resolve, want6)
	}
	if an := res.Announce[netip.MustParseAddr("2001:db8:ffff::2")]; an != (Announcement{MAC: "fa:16:3e:ee:00:02", Port: 99}) {
		t.Fatalf("the active gateway does not announce its IPv6 address: %v", res.Announce)
	}
	// A standby asks by a solicitation from the unspecified address, and
	// does not announce the gateway's address (its local floating IP
	// only).
	if res := build(false, nil, nil); len(res.Resolve) != 2 || res.Resolve[1].SrcIP.IsValid() || res.Resolve[1].Target != want6.Target ||
		len(res.Announce) != 1 {
		t.Fatalf("standby: resolve %+v, announce %v", res.Resolve, res.Announce)
	}
	// Resolved, the MAC reaches the view; the IPv4 override does not.
	other, _ := net.ParseMAC("02:00:00:00:00:02")
	res = build(true, mac, other)
	if e := res.View.External[0]; e.NextHopMAC6.String() != mac.String() || e.NextHopMAC.String() != other.String() {
		t.Fatalf("resolved: external %+v", e)
	}
	if len(res.Resolve) != 1 || res.Resolve[0] != want6 {
		t.Fatalf("resolved with an IPv4 override: resolve %+v", res.Resolve)
	}

	// IPv6 only: no IPv4 address on the gateway port.
	in := withGateway6(withGateway(topo(9, network("n1", "geneve", 1, 1)), "n1"))
	gw := in.Networks["ext"].Ports["gw"]
	gw.FixedIPs = gw.FixedIPs[1:]
	delete(in.FloatingIPs, "fip1")
	in.Ext = External{Gateway: true, Mappings: map[string]string{"public": "br-ex"}, Ports: map[string]uint32{"public": 99}}
	res, err := Build(in, NewKeys())
	if err != nil {
		t.Fatal(err)
	}
	if g := res.View.Routers[0].Gateway; g == nil || g.Address.IsValid() || !g.Address6.IsValid() || len(res.Announce) != 1 {
		t.Fatalf("IPv6-only gateway %+v, announce %v", g, res.Announce)
	}
	if e := res.View.External[0]; e.NextHopIP.IsValid() || !e.NextHopIP6.IsValid() {
		t.Fatalf("IPv6-only external %+v", e)
	}
}
