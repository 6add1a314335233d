package logical

import (
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
