package pipeline

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// The chassis side of the floating-IP edge (issue 9, DESIGN.md section 7).
//
// A floating IP the edge layer serves (FloatingIP.Edge: its port's chassis
// is in edge mode) is NATed by no chassis: the gateways of `wyvern
// gateway` rewrite it statelessly.
//
//   - Inbound, a gateway rewrites the destination to the fixed address and
//     the MACs to the router's and the VM's, and tunnels the packet to the
//     port's chassis with the network's key. Classify maps it to the
//     network like any tunnelled packet, L2Lookup delivers it to the port
//     through IngressACL: the port's security groups see the client's real
//     address, and conntrack commits the connection in the network's zone.
//   - Outbound, the port's traffic leaving through the router's gateway
//     (L3Route: the default route or the external subnet, to L3SNAT) is
//     caught in L3SNAT, before the router's NAT zone, by its source fixed
//     address on its network, and tunnelled unchanged to the edge's tunnel
//     endpoint (LocalChassis.EdgeEndpoint, the anycast /32 of the gateways)
//     with the network's key and the encapsulation a gateway chooses for
//     this chassis (edgeTunnel; the gateways' inbound packets then arrive
//     on that tunnel port, which Classify maps to the network when it is
//     not the network's own): whichever gateway the
//     underlay delivers it to rewrites the source to the floating IP. The
//     gateway, not the chassis, decrements the TTL (as it does inbound), so
//     the logical router and the edge count as one hop either way.
//
// Nothing here uses conntrack in the router's zone: a reply may leave by a
// gateway other than the one its request came through.

// prioSNATEdge puts the edge's outbound flows above L3SNAT's conntrack
// lookup.
const prioSNATEdge = 110

// edgeFIP is one floating IP of a local port served by the edge.
type edgeFIP struct {
	router *routerState
	net    *netState
	fixed  netip.Addr
	// tunPort is the local tunnel port of the encapsulation the edge uses
	// for net (edgeTunnel): net.tunPort, or the other one.
	tunPort uint32
}

// edgeTunnel is the local tunnel port carrying n's traffic to and from the
// edge, as a gateway chooses it (gateway.chooseEncap, from this chassis'
// encapsulations and the gateway's): n's own encapsulation when the
// chassis has its port and the edge layer speaks it, else the other one
// when both have that (the key is n's segmentation id either way); 0 when
// they share none, or when the other port already carries n's key for
// another network.
func (x *index) edgeTunnel(n *netState) uint32 {
	speaks := func(e Encap) bool {
		return len(x.v.Local.EdgeEncaps) == 0 || slices.Contains(x.v.Local.EdgeEncaps, e)
	}
	own, other := Encap(n.Type), EncapVXLAN
	if own == EncapVXLAN {
		other = EncapGeneve
	}
	if n.tunPort != 0 && speaks(own) {
		return n.tunPort
	}
	port := x.v.Local.VXLANOFPort
	if other == EncapGeneve {
		port = x.v.Local.GeneveOFPort
	}
	if port == 0 || !speaks(other) || (own != EncapGeneve && own != EncapVXLAN) {
		return 0
	}
	for _, m := range x.netsByID {
		if m != n && m.tunPort == port && m.SegmentationID == n.SegmentationID {
			return 0
		}
	}
	return port
}

// indexEdge lists the edge floating IPs whose outbound traffic this
// chassis tunnels to the edge (index.edge), and marks their routers
// (index.edgeRouters): they route out of the router from here.
func (x *index) indexEdge() {
	if !x.v.Local.EdgeEndpoint.Is4() {
		return
	}
	routers := make(map[string]*routerState, len(x.routers))
	for _, r := range x.routers {
		routers[r.ID] = r
	}
	seen := map[netip.Addr]bool{}
	for _, f := range x.v.FloatingIPs {
		p := x.portsByID[f.PortID]
		r := routers[f.RouterID]
		if !f.Edge || p == nil || !p.local || r == nil || r.ext == nil || !f.FloatingIP.Is4() || !f.FixedIP.Is4() ||
			!slices.Contains(p.IPs, f.FixedIP) || seen[f.FixedIP] {
			continue
		}
		n := x.netsByID[p.NetworkID]
		if n == nil || !routesNetwork(r, n) {
			continue
		}
		tp := x.edgeTunnel(n)
		if tp == 0 {
			continue
		}
		seen[f.FixedIP] = true
		x.edge = append(x.edge, edgeFIP{router: r, net: n, fixed: f.FixedIP, tunPort: tp})
	}
	slices.SortFunc(x.edge, func(a, b edgeFIP) int {
		return cmp.Or(cmp.Compare(a.router.Key, b.router.Key), a.fixed.Compare(b.fixed))
	})
	if len(x.edge) > 0 {
		x.edgeRouters = map[uint32]bool{}
		for _, e := range x.edge {
			x.edgeRouters[e.router.Key] = true
		}
	}
}

// routesNetwork reports whether the router has an interface on n.
func routesNetwork(r *routerState, n *netState) bool {
	for _, p := range r.ports {
		if p.net == n {
			return true
		}
	}
	return false
}

// edgeUnit compiles the "edge" section: the outbound flows of the edge
// floating IPs of local ports (index.edge), and the punt of the upstream
// routers' ARP replies (nextHopARP).
type edgeUnit struct{}

func (edgeUnit) sections(x *index, s *sectionList) {
	h := x.hasher("edge")
	for _, ext := range x.v.External { // nextHopARP's inputs
		if ext.OFPort != 0 && ext.NextHopIP.Is4() {
			h.u64(uint64(ext.OFPort))
			h.u64(uint64(ext.Key))
			h.addr(ext.NextHopIP)
		}
	}
	hashNextHopND(x, h)
	h.u64(uint64(len(x.edge)))
	if len(x.edge) > 0 {
		h.addr(x.v.Local.EdgeEndpoint)
		for _, enc := range x.v.Local.EdgeEncaps {
			h.str(string(enc))
		}
	}
	for _, e := range x.edge {
		h.u64(uint64(e.router.Key))
		h.u64(uint64(e.net.Key))
		h.u64(uint64(e.net.SegmentationID))
		h.u64(uint64(e.net.tunPort))
		h.u64(uint64(e.tunPort))
		h.addr(e.fixed)
	}
	e := s.next("edge", h.Sum64(), 2*len(x.edge)+2*len(x.v.External))
	if e == nil {
		return
	}
	nextHopARP(x, e)
	nextHopND(x, e)
	classified := map[*netState]bool{}
	for _, f := range x.edge {
		e.add(TableL3SNAT, prioSNATEdge, FeatureL3, []ofp.Field{
			RouterKeyMatch(f.router.Key), NetworkKeyField.Match(f.net.Key),
			ofp.EthType(ofp.EthTypeIPv4), ofp.IPSrc(netip.PrefixFrom(f.fixed, 32)),
		},
			ofp.SetField{Field: ofp.Field{Kind: ofp.FTunID, Value: uint64(f.net.SegmentationID)}},
			ofp.SetField{Field: ofp.Field{Kind: ofp.FTunIPv4Dst, Prefix: netip.PrefixFrom(x.v.Local.EdgeEndpoint, 32)}},
			OutPortField.Load(f.tunPort),
			ofp.Resubmit{Table: TableOutput.Number()})
		// The edge's encapsulation is not the network's own: the
		// gateways' inbound packets arrive on the other tunnel port, with
		// the network's key.
		if f.tunPort != f.net.tunPort && !classified[f.net] {
			classified[f.net] = true
			e.add(TableClassify, prioClassify, FeatureClassify,
				[]ofp.Field{ofp.InPort(f.tunPort), ofp.TunID(uint64(f.net.SegmentationID))},
				loadTunnel,
				NetworkKeyField.Load(f.net.Key),
				gotoTable(TableL2Lookup))
		}
	}
}

// nextHopARP sends the ARP replies of the upstream router of every
// external network this chassis reaches (ExternalNetwork.NextHopIP, with
// an OFPort) to the controller, straight from Classify, whether or not
// the chassis NATs there yet: the agent resolves the router's MAC
// (NextHopMAC) before it becomes a router's active gateway, so a failover
// installs the NAT flows and the way out in one bundle. The replies go no
// further.
func nextHopARP(x *index, e *emitter) {
	for i := range x.v.External {
		ext := &x.v.External[i]
		if ext.OFPort == 0 || !ext.NextHopIP.Is4() {
			continue
		}
		e.add(TableClassify, prioNextHopARP, FeatureL3, []ofp.Field{
			ofp.InPort(ext.OFPort), ofp.EthType(ofp.EthTypeARP), ofp.ARPOp(2),
			ofp.ARPSPA(netip.PrefixFrom(ext.NextHopIP, 32)),
		}, ofp.Controller{ID: x.cfg.ControllerID, Reason: 1, UserData: UserData(PacketInNextHop, ext.Key)})
	}
}

// prioNextHopARP is above the external port's classification.
const prioNextHopARP = prioClassify + 20

// PacketInNextHop is the packet-in kind (fields.go) of an ARP reply of an
// external network's upstream router (ExternalNetwork.NextHopIP), for the
// agent's resolver; its key is the external network's key. Numbered apart
// from the other kinds.
const PacketInNextHop PacketInKind = 0x10
