package pipeline

import (
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// This file holds a router's IPv6 way out, as Neutron and OVN have it: a
// gateway port with an address on the external network's IPv6 subnet
// (RouterGateway.Address6), routed without NAT. The tenant IPv6 subnets
// keep their addresses on the external network; the upstream router
// reaches them through a route to the router's gateway address (an
// operator's static route, or BGP).
//
// The router's active gateway chassis (RouterGateway.Chassis, the one that
// SNATs its IPv4) routes it, when it reaches the external network:
//   - in: it classifies the external port (to Services), answers neighbour
//     solicitations for the gateway's address and link-local address and
//     echo requests to them, hands frames to the gateway's MAC to the
//     router (L2Lookup), lets IPv6 from outside through L3DNAT (except to
//     the external subnet itself), and L3Route's host routes (routes6)
//     deliver it to the port, locally or through the tunnel;
//   - out: L3Route sends the external subnet and the default route (::/0)
//     to the upstream router (ExternalNetwork.NextHopMAC6, resolved by the
//     agent by Neighbour Discovery): hop limit decremented, the gateway's
//     MAC as source, out of the external port. Nothing leaves before the
//     MAC is known. It also classifies the tunnel traffic of the router's
//     IPv6 networks without local ports, and their router MAC, for what
//     the other chassis hand it.
//
// Every other chassis with local ports on the router's IPv6 networks
// tunnels what its ports send to the external subnet and the default
// route, unrouted (still to the router's MAC, on the ingress network's
// key), to the active gateway chassis, as it does for SNAT.
//
// Router interfaces answer echo requests to the gateway's IPv6 address.

// Priorities of the IPv6 gateway in L3DNAT.
const (
	prioDNATIn6      = prioDNATEst     // IPv6 from outside: routed
	prioDNATIn6NoExt = prioDNATEst + 1 // to the external subnet itself: dropped
)

// gateway6 is the external network of r's IPv6 gateway among exts (nil:
// none) and whether chassis routes it.
func gateway6(r *Router, exts map[string]*ExternalNetwork, chassis string) (*ExternalNetwork, bool) {
	gw := r.Gateway
	if gw == nil || len(gw.MAC) != 6 || !gw.Address6.IsValid() || !gw.Address6.Addr().Is6() || gw.Address6.Addr().Is4In6() {
		return nil, false
	}
	ext := exts[gw.NetworkID]
	if ext == nil {
		return nil, false
	}
	return ext, gw.Chassis != "" && gw.Chassis == chassis && ext.OFPort != 0
}

// gatewayRemote6 is the router's active gateway chassis when it routes
// the router's IPv6 from another chassis.
func (x *index) gatewayRemote6(r *routerState) *RemoteChassis {
	gw := r.Gateway
	if r.ext6 == nil || gw.Chassis == "" || gw.Chassis == x.v.Local.Name {
		return nil
	}
	return x.remotes[gw.Chassis]
}

// gateway6 compiles the router's IPv6 way out (see the file comment).
func (c *l3Builder) gateway6(r *routerState) {
	ext := r.ext6
	if ext == nil {
		return
	}
	gw := r.Gateway
	addr := gw.Address6.Addr()
	extNet := gw.Address6.Masked()
	rk := RouterKeyMatch(r.Key)
	ip6 := ofp.EthType(ofp.EthTypeIPv6)

	// Echo to the gateway's address from the router's networks here. A
	// network may hold several of the router's IPv6 subnets on one port
	// (Neutron adds them to the existing one): once a MAC.
	echoed := map[netMAC]bool{}
	for _, p := range r.ports6 {
		if k := (netMAC{p.net.Key, string(p.mac)}); len(p.net.local) > 0 && !echoed[k] {
			echoed[k] = true
			c.echo6(p.net.Key, p.mac, addr)
		}
	}

	if !r.gw6Local {
		rc := c.gatewayRemote6(r)
		if rc == nil {
			return
		}
		handed := map[*netState]bool{}
		for _, p := range r.ports6 {
			if len(p.net.local) == 0 || p.net.tunPort == 0 || !slices.Contains(rc.Encaps, Encap(p.net.Type)) || handed[p.net] {
				continue
			}
			handed[p.net] = true
			acts := encap(p.net, rc, ofp.Resubmit{Table: TableOutput.Number()})
			netKey := NetworkKeyField.Match(p.net.Key)
			c.add(TableL3Route, routePrio(extNet.Bits())+1, FeatureL3, []ofp.Field{rk, netKey, ip6, ofp.IPDst(extNet)}, acts...)
			c.add(TableL3Route, routePrio(0), FeatureL3, []ofp.Field{rk, netKey, ip6}, acts...)
		}
		return
	}

	// In: the external port, neighbour discovery, echo, the router.
	extKey := NetworkKeyField.Match(ext.Key)
	if !c.extClassified[ext.Key] {
		c.extClassified[ext.Key] = true
		c.add(TableClassify, prioClassify, FeatureL3, []ofp.Field{ofp.InPort(ext.OFPort)},
			loadLocal, NetworkKeyField.Load(ext.Key), gotoTable(TableServices))
	}
	if !c.dad[ext.Key] {
		// Duplicate address detection (from ::) is never answered.
		c.dad[ext.Key] = true
		c.add(TableServices, prioNDSkip, FeatureND, []ofp.Field{
			extKey, ip6, ofp.IPProto(ofp.ProtoICMPv6),
			ofp.ICMPv6Type(icmp6NS), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}, ofp.IPSrc(prefixV6Any),
		}, NextTable(TableServices))
	}
	for _, a := range []netip.Addr{addr, LinkLocal(gw.MAC)} {
		k := netAddr{ext.Key, a}
		if c.nd6[k] {
			continue
		}
		c.nd6[k] = true
		ndAnswer(c.emitter, ext.Key, a, gw.MAC)
		c.echo6(ext.Key, gw.MAC, a)
	}
	if c.once(ext.Key, gw.MAC) {
		c.add(TableL2Lookup, prioL2Router, FeatureL3, []ofp.Field{notRouted, extKey, ofp.EthDst(gw.MAC)},
			RouterKeyLoad(r.Key), gotoTable(TableL3DNAT))
	}
	c.add(TableL3DNAT, prioDNATIn6NoExt, FeatureL3, []ofp.Field{rk, extKey, ip6, ofp.IPDst(extNet)})
	c.add(TableL3DNAT, prioDNATIn6, FeatureL3, []ofp.Field{rk, extKey, ip6},
		append(c.meterHook(r, TableMeterIn), NextTable(TableL3DNAT))...)

	// What the other chassis hand over: the router's IPv6 networks
	// without local ports (routerPorts6 did the others).
	for _, p := range r.ports6 {
		if len(p.net.local) > 0 {
			continue
		}
		c.classifyOnce(p.net)
		if c.once(p.net.Key, p.mac) {
			c.add(TableL2Lookup, prioL2Router, FeatureL3,
				[]ofp.Field{notRouted, NetworkKeyField.Match(p.net.Key), ofp.EthDst(p.mac)},
				RouterKeyLoad(r.Key), gotoTable(TableL3DNAT))
		}
	}

	// Out: to the upstream router, once resolved.
	if len(ext.NextHopMAC6) != 6 {
		return
	}
	out := append(c.meterHook(r, TableMeterOut),
		ofp.DecTTL{},
		ofp.SetField{Field: ofp.EthSrc(slices.Clone(gw.MAC))},
		ofp.SetField{Field: ofp.EthDst(slices.Clone(ext.NextHopMAC6))},
		NetworkKeyField.Load(ext.Key),
		ofp.Output{Port: ext.OFPort})
	c.add(TableL3Route, routePrio(extNet.Bits())+1, FeatureL3, []ofp.Field{rk, ip6, ofp.IPDst(extNet)}, out...)
	c.add(TableL3Route, routePrio(0), FeatureL3, []ofp.Field{rk, ip6}, out...)
}

// echo6 answers ICMPv6 echo requests to a sent to mac on the network.
func (c *l3Builder) echo6(netKey uint32, mac []byte, a netip.Addr) {
	c.add(TableServices, prioRouterICMP, FeatureL3, []ofp.Field{
		NetworkKeyField.Match(netKey), ofp.EthDst(mac), ofp.EthType(ofp.EthTypeIPv6),
		ofp.IPProto(ofp.ProtoICMPv6), ofp.IPDst(netip.PrefixFrom(a, 128)),
		ofp.ICMPv6Type(icmp6EchoRequest), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0},
	},
		arpMoves[0],
		ofp.SetField{Field: ofp.EthSrc(mac)},
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FIPv6Src}, Dst: ofp.FieldRef{Kind: ofp.FIPv6Dst}},
		ofp.SetField{Field: ofp.IPSrc(netip.PrefixFrom(a, 128))},
		ofp.SetField{Field: ofp.ICMPv6Type(icmp6EchoReply)},
		ofp.OutputInPort{})
}

// nextHopND sends the neighbour advertisements of the upstream IPv6
// router of every external network this chassis reaches
// (ExternalNetwork.NextHopIP6, with an OFPort) to the controller, straight
// from Classify, as nextHopARP does for IPv4: the agent resolves
// NextHopMAC6 whether or not the chassis routes there yet.
func nextHopND(x *index, e *emitter) {
	for i := range x.v.External {
		ext := &x.v.External[i]
		if ext.OFPort == 0 || !ext.NextHopIP6.Is6() {
			continue
		}
		e.add(TableClassify, prioNextHopARP, FeatureL3, []ofp.Field{
			ofp.InPort(ext.OFPort), ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
			ofp.ICMPv6Type(icmp6NA), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}, ofp.NDTarget(ext.NextHopIP6),
		}, ofp.Controller{ID: x.cfg.ControllerID, Reason: 1, UserData: UserData(PacketInNextHop, ext.Key)})
	}
}

// hashNextHopND fingerprints nextHopND's inputs (in the edge section).
func hashNextHopND(x *index, h *hasher) {
	for _, ext := range x.v.External {
		if ext.OFPort != 0 && ext.NextHopIP6.Is6() {
			h.u64(uint64(ext.OFPort))
			h.u64(uint64(ext.Key))
			h.addr(ext.NextHopIP6)
		}
	}
}
