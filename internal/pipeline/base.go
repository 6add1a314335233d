package pipeline

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// baseUnit compiles the "base" section, the flows that name no network:
// the base tables' miss flows (in every pipeline), the PortSecurity flows
// that name no port, and the ARP responder's shared flows with ARPReply's
// and Neighbour's misses.
type baseUnit struct{}

func (baseUnit) sections(x *index, s *sectionList) {
	var secured, unsecured bool
	for _, n := range x.nets {
		for _, p := range n.local {
			secured = secured || p.PortSecurity
			unsecured = unsecured || !p.PortSecurity
		}
	}
	h := x.hasher("base")
	h.bool(secured)
	h.bool(unsecured)
	h.bool(x.neighbours)
	if e := s.next("base", h.Sum64(), 32); e != nil {
		missFlows(e, FeatureDefault)
		portSecurityShared(e, secured, unsecured)
		if x.neighbours {
			neighbourShared(e)
		}
	}
}

// portSecurityShared installs the PortSecurity flows that do not name a
// port: the pass of ports with port security off; the drops (neighbour
// discovery not allowed by a port's own flows, router advertisements and
// DHCP server replies: rogue routers and DHCP servers); and what needs only
// a source MAC that Classify verified (VMPortSecured): IPv6 from a
// link-local address, DHCPv4 discover from 0.0.0.0, MLDv2 reports and
// duplicate address detection from ::, and link-local ND without a
// link-layer option.
// on and off say whether some local port has port security on, and off.
func portSecurityShared(c *emitter, on, off bool) {
	next := NextTable(TablePortSecurity)
	if off {
		c.add(TablePortSecurity, prioPortSecOff, FeaturePortSecurity,
			[]ofp.Field{VMPortField.Match(VMPortUnsecured)}, next)
	}
	if !on {
		return
	}
	for _, t := range []uint8{icmp6RA, icmp6NS, icmp6NA} {
		c.add(TablePortSecurity, prioPortSecDrop, FeaturePortSecurity, []ofp.Field{
			ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6), ofp.ICMPv6Type(t)})
	}
	c.add(TablePortSecurity, prioPortSecDrop, FeaturePortSecurity, []ofp.Field{
		ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP), ofp.UDPSrc(67, 0), ofp.UDPDst(68, 0)})
	c.add(TablePortSecurity, prioPortSecDrop, FeaturePortSecurity, []ofp.Field{
		ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoUDP), ofp.UDPSrc(547, 0), ofp.UDPDst(546, 0)})

	secured := VMPortField.Match(VMPortSecured)
	var buf [8]ofp.Field
	nd := func(t uint8, extra ...ofp.Field) []ofp.Field {
		return append(append(buf[:0], secured, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
			ofp.ICMPv6Type(t), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}), extra...)
	}
	// Neighbour solicitations without a source link-layer option: for
	// duplicate address detection (from ::) and from a link-local address.
	for _, pf := range []netip.Prefix{prefixV6Any, prefixLLA} {
		c.add(TablePortSecurity, prioPortSecNDAllow, FeaturePortSecurity,
			nd(icmp6NS, ofp.IPSrc(pf), ofp.Field{Kind: ofp.FNDSLL, MAC: macZero}), next)
	}
	// Link-local advertisements for a link-local target without a target
	// link-layer option.
	c.add(TablePortSecurity, prioPortSecNDAllow, FeaturePortSecurity,
		nd(icmp6NA, ofp.IPSrc(prefixLLA), ofp.Field{Kind: ofp.FNDTarget, Prefix: prefixLLA},
			ofp.Field{Kind: ofp.FNDTLL, MAC: macZero}), next)
	// DHCPv4 discover/request before the client has an address.
	c.add(TablePortSecurity, prioPortSecSpecial, FeaturePortSecurity, []ofp.Field{
		secured, ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP),
		ofp.IPSrc(prefixV4Any), ofp.IPDst(prefixV4Bcst), ofp.UDPSrc(68, 0), ofp.UDPDst(67, 0),
	}, next)
	// MLDv2 reports sent from :: while the link-local address is tentative.
	c.add(TablePortSecurity, prioPortSecSpecial, FeaturePortSecurity, []ofp.Field{
		secured, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
		ofp.IPSrc(prefixV6Any), ofp.ICMPv6Type(icmp6MLDv2Report)}, next)
	// IPv6 from a link-local address.
	c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity, []ofp.Field{
		secured, ofp.EthType(ofp.EthTypeIPv6), ofp.IPSrc(prefixLLA)}, next)
}

// neighbourShared compiles the ARP responder shared by every network
// (when Neighbour has entries: index.neighbours): Services looks every ARP
// request's target up, ARPReply answers it from the MAC found.
func neighbourShared(c *emitter) {
	arp := []ofp.Field{ofp.EthType(ofp.EthTypeARP), ofp.ARPOp(1)}
	c.add(TableServices, prioARPResponder, FeatureARPResponder, arp,
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FARPTPA}, Dst: NeighbourIPField.Ref()},
		ofp.Resubmit{Table: TableNeighbour.Number()},
		gotoTable(TableARPReply))
	toEthSrc := NeighbourMACTo(ofp.FEthSrc)
	c.add(TableARPReply, prioARPResponder, FeatureARPResponder, append(arp, NeighbourFoundField.Match(1)),
		arpMoves[0],
		toEthSrc[0], toEthSrc[1],
		setARPReply,
		arpMoves[1],
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FEthSrc}, Dst: ofp.FieldRef{Kind: ofp.FARPSHA}},
		arpMoves[2],
		ofp.Move{Src: NeighbourIPField.Ref(), Dst: ofp.FieldRef{Kind: ofp.FARPSPA}},
		ofp.OutputInPort{})
	missFlows(c, FeatureARPResponder) // ARPReply's and Neighbour's
}

// neighbour adds a's owner MAC on the network to Neighbour.
func neighbour(c *emitter, netKey uint32, a netip.Addr, mac net.HardwareAddr) {
	load := NeighbourLoad(mac)
	c.add(TableNeighbour, prioNeighbour, FeatureARPResponder,
		[]ofp.Field{NetworkKeyField.Match(netKey), neighbourIPMatch(a)}, load[0], load[1])
}

// neighbourIPMatch matches IPv4 address a in NeighbourIPField.
func neighbourIPMatch(a netip.Addr) ofp.Field {
	ip := a.As4()
	return NeighbourIPField.Match(binary.BigEndian.Uint32(ip[:]))
}
