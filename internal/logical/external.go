package logical

import (
	"hash/fnv"
	"net"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// External networks, router gateways and floating IPs.
//
// A chassis reaches a provider (external) network through a bridge
// mapping, physnet → bridge (br-ex, made by the operator and holding the
// physical interface); the agent patches br-int to that bridge. A router
// with an external gateway needs, on every chassis that routes for it, the
// gateway port's MAC and address (the external network is watched like any
// other network: its ports are the gateway and floating IP ports) and its
// active gateway chassis.
//
// The active gateway is chosen without coordination (GatewayChassis):
// among the alive chassis flagged gateway with a mapping for the external
// network's physnet, the one with the highest rendezvous hash of (router
// id, chassis name). Every agent sees the same chassis and heartbeats, so
// every agent picks the same one; when its heartbeat expires every agent
// moves to the next one, and only the routers that chassis held move.

// Rendezvous scores a chassis for a router: the highest score wins.
func Rendezvous(routerID, chassis string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(routerID))
	h.Write([]byte{0})
	h.Write([]byte(chassis))
	return h.Sum64()
}

// GatewayChassis elects the router's active gateway among candidates
// (the chassis that can be its gateway): the highest Rendezvous score,
// ties to the smaller name; "" when there is no candidate.
func GatewayChassis(routerID string, candidates []string) string {
	best, bestScore := "", uint64(0)
	for _, n := range candidates {
		if sc := Rendezvous(routerID, n); best == "" || sc > bestScore || sc == bestScore && n < best {
			best, bestScore = n, sc
		}
	}
	return best
}

// CanGateway reports whether a chassis can be the active gateway of a
// router on physnet: alive, flagged gateway, with a mapping for physnet.
func (in *Inputs) CanGateway(name, physnet string) bool {
	if !in.Alive[name] || physnet == "" {
		return false
	}
	if name == in.Local.Name {
		return in.Ext.Gateway && in.Ext.Mappings[physnet] != ""
	}
	c, ok := in.Peers[name]
	return ok && c.Gateway && c.BridgeMappings[physnet] != ""
}

// GatewayChassis is the router's active gateway chassis on physnet; ""
// when no chassis can be.
func (in *Inputs) GatewayChassis(routerID, physnet string) string {
	names := make([]string, 0, len(in.Peers)+1)
	if in.CanGateway(in.Local.Name, physnet) {
		names = append(names, in.Local.Name)
	}
	for n := range in.Peers {
		if in.CanGateway(n, physnet) {
			names = append(names, n)
		}
	}
	return GatewayChassis(routerID, names)
}

// reaches reports whether a chassis has a bridge mapping for physnet.
func (in *Inputs) reaches(chassis, physnet string) bool {
	if chassis == in.Local.Name {
		return in.Ext.Ports[physnet] != 0
	}
	c, ok := in.Peers[chassis]
	return ok && c.BridgeMappings[physnet] != ""
}

// addExternal fills in the gateways of the view's routers, the external
// networks they are on and the floating IPs of the view's ports; it
// records which floating IPs this chassis NATs and which addresses it
// answers for in res, and adds the active gateway chassis to usedPeers.
func (in *Inputs) addExternal(v *pipeline.View, keys *Keys, usedPeers map[string]bool, res *Result) {
	routers := map[string]*pipeline.Router{}
	physnets := map[string]string{} // external network → physnet
	extIdx := map[string]int{}
	physnetOf := map[string]string{} // of v.External's networks
	defer in.resolve(v, physnetOf, res)
	for i := range v.Routers {
		vr := &v.Routers[i]
		r := in.Routers[vr.ID]
		if r == nil || r.Gateway == nil {
			continue
		}
		ext := in.Networks[r.Gateway.NetworkID]
		if ext == nil || ext.Network == nil {
			continue
		}
		gwPort := ext.Ports[r.GatewayPort]
		if gwPort == nil {
			continue
		}
		mac, err := net.ParseMAC(gwPort.MACAddress)
		if err != nil {
			continue
		}
		addr, addr6 := v4Prefix(ext, gwPort.FixedIPs), v6Prefix(ext, gwPort.FixedIPs)
		if !addr.IsValid() && !addr6.IsValid() {
			continue
		}
		physnet := ext.Network.PhysicalNetwork
		chassis := in.GatewayChassis(r.ID, physnet)
		vr.Gateway = &pipeline.RouterGateway{NetworkID: ext.Network.ID, MAC: mac, Address: addr, Address6: addr6,
			SNAT: r.Gateway.EnableSNAT, Chassis: chassis}
		if chassis != "" && chassis != in.Local.Name {
			usedPeers[chassis] = true
		}
		routers[vr.ID] = vr
		physnets[ext.Network.ID] = physnet
		if port := in.Ext.Ports[physnet]; port != 0 && chassis == in.Local.Name && r.Gateway.EnableSNAT && addr.IsValid() {
			res.Announce[addr.Addr()] = Announcement{MAC: mac.String(), Port: port}
		}
		if port := in.Ext.Ports[physnet]; port != 0 && chassis == in.Local.Name && addr6.IsValid() {
			// Routed here (pipeline/ipv6gw.go), whatever enable_snat.
			res.Announce[addr6.Addr()] = Announcement{MAC: mac.String(), Port: port}
		}
		if _, ok := extIdx[ext.Network.ID]; !ok {
			extIdx[ext.Network.ID] = len(v.External)
			nhIP := nextHopIP(ext, gwPort.FixedIPs)
			nhMAC := in.Ext.NextHop[physnet]
			if nhMAC == nil && nhIP.IsValid() {
				nhMAC = in.Ext.Resolved[nhIP]
			}
			v.External = append(v.External, pipeline.ExternalNetwork{ID: ext.Network.ID, Key: keys.Network(ext.Network),
				OFPort: in.Ext.Ports[physnet], NextHopMAC: nhMAC, NextHopIP: nhIP})
			physnetOf[ext.Network.ID] = physnet
		}
		// IPv6: from the first gateway with an IPv6 address there,
		// resolved by Neighbour Discovery, never overridden
		// (--external-nexthop-mac is the IPv4 router's).
		if e := &v.External[extIdx[ext.Network.ID]]; !e.NextHopIP6.IsValid() && addr6.IsValid() {
			e.NextHopIP6 = nextHopIP6(ext, gwPort.FixedIPs)
			e.NextHopMAC6 = in.Ext.Resolved[e.NextHopIP6]
		}
	}
	if len(routers) == 0 {
		return
	}
	portChassis := make(map[string]string, len(v.Ports))
	for _, p := range v.Ports {
		portChassis[p.ID] = p.Chassis
	}
	for _, f := range sortedValues(in.FloatingIPs) {
		vr := routers[f.RouterID]
		if f.PortID == "" && len(f.PortForwardings) > 0 {
			if vr != nil && vr.Gateway.NetworkID == f.FloatingNetworkID {
				in.addForwardings(v, f, vr, portChassis, physnets[f.FloatingNetworkID], v.External[extIdx[f.FloatingNetworkID]].OFPort, res)
			}
			continue
		}
		pc, inView := portChassis[f.PortID]
		if f.PortID == "" || vr == nil || !inView || pc == "" || vr.Gateway.NetworkID != f.FloatingNetworkID {
			continue
		}
		fip, err1 := netip.ParseAddr(f.FloatingIPAddress)
		fixed, err2 := netip.ParseAddr(f.FixedIPAddress)
		if err1 != nil || err2 != nil {
			continue
		}
		// The floating IP's own MAC (its port's), never the gateway's:
		// the gateway MAC must only ever come from the active gateway, or
		// the upstream switch learns it at the wrong chassis. Its port
		// and the floating IP arrive through different watches: wait for
		// the port.
		fp := in.Networks[f.FloatingNetworkID].Ports[f.FloatingPort]
		if fp == nil {
			continue
		}
		fmac, err := net.ParseMAC(fp.MACAddress)
		if err != nil {
			continue
		}
		vf := pipeline.FloatingIP{FloatingIP: fip, FixedIP: fixed, PortID: f.PortID, RouterID: f.RouterID, MAC: fmac}
		physnet := physnets[f.FloatingNetworkID]
		vf.Edge = in.edgeMode(pc)
		vf.Centralized = !vf.Edge && !in.reaches(pc, physnet)
		v.FloatingIPs = append(v.FloatingIPs, vf)
		if vf.Edge {
			// Served by the edge layer: NATed by no chassis; its port's
			// chassis programs the way out to the edge.
			if pc == in.Local.Name && in.Local.EdgeEndpoint.Is4() {
				res.ProgrammedFIPs[f.ID] = true
			}
			continue
		}
		extHere := v.External[extIdx[f.FloatingNetworkID]].OFPort != 0
		if extHere && (pc == in.Local.Name && !vf.Centralized || vf.Centralized && vr.Gateway.SNAT && vr.Gateway.Chassis == in.Local.Name) {
			res.ProgrammedFIPs[f.ID] = true
			res.Announce[fip] = Announcement{MAC: fmac.String(), Port: v.External[extIdx[f.FloatingNetworkID]].OFPort}
		}
	}
}

// v4Prefix is the first IPv4 fixed address with its subnet's prefix
// length.
func v4Prefix(n *Network, ips []model.FixedIP) netip.Prefix {
	return prefixOf(n, ips, true)
}

// v6Prefix is the first IPv6 fixed address with its subnet's prefix
// length.
func v6Prefix(n *Network, ips []model.FixedIP) netip.Prefix {
	return prefixOf(n, ips, false)
}

func prefixOf(n *Network, ips []model.FixedIP, v4 bool) netip.Prefix {
	for _, f := range ips {
		a, err := netip.ParseAddr(f.IPAddress)
		sub := n.Subnets[f.SubnetID]
		if err != nil || a.Is4() != v4 || a.Is4In6() || sub == nil {
			continue
		}
		if p, err := netip.ParsePrefix(sub.CIDR); err == nil {
			return netip.PrefixFrom(a, p.Bits())
		}
	}
	return netip.Prefix{}
}

// edgeMode reports whether the edge layer serves the floating IPs of a
// chassis' ports (model.FIPModeEdge).
func (in *Inputs) edgeMode(chassis string) bool {
	if chassis == in.Local.Name {
		return in.Ext.Edge
	}
	c, ok := in.Peers[chassis]
	return ok && c.FIPMode == model.FIPModeEdge
}

// nextHopIP is the gateway_ip of the external subnet holding the first
// IPv4 address of ips: the upstream router (invalid when none).
func nextHopIP(n *Network, ips []model.FixedIP) netip.Addr {
	return gatewayOf(n, ips, true)
}

// nextHopIP6 is the gateway_ip of the external subnet holding the first
// IPv6 address of ips: the upstream IPv6 router (invalid when none).
func nextHopIP6(n *Network, ips []model.FixedIP) netip.Addr {
	return gatewayOf(n, ips, false)
}

func gatewayOf(n *Network, ips []model.FixedIP, v4 bool) netip.Addr {
	for _, f := range ips {
		a, err := netip.ParseAddr(f.IPAddress)
		sub := n.Subnets[f.SubnetID]
		if err != nil || a.Is4() != v4 || a.Is4In6() || sub == nil {
			continue
		}
		if gw, err := netip.ParseAddr(sub.GatewayIP); err == nil && gw.Is4() == v4 && !gw.Is4In6() {
			return gw
		}
	}
	return netip.Addr{}
}

// NextHopQuery is an upstream router to resolve by ARP (Target IPv4) or
// by Neighbour Discovery (Target IPv6): Target on the external network
// behind br-int's port Port, asked from an address this chassis answers
// for there (SrcIP at SrcMAC), so that the answer comes back to it; with
// no such address (SrcIP invalid: a chassis that does not NAT or route
// there yet, e.g. a standby gateway), by an ARP probe from the chassis'
// own MAC (the agent's), or for IPv6 a solicitation from the unspecified
// address, answered to all nodes.
type NextHopQuery struct {
	Physnet string
	Port    uint32
	Target  netip.Addr
	SrcIP   netip.Addr
	SrcMAC  string
}

// resolve lists in res.Resolve the upstream routers of the external
// networks this chassis reaches whose MAC the operator did not give:
// resolved before the chassis NATs there (a floating IP, a failover), its
// NAT flows and its way out come in one compilation.
func (in *Inputs) resolve(v *pipeline.View, physnetOf map[string]string, res *Result) {
	for _, ext := range v.External {
		physnet := physnetOf[ext.ID]
		if ext.OFPort == 0 || !ext.NextHopIP.Is4() || in.Ext.NextHop[physnet] != nil {
			continue
		}
		var src []netip.Addr
		for a, an := range res.Announce {
			if an.Port == ext.OFPort && a.Is4() {
				src = append(src, a)
			}
		}
		q := NextHopQuery{Physnet: physnet, Port: ext.OFPort, Target: ext.NextHopIP}
		if len(src) > 0 {
			slices.SortFunc(src, func(a, b netip.Addr) int { return a.Compare(b) })
			q.SrcIP, q.SrcMAC = src[0], res.Announce[src[0]].MAC
		}
		res.Resolve = append(res.Resolve, q)
	}
	for _, ext := range v.External {
		if ext.OFPort == 0 || !ext.NextHopIP6.IsValid() {
			continue
		}
		q := NextHopQuery{Physnet: physnetOf[ext.ID], Port: ext.OFPort, Target: ext.NextHopIP6}
		// From the smallest gateway address this chassis routes IPv6
		// for there (it answers for it: pipeline/ipv6gw.go).
		for _, r := range v.Routers {
			gw := r.Gateway
			if gw == nil || gw.NetworkID != ext.ID || gw.Chassis != in.Local.Name || !gw.Address6.IsValid() {
				continue
			}
			if a := gw.Address6.Addr(); !q.SrcIP.IsValid() || a.Less(q.SrcIP) {
				q.SrcIP, q.SrcMAC = a, gw.MAC.String()
			}
		}
		res.Resolve = append(res.Resolve, q)
	}
}
