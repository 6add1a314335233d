package pipeline

import "net/netip"

// chassisMACPhysnet1 is ch1's chassis MAC on physnet1 in providerRouted.
const chassisMACPhysnet1 = "0e:c4:01:00:00:01"

// providerRouted: router r1 joins vlan101 (physnet1, vm1 here and vm3 on
// ch2), the geneve network gen1 (vm6 here, vm7 on ch2) and vlan103
// (physnet1, only vm8 on ch2: routed to by host route). What r1 routes to
// vm3 or vm8 leaves by the physnet1 bridge port, tagged, from the chassis
// MAC (Output, provroute.go), never from r1's MAC; what it routes to vm7
// goes into the tunnel; r1's addresses are answered here. IPv6 on
// vlan101 and gen1 likewise.
func providerRouted() *View {
	v := providerVLAN()
	v.Networks = []Network{
		{ID: "vlan101", Key: 2<<24 | 101, SegmentationID: 101, Type: "vlan", MTU: 1500, ProviderOFPort: ofPhysnet1, CTZone: 21,
			ChassisMAC: mac(chassisMACPhysnet1)},
		{ID: "vlan103", Key: 2<<24 | 103, SegmentationID: 103, Type: "vlan", MTU: 1500, ProviderOFPort: ofPhysnet1, CTZone: 23,
			ChassisMAC: mac(chassisMACPhysnet1)},
		{ID: "gen1", Key: 1, SegmentationID: 100, Type: "geneve", MTU: 1442, CTZone: 1},
	}
	v.Subnets = []Subnet{
		{ID: "sub101", NetworkID: "vlan101", CIDR: pfx("10.101.0.0/24"), Gateway: netip.MustParseAddr("10.101.0.1"), EnableDHCP: true},
		{ID: "sub103", NetworkID: "vlan103", CIDR: pfx("10.103.0.0/24"), Gateway: netip.MustParseAddr("10.103.0.1"), EnableDHCP: true},
		{ID: "subg", NetworkID: "gen1", CIDR: pfx("10.1.0.0/24"), Gateway: netip.MustParseAddr("10.1.0.1"), EnableDHCP: true},
	}
	v.Ports = []Port{
		{ID: "vm1", NetworkID: "vlan101", Key: 10, MAC: mac("fa:16:3e:65:00:01"), IPs: addrs("10.101.0.11"),
			PortSecurity: true, SecurityGroups: []string{"web"}, Chassis: "ch1", OFPort: 10},
		{ID: "vm6", NetworkID: "gen1", Key: 11, MAC: mac("fa:16:3e:01:00:06"), IPs: addrs("10.1.0.16"),
			PortSecurity: true, SecurityGroups: []string{"web"}, Chassis: "ch1", OFPort: 11},
		{ID: "vm3", NetworkID: "vlan101", Key: 1 << 20, MAC: mac("fa:16:3e:65:00:03"), IPs: addrs("10.101.0.13"),
			PortSecurity: true, SecurityGroups: []string{"web"}, Chassis: "ch2"},
		{ID: "vm7", NetworkID: "gen1", Key: 1<<20 + 1, MAC: mac("fa:16:3e:01:00:07"), IPs: addrs("10.1.0.17"),
			PortSecurity: true, SecurityGroups: []string{"web"}, Chassis: "ch2"},
		{ID: "vm8", NetworkID: "vlan103", Key: 1<<20 + 2, MAC: mac("fa:16:3e:67:00:08"), IPs: addrs("10.103.0.18"),
			PortSecurity: true, SecurityGroups: []string{"web"}, Chassis: "ch2"},
		{ID: "r1-vlan101", NetworkID: "vlan101", Key: 101, MAC: mac("fa:16:3e:aa:01:01"), IPs: addrs("10.101.0.1")},
		{ID: "r1-vlan103", NetworkID: "vlan103", Key: 103, MAC: mac("fa:16:3e:aa:01:03"), IPs: addrs("10.103.0.1")},
		{ID: "r1-gen1", NetworkID: "gen1", Key: 104, MAC: mac("fa:16:3e:aa:00:01"), IPs: addrs("10.1.0.1")},
	}
	v.Routers = []Router{{ID: "r1", Key: 1, Ports: []RouterPort{
		{NetworkID: "vlan101", MAC: mac("fa:16:3e:aa:01:01"), Address: pfx("10.101.0.1/24")},
		{NetworkID: "vlan103", MAC: mac("fa:16:3e:aa:01:03"), Address: pfx("10.103.0.1/24")},
		{NetworkID: "gen1", MAC: mac("fa:16:3e:aa:00:01"), Address: pfx("10.1.0.1/24")},
	}}}
	// IPv6 on vlan101 and gen1: routed by host route, the same way.
	v.Subnets = append(v.Subnets,
		Subnet{ID: "sub101v6", NetworkID: "vlan101", CIDR: pfx("2001:db8:101::/64"), Gateway: netip.MustParseAddr("2001:db8:101::1"),
			EnableDHCP: true, IPv6RAMode: "slaac", IPv6AddressMode: "slaac"},
		Subnet{ID: "subgv6", NetworkID: "gen1", CIDR: pfx("2001:db8:1::/64"), Gateway: netip.MustParseAddr("2001:db8:1::1"),
			EnableDHCP: true, IPv6RAMode: "slaac", IPv6AddressMode: "slaac"})
	v6 := map[string]string{"vm1": "2001:db8:101::11", "vm3": "2001:db8:101::13", "vm6": "2001:db8:1::16", "vm7": "2001:db8:1::17",
		"r1-vlan101": "2001:db8:101::1", "r1-gen1": "2001:db8:1::1"}
	for i := range v.Ports {
		if a, ok := v6[v.Ports[i].ID]; ok {
			v.Ports[i].IPs = append(v.Ports[i].IPs, netip.MustParseAddr(a))
		}
	}
	v.Routers[0].Ports = append(v.Routers[0].Ports,
		RouterPort{NetworkID: "vlan101", MAC: mac("fa:16:3e:aa:01:01"), Address: pfx("2001:db8:101::1/64")},
		RouterPort{NetworkID: "gen1", MAC: mac("fa:16:3e:aa:00:01"), Address: pfx("2001:db8:1::1/64")})
	v.SecurityGroups[0].Rules = append(v.SecurityGroups[0].Rules,
		SecurityGroupRule{Direction: Egress, EtherType: "IPv6"},
		SecurityGroupRule{Direction: Ingress, EtherType: "IPv6", Protocol: 58})
	return v
}

// providerRoutedSNAT: providerRouted with r1's gateway (IPv4 and IPv6)
// active on ch2: what vm1 (vlan101) sends out through the gateway, IPv4
// to translate and IPv6, leaves by the physnet1 bridge port, tagged 101,
// to ch2's chassis MAC there; vm6's (geneve) is tunnelled to ch2 as on
// any overlay network.
func providerRoutedSNAT() *View {
	v := withGateway6(withGateway(providerRouted(), "ch2", 30))
	v.Remote[0].ProviderMACs = []ProviderMAC{{OFPort: ofPhysnet1, MAC: mac("0e:c4:02:00:00:01")}}
	return v
}

// withGateway6 gives r1's gateway an IPv6 address too: its IPv6 leaves by
// the gateway, routed without NAT.
func withGateway6(v *View) *View {
	v.Routers[0].Gateway.Address6 = pfx("2001:db8:ff::2/64")
	v.External[0].NextHopMAC6 = mac("02:00:cb:00:71:06")
	return v
}

// providerRoutedGateway: providerRouted with r1's gateway (IPv4 and IPv6)
// active here, on an external network sharing physnet1 (untagged): a
// frame from the physnet1 bridge port to this chassis' MAC on VLAN 101 or
// 103, from r1's subnet there, is given r1's MAC and routed out by the
// same port.
func providerRoutedGateway() *View {
	return withGateway6(withGateway(providerRouted(), "ch1", ofPhysnet1))
}
