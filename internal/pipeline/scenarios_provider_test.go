package pipeline

import "net/netip"

// ofPhysnet1 and ofPhysnet2 are br-int's patch ports to the bridges of
// physnet1 and physnet2 in the provider scenarios.
const (
	ofPhysnet1 = 20
	ofPhysnet2 = 21
)

// providerVLAN: two vlan networks on physnet1 (VLAN 101 with vm1 here, vm3
// on ch2 and vm5 unbound; VLAN 102 with only vm4 on ch2, so no section
// here) and security groups on: what leaves for ch2 or any other MAC is
// tagged with VLAN 101 and goes out of the physnet1 bridge port, never a
// tunnel; frames tagged 101 from the bridge are popped and switched;
// tagged frames of another VLAN are dropped.
func providerVLAN() *View {
	return &View{
		Local: local(),
		Remote: []RemoteChassis{
			{Name: "ch2", TunnelIP: netip.MustParseAddr("192.0.2.2"), Encaps: []Encap{EncapGeneve}},
		},
		Networks: []Network{
			{ID: "vlan101", Key: 2<<24 | 101, SegmentationID: 101, Type: "vlan", MTU: 1500, ProviderOFPort: ofPhysnet1, CTZone: 21},
			{ID: "vlan102", Key: 2<<24 | 102, SegmentationID: 102, Type: "vlan", MTU: 1500, ProviderOFPort: ofPhysnet1, CTZone: 22},
		},
		Subnets: []Subnet{
			{ID: "sub101", NetworkID: "vlan101", CIDR: pfx("10.101.0.0/24"), Gateway: netip.MustParseAddr("10.101.0.1"), EnableDHCP: true},
			{ID: "sub102", NetworkID: "vlan102", CIDR: pfx("10.102.0.0/24"), EnableDHCP: true},
		},
		Ports: []Port{
			{ID: "vm1", NetworkID: "vlan101", Key: 10, MAC: mac("fa:16:3e:65:00:01"), IPs: addrs("10.101.0.11"),
				PortSecurity: true, SecurityGroups: []string{"web"}, Chassis: "ch1", OFPort: 10},
			{ID: "vm3", NetworkID: "vlan101", Key: 1 << 20, MAC: mac("fa:16:3e:65:00:03"), IPs: addrs("10.101.0.13"),
				PortSecurity: true, SecurityGroups: []string{"web"}, Chassis: "ch2"},
			{ID: "vm5", NetworkID: "vlan101", Key: 1<<20 + 1, MAC: mac("fa:16:3e:65:00:05"), IPs: addrs("10.101.0.15"),
				PortSecurity: true},
			{ID: "vm4", NetworkID: "vlan102", Key: 1<<20 + 2, MAC: mac("fa:16:3e:66:00:04"), IPs: addrs("10.102.0.14"),
				PortSecurity: true, Chassis: "ch2"},
		},
		SecurityGroupsEnabled: true,
		SecurityGroups: []SecurityGroup{{ID: "web", Key: 1, Rules: []SecurityGroupRule{
			{Direction: Ingress, EtherType: "IPv4", Protocol: 6, PortMin: 80},
			{Direction: Ingress, EtherType: "IPv4", Protocol: 1},
			{Direction: Egress, EtherType: "IPv4"},
		}}},
	}
}

// providerFlat: a flat network on physnet2 with vm1 (port security on)
// and vm2 (port security off) here and vm3 on ch2: untagged frames go out
// of the physnet2 bridge port and come in from it; unknown unicast from
// the physical network reaches vm2 only.
func providerFlat() *View {
	return &View{
		Local: local(),
		Remote: []RemoteChassis{
			{Name: "ch2", TunnelIP: netip.MustParseAddr("192.0.2.2"), Encaps: []Encap{EncapGeneve}},
		},
		Networks: []Network{{ID: "flat1", Key: 3 << 24, Type: "flat", MTU: 1500, ProviderOFPort: ofPhysnet2, CTZone: 31}},
		Subnets:  []Subnet{{ID: "subf", NetworkID: "flat1", CIDR: pfx("10.200.0.0/24"), Gateway: netip.MustParseAddr("10.200.0.1"), EnableDHCP: true}},
		Ports: []Port{
			{ID: "vm1", NetworkID: "flat1", Key: 10, MAC: mac("fa:16:3e:c8:00:01"), IPs: addrs("10.200.0.11"),
				PortSecurity: true, Chassis: "ch1", OFPort: 10},
			{ID: "vm2", NetworkID: "flat1", Key: 11, MAC: mac("fa:16:3e:c8:00:02"), IPs: addrs("10.200.0.12"),
				Chassis: "ch1", OFPort: 11},
			{ID: "vm3", NetworkID: "flat1", Key: 1 << 20, MAC: mac("fa:16:3e:c8:00:03"), IPs: addrs("10.200.0.13"),
				PortSecurity: true, Chassis: "ch2"},
		},
	}
}
