package pipeline

import (
	"cmp"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Distributed routing onto provider networks, the way OVN does it with
// ovn-chassis-mac-mappings.
//
// A router with an interface on a vlan or flat network is distributed
// like any other (l3.go): every chassis with a port on one of its
// networks answers ARP and ND for its addresses in Services and routes
// its ports' packets itself, so a VM's frames to its gateway (the
// router's MAC) never leave the chassis. Every chassis holds the router's
// MACs at once, so none may send a frame with one as source onto a
// physical network: the physical switches would see it move from port to
// port. A routed packet to a port on a vlan or flat network bound
// elsewhere thus leaves by the physical network's bridge port (the VLAN
// id pushed on a vlan network, no tunnel) with the destination port's MAC
// as destination and the chassis' own MAC on that physical network
// (Network.ChassisMAC) as source:
//
//   - L3Route delivers it as on any network: back to L2Lookup when the
//     network has local ports (its known remote MACs go to the bridge
//     port, provider.go), else by a host route per remote port
//     (routeToProvider, used by l3Builder.routeTo) out of the bridge port;
//   - Output (this file's "provroute" section) rewrites the source of
//     what a router routed (metadata = its key) onto the network's bridge
//     port to the chassis MAC, one flow per router and network, above
//     Output's one flow; with no chassis MAC it drops it.
//
// The receiving chassis delivers it like any frame from the physical
// network (Classify, L2Lookup, the destination's IngressACL): port
// security is about what a VM sends, not what it receives. Routing from a
// vlan network into a geneve or vxlan one and back is unchanged: the
// source chassis routes, then tunnels or sends on the physical network as
// the destination network requires.

// clearInPort sets in_port to none, so that OpenFlow lets a packet leave
// by the port it came in from.
var clearInPort ofp.Action = ofp.SetField{Field: ofp.InPort(0)}

// prioOutputRouted is above Output's one flow.
const prioOutputRouted = prioOutput + 10

// routeToProvider is the routing action towards port q, bound on another
// chassis, on a vlan or flat network n reached through its physical
// network here: acts (the TTL, MACs and network already set), then out of
// the bridge port, tagged on a vlan network, where Output gives the packet
// the chassis MAC as source. Nil when q is not reachable so.
func routeToProvider(n *netState, q *portState, acts []ofp.Action) []ofp.Action {
	if n.prov.port == 0 || len(n.prov.chassisMAC) != 6 || q.local || q.Chassis == "" {
		return nil
	}
	return append(append(acts, toProvider(n)...), ofp.Resubmit{Table: TableOutput.Number()})
}

// provRouteUnit compiles the "provroute" section: Output's flows giving
// routed packets leaving by a provider network's bridge port the chassis
// MAC as source.
type provRouteUnit struct{}

// providerRoute is one router's interface network reached through a
// physical network here.
type providerRoute struct {
	router uint32
	net    *netState
}

// providerRoutes lists the (router, provider network) pairs of the routers
// with something to do here, in order.
func (x *index) providerRoutes() []providerRoute {
	var out []providerRoute
	seen := map[providerRoute]bool{}
	for _, r := range x.routers {
		for _, ps := range [][]routerPort{r.ports, r.ports6} {
			for _, p := range ps {
				k := providerRoute{r.Key, p.net}
				if p.net.prov.port == 0 || seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b providerRoute) int {
		return cmp.Or(cmp.Compare(a.router, b.router), cmp.Compare(a.net.Key, b.net.Key))
	})
	return out
}

func (provRouteUnit) sections(x *index, s *sectionList) {
	routes := x.providerRoutes()
	h := x.hasher("provroute")
	h.u64(uint64(len(routes)))
	for _, rt := range routes {
		h.u64(uint64(rt.router))
		h.u64(uint64(rt.net.Key))
		rt.net.prov.hash(h)
	}
	x.hashProviderHandoff(h)
	if e := s.next("provroute", h.Sum64(), len(routes)); e != nil {
		for _, rt := range routes {
			pr := rt.net.prov
			match := []ofp.Field{RouterKeyMatch(rt.router), NetworkKeyField.Match(rt.net.Key), OutPortField.Match(pr.port)}
			if len(pr.chassisMAC) != 6 {
				e.add(TableOutput, prioOutputRouted, FeatureL3, match) // never the router's MAC
				continue
			}
			// in_port cleared: a packet from the same physical network (a
			// reply from an external network sharing it) goes back there.
			e.add(TableOutput, prioOutputRouted, FeatureL3, match,
				ofp.SetField{Field: ofp.EthSrc(pr.chassisMAC)}, clearInPort, ofp.Output{Port: pr.port})
		}
		x.providerHandoff(e)
	}
}

// The traffic a router translates on its active gateway chassis (SNAT,
// centralized floating IPs), and its IPv6 leaving by the gateway
// (ipv6gw.go), reaches the gateway from a vlan or flat
// network over the physical network, since such a network has no tunnel
// key: a chassis that is not the gateway sends what L3SNATCommit (or
// L3Route, for IPv6) would have tunnelled, unrouted, out of the bridge port,
// tagged, to the gateway's chassis MAC there (RemoteChassis.ProviderMACs)
// instead of the router's MAC; the gateway's Classify takes a frame to
// its own chassis MAC from one of the router's subnets on the network,
// pops the tag and gives it the router's MAC back, then L2Lookup hands it
// to the router as if a local VM had sent it. The gateway's replies are
// routed onto the network like any routed packet.

// prioProviderHandoff is above a provider network's Classify flows.
const prioProviderHandoff = prioProviderClassify + 10

// gatewayMAC is the gateway chassis rc's MAC on the physical network of
// n; nil when unknown.
func gatewayMAC(rc *RemoteChassis, n *netState) []byte {
	for _, m := range rc.ProviderMACs {
		if m.OFPort == n.prov.port && len(m.MAC) == 6 && m.MAC[0]&1 == 0 {
			return m.MAC
		}
	}
	return nil
}

// hashProviderHandoff fingerprints what providerHandoff reads: each
// router's gateway role here, its remote gateway chassis, and its IPv4
// interfaces on provider networks (with whether they have local ports).
func (x *index) hashProviderHandoff(h *hasher) {
	for _, r := range x.routers {
		h.u64(uint64(r.Key))
		h.bool(r.gwLocal)
		h.bool(x.routesOut(r))
		h.remote(x.gatewayRemote(r))
		h.bool(r.gw6Local)
		h.remote(x.gatewayRemote6(r))
		if r.ext6 != nil {
			h.prefix(r.Gateway.Address6)
		}
		for _, ps := range [][]routerPort{r.ports, r.ports6} {
			for _, p := range ps {
				if p.net.prov.port == 0 {
					continue
				}
				h.u64(uint64(p.net.Key))
				h.bool(len(p.net.local) > 0)
				h.bytes(p.mac)
				h.prefix(p.addr)
			}
		}
	}
}

// providerHandoff compiles both ends of the handoff of the routers'
// traffic for their active gateway on provider networks: IPv4 to
// translate (from L3SNATCommit), and IPv6 leaving by the gateway, routed
// without NAT (ipv6gw.go: from L3Route, the external subnet and the
// default route).
func (x *index) providerHandoff(e *emitter) {
	ip4, ip6 := ofp.EthType(ofp.EthTypeIPv4), ofp.EthType(ofp.EthTypeIPv6)
	for _, r := range x.routers {
		rc, rc6 := x.gatewayRemote(r), x.gatewayRemote6(r)
		for _, p := range r.ports {
			n := p.net
			switch {
			case n.prov.port == 0:
			case r.gwLocal:
				x.handoffIn(e, n, p, ip4)
			case rc != nil && x.routesOut(r) && len(n.local) > 0:
				if mac := gatewayMAC(rc, n); mac != nil {
					e.add(TableL3SNATCommit, prioSNATGateway, FeatureL3,
						[]ofp.Field{RouterKeyMatch(r.Key), NetworkKeyField.Match(n.Key), ip4, ofp.IPSrc(p.addr.Masked())},
						handoffOut(n, mac)...)
				}
			}
		}
		if r.ext6 == nil {
			continue
		}
		handed := map[*netState]bool{}
		for _, p := range r.ports6 {
			n := p.net
			switch {
			case n.prov.port == 0:
			case r.gw6Local:
				x.handoffIn(e, n, p, ip6)
			case rc6 != nil && len(n.local) > 0 && !handed[n]:
				handed[n] = true
				if mac := gatewayMAC(rc6, n); mac != nil {
					rk, netKey, extNet := RouterKeyMatch(r.Key), NetworkKeyField.Match(n.Key), r.Gateway.Address6.Masked()
					e.add(TableL3Route, routePrio(extNet.Bits())+1, FeatureL3, []ofp.Field{rk, netKey, ip6, ofp.IPDst(extNet)}, handoffOut(n, mac)...)
					e.add(TableL3Route, routePrio(0), FeatureL3, []ofp.Field{rk, netKey, ip6}, handoffOut(n, mac)...)
				}
			}
		}
	}
}

// handoffOut sends a packet, unrouted, out of network n's bridge port to
// the gateway's chassis MAC there (Output gives it this chassis' MAC as
// source).
func handoffOut(n *netState, gatewayMAC []byte) []ofp.Action {
	return append([]ofp.Action{ofp.SetField{Field: ofp.EthDst(slices.Clone(gatewayMAC))}},
		append(toProvider(n), ofp.Resubmit{Table: TableOutput.Number()})...)
}

// handoffIn takes back, on the router's gateway, what the other chassis
// hand it from router port p's subnet on network n (family eth): to this
// chassis' MAC there, it gets the router's MAC and goes to L2Lookup.
func (x *index) handoffIn(e *emitter, n *netState, p routerPort, eth ofp.Field) {
	if len(n.prov.chassisMAC) != 6 {
		return
	}
	match := []ofp.Field{ofp.InPort(n.prov.port), vlanNone, ofp.EthDst(n.prov.chassisMAC), eth, ofp.IPSrc(p.addr.Masked())}
	var acts []ofp.Action
	if n.prov.vlan != 0 {
		match[1] = vlanVID(n.prov.vlan)
		acts = append(acts, ofp.PopVLAN{})
	}
	// in_port cleared: it leaves by the same port when the external
	// network shares the physical network.
	acts = append(acts, ofp.SetField{Field: ofp.EthDst(p.mac)}, clearInPort, loadProvider, NetworkKeyField.Load(n.Key), gotoTable(TableL2Lookup))
	e.add(TableClassify, prioProviderHandoff, FeatureL3, match, acts...)
}
