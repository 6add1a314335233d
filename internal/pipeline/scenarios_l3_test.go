package pipeline

import "net/netip"

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func u8(v uint8) *uint8 { return &v }

// Addresses and MACs of the routed scenarios.
const (
	rtrMAC1 = "fa:16:3e:ff:00:01" // router port on net1 (10.1.0.1)
	rtrMAC2 = "fa:16:3e:ff:00:02" // router port on net2 (10.2.0.1)
	rtrGW   = "fa:16:3e:ff:00:99" // router gateway on ext (203.0.113.2)
	ofExt   = 20                  // br-int's port to br-ex
)

// routedTwoNetworks: router r1 joins net1 (vm1 here, vm3 on ch2) and net2
// (only vm4, on ch2); an extra route sends 10.9.0.0/16 via vm4; net3 (on
// ch3 only) is not on the router. The router's interface ports are in the
// view as unbound ports, as Neutron has them.
func routedTwoNetworks() *View {
	v := twoChassisTwoNetworks()
	v.Ports = slicesDelete(v.Ports, "vm2") // net2 has no local port
	v.Ports = append(v.Ports,
		Port{ID: "r1-net1", NetworkID: "net1", Key: 101, MAC: mac(rtrMAC1), IPs: addrs("10.1.0.1")},
		Port{ID: "r1-net2", NetworkID: "net2", Key: 102, MAC: mac(rtrMAC2), IPs: addrs("10.2.0.1")})
	v.Routers = []Router{{ID: "r1", Key: 1,
		Ports: []RouterPort{
			{NetworkID: "net1", MAC: mac(rtrMAC1), Address: pfx("10.1.0.1/24")},
			{NetworkID: "net2", MAC: mac(rtrMAC2), Address: pfx("10.2.0.1/24")},
		},
		Routes: []Route{{Destination: pfx("10.9.0.0/16"), NextHop: netip.MustParseAddr("10.2.0.14")}},
	}}
	return v
}

// routedLocalNetworks: routedTwoNetworks with vm2 back on net2 here: both
// router networks have local ports, so routing to either goes through
// Neighbour and the network's L2 stage rather than host routes.
func routedLocalNetworks() *View {
	v := routedTwoNetworks()
	v.Ports = append(v.Ports, twoChassisTwoNetworks().Ports[1]) // vm2
	return v
}

func slicesDelete(ps []Port, id string) []Port {
	out := ps[:0:0]
	for _, p := range ps {
		if p.ID != id {
			out = append(out, p)
		}
	}
	return out
}

// withGateway gives r1 a gateway on the external network ext, active on
// chassis gw.
func withGateway(v *View, gw string, ofport uint32) *View {
	v.Routers[0].Gateway = &RouterGateway{NetworkID: "ext", MAC: mac(rtrGW), Address: pfx("203.0.113.2/24"),
		SNAT: true, Chassis: gw}
	v.External = []ExternalNetwork{{ID: "ext", Key: 50, OFPort: ofport, NextHopMAC: mac("02:00:cb:00:71:01")}}
	return v
}

// floatingIP: routedTwoNetworks with a gateway active on ch2 and vm1's
// floating IP 203.0.113.10 served here; vm5 (unbound) and vm1's other
// traffic go out through ch2's SNAT.
func floatingIP() *View {
	v := withGateway(routedTwoNetworks(), "ch2", ofExt)
	v.FloatingIPs = []FloatingIP{
		{FloatingIP: netip.MustParseAddr("203.0.113.10"), FixedIP: netip.MustParseAddr("10.1.0.11"), PortID: "vm1", RouterID: "r1"},
		// vm3 is on ch2: its floating IP is not served here.
		{FloatingIP: netip.MustParseAddr("203.0.113.13"), FixedIP: netip.MustParseAddr("10.1.0.13"), PortID: "vm3", RouterID: "r1"},
	}
	return v
}

// snatGateway: this chassis (ch1) has no VM port but is r1's active
// gateway: it classifies the router networks' tunnel traffic, SNATs it and
// un-SNATs the replies.
func snatGateway() *View {
	v := withGateway(routedTwoNetworks(), "ch1", ofExt)
	v.Ports = slicesDelete(v.Ports, "vm1")
	return v
}

// securityGroups: oneChassisOneNetwork with stateful security groups:
// "web" (ssh from anywhere, 8000-8080 from members of web, ping, all
// egress) on vm1 and vm2, "db" (5432 from web, IPv6 egress to a prefix) on
// vm2.
func securityGroups() *View {
	v := ipv6Subnet()
	v.SecurityGroupsEnabled = true
	v.Networks[0].CTZone = 11
	v.Ports[0].SecurityGroups = []string{"web"}
	v.Ports[1].SecurityGroups = []string{"web", "db"}
	v.SecurityGroups = []SecurityGroup{
		{ID: "web", Key: 1, Members: []netip.Prefix{pfx("10.0.0.11/32"), pfx("10.0.0.12/32"), pfx("2001:db8::11/128"), pfx("2001:db8::12/128")},
			Rules: []SecurityGroupRule{
				{Direction: Ingress, EtherType: "IPv4", Protocol: 6, PortMin: 22, PortMax: 22, RemotePrefix: pfx("0.0.0.0/0")},
				{Direction: Ingress, EtherType: "IPv4", Protocol: 6, PortMin: 8000, PortMax: 8080, RemoteGroupID: "web"},
				{Direction: Ingress, EtherType: "IPv6", Protocol: 6, PortMin: 8000, PortMax: 8080, RemoteGroupID: "web"},
				{Direction: Ingress, EtherType: "IPv4", Protocol: 1, ICMPType: u8(8)},
				{Direction: Egress, EtherType: "IPv4"},
				{Direction: Egress, EtherType: "IPv6"},
			}},
		{ID: "db", Key: 2, Rules: []SecurityGroupRule{
			{Direction: Ingress, EtherType: "IPv4", Protocol: 6, PortMin: 5432, RemoteGroupID: "web"},
			{Direction: Egress, EtherType: "IPv6", Protocol: 17, PortMin: 53, RemotePrefix: pfx("2001:db8:53::/48")},
		}},
	}
	return v
}

// centralizedFIP: snatGateway, with vm3 (bound on ch2, which has no bridge
// mapping) holding the centralized floating IP 203.0.113.13: this chassis,
// r1's active gateway, DNATs it, routes it to ch2 and SNATs vm3's
// connections, which ch2 tunnels here.
func centralizedFIP() *View {
	v := snatGateway()
	v.FloatingIPs = []FloatingIP{{FloatingIP: netip.MustParseAddr("203.0.113.13"), FixedIP: netip.MustParseAddr("10.1.0.13"),
		PortID: "vm3", RouterID: "r1", MAC: mac("fa:16:3e:ee:00:13"), Centralized: true}}
	return v
}

// edgeFIPView: routedTwoNetworks on an edge-mode chassis without a bridge
// mapping (r1's gateway active on ch2): vm1's floating IP is served by
// the edge layer, so vm1's traffic leaving r1 is tunnelled to the edge's
// endpoint on net1's key, while vm5's (and any other port's) still goes
// to ch2's SNAT; vm3's edge floating IP (on ch2) compiles nothing here.
func edgeFIPView() *View {
	v := withGateway(routedTwoNetworks(), "ch2", 0)
	v.Local.EdgeEndpoint = netip.MustParseAddr("192.0.2.100")
	v.FloatingIPs = []FloatingIP{
		{FloatingIP: netip.MustParseAddr("203.0.113.10"), FixedIP: netip.MustParseAddr("10.1.0.11"), PortID: "vm1", RouterID: "r1",
			MAC: mac("fa:16:3e:ee:00:10"), Edge: true},
		{FloatingIP: netip.MustParseAddr("203.0.113.13"), FixedIP: netip.MustParseAddr("10.1.0.13"), PortID: "vm3", RouterID: "r1",
			MAC: mac("fa:16:3e:ee:00:13"), Edge: true},
	}
	return v
}

// edgeFIPOtherEncapView: edgeFIPView with an edge layer of VXLAN only:
// vm1's traffic to the edge leaves by the VXLAN port on net1's key, and
// the gateways' packets on that key arrive by it.
func edgeFIPOtherEncapView() *View {
	v := edgeFIPView()
	v.Local.EdgeEncaps = []Encap{EncapVXLAN}
	return v
}

// nextHopARPView: floatingIP with the upstream router's MAC not resolved yet:
// its ARP replies go to the controller, and nothing leaves by L3Out.
func nextHopARPView() *View {
	v := floatingIP()
	v.External[0].NextHopMAC = nil
	v.External[0].NextHopIP = netip.MustParseAddr("203.0.113.1")
	return v
}
