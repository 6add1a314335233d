package pipeline

import (
	"fmt"
	"net"
	"net/netip"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

var (
	testCfg   = Config{ControllerID: 7}
	testCfgND = Config{ControllerID: 7, NDResponder: true}
)

const (
	ofGeneve = 1
	ofVXLAN  = 2
)

func local() LocalChassis {
	return LocalChassis{Name: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1"), GeneveOFPort: ofGeneve, VXLANOFPort: ofVXLAN}
}

// scenario is a named topology with a golden file.
type scenario struct {
	name string
	view func() *View
	cfg  Config
}

func scenarios() []scenario {
	return []scenario{
		{"one_chassis_one_network", oneChassisOneNetwork, testCfg},
		{"two_chassis_two_networks", twoChassisTwoNetworks, testCfg},
		{"port_security_off", portSecurityOff, testCfg},
		{"vxlan_network", vxlanNetwork, testCfg},
		{"dhcp_disabled", dhcpDisabled, testCfg},
		{"ipv6_subnet", ipv6Subnet, testCfgND},
		{"routed_two_networks", routedTwoNetworks, testCfg},
		{"routed_local_networks", routedLocalNetworks, testCfg},
		{"floating_ip", floatingIP, testCfg},
		{"snat_gateway", snatGateway, testCfg},
		{"centralized_fip", centralizedFIP, testCfg},
		{"edge_fip", edgeFIPView, testCfg},
		{"edge_fip_other_encap", edgeFIPOtherEncapView, testCfg},
		{"nexthop_arp", nextHopARPView, testCfg},
		{"port_forwarding", portForwarding, testCfg},
		{"port_forwarding_centralized", centralizedPortForwarding, testCfg},
		{"security_groups", securityGroups, testCfgND},
		{"ipv6_modes", ipv6Modes, testCfgND},
		{"ipv6_routed", ipv6Routed, testCfgND},
		{"ipv6_gateway", ipv6Gateway, testCfgND},
		{"ipv6_gateway_remote", ipv6GatewayRemote, testCfgND},
		{"ipv6_gateway_metering", meteringIPv6Gateway, testCfgND},
		{"ipv6_gateway_two_subnets", ipv6GatewayTwoSubnets, testCfgND},
		{"ipv6_gateway_two_subnets_here", ipv6GatewayTwoSubnetsHere, testCfgND},
		{"metadata", metadataService, testCfgND},
		{"metering", meteringView, testCfg},
		{"metering_gateway", meteringGateway, testCfg},
		{"provider_vlan", providerVLAN, testCfg},
		{"provider_flat", providerFlat, testCfg},
		{"qos", qosPorts, testCfg},
	}
}

func oneChassisOneNetwork() *View {
	return &View{
		Local:    local(),
		Networks: []Network{{ID: "net1", Key: 1, SegmentationID: 100, Type: "geneve", MTU: 1442}},
		Subnets: []Subnet{{ID: "sub1", NetworkID: "net1", CIDR: netip.MustParsePrefix("10.0.0.0/24"),
			Gateway: netip.MustParseAddr("10.0.0.1"), EnableDHCP: true}},
		Ports: []Port{
			{ID: "vm1", NetworkID: "net1", Key: 1, MAC: mac("fa:16:3e:00:00:01"), IPs: addrs("10.0.0.11"),
				PortSecurity: true, Chassis: "ch1", OFPort: 10},
			{ID: "vm2", NetworkID: "net1", Key: 2, MAC: mac("fa:16:3e:00:00:02"), IPs: addrs("10.0.0.12"),
				PortSecurity: true, Chassis: "ch1", OFPort: 11},
		},
	}
}

// twoChassisTwoNetworks: ch1 (local) and ch2 share net1 and net2; ch3 only
// serves net3, which has no port here; vm1 has allowed address pairs; vm5
// is unbound.
func twoChassisTwoNetworks() *View {
	return &View{
		Local: local(),
		Remote: []RemoteChassis{
			{Name: "ch2", TunnelIP: netip.MustParseAddr("192.0.2.2"), Encaps: []Encap{EncapGeneve, EncapVXLAN}},
			{Name: "ch3", TunnelIP: netip.MustParseAddr("192.0.2.3"), Encaps: []Encap{EncapGeneve}},
		},
		Networks: []Network{
			{ID: "net1", Key: 1, SegmentationID: 100, Type: "geneve", MTU: 1442},
			{ID: "net2", Key: 2, SegmentationID: 200, Type: "geneve", MTU: 1442},
			{ID: "net3", Key: 3, SegmentationID: 300, Type: "geneve", MTU: 1442},
		},
		Subnets: []Subnet{
			{ID: "sub1", NetworkID: "net1", CIDR: netip.MustParsePrefix("10.1.0.0/24"), EnableDHCP: true},
			{ID: "sub2", NetworkID: "net2", CIDR: netip.MustParsePrefix("10.2.0.0/24"), EnableDHCP: true},
			{ID: "sub3", NetworkID: "net3", CIDR: netip.MustParsePrefix("10.3.0.0/24"), EnableDHCP: true},
		},
		Ports: []Port{
			{ID: "vm1", NetworkID: "net1", Key: 1, MAC: mac("fa:16:3e:00:01:01"), IPs: addrs("10.1.0.11"),
				AllowedAddressPairs: []AddressPair{
					{Prefix: netip.MustParsePrefix("10.1.0.100/32")},
					{Prefix: netip.MustParsePrefix("10.1.0.128/25"), MAC: mac("fa:16:3e:00:01:ff")},
				},
				PortSecurity: true, Chassis: "ch1", OFPort: 10},
			{ID: "vm2", NetworkID: "net2", Key: 2, MAC: mac("fa:16:3e:00:02:02"), IPs: addrs("10.2.0.12"),
				PortSecurity: true, Chassis: "ch1", OFPort: 11},
			{ID: "vm3", NetworkID: "net1", Key: 3, MAC: mac("fa:16:3e:00:01:03"), IPs: addrs("10.1.0.13"),
				PortSecurity: true, Chassis: "ch2"},
			{ID: "vm4", NetworkID: "net2", Key: 4, MAC: mac("fa:16:3e:00:02:04"), IPs: addrs("10.2.0.14"),
				PortSecurity: true, Chassis: "ch2"},
			{ID: "vm5", NetworkID: "net1", Key: 5, MAC: mac("fa:16:3e:00:01:05"), IPs: addrs("10.1.0.15"),
				PortSecurity: true},
			{ID: "vm6", NetworkID: "net3", Key: 6, MAC: mac("fa:16:3e:00:03:06"), IPs: addrs("10.3.0.16"),
				PortSecurity: true, Chassis: "ch3"},
		},
	}
}

func portSecurityOff() *View {
	v := oneChassisOneNetwork()
	v.Ports[1].PortSecurity = false
	return v
}

func vxlanNetwork() *View {
	return &View{
		Local: local(),
		Remote: []RemoteChassis{
			{Name: "ch2", TunnelIP: netip.MustParseAddr("192.0.2.2"), Encaps: []Encap{EncapVXLAN}},
		},
		Networks: []Network{{ID: "netx", Key: 4, SegmentationID: 5000, Type: "vxlan", MTU: 1450}},
		Subnets: []Subnet{{ID: "subx", NetworkID: "netx", CIDR: netip.MustParsePrefix("10.4.0.0/24"),
			EnableDHCP: true}},
		Ports: []Port{
			{ID: "vm1", NetworkID: "netx", Key: 1, MAC: mac("fa:16:3e:00:04:01"), IPs: addrs("10.4.0.11"),
				PortSecurity: true, Chassis: "ch1", OFPort: 10},
			{ID: "vm2", NetworkID: "netx", Key: 2, MAC: mac("fa:16:3e:00:04:02"), IPs: addrs("10.4.0.12"),
				PortSecurity: true, Chassis: "ch2"},
		},
	}
}

func dhcpDisabled() *View {
	v := oneChassisOneNetwork()
	v.Subnets[0].EnableDHCP = false
	return v
}

func ipv6Subnet() *View {
	v := oneChassisOneNetwork()
	v.Subnets = append(v.Subnets, Subnet{ID: "sub6", NetworkID: "net1",
		CIDR: netip.MustParsePrefix("2001:db8::/64"), Gateway: netip.MustParseAddr("2001:db8::1"), EnableDHCP: true})
	v.Ports[0].IPs = append(v.Ports[0].IPs, netip.MustParseAddr("2001:db8::11"))
	v.Ports[1].IPs = append(v.Ports[1].IPs, netip.MustParseAddr("2001:db8::12"))
	return v
}

// bigView has n local ports on one network plus n/10 remote ports on 10
// chassis.
func bigView(n int) *View {
	v := &View{
		Local:    local(),
		Networks: []Network{{ID: "net1", Key: 1, SegmentationID: 100, Type: "geneve", MTU: 1442}},
		Subnets:  []Subnet{{ID: "sub1", NetworkID: "net1", CIDR: netip.MustParsePrefix("10.0.0.0/16"), EnableDHCP: true}},
	}
	for c := 0; c < 10; c++ {
		v.Remote = append(v.Remote, RemoteChassis{Name: fmt.Sprintf("r%d", c),
			TunnelIP: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + c)}), Encaps: []Encap{EncapGeneve}})
	}
	for i := 0; i < n+n/10; i++ {
		p := Port{ID: fmt.Sprintf("p%d", i), NetworkID: "net1", Key: uint32(i + 1),
			MAC:          net.HardwareAddr{0xfa, 0x16, 0x3e, 0, byte(i >> 8), byte(i)},
			IPs:          []netip.Addr{netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})},
			PortSecurity: true, Chassis: "ch1", OFPort: uint32(100 + i)}
		if i >= n {
			p.Chassis, p.OFPort = fmt.Sprintf("r%d", i%10), 0
		}
		v.Ports = append(v.Ports, p)
	}
	return v
}
