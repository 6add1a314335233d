package pipeline

import (
	"cmp"
	"net"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Config holds compile options that are not topology.
type Config struct {
	// ControllerID is the controller id DHCP packet-ins are addressed to
	// (controller(id=...)); the agent's DHCP responder connects with it.
	ControllerID uint16
	// NDResponder answers IPv6 neighbour solicitations for known addresses
	// in flows. It needs the nd_reserved and nd_options_type set-fields
	// (Ericsson experimenter OXMs) from the OpenFlow encoder; without it,
	// solicitations are flooded like any multicast.
	NDResponder bool
}

// Flow priorities, per table. Higher wins.
const (
	prioMiss = 0

	prioClassify = 100

	prioPortSecOff     = 400 // port security disabled: nothing checked
	prioPortSecNDAllow = 310 // ND with a truthful link-layer option
	prioPortSecDrop    = 300 // any other ND, RAs, DHCP server replies
	prioPortSecSpecial = 210 // DHCP discover from 0.0.0.0, MLD from ::
	prioPortSecAllow   = 200 // MAC + IP / ARP sha+spa

	prioARPOwner     = 110 // the owner asking for its own address: not answered
	prioARPResponder = 100
	prioDHCPSkip     = 110 // a local port without a DHCP address: not trapped
	prioNeighbour    = 100
	prioDHCP         = 100
	prioNDSkip       = 110 // DAD and the owner's own solicitations
	prioNDResponder  = 100
	prioNDReply      = 100

	prioL2Known        = 100
	prioL2ARPBroadcast = 60
	prioL2Flood        = 10 // broadcast and multicast
	prioL2Unknown      = 5  // unknown unicast

	prioOutput = 100
)

var (
	macMulticast = net.HardwareAddr{1, 0, 0, 0, 0, 0}
	macZero      = net.HardwareAddr{0, 0, 0, 0, 0, 0}
	prefixLLA    = netip.MustParsePrefix("fe80::/10")
	prefixV6Any  = netip.PrefixFrom(netip.IPv6Unspecified(), 128)
	prefixV4Any  = netip.PrefixFrom(netip.IPv4Unspecified(), 32)
	prefixV4Bcst = netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 32)
)

// ICMPv6 types the pipeline looks at.
const (
	icmp6MLDv2Report = 143
	icmp6RA          = 134
	icmp6NS          = 135
	icmp6NA          = 136
)

// index is what one compilation derives from its view before compiling
// any section: the usable networks, ports, chassis, routers and security
// groups, in canonical order, and the fingerprints several sections share.
// Built once by newIndex and only read afterwards, it is how the units
// (base, l2, l3, acl, output) hand data to each other: nothing else
// survives from one section to the next, nor between compilations.
type index struct {
	v   *View
	cfg Config
	gen uint32

	nets      []*netState          // networks with local ports, by key
	netsByID  map[string]*netState // every usable network of the view
	remotes   map[string]*RemoteChassis
	portsByID map[string]*portState
	// routers are the routers with something to do on this chassis
	// (indexRouters).
	routers []*routerState
	// edge are the edge floating IPs of local ports, edgeRouters their
	// routers' keys (indexEdge, edge.go).
	edge        []edgeFIP
	edgeRouters map[uint32]bool
	// acl holds the usable security groups (newACLIndex).
	acl *aclIndex
	// v4 holds the IPv4 addresses of each network with local ports, by
	// network key: what its ARP responder answers (the L3 unit answers
	// its routers' other addresses).
	v4 map[uint32]map[netip.Addr]bool
	// neighbours says Neighbour has entries: an IPv4 address on a network
	// with local ports, or a router with something to do here (its
	// addresses). The ARP responder's shared flows are then compiled.
	neighbours bool
	// meters maps a router's key to the metering labels applying to it
	// (metering.go).
	meters map[uint32][]*MeteringLabel
	// netHash fingerprints every network of netsByID (hashNetwork): its
	// own section's hash, and an input of the L3 and ACL sections.
	netHash map[*netState]uint64
}

// netState is what Compile knows about one network.
type netState struct {
	Network
	all     []*portState // every port on the network, by key
	local   []*portState // ports bound here with an ofport, by key
	remotes []*RemoteChassis
	// tunPort is the local tunnel ofport carrying this network; 0: the
	// network is not tunnelled (no overlay type, or no such tunnel port).
	tunPort uint32
	dhcp4   []netip.Prefix // IPv4 subnets with DHCP enabled
	v6      v6Services     // the IPv6 services of its subnets (ipv6.go)
}

type portState struct {
	*Port
	mac    net.HardwareAddr // copy of Port.MAC: flows never alias the view
	local  bool
	remote *RemoteChassis // non-nil when bound on a tunnel-reachable chassis
	ids    []identity     // port security identities, see identities
}

// Compile produces the desired flows of br-int for a view. It is pure:
// the same view, config and generation always give the same flows, in the
// same order, and the view is not modified (nor aliased: flows may share
// byte slices with each other, so treat them as read-only). Every flow's cookie is
// Cookie(feature, generation). Entries the view cannot support (a port on
// an unknown network, a duplicate key, MAC, ofport or address) are skipped,
// first by key wins; View.Validate reports them.
//
// Compile is CompileSections without a previous compilation, flattened.
func Compile(v *View, cfg Config, generation uint32) []ofp.Flow {
	return Flatten(CompileSections(v, cfg, generation, nil))
}

// newIndex derives a compilation's index from its view.
func newIndex(v *View, cfg Config, generation uint32) *index {
	x := &index{v: v, cfg: cfg, gen: generation}
	x.indexNetworks()
	x.routers = x.indexRouters()
	x.indexEdge()
	x.meters = x.meteredLabels()
	x.acl = newACLIndex(v, x.nets)
	x.v4 = make(map[uint32]map[netip.Addr]bool, len(x.nets))
	for _, n := range x.nets {
		seen := make(map[netip.Addr]bool, len(n.all))
		for _, p := range n.all {
			for _, a := range p.IPs {
				if a.Is4() {
					seen[a] = true
				}
			}
		}
		x.v4[n.Key] = seen
		x.neighbours = x.neighbours || len(seen) > 0
	}
	x.neighbours = x.neighbours || len(x.routers) > 0
	words := x.hashACLWords()
	x.netHash = make(map[*netState]uint64, len(x.netsByID))
	for _, n := range x.netsByID {
		x.netHash[n] = x.hashNetwork(n, words)
	}
	return x
}

// indexNetworks sorts the view into per-network state, dropping what
// cannot be compiled.
func (x *index) indexNetworks() {
	v := x.v
	// Inputs are visited in a canonical order, so that even a view with
	// duplicates compiles the same whatever the order of its slices.
	remoteList := make([]*RemoteChassis, len(v.Remote))
	for i := range v.Remote {
		remoteList[i] = &v.Remote[i]
	}
	slices.SortFunc(remoteList, func(a, b *RemoteChassis) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.TunnelIP.Compare(b.TunnelIP))
	})
	remotes := make(map[string]*RemoteChassis, len(v.Remote))
	for _, r := range remoteList {
		if r.Name == "" || r.Name == v.Local.Name || !r.TunnelIP.Is4() {
			continue // tun_dst is IPv4 only
		}
		if _, dup := remotes[r.Name]; !dup {
			remotes[r.Name] = r
		}
	}
	byID := make(map[string]*netState, len(v.Networks))
	netKeys := make(map[uint32]bool, len(v.Networks))
	tunKeys := make(map[[2]uint32]bool, len(v.Networks))
	netList := make([]*Network, len(v.Networks))
	for i := range v.Networks {
		netList[i] = &v.Networks[i]
	}
	slices.SortFunc(netList, func(a, b *Network) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.ID, b.ID))
	})
	nets := make([]*netState, 0, len(v.Networks))
	for _, n := range netList {
		if n.Key == 0 || netKeys[n.Key] || byID[n.ID] != nil {
			continue
		}
		netKeys[n.Key] = true
		ns := &netState{Network: *n}
		switch Encap(n.Type) {
		case EncapGeneve:
			ns.tunPort = v.Local.GeneveOFPort
		case EncapVXLAN:
			ns.tunPort = v.Local.VXLANOFPort
		}
		if ns.tunPort != 0 {
			k := [2]uint32{ns.tunPort, n.SegmentationID}
			if tunKeys[k] {
				ns.tunPort = 0 // two networks on one tunnel key: not tunnelled
			}
			tunKeys[k] = true
		}
		byID[n.ID] = ns
		nets = append(nets, ns)
	}
	x.netsByID, x.remotes = byID, remotes
	for i := range v.Subnets {
		s := &v.Subnets[i]
		if ns := byID[s.NetworkID]; ns != nil && s.EnableDHCP && s.CIDR.Addr().Is4() {
			ns.dhcp4 = append(ns.dhcp4, s.CIDR.Masked())
		} else if ns != nil {
			ns.v6.add(s)
		}
	}

	ports := make([]portState, 0, len(v.Ports))
	for i := range v.Ports {
		p := &v.Ports[i]
		if byID[p.NetworkID] == nil || p.Key == 0 || len(p.MAC) != 6 {
			continue
		}
		ports = append(ports, portState{Port: p})
	}
	slices.SortFunc(ports, func(a, b portState) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.ID, b.ID))
	})
	portKeys := make(map[uint32]bool, len(ports))
	ofports := make(map[uint32]bool)
	x.portsByID = make(map[string]*portState, len(ports))
	for i := range ports {
		ps := &ports[i]
		if portKeys[ps.Key] {
			continue
		}
		portKeys[ps.Key] = true
		if _, dup := x.portsByID[ps.ID]; !dup {
			x.portsByID[ps.ID] = ps
		}
		ps.mac = slices.Clone(ps.MAC)
		ns := byID[ps.NetworkID]
		switch {
		case ps.Chassis == "":
		case ps.Chassis == v.Local.Name:
			if ps.OFPort != 0 && !ofports[ps.OFPort] && ps.OFPort != v.Local.GeneveOFPort && ps.OFPort != v.Local.VXLANOFPort {
				ofports[ps.OFPort] = true
				ps.local = true
				ns.local = append(ns.local, ps)
			}
		case ns.tunPort != 0:
			if r := remotes[ps.Chassis]; r != nil && slices.Contains(r.Encaps, Encap(ns.Type)) {
				ps.remote = r
				if !slices.Contains(ns.remotes, r) {
					ns.remotes = append(ns.remotes, r)
				}
			}
		}
		ns.all = append(ns.all, ps)
	}
	for _, ns := range nets {
		if len(ns.local) == 0 {
			continue // no local port: the network yields no flow at all
		}
		slices.SortFunc(ns.remotes, func(a, b *RemoteChassis) int { return cmp.Compare(a.Name, b.Name) })
		x.nets = append(x.nets, ns)
	}
	slices.SortFunc(x.nets, func(a, b *netState) int { return cmp.Compare(a.Key, b.Key) })
}

// emitter collects the flows of the section being compiled. It copies
// matches and actions into arenas shared by the compilation's sections
// (CompileSections compacts each section's flows out of them).
type emitter struct {
	gen   uint32
	flows []ofp.Flow

	fieldArena  []ofp.Field
	actionArena []ofp.Action
}

// add appends a flow. It copies match and acts into the arenas (one
// allocation per few thousand fields rather than one per flow), so
// callers may pass stack slices.
func (e *emitter) add(t TableID, prio uint16, f Feature, match []ofp.Field, acts ...ofp.Action) {
	e.flows = append(e.flows, ofp.Flow{
		Table: t.Number(), Priority: prio, Cookie: Cookie(f, e.gen),
		Match: e.copyFields(match), Actions: e.copyActions(acts),
	})
}

const arenaChunk = 4096

func (e *emitter) copyFields(m []ofp.Field) []ofp.Field {
	if len(m) == 0 {
		return nil
	}
	if len(e.fieldArena)+len(m) > cap(e.fieldArena) {
		e.fieldArena = make([]ofp.Field, 0, max(arenaChunk, len(m)))
	}
	i := len(e.fieldArena)
	e.fieldArena = append(e.fieldArena, m...)
	return e.fieldArena[i : i+len(m) : i+len(m)]
}

func (e *emitter) copyActions(a []ofp.Action) []ofp.Action {
	if len(a) == 0 {
		return nil
	}
	if len(e.actionArena)+len(a) > cap(e.actionArena) {
		e.actionArena = make([]ofp.Action, 0, max(arenaChunk, len(a)))
	}
	i := len(e.actionArena)
	e.actionArena = append(e.actionArena, a...)
	return e.actionArena[i : i+len(a) : i+len(a)]
}

func gotoTable(t TableID) ofp.Action { return ofp.Goto{Table: t.Number()} }

// Actions boxed once and shared by many flows.
var (
	loadLocal  = PktSourceField.Load(PktSourceLocal)
	loadTunnel = PktSourceField.Load(PktSourceTunnel)
	arpMoves   = [3]ofp.Action{
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FEthSrc}, Dst: ofp.FieldRef{Kind: ofp.FEthDst}},
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FARPSHA}, Dst: ofp.FieldRef{Kind: ofp.FARPTHA}},
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FARPSPA}, Dst: ofp.FieldRef{Kind: ofp.FARPTPA}},
	}
	setARPReply ofp.Action = ofp.SetField{Field: ofp.Field{Kind: ofp.FARPOp, Value: 2}}
)

// encap sets the tunnel metadata towards chassis r and the tunnel port as
// output port, then continues with next.
func encap(n *netState, r *RemoteChassis, next ofp.Action) []ofp.Action {
	return []ofp.Action{
		ofp.SetField{Field: ofp.Field{Kind: ofp.FTunID, Value: uint64(n.SegmentationID)}},
		ofp.SetField{Field: ofp.Field{Kind: ofp.FTunIPv4Dst, Prefix: netip.PrefixFrom(r.TunnelIP, 32)}},
		OutPortField.Load(n.tunPort),
		next,
	}
}

func macEqual(a, b net.HardwareAddr) bool { return string(a) == string(b) }
