package pipeline

import (
	"net"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Floating-IP port forwarding (Neutron's floating-ip-port-forwarding):
// a floating IP without an association whose L4 ports are forwarded to
// ports of internal addresses. It is NATed like a floating IP, statefully
// in the router's conntrack zone, but per port:
//
//   - L3DNAT: traffic to the floating IP is looked up in conntrack (as a
//     floating IP's), and a new connection to a forwarded protocol and
//     port is committed with nat(dst=InternalIP:InternalPort), then
//     routed to the port; any other new connection to the address falls
//     to the router's drop (prioDNATDrop): a port not forwarded is not
//     reached;
//   - L3SNAT: the replies are un-NATed by the existing lookup (their
//     source becomes the floating IP and its external port) and leave by
//     L3Out from the floating IP's MAC; the internal port's own new
//     connections are not translated to the floating IP (they take the
//     router's SNAT, as without the forwarding);
//   - the floating IP's ARP is answered, on the external network, by the
//     chassis that NATs it.
//
// Who NATs it (see logical): the chassis hosting every forwarding's port
// when there is one such chassis and it reaches the external network
// (distributed); else (ports on several chassis, or on a chassis without
// the external network or in edge mode) the router's active gateway
// (Centralized), which routes the connections to the ports' chassis and
// gets the replies back as it gets every SNAT connection of a chassis
// without the gateway.

// PortForwarding is a floating IP whose ports are forwarded.
type PortForwarding struct {
	FloatingIP netip.Addr
	// RouterID is the router whose gateway network holds FloatingIP and
	// that routes to every rule's port.
	RouterID string
	// MAC answers ARP for FloatingIP and is the source MAC of its traffic
	// on the external network (the floating IP's port's); nil: the router
	// gateway's.
	MAC net.HardwareAddr
	// Centralized: the router's active gateway chassis NATs it; false:
	// the chassis of the rules' ports does.
	Centralized bool
	Rules       []ForwardRule
}

// ForwardRule forwards Protocol's ExternalPort (to ExternalPortMax, a
// range) of the floating IP to InternalIP:InternalPort, an address of
// port PortID; InternalPort 0 keeps the port (a range forwarded to the
// same ports).
type ForwardRule struct {
	// Protocol is ofp.ProtoTCP or ofp.ProtoUDP; other rules compile
	// nothing.
	Protocol     uint8
	ExternalPort uint16
	// ExternalPortMax ends a range of external ports; 0: ExternalPort
	// alone.
	ExternalPortMax uint16
	InternalIP      netip.Addr
	InternalPort    uint16
	PortID          string
}

const prioDNATForward = prioDNATCommit // a floating IP is associated or forwarded, never both

// pfState is a port forwarding NATed here.
type pfState struct {
	fip   netip.Addr
	mac   net.HardwareAddr
	rules []ForwardRule
}

// localForwardings are the router's port forwardings NATed here: those
// whose rules' ports are all bound here (distributed), and, on the
// router's active gateway (gwLocal), the centralized ones, with the rules
// whose ports are bound anywhere reachable.
func (x *index) localForwardings(r *Router, gwLocal bool) []pfState {
	var out []pfState
	seen := map[netip.Addr]bool{}
	for _, f := range x.v.PortForwardings {
		if f.RouterID != r.ID || !f.FloatingIP.Is4() || seen[f.FloatingIP] || f.Centralized && !gwLocal {
			continue
		}
		ps := pfState{fip: f.FloatingIP, mac: slices.Clone(r.Gateway.MAC)}
		if len(f.MAC) == 6 {
			ps.mac = slices.Clone(f.MAC)
		}
		ext := map[[2]uint16]bool{}
		for _, rule := range f.Rules {
			p := x.portsByID[rule.PortID]
			here := p != nil && (p.local || f.Centralized && p.remote != nil)
			if !here || rule.Protocol != ofp.ProtoTCP && rule.Protocol != ofp.ProtoUDP || rule.ExternalPort == 0 ||
				rule.ExternalPortMax != 0 && rule.ExternalPortMax < rule.ExternalPort ||
				!rule.InternalIP.Is4() || !slices.Contains(p.IPs, rule.InternalIP) {
				continue
			}
			if k := [2]uint16{uint16(rule.Protocol), rule.ExternalPort}; !ext[k] {
				ext[k] = true
				ps.rules = append(ps.rules, rule)
			}
		}
		if len(ps.rules) == 0 {
			continue
		}
		slices.SortFunc(ps.rules, func(a, b ForwardRule) int {
			if a.Protocol != b.Protocol {
				return int(a.Protocol) - int(b.Protocol)
			}
			return int(a.ExternalPort) - int(b.ExternalPort)
		})
		seen[f.FloatingIP] = true
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b pfState) int { return a.fip.Compare(b.fip) })
	return out
}

// natForwardings compiles the router's port forwardings NATed here (see
// the top of this file); nat calls it once the router's way out and its
// external network's classification are compiled.
func (c *l3Builder) natForwardings(r *routerState) {
	if len(r.pfs) == 0 {
		return
	}
	ext := r.ext
	rk := RouterKeyMatch(r.Key)
	ip4 := ofp.EthType(ofp.EthTypeIPv4)
	extKey := NetworkKeyField.Match(ext.Key)
	newConn := ofp.CTState(ofp.CTNew|ofp.CTTrk, ofp.CTNew|ofp.CTInv|ofp.CTTrk)
	untracked := ofp.CTState(0, ofp.CTTrk)
	for _, f := range r.pfs {
		fip := netip.PrefixFrom(f.fip, 32)
		if len(ext.NextHopMAC) == 6 {
			c.add(TableL3Out, prioL3Out, FeatureL3, []ofp.Field{rk, ip4, ofp.IPSrc(fip)},
				ofp.DecTTL{},
				ofp.SetField{Field: ofp.EthSrc(f.mac)},
				ofp.SetField{Field: ofp.EthDst(slices.Clone(ext.NextHopMAC))},
				NetworkKeyField.Load(ext.Key),
				ofp.Output{Port: ext.OFPort})
		}
		if c.once(ext.Key, f.mac) {
			c.add(TableL2Lookup, prioL2Router, FeatureL3, []ofp.Field{notRouted, extKey, ofp.EthDst(f.mac)},
				RouterKeyLoad(r.Key), gotoTable(TableL3DNAT))
		}
		c.arpReply(ext.Key, f.fip, f.mac)
		c.add(TableL3DNAT, prioDNATLookup, FeatureL3, []ofp.Field{rk, extKey, ip4, untracked, ofp.IPDst(fip)},
			ofp.CT{Zone: r.zone, ZoneReg: -1, Table: int(TableL3DNAT.Number()), NAT: &ofp.NAT{}})
		for _, rule := range f.rules {
			hi := max(rule.ExternalPortMax, rule.ExternalPort)
			for _, pm := range portMasks(rule.ExternalPort, hi) {
				l4 := ofp.TCPDst(pm[0], pm[1])
				if rule.Protocol == ofp.ProtoUDP {
					l4 = ofp.UDPDst(pm[0], pm[1])
				}
				c.add(TableL3DNAT, prioDNATForward, FeatureL3,
					[]ofp.Field{rk, extKey, ip4, newConn, ofp.IPDst(fip), ofp.IPProto(rule.Protocol), l4},
					ofp.CT{Commit: true, Zone: r.zone, ZoneReg: -1, Table: int(TableL3Route.Number()),
						NAT: &ofp.NAT{Addr: rule.InternalIP, Port: rule.InternalPort}})
			}
		}
	}
}
