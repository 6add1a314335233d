package pipeline

import "net/netip"

// ipv6Modes: one network, dual stack: an IPv4 subnet and a
// dhcpv6-stateful IPv6 subnet; router solicitations and DHCPv6 go to the
// controller, neighbour solicitations are answered in flows.
func ipv6Modes() *View {
	v := oneChassisOneNetwork()
	v.Subnets = append(v.Subnets, Subnet{ID: "sub6", NetworkID: "net1",
		CIDR: netip.MustParsePrefix("2001:db8:1::/64"), Gateway: netip.MustParseAddr("2001:db8:1::1"), EnableDHCP: true,
		IPv6RAMode: "dhcpv6-stateful", IPv6AddressMode: "dhcpv6-stateful"})
	v.Ports[0].IPs = append(v.Ports[0].IPs, netip.MustParseAddr("2001:db8:1::11"))
	v.Ports[1].IPs = append(v.Ports[1].IPs, netip.MustParseAddr("2001:db8:1::12"))
	return v
}

// ipv6Routed: routedTwoNetworks, dual stack: net1 and net2 also have a
// slaac IPv6 subnet, the router's interfaces an IPv6 address each (the
// same ports, as Neutron adds an IPv6 subnet to a router's existing port
// on the network), and an IPv6 extra route via vm4. IPv6 is routed by
// host route to every port (a local one through IngressACL, a remote one
// into the tunnel); the router answers neighbour solicitations for its
// addresses and its link-local address.
func ipv6Routed() *View {
	v := routedTwoNetworks()
	v.Subnets = append(v.Subnets,
		Subnet{ID: "sub1v6", NetworkID: "net1", CIDR: pfx("2001:db8:1::/64"), Gateway: netip.MustParseAddr("2001:db8:1::1"),
			EnableDHCP: true, IPv6RAMode: "slaac", IPv6AddressMode: "slaac"},
		Subnet{ID: "sub2v6", NetworkID: "net2", CIDR: pfx("2001:db8:2::/64"), Gateway: netip.MustParseAddr("2001:db8:2::1"),
			EnableDHCP: true, IPv6RAMode: "slaac", IPv6AddressMode: "slaac"})
	v6 := map[string]string{"vm1": "2001:db8:1::11", "vm3": "2001:db8:1::13", "vm4": "2001:db8:2::14",
		"r1-net1": "2001:db8:1::1", "r1-net2": "2001:db8:2::1"}
	for i := range v.Ports {
		if a, ok := v6[v.Ports[i].ID]; ok {
			v.Ports[i].IPs = append(v.Ports[i].IPs, netip.MustParseAddr(a))
		}
	}
	r := &v.Routers[0]
	r.Ports = append(r.Ports,
		RouterPort{NetworkID: "net1", MAC: mac(rtrMAC1), Address: pfx("2001:db8:1::1/64")},
		RouterPort{NetworkID: "net2", MAC: mac(rtrMAC2), Address: pfx("2001:db8:2::1/64")})
	r.Routes = append(r.Routes, Route{Destination: pfx("2001:db8:9::/64"), NextHop: netip.MustParseAddr("2001:db8:2::14")})
	return v
}

// metadataService: oneChassisOneNetwork with the chassis' metadata port:
// each local port's TCP to 169.254.169.254:80 goes to it from the port's
// own link-local source, and back.
func metadataService() *View {
	v := oneChassisOneNetwork()
	v.Metadata = &MetadataPort{OFPort: 30, MAC: mac("02:57:59:00:a9:fe")}
	return v
}

// Upstream IPv6 router of the IPv6 gateway scenarios.
const (
	upstream6    = "2001:db8:ffff::1"
	upstreamMAC6 = "02:00:cb:00:71:06"
)

// ipv6Gateway: ipv6Routed with a dual-stack gateway on ext
// (203.0.113.2/24 and 2001:db8:ffff::2/64), active here (ch1), the
// upstream IPv6 router resolved: this chassis answers neighbour
// solicitations for the gateway's IPv6 address on ext, routes IPv6 from
// outside to the ports by host route, and sends the external subnet and
// the default route to the upstream router without NAT; the upstream
// router's advertisements go to the controller.
func ipv6Gateway() *View {
	v := withGateway(ipv6Routed(), "ch1", ofExt)
	v.Routers[0].Gateway.Address6 = pfx("2001:db8:ffff::2/64")
	v.External[0].NextHopIP6 = netip.MustParseAddr(upstream6)
	v.External[0].NextHopMAC6 = mac(upstreamMAC6)
	return v
}

// ipv6GatewayRemote: ipv6Gateway with the gateway active on ch2: the
// local ports' IPv6 to the external subnet and the default route is
// tunnelled to ch2 unrouted; nothing of the gateway's is answered here.
func ipv6GatewayRemote() *View {
	v := ipv6Gateway()
	v.Routers[0].Gateway.Chassis = "ch2"
	return v
}

// ipv6GatewayTwoSubnets: ipv6GatewayRemote with a second IPv6 subnet of
// net1 on the router's same port (as Neutron adds it): each flow once
// (TestFlowInvariants); ipv6GatewayTwoSubnetsHere likewise with the
// gateway here.
func ipv6GatewayTwoSubnets() *View { return twoSubnets(ipv6GatewayRemote()) }

func ipv6GatewayTwoSubnetsHere() *View { return twoSubnets(ipv6Gateway()) }

func twoSubnets(v *View) *View {
	v.Subnets = append(v.Subnets, Subnet{ID: "sub1v6b", NetworkID: "net1", CIDR: pfx("2001:db8:11::/64"),
		Gateway: netip.MustParseAddr("2001:db8:11::1"), EnableDHCP: true, IPv6RAMode: "slaac", IPv6AddressMode: "slaac"})
	v.Routers[0].Ports = append(v.Routers[0].Ports, RouterPort{NetworkID: "net1", MAC: mac(rtrMAC1), Address: pfx("2001:db8:11::1/64")})
	return v
}
