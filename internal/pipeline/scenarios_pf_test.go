package pipeline

import "net/netip"

// portForwarding: floatingIP with the floating IP 203.0.113.20 forwarding
// tcp/2222 to vm1's 10.1.0.11:22, udp/5353 to its :53, tcp/1200-1299 to
// the same ports and udp/6000-6003 to its :6000 (vm1 is here:
// this chassis NATs it), and 203.0.113.23 forwarding tcp/8080 to vm3 (on
// ch2, which NATs it: nothing here).
func portForwarding() *View {
	v := floatingIP()
	v.PortForwardings = []PortForwarding{
		{FloatingIP: netip.MustParseAddr("203.0.113.20"), RouterID: "r1", MAC: mac("fa:16:3e:ee:00:20"), Rules: []ForwardRule{
			{Protocol: 6, ExternalPort: 2222, InternalIP: netip.MustParseAddr("10.1.0.11"), InternalPort: 22, PortID: "vm1"},
			{Protocol: 17, ExternalPort: 5353, InternalIP: netip.MustParseAddr("10.1.0.11"), InternalPort: 53, PortID: "vm1"},
			// A range onto the same ports, and a range onto one port.
			{Protocol: 6, ExternalPort: 1200, ExternalPortMax: 1299, InternalIP: netip.MustParseAddr("10.1.0.11"), PortID: "vm1"},
			{Protocol: 17, ExternalPort: 6000, ExternalPortMax: 6003, InternalIP: netip.MustParseAddr("10.1.0.11"), InternalPort: 6000, PortID: "vm1"},
		}},
		{FloatingIP: netip.MustParseAddr("203.0.113.23"), RouterID: "r1", MAC: mac("fa:16:3e:ee:00:23"), Rules: []ForwardRule{
			{Protocol: 6, ExternalPort: 8080, InternalIP: netip.MustParseAddr("10.1.0.13"), InternalPort: 80, PortID: "vm3"},
		}},
	}
	return v
}

// centralizedPortForwarding: snatGateway (this chassis is r1's active
// gateway, with no VM port) with 203.0.113.23 forwarding tcp/8080 to vm3's
// 10.1.0.13:80 on ch2, served centrally: DNATed here and routed to ch2.
func centralizedPortForwarding() *View {
	v := snatGateway()
	v.PortForwardings = []PortForwarding{
		{FloatingIP: netip.MustParseAddr("203.0.113.23"), RouterID: "r1", MAC: mac("fa:16:3e:ee:00:23"), Centralized: true, Rules: []ForwardRule{
			{Protocol: 6, ExternalPort: 8080, InternalIP: netip.MustParseAddr("10.1.0.13"), InternalPort: 80, PortID: "vm3"},
		}},
	}
	return v
}
