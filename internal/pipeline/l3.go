package pipeline

import (
	"cmp"
	"net"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Priorities of the L3 stage.
const (
	prioL2Router     = 110 // a router port's MAC, above any VM port's
	prioL2RoutedDrop = 50  // routed, to no known port: below them, above the floods

	prioRouterICMP = 100

	prioDNATLookup = 100 // untracked, to a floating IP or gateway address
	prioDNATCommit = 90  // new, to a floating IP
	prioDNATEst    = 80  // established or related (already translated)
	prioDNATDrop   = 10  // anything else from outside

	// L3Route: routePrio(bits) for an extra route of that length,
	// routePrio(bits)+1 for connected subnets and host routes, so that at
	// equal length the connected network wins.
	prioRouteBase = 100

	prioSNATLookup  = 100
	prioSNATEst     = 100
	prioSNATFIP     = 90
	prioSNATGateway = 80
	prioL3Out       = 100
)

func routePrio(bits int) uint16 { return uint16(prioRouteBase + 2*bits) }

const icmpEchoRequest, icmpEchoReply = 8, 0

// routerState is what Compile knows about one router.
type routerState struct {
	*Router
	zone    uint16
	ports   []routerPort
	ports6  []routerPort    // IPv6 interfaces (ipv6.go)
	macs    map[string]bool // MACs of the router's ports: never a host route
	ext     *ExternalNetwork
	gwLocal bool // the router SNATs here: active gateway with the network
	fips    []fipState
	pfs     []pfState // port forwardings NATed here (portforward.go)

	// ext6 is the external network of the router's IPv6 gateway, gw6Local
	// says this chassis routes it (ipv6gw.go).
	ext6     *ExternalNetwork
	gw6Local bool
}

type routerPort struct {
	net  *netState
	mac  net.HardwareAddr
	addr netip.Prefix
}

type fipState struct {
	fip, fixed netip.Addr
	mac        net.HardwareAddr
}

// indexRouters sorts the view's routers and keeps those with something to
// do on this chassis: a port on a network with local ports, the active
// gateway, or a local floating IP.
func (x *index) indexRouters() []*routerState {
	v := x.v
	list := make([]*Router, len(v.Routers))
	for i := range v.Routers {
		list[i] = &v.Routers[i]
	}
	slices.SortFunc(list, func(a, b *Router) int { return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.ID, b.ID)) })
	netKeys := make(map[uint32]bool, len(x.netsByID))
	for _, n := range x.netsByID {
		netKeys[n.Key] = true
	}
	exts := make(map[string]*ExternalNetwork, len(v.External))
	for i := range v.External {
		e := &v.External[i]
		if e.Key == 0 || netKeys[e.Key] || exts[e.ID] != nil {
			continue
		}
		netKeys[e.Key] = true
		exts[e.ID] = e
	}
	served := make(map[*netState]bool, len(x.nets))
	for _, n := range x.nets {
		served[n] = true
	}
	keys := map[uint32]bool{}
	var out []*routerState
	for _, r := range list {
		if r.Key == 0 || keys[r.Key] {
			continue
		}
		keys[r.Key] = true
		rs := &routerState{Router: r, zone: r.CTZone, macs: map[string]bool{}}
		if rs.zone == 0 {
			rs.zone = 0xf000 | uint16(r.Key&0x0fff)
		}
		active := false
		for _, p := range r.Ports {
			n := x.netsByID[p.NetworkID]
			if n == nil || len(p.MAC) != 6 || !p.Address.IsValid() {
				continue
			}
			if a := p.Address.Addr(); a.Is6() && !a.Is4In6() {
				rs.ports6 = append(rs.ports6, routerPort{net: n, mac: slices.Clone(p.MAC), addr: p.Address})
				rs.macs[string(p.MAC)] = true
				active = active || served[n]
				continue
			} else if !a.Is4() {
				continue
			}
			rs.ports = append(rs.ports, routerPort{net: n, mac: slices.Clone(p.MAC), addr: p.Address})
			rs.macs[string(p.MAC)] = true
			active = active || served[n]
		}
		for _, ps := range [][]routerPort{rs.ports, rs.ports6} {
			slices.SortFunc(ps, func(a, b routerPort) int {
				return cmp.Or(cmp.Compare(a.net.Key, b.net.Key), a.addr.Addr().Compare(b.addr.Addr()))
			})
		}
		if gw := r.Gateway; gw != nil && len(gw.MAC) == 6 && gw.Address.Addr().Is4() {
			rs.ext = exts[gw.NetworkID]
		}
		if rs.ext != nil {
			gw := r.Gateway
			rs.gwLocal = gw.SNAT && gw.Chassis != "" && gw.Chassis == v.Local.Name && rs.ext.OFPort != 0
			if rs.ext.OFPort != 0 {
				rs.fips = x.localFIPs(r, rs.gwLocal)
				rs.pfs = x.localForwardings(r, rs.gwLocal)
			}
		}
		rs.ext6, rs.gw6Local = gateway6(r, exts, v.Local.Name)
		if active || rs.gwLocal || rs.gw6Local || len(rs.fips) > 0 || len(rs.pfs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// localFIPs are the router's floating IPs NATed here: those of ports bound
// here, and, on the router's active gateway (gwLocal), the centralized
// ones of ports bound on tunnel-reachable chassis.
func (x *index) localFIPs(r *Router, gwLocal bool) []fipState {
	var out []fipState
	seen := map[netip.Addr]bool{}
	for _, f := range x.v.FloatingIPs {
		p := x.portsByID[f.PortID]
		here := p != nil && (p.local && !f.Centralized || f.Centralized && gwLocal && p.remote != nil)
		if f.RouterID != r.ID || !here || f.Edge || !f.FloatingIP.Is4() || !f.FixedIP.Is4() ||
			!slices.Contains(p.IPs, f.FixedIP) || seen[f.FloatingIP] || seen[f.FixedIP] {
			continue
		}
		seen[f.FloatingIP], seen[f.FixedIP] = true, true
		mac := r.Gateway.MAC
		if len(f.MAC) == 6 {
			mac = f.MAC
		}
		out = append(out, fipState{fip: f.FloatingIP, fixed: f.FixedIP, mac: slices.Clone(mac)})
	}
	slices.SortFunc(out, func(a, b fipState) int { return a.fip.Compare(b.fip) })
	return out
}

// l3Unit compiles the "l3" section: distributed routing, floating IPs and
// SNAT of the routers with something to do here (index.routers), and the
// tunnel classification of the networks without local ports they route
// to.
type l3Unit struct{}

func (l3Unit) sections(x *index, s *sectionList) {
	if e := s.next("l3", x.hashL3(), 64); e != nil && len(x.routers) > 0 {
		b := &l3Builder{index: x, emitter: e,
			extClassified: map[uint32]bool{}, l2MACs: map[netMAC]bool{},
			classified: map[*netState]bool{}, answered: map[uint32]map[netip.Addr]bool{},
			dad: map[uint32]bool{}, nd6: map[netAddr]bool{}}
		b.compile()
	}
}

// hashL3 fingerprints what the L3 section reads: routers, external
// networks, floating IPs, the chassis, its peers and every network of the
// view (through their hashes, also the inputs of the ACL words).
func (x *index) hashL3() uint64 {
	h := x.hasher("l3")
	h.u64(uint64(len(x.routers))) // none: the section is empty
	if len(x.routers) == 0 {
		return h.Sum64()
	}
	v := x.v
	h.json(v.Routers)
	h.json(v.External)
	h.json(v.FloatingIPs)
	h.json(v.PortForwardings)
	x.hashMetered(h)
	h.str(v.Local.Name)
	h.u64(uint64(v.Local.GeneveOFPort))
	h.u64(uint64(v.Local.VXLANOFPort))
	remotes := make([]*RemoteChassis, 0, len(x.remotes))
	for _, r := range x.remotes {
		remotes = append(remotes, r)
	}
	slices.SortFunc(remotes, func(a, b *RemoteChassis) int { return cmp.Compare(a.Name, b.Name) })
	for _, r := range remotes {
		h.remote(r)
	}
	all := make([]*netState, 0, len(x.netsByID))
	for _, n := range x.netsByID {
		all = append(all, n)
	}
	slices.SortFunc(all, func(a, b *netState) int { return cmp.Compare(a.Key, b.Key) })
	h.u64(uint64(len(all)))
	for _, n := range all {
		h.u64(x.netHash[n]) // and through them the ACL word inputs
	}
	return h.Sum64()
}

// l3Builder compiles the L3 section, deduplicating the flows several
// routers may need.
type l3Builder struct {
	*index
	*emitter
	extClassified map[uint32]bool
	l2MACs        map[netMAC]bool
	// classified marks the networks without local ports whose tunnel
	// classification the section compiled.
	classified map[*netState]bool
	// answered holds the router addresses given a Neighbour entry, by
	// network key, besides the network's own (index.v4).
	answered map[uint32]map[netip.Addr]bool
	// dad marks the networks given their DAD exception of the ND
	// responder here, nd6 the router IPv6 addresses answered (ipv6.go).
	dad map[uint32]bool
	nd6 map[netAddr]bool
}

// compile compiles distributed routing, floating IPs and SNAT.
func (c *l3Builder) compile() {
	missFlows(c.emitter, FeatureL3)
	for _, r := range c.routers {
		c.routerPorts(r)
		c.routerPorts6(r)
		c.routes(r)
		c.routes6(r)
		c.nat(r)
		c.gateway6(r)
	}
}

type netMAC struct {
	net uint32
	mac string
}

// once reports whether the L2Lookup flow for mac on the network is still
// to be compiled, and marks it compiled.
func (c *l3Builder) once(netKey uint32, mac net.HardwareAddr) bool {
	k := netMAC{netKey, string(mac)}
	if c.l2MACs[k] {
		return false
	}
	c.l2MACs[k] = true
	return true
}

// classifyOnce classifies the tunnel traffic of a network without local
// ports, once.
func (c *l3Builder) classifyOnce(n *netState) {
	if !c.classified[n] {
		c.classified[n] = true
		classifyTunnel(c.emitter, n)
	}
}

// routerPorts: the router's MACs in L2Lookup, its addresses in the ARP and
// ICMP echo responders, and, on the active gateway, the tunnel
// classification of its networks.
func (c *l3Builder) routerPorts(r *routerState) {
	var addrs []netip.Addr
	for _, p := range r.ports {
		addrs = append(addrs, p.addr.Addr())
	}
	if r.ext != nil {
		addrs = append(addrs, r.Gateway.Address.Addr())
	}
	for _, p := range r.ports {
		n := p.net
		served := len(n.local) > 0
		if !served && !r.gwLocal {
			continue
		}
		if !served {
			c.classifyOnce(n)
		}
		if c.once(n.Key, p.mac) {
			c.add(TableL2Lookup, prioL2Router, FeatureL3,
				[]ofp.Field{notRouted, NetworkKeyField.Match(n.Key), ofp.EthDst(p.mac)},
				RouterKeyLoad(r.Key), gotoTable(TableL3DNAT))
		}
		if !served {
			continue
		}
		c.arpReply(n.Key, p.addr.Addr(), p.mac)
		for _, a := range addrs {
			c.add(TableServices, prioRouterICMP, FeatureL3, []ofp.Field{
				NetworkKeyField.Match(n.Key), ofp.EthDst(p.mac), ofp.EthType(ofp.EthTypeIPv4),
				ofp.IPProto(ofp.ProtoICMP), ofp.IPDst(netip.PrefixFrom(a, 32)),
				ofp.ICMPType(icmpEchoRequest), ofp.ICMPCode(0),
			},
				arpMoves[0],
				ofp.SetField{Field: ofp.EthSrc(p.mac)},
				ofp.Move{Src: ofp.FieldRef{Kind: ofp.FIPv4Src}, Dst: ofp.FieldRef{Kind: ofp.FIPv4Dst}},
				ofp.SetField{Field: ofp.IPSrc(netip.PrefixFrom(a, 32))},
				ofp.SetField{Field: ofp.ICMPType(icmpEchoReply)},
				ofp.OutputInPort{})
		}
	}
}

// arpReply answers ARP requests for a on the network with mac (a
// Neighbour entry), unless the network's responder already answers for a.
func (c *l3Builder) arpReply(netKey uint32, a netip.Addr, mac net.HardwareAddr) {
	if c.v4[netKey][a] {
		return
	}
	seen := c.answered[netKey]
	if seen == nil {
		seen = map[netip.Addr]bool{}
		c.answered[netKey] = seen
	}
	if seen[a] {
		return
	}
	seen[a] = true
	neighbour(c.emitter, netKey, a, mac)
}

// notRouted matches packets no router has handled yet (metadata 0).
var notRouted = RouterKeyMatch(0)

// routes compiles the router's L3Route table: connected subnets of
// networks with local ports through Neighbour and L2Lookup, host routes to
// the known ports of its other networks, extra routes, and the way out
// through the gateway.
func (c *l3Builder) routes(r *routerState) {
	rk := RouterKeyMatch(r.Key)
	ip4 := ofp.EthType(ofp.EthTypeIPv4)
	seen := map[netip.Prefix]bool{}
	switched := false
	for _, p := range r.ports {
		subnet := p.addr.Masked()
		if len(p.net.local) > 0 {
			// The network's L2 stage is compiled here: it knows where
			// every MAC of the network lives.
			if !seen[subnet] {
				seen[subnet] = true
				switched = true
				toEthDst := NeighbourMACTo(ofp.FEthDst)
				c.add(TableL3Route, routePrio(subnet.Bits())+1, FeatureL3, []ofp.Field{rk, ip4, ofp.IPDst(subnet)},
					ofp.DecTTL{},
					ofp.SetField{Field: ofp.EthSrc(p.mac)},
					NetworkKeyField.Load(p.net.Key),
					ofp.Move{Src: ofp.FieldRef{Kind: ofp.FIPv4Dst}, Dst: NeighbourIPField.Ref()},
					ofp.Resubmit{Table: TableNeighbour.Number()},
					toEthDst[0], toEthDst[1],
					ofp.Resubmit{Table: TableL2Lookup.Number()})
			}
			continue
		}
		if !seen[subnet] {
			seen[subnet] = true
			c.add(TableL3Route, routePrio(subnet.Bits())+1, FeatureL3, []ofp.Field{rk, ip4, ofp.IPDst(subnet)})
		}
		for _, q := range p.net.all {
			if r.macs[string(q.mac)] {
				continue // a router interface port itself
			}
			for _, a := range q.IPs {
				host := netip.PrefixFrom(a, 32)
				if !a.Is4() || !subnet.Contains(a) || seen[host] {
					continue
				}
				if acts := c.routeTo(p, q); acts != nil {
					seen[host] = true
					c.add(TableL3Route, routePrio(32)+1, FeatureL3, []ofp.Field{rk, ip4, ofp.IPDst(host)}, acts...)
				}
			}
		}
	}
	if switched {
		// Routed back to L2Lookup, to no port it knows (an unknown
		// address, an unbound port, a router's own MAC): dropped.
		c.add(TableL2Lookup, prioL2RoutedDrop, FeatureL3, []ofp.Field{rk})
	}
	for _, rt := range r.Routes {
		dst := rt.Destination.Masked()
		if !dst.Addr().Is4() || !rt.NextHop.Is4() || seen[dst] {
			continue
		}
		if p, q := r.nextHop(rt.NextHop); q != nil {
			if acts := c.routeTo(p, q); acts != nil {
				seen[dst] = true
				c.add(TableL3Route, routePrio(dst.Bits()), FeatureL3, []ofp.Field{rk, ip4, ofp.IPDst(dst)}, acts...)
			}
		}
	}
	if !c.routesOut(r) {
		return
	}
	if ext := r.Gateway.Address.Masked(); !seen[ext] {
		c.add(TableL3Route, routePrio(ext.Bits())+1, FeatureL3, []ofp.Field{rk, ip4, ofp.IPDst(ext)}, NextTable(TableL3Route))
	}
	if !seen[prefixV4Default] {
		c.add(TableL3Route, routePrio(0), FeatureL3, []ofp.Field{rk, ip4}, NextTable(TableL3Route))
	}
}

var prefixV4Default = netip.PrefixFrom(netip.IPv4Unspecified(), 0)

// routesOut reports whether traffic can leave through the router's
// gateway from this chassis: it has local floating IPs, is the active
// gateway, can tunnel SNAT traffic to the active gateway, or tunnels
// edge floating IPs' traffic to the edge (edge.go).
func (x *index) routesOut(r *routerState) bool {
	if r.ext == nil {
		return false
	}
	return len(r.fips) > 0 || len(r.pfs) > 0 || r.gwLocal || x.gatewayRemote(r) != nil || x.edgeRouters[r.Key]
}

// gatewayRemote is the router's active gateway chassis when it is another
// chassis doing SNAT.
func (x *index) gatewayRemote(r *routerState) *RemoteChassis {
	gw := r.Gateway
	if gw == nil || !gw.SNAT || gw.Chassis == "" || gw.Chassis == x.v.Local.Name {
		return nil
	}
	return x.remotes[gw.Chassis]
}

// nextHop finds the router port and the port that own a nexthop address.
func (r *routerState) nextHop(a netip.Addr) (routerPort, *portState) {
	for _, p := range r.ports {
		if !p.addr.Masked().Contains(a) {
			continue
		}
		for _, q := range p.net.all {
			if slices.Contains(q.IPs, a) && !r.macs[string(q.mac)] {
				return p, q
			}
		}
	}
	return routerPort{}, nil
}

// routeTo is the routing action towards port q on router port p's
// network; nil when q is not reachable from here.
func (c *l3Builder) routeTo(p routerPort, q *portState) []ofp.Action {
	acts := []ofp.Action{
		ofp.DecTTL{},
		ofp.SetField{Field: ofp.EthSrc(p.mac)},
		ofp.SetField{Field: ofp.EthDst(q.mac)},
		NetworkKeyField.Load(p.net.Key),
	}
	switch {
	case q.local:
		return append(c.aclDeliver(append(qosDeliver(q, acts...), OutPortField.Load(q.OFPort)), q), ofp.Resubmit{Table: TableIngressACL.Number()})
	case q.remote != nil:
		return append(acts, encap(p.net, q.remote, ofp.Resubmit{Table: TableOutput.Number()})...)
	}
	return nil
}

// nat compiles floating IPs (DNAT in, SNAT out) and the gateway's SNAT.
func (c *l3Builder) nat(r *routerState) {
	if !c.routesOut(r) {
		return
	}
	gw, ext := r.Gateway, r.ext
	rk := RouterKeyMatch(r.Key)
	ip4 := ofp.EthType(ofp.EthTypeIPv4)
	extKey := NetworkKeyField.Match(ext.Key)
	newConn := ofp.CTState(ofp.CTNew|ofp.CTTrk, ofp.CTNew|ofp.CTInv|ofp.CTTrk)
	estConn := ofp.CTState(ofp.CTTrk, ofp.CTNew|ofp.CTInv|ofp.CTTrk)
	untracked := ofp.CTState(0, ofp.CTTrk)
	ct := func(commit bool, table TableID, nat *ofp.NAT) ofp.Action {
		return ofp.CT{Commit: commit, Zone: r.zone, ZoneReg: -1, Table: int(table.Number()), NAT: nat}
	}
	gwIP := gw.Address.Addr()

	meterIn, meterOut := c.meterHook(r, TableMeterIn), c.meterHook(r, TableMeterOut)

	// Out: every chassis that routes out looks the connection up.
	c.add(TableL3SNAT, prioSNATLookup, FeatureL3, []ofp.Field{rk, ip4}, append(meterOut, ct(false, TableL3SNATCommit, &ofp.NAT{}))...)
	local := ext.OFPort != 0 && (len(r.fips) > 0 || len(r.pfs) > 0 || r.gwLocal)
	if local {
		c.add(TableL3SNATCommit, prioSNATEst, FeatureL3, []ofp.Field{rk, ip4, estConn}, NextTable(TableL3SNATCommit))
	}
	for _, f := range r.fips {
		c.add(TableL3SNATCommit, prioSNATFIP, FeatureL3, []ofp.Field{rk, ip4, newConn, ofp.IPSrc(netip.PrefixFrom(f.fixed, 32))},
			ct(true, TableL3Out, &ofp.NAT{SNAT: true, Addr: f.fip}))
	}
	if r.gwLocal {
		for _, p := range r.ports {
			c.add(TableL3SNATCommit, prioSNATGateway, FeatureL3, []ofp.Field{rk, ip4, newConn, ofp.IPSrc(p.addr.Masked())},
				ct(true, TableL3Out, &ofp.NAT{SNAT: true, Addr: gwIP}))
		}
	} else if rc := c.gatewayRemote(r); rc != nil {
		// Not the gateway: hand the connections it translates, unrouted,
		// to it, whatever their state here: this chassis never commits
		// them, so a reply of a connection the gateway DNATed (a
		// centralized floating IP) looks invalid here.
		for _, p := range r.ports {
			if len(p.net.local) == 0 || p.net.tunPort == 0 || !slices.Contains(rc.Encaps, Encap(p.net.Type)) {
				continue
			}
			c.add(TableL3SNATCommit, prioSNATGateway, FeatureL3,
				[]ofp.Field{rk, NetworkKeyField.Match(p.net.Key), ip4, ofp.IPSrc(p.addr.Masked())},
				encap(p.net, rc, ofp.Resubmit{Table: TableOutput.Number()})...)
		}
	}
	if !local {
		return
	}
	if len(ext.NextHopMAC) == 6 {
		out := func(src netip.Addr, mac net.HardwareAddr) {
			c.add(TableL3Out, prioL3Out, FeatureL3, []ofp.Field{rk, ip4, ofp.IPSrc(netip.PrefixFrom(src, 32))},
				ofp.DecTTL{},
				ofp.SetField{Field: ofp.EthSrc(mac)},
				ofp.SetField{Field: ofp.EthDst(slices.Clone(ext.NextHopMAC))},
				NetworkKeyField.Load(ext.Key),
				ofp.Output{Port: ext.OFPort})
		}
		for _, f := range r.fips {
			out(f.fip, f.mac)
		}
		if r.gwLocal {
			out(gwIP, gw.MAC)
		}
	}

	// In: the external network's port, its ARP, and DNAT.
	if !c.extClassified[ext.Key] {
		c.extClassified[ext.Key] = true
		c.add(TableClassify, prioClassify, FeatureL3, []ofp.Field{ofp.InPort(ext.OFPort)},
			loadLocal, NetworkKeyField.Load(ext.Key), gotoTable(TableServices))
	}
	toRouter := func(mac net.HardwareAddr) {
		if c.once(ext.Key, mac) {
			c.add(TableL2Lookup, prioL2Router, FeatureL3, []ofp.Field{notRouted, extKey, ofp.EthDst(mac)},
				RouterKeyLoad(r.Key), gotoTable(TableL3DNAT))
		}
	}
	lookup := func(dst netip.Addr) {
		c.add(TableL3DNAT, prioDNATLookup, FeatureL3, []ofp.Field{rk, extKey, ip4, untracked, ofp.IPDst(netip.PrefixFrom(dst, 32))},
			ct(false, TableL3DNAT, &ofp.NAT{}))
	}
	if r.gwLocal {
		toRouter(gw.MAC)
		c.arpReply(ext.Key, gwIP, gw.MAC)
		lookup(gwIP)
	}
	for _, f := range r.fips {
		toRouter(f.mac)
		c.arpReply(ext.Key, f.fip, f.mac)
		lookup(f.fip)
		c.add(TableL3DNAT, prioDNATCommit, FeatureL3, []ofp.Field{rk, extKey, ip4, newConn, ofp.IPDst(netip.PrefixFrom(f.fip, 32))},
			c.meterDNAT(meterIn, f, ct(true, TableL3Route, &ofp.NAT{Addr: f.fixed}))...)
	}
	c.natForwardings(r)
	c.add(TableL3DNAT, prioDNATEst, FeatureL3, []ofp.Field{rk, extKey, ip4, estConn}, append(meterIn, NextTable(TableL3DNAT))...)
	c.add(TableL3DNAT, prioDNATDrop, FeatureL3, []ofp.Field{rk, extKey})
}
