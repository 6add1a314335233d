package pipeline

import (
	"cmp"
	"encoding/binary"
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

// compiler holds one compilation's indexes. It is built and thrown away by
// Compile; nothing survives between calls.
type compiler struct {
	v     *View
	cfg   Config
	gen   uint32
	flows []ofp.Flow
	nets  []*netState // networks with local ports, by key

	netsByID  map[string]*netState // every usable network of the view
	remotes   map[string]*RemoteChassis
	portsByID map[string]*portState
	// memberBuckets are the remote groups' members by bucket (members).
	memberBuckets map[string]*[aclMemberBuckets][]netip.Prefix
	// aclWordHash fingerprints the inputs of the ports' ACL words besides
	// the ports (CompileSections).
	aclWordHash uint64
	// netHashes fingerprint every network of netsByID (CompileSections).
	netHashes map[*netState]uint64
	// routers are the routers with something to do on this chassis.
	routers []*routerState
	// classified marks the networks without local ports whose tunnel
	// classification the L3 section compiled.
	classified map[*netState]bool
	// responded holds the IPv4 addresses the ARP responder answers, per
	// network key (the networks' own addresses; the L3 section adds the
	// routers').
	responded map[uint32]map[netip.Addr]bool
	acls      *aclIndex // built on first use
	// neighbours says Neighbour has entries: an IPv4 address on a network
	// with local ports, or a router with something to do here (its
	// addresses). The ARP responder's shared flows are then compiled.
	neighbours bool

	fieldArena  []ofp.Field
	actionArena []ofp.Action
	// Actions boxed once and shared by many flows.
	loadLocal, loadTunnel ofp.Action
	arpMoves              [3]ofp.Action
	setARPReply           ofp.Action
}

// netState is what Compile knows about one network with local ports.
type netState struct {
	Network
	all     []*portState // every port on the network, by key
	local   []*portState // ports bound here with an ofport, by key
	remotes []*RemoteChassis
	// tunPort is the local tunnel ofport carrying this network; 0: the
	// network is not tunnelled (no overlay type, or no such tunnel port).
	tunPort uint32
	dhcp4   []netip.Prefix // IPv4 subnets with DHCP enabled
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

func newCompiler(v *View, cfg Config, generation uint32) *compiler {
	return &compiler{v: v, cfg: cfg, gen: generation,
		loadLocal:  PktSourceField.Load(PktSourceLocal),
		loadTunnel: PktSourceField.Load(PktSourceTunnel),
		arpMoves: [3]ofp.Action{
			ofp.Move{Src: ofp.FieldRef{Kind: ofp.FEthSrc}, Dst: ofp.FieldRef{Kind: ofp.FEthDst}},
			ofp.Move{Src: ofp.FieldRef{Kind: ofp.FARPSHA}, Dst: ofp.FieldRef{Kind: ofp.FARPTHA}},
			ofp.Move{Src: ofp.FieldRef{Kind: ofp.FARPSPA}, Dst: ofp.FieldRef{Kind: ofp.FARPTPA}},
		},
		setARPReply: ofp.SetField{Field: ofp.Field{Kind: ofp.FARPOp, Value: 2}},
	}
}

// network compiles everything of one network with local ports.
func (c *compiler) network(n *netState) {
	c.classify(n)
	for _, p := range n.local {
		c.portSecurity(p)
	}
	c.arpResponder(n)
	if c.cfg.NDResponder {
		c.ndResponder(n)
	}
	c.dhcp(n)
	c.l2(n)
}

// outputs reports whether any flow delivers to a port: a network has local
// ports, or a local active gateway routes into a tunnel.
func (c *compiler) outputs() bool {
	if len(c.nets) > 0 {
		return true
	}
	for _, r := range c.routers {
		if r.gwLocal && slices.ContainsFunc(r.ports, func(p routerPort) bool { return p.net.tunPort != 0 }) {
			return true
		}
	}
	return false
}

// add appends a flow. It copies match and acts into the compiler's arenas
// (one allocation per few thousand fields rather than one per flow), so
// callers may pass stack slices.
func (c *compiler) add(t TableID, prio uint16, f Feature, match []ofp.Field, acts ...ofp.Action) {
	c.flows = append(c.flows, ofp.Flow{
		Table: t.Number(), Priority: prio, Cookie: Cookie(f, c.gen),
		Match: c.copyFields(match), Actions: c.copyActions(acts),
	})
}

const arenaChunk = 4096

func (c *compiler) copyFields(m []ofp.Field) []ofp.Field {
	if len(m) == 0 {
		return nil
	}
	if len(c.fieldArena)+len(m) > cap(c.fieldArena) {
		c.fieldArena = make([]ofp.Field, 0, max(arenaChunk, len(m)))
	}
	i := len(c.fieldArena)
	c.fieldArena = append(c.fieldArena, m...)
	return c.fieldArena[i : i+len(m) : i+len(m)]
}

func (c *compiler) copyActions(a []ofp.Action) []ofp.Action {
	if len(a) == 0 {
		return nil
	}
	if len(c.actionArena)+len(a) > cap(c.actionArena) {
		c.actionArena = make([]ofp.Action, 0, max(arenaChunk, len(a)))
	}
	i := len(c.actionArena)
	c.actionArena = append(c.actionArena, a...)
	return c.actionArena[i : i+len(a) : i+len(a)]
}

func gotoTable(t TableID) ofp.Action { return ofp.Goto{Table: t.Number()} }

// index sorts the view into per-network state, dropping what cannot be
// compiled.
func (c *compiler) index() {
	v := c.v
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
	c.netsByID, c.remotes = byID, remotes
	for i := range v.Subnets {
		s := &v.Subnets[i]
		if ns := byID[s.NetworkID]; ns != nil && s.EnableDHCP && s.CIDR.Addr().Is4() {
			ns.dhcp4 = append(ns.dhcp4, s.CIDR.Masked())
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
	c.portsByID = make(map[string]*portState, len(ports))
	for i := range ports {
		ps := &ports[i]
		if portKeys[ps.Key] {
			continue
		}
		portKeys[ps.Key] = true
		if _, dup := c.portsByID[ps.ID]; !dup {
			c.portsByID[ps.ID] = ps
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
		c.nets = append(c.nets, ns)
	}
	slices.SortFunc(c.nets, func(a, b *netState) int { return cmp.Compare(a.Key, b.Key) })
}

// defaults installs every table's miss flow.
func (c *compiler) defaults() {
	c.add(TableClassify, prioMiss, FeatureDefault, nil)
	c.add(TablePortSecurity, prioMiss, FeatureDefault, nil)
	c.add(TableEgressACL, prioMiss, FeatureDefault, nil, gotoTable(TableServices))
	c.add(TableServices, prioMiss, FeatureDefault, nil, gotoTable(TableL2Lookup))
	c.add(TableNDReply, prioMiss, FeatureDefault, nil)
	c.add(TableL2Lookup, prioMiss, FeatureDefault, nil)
	c.add(TableIngressACL, prioMiss, FeatureDefault, nil, gotoTable(TableOutput))
	c.add(TableOutput, prioMiss, FeatureDefault, nil)
}

// classify maps each local port's ofport to its keys. A port with port
// security is classified only from its own MACs (its MAC and those of its
// allowed address pairs), marked VMPortSecured: this is the first stage of
// port security, so that PortSecurity's shared flows need only that mark,
// and a frame from any other MAC is dropped here.
func (c *compiler) classify(n *netState) {
	for _, p := range n.local {
		if !p.PortSecurity {
			acts := []ofp.Action{c.loadLocal, VMPortField.Load(VMPortUnsecured), InPortKeyField.Load(p.Key), NetworkKeyField.Load(n.Key)}
			c.add(TableClassify, prioClassify, FeatureClassify,
				[]ofp.Field{ofp.InPort(p.OFPort)},
				append(c.aclClassify(acts, p), gotoTable(TablePortSecurity))...)
			continue
		}
		for _, id := range c.identities(p) {
			acts := []ofp.Action{c.loadLocal, VMPortField.Load(VMPortSecured), InPortKeyField.Load(p.Key), NetworkKeyField.Load(n.Key)}
			c.add(TableClassify, prioClassify, FeatureClassify,
				[]ofp.Field{ofp.InPort(p.OFPort), ofp.EthSrc(id.mac)},
				append(c.aclClassify(acts, p), gotoTable(TablePortSecurity))...)
		}
	}
	c.classifyTunnel(n)
}

// classifyOnce classifies the tunnel traffic of a network without local
// ports, once.
func (c *compiler) classifyOnce(n *netState) {
	if !c.classified[n] {
		c.classified[n] = true
		c.classifyTunnel(n)
	}
}

// classifyTunnel maps the network's tunnel key to the network. Each network
// is classified once: by its own section when it has local ports, else by
// the L3 section (classifyOnce).
func (c *compiler) classifyTunnel(n *netState) {
	if n.tunPort != 0 {
		c.add(TableClassify, prioClassify, FeatureClassify,
			[]ofp.Field{ofp.InPort(n.tunPort), ofp.TunID(uint64(n.SegmentationID))},
			c.loadTunnel,
			NetworkKeyField.Load(n.Key),
			gotoTable(TableL2Lookup))
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
func (c *compiler) portSecurityShared() {
	var on, off bool
	for _, n := range c.nets {
		for _, p := range n.local {
			on = on || p.PortSecurity
			off = off || !p.PortSecurity
		}
	}
	next := gotoTable(TableEgressACL)
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

// identity is a MAC and the sources it may use.
type identity struct {
	mac    net.HardwareAddr
	v4, v6 []netip.Prefix
}

// identities returns the MACs a port with port security may send from,
// its own first, each with its addresses and allowed address pairs.
func (c *compiler) identities(p *portState) []identity {
	if p.ids != nil {
		return p.ids
	}
	ids := []identity{{mac: p.mac}}
	for _, a := range p.IPs {
		ids[0].addPrefix(netip.PrefixFrom(a, a.BitLen()))
	}
	for _, ap := range p.AllowedAddressPairs {
		if !ap.Prefix.IsValid() {
			continue
		}
		i := 0
		if len(ap.MAC) == 6 && !macEqual(ap.MAC, p.mac) {
			i = slices.IndexFunc(ids, func(id identity) bool { return macEqual(id.mac, ap.MAC) })
			if i < 0 {
				ids = append(ids, identity{mac: slices.Clone(ap.MAC)})
				i = len(ids) - 1
			}
		}
		ids[i].addPrefix(ap.Prefix.Masked())
	}
	p.ids = ids
	return ids
}

// portSecurity installs the flows of a port with port security that name
// its addresses. Classify already verified the source MAC is one of the
// port's; every flow here still names the MAC it allows, so that an
// address pair's prefixes are allowed only from its own MAC.
func (c *compiler) portSecurity(p *portState) {
	if !p.PortSecurity {
		return // passed by portSecurityShared
	}
	key := InPortKeyField.Match(p.Key)
	next := gotoTable(TableEgressACL)
	ids := c.identities(p)

	// Matches are built in a stack buffer; add copies them.
	var buf [12]ofp.Field
	nd := func(t uint8, src ofp.Field) []ofp.Field {
		return append(buf[:0], key, src, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
			ofp.ICMPv6Type(t), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0})
	}
	own := ids[0].mac
	// ARP probes (RFC 5227) carry spa 0.0.0.0.
	c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity, []ofp.Field{
		key, ofp.EthSrc(own), ofp.EthType(ofp.EthTypeARP), ofp.ARPSHA(own), ofp.ARPSPA(prefixV4Any),
	}, next)

	for _, id := range ids {
		src := ofp.EthSrc(id.mac)
		for _, pf := range id.v4 {
			c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity,
				[]ofp.Field{key, src, ofp.EthType(ofp.EthTypeIPv4), ofp.IPSrc(pf)}, next)
			c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity,
				[]ofp.Field{key, src, ofp.EthType(ofp.EthTypeARP), ofp.ARPSHA(id.mac), ofp.ARPSPA(pf)}, next)
		}
		// Link-local IPv6 is shared; the port's own sources are not.
		for _, pf := range id.v6 {
			c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity,
				[]ofp.Field{key, src, ofp.EthType(ofp.EthTypeIPv6), ofp.IPSrc(pf)}, next)
		}
		v6 := append([]netip.Prefix{prefixLLA}, id.v6...)
		lla := []net.HardwareAddr{id.mac, macZero}
		// Neighbour solicitations from an own address, advertising its own
		// MAC (or no link-layer option, shared for link-local sources).
		for _, pf := range v6 {
			for _, ll := range lla {
				if pf == prefixLLA && macEqual(ll, macZero) {
					continue
				}
				c.add(TablePortSecurity, prioPortSecNDAllow, FeaturePortSecurity,
					append(nd(icmp6NS, src), ofp.IPSrc(pf), ofp.Field{Kind: ofp.FNDSLL, MAC: ll}), next)
			}
		}
		// Neighbour advertisements: from and for an own address, with its
		// own MAC as target link-layer address (or none, shared for
		// link-local to link-local).
		for _, from := range v6 {
			for _, target := range v6 {
				for _, ll := range lla {
					if from == prefixLLA && target == prefixLLA && macEqual(ll, macZero) {
						continue
					}
					c.add(TablePortSecurity, prioPortSecNDAllow, FeaturePortSecurity,
						append(nd(icmp6NA, src), ofp.IPSrc(from),
							ofp.Field{Kind: ofp.FNDTarget, Prefix: target},
							ofp.Field{Kind: ofp.FNDTLL, MAC: ll}), next)
				}
			}
		}
	}
}

func (id *identity) addPrefix(p netip.Prefix) {
	if !p.IsValid() {
		return
	}
	if p.Addr().Is4() {
		if !slices.Contains(id.v4, p) {
			id.v4 = append(id.v4, p)
		}
	} else if !slices.Contains(id.v6, p) && p != prefixLLA {
		id.v6 = append(id.v6, p)
	}
}

func macEqual(a, b net.HardwareAddr) bool { return string(a) == string(b) }

// arpResponder answers ARP requests for every IPv4 address of the network,
// wherever its port is bound: no ARP broadcast ever crosses a tunnel. The
// addresses go into Neighbour, which routing to the network shares.
func (c *compiler) arpResponder(n *netState) {
	netKey := NetworkKeyField.Match(n.Key)
	seen := make(map[netip.Addr]bool, len(n.all))
	for _, p := range n.all {
		for _, a := range p.IPs {
			if !a.Is4() || seen[a] {
				continue
			}
			seen[a] = true
			if p.local {
				// The owner probing or announcing its own address must not
				// get an answer (it would see a conflict): switch it.
				c.add(TableServices, prioARPOwner, FeatureARPResponder, []ofp.Field{
					InPortKeyField.Match(p.Key), netKey, ofp.EthType(ofp.EthTypeARP), ofp.ARPOp(1),
					ofp.ARPTPA(netip.PrefixFrom(a, 32)),
				}, gotoTable(TableL2Lookup))
			}
			c.neighbour(n.Key, a, p.mac)
		}
	}
}

// neighbourShared compiles the ARP responder shared by every network
// (when Neighbour has entries: c.neighbours): Services looks every ARP
// request's target up, ARPReply answers it from the MAC found.
func (c *compiler) neighbourShared() {
	if !c.neighbours {
		return
	}
	arp := []ofp.Field{ofp.EthType(ofp.EthTypeARP), ofp.ARPOp(1)}
	c.add(TableServices, prioARPResponder, FeatureARPResponder, arp,
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FARPTPA}, Dst: NeighbourIPField.Ref()},
		ofp.Resubmit{Table: TableNeighbour.Number()},
		gotoTable(TableARPReply))
	toEthSrc := NeighbourMACTo(ofp.FEthSrc)
	c.add(TableARPReply, prioARPResponder, FeatureARPResponder, append(arp, NeighbourFoundField.Match(1)),
		c.arpMoves[0],
		toEthSrc[0], toEthSrc[1],
		c.setARPReply,
		c.arpMoves[1],
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FEthSrc}, Dst: ofp.FieldRef{Kind: ofp.FARPSHA}},
		c.arpMoves[2],
		ofp.Move{Src: NeighbourIPField.Ref(), Dst: ofp.FieldRef{Kind: ofp.FARPSPA}},
		ofp.OutputInPort{})
	c.add(TableARPReply, prioMiss, FeatureDefault, nil, ofp.Resubmit{Table: TableL2Lookup.Number()})
	clear := NeighbourClear()
	c.add(TableNeighbour, prioMiss, FeatureDefault, nil, clear[0], clear[1])
}

// neighbour adds a's owner MAC on the network to Neighbour.
func (c *compiler) neighbour(netKey uint32, a netip.Addr, mac net.HardwareAddr) {
	load := NeighbourLoad(mac)
	c.add(TableNeighbour, prioNeighbour, FeatureARPResponder,
		[]ofp.Field{NetworkKeyField.Match(netKey), neighbourIPMatch(a)}, load[0], load[1])
}

// neighbourIPMatch matches IPv4 address a in NeighbourIPField.
func neighbourIPMatch(a netip.Addr) ofp.Field {
	ip := a.As4()
	return NeighbourIPField.Match(binary.BigEndian.Uint32(ip[:]))
}

// naFlags are the NA flags Solicited and Override in nd_reserved.
const naFlags = 0x60000000

// ndResponder answers neighbour solicitations for every IPv6 address of the
// network in two steps: Services rewrites the solicitation into an
// advertisement, NDReply (matching the advertisement, as OVS requires to
// write nd_tll) sets the target link-layer address and sends it back.
func (c *compiler) ndResponder(n *netState) {
	netKey := NetworkKeyField.Match(n.Key)
	ns := func(extra ...ofp.Field) []ofp.Field {
		var buf [10]ofp.Field
		return append(append(buf[:0], netKey, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
			ofp.ICMPv6Type(icmp6NS), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}), extra...)
	}
	seen := make(map[netip.Addr]bool)
	for _, p := range n.all {
		for _, a := range p.IPs {
			if !a.Is6() || a.Is4In6() || seen[a] {
				continue
			}
			if len(seen) == 0 {
				// Duplicate address detection (from ::) is never answered.
				c.add(TableServices, prioNDSkip, FeatureND, ns(ofp.IPSrc(prefixV6Any)), gotoTable(TableL2Lookup))
			}
			seen[a] = true
			target := ofp.NDTarget(a)
			if p.local {
				c.add(TableServices, prioNDSkip, FeatureND,
					ns(InPortKeyField.Match(p.Key), target), gotoTable(TableL2Lookup))
			}
			c.add(TableServices, prioNDResponder, FeatureND,
				ns(target, ofp.Field{Kind: ofp.FIPTTL, Value: 255}),
				c.arpMoves[0],
				ofp.SetField{Field: ofp.EthSrc(p.mac)},
				ofp.Move{Src: ofp.FieldRef{Kind: ofp.FIPv6Src}, Dst: ofp.FieldRef{Kind: ofp.FIPv6Dst}},
				ofp.SetField{Field: ofp.IPSrc(netip.PrefixFrom(a, 128))},
				ofp.SetField{Field: ofp.ICMPv6Type(icmp6NA)},
				ofp.SetField{Field: ofp.Field{Kind: ofp.FNDReserved, Value: naFlags}},
				ofp.SetField{Field: ofp.Field{Kind: ofp.FNDOptionsType, Value: 2}},
				gotoTable(TableNDReply))
			c.add(TableNDReply, prioNDReply, FeatureND, []ofp.Field{
				netKey, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
				ofp.ICMPv6Type(icmp6NA), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}, target,
			}, ofp.SetField{Field: ofp.Field{Kind: ofp.FNDTLL, MAC: p.mac}}, ofp.OutputInPort{})
		}
	}
}

// dhcp sends DHCPv4 client traffic from the network's local VM ports to
// the controller, with one flow for the whole network: the controller
// finds the port from InPortKeyField in the packet-in's metadata. A local
// port without an address on a DHCP-enabled subnet is not trapped (its
// requests go on to L2Lookup, as on a network without DHCP).
func (c *compiler) dhcp(n *netState) {
	if len(n.dhcp4) == 0 {
		return
	}
	netKey := NetworkKeyField.Match(n.Key)
	for _, p := range n.local {
		if slices.ContainsFunc(p.IPs, func(a netip.Addr) bool {
			return slices.ContainsFunc(n.dhcp4, func(s netip.Prefix) bool { return s.Contains(a) })
		}) {
			continue
		}
		c.add(TableServices, prioDHCPSkip, FeatureDHCP, []ofp.Field{
			InPortKeyField.Match(p.Key), netKey, ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP),
			ofp.UDPSrc(68, 0), ofp.UDPDst(67, 0),
		}, gotoTable(TableL2Lookup))
	}
	c.add(TableServices, prioDHCP, FeatureDHCP, []ofp.Field{
		FromVMField.Match(1), netKey, ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP),
		ofp.UDPSrc(68, 0), ofp.UDPDst(67, 0),
	}, ofp.Controller{ID: c.cfg.ControllerID, Reason: 1, UserData: UserData(PacketInDHCPv4, n.Key)})
}

func (c *compiler) l2(n *netState) {
	netKey := NetworkKeyField.Match(n.Key)
	fromLocal := PktSourceField.Match(PktSourceLocal)
	seen := make(map[string]bool, len(n.all))
	for _, p := range n.local {
		seen[string(p.mac)] = true
		acts := c.aclDeliver([]ofp.Action{OutPortField.Load(p.OFPort)}, p)
		c.add(TableL2Lookup, prioL2Known, FeatureL2,
			[]ofp.Field{netKey, ofp.EthDst(p.mac)},
			append(acts, gotoTable(TableIngressACL))...)
	}
	for _, p := range n.all {
		if p.remote == nil || seen[string(p.mac)] {
			continue
		}
		seen[string(p.mac)] = true
		// Only locally sourced traffic is tunnelled: a tunnel packet is
		// never sent back into the overlay.
		c.add(TableL2Lookup, prioL2Known, FeatureL2,
			[]ofp.Field{fromLocal, netKey, ofp.EthDst(p.mac)},
			c.encap(n, p.remote, gotoTable(TableOutput))...)
	}

	local := c.floodLocal(n.local)
	multicast := ofp.EthDstMasked(macMulticast, macMulticast)
	// ARP broadcasts are answered by the responder or stay on this chassis.
	c.add(TableL2Lookup, prioL2ARPBroadcast, FeatureL2,
		[]ofp.Field{netKey, multicast, ofp.EthType(ofp.EthTypeARP)}, local...)
	// Broadcast and multicast: to every port of the network. Output to
	// the input port is dropped by OpenFlow itself, so the sender is
	// excluded.
	c.add(TableL2Lookup, prioL2Flood, FeatureL2, []ofp.Field{fromLocal, netKey, multicast},
		c.floodRemote(n, local, n.remotes)...)
	if n.tunPort != 0 {
		c.add(TableL2Lookup, prioL2Flood, FeatureL2,
			[]ofp.Field{PktSourceField.Match(PktSourceTunnel), netKey, multicast}, local...)
	}
	// Unknown unicast: only to ports without port security, which may
	// own MACs the model does not know (Neutron's and OVN's "unknown"
	// addresses); with none, it is dropped (the table's miss). Every
	// other MAC of the network is known and has its own flow above.
	var open []*portState
	for _, p := range n.local {
		if !p.PortSecurity {
			open = append(open, p)
		}
	}
	var openRemotes []*RemoteChassis
	for _, p := range n.all {
		if p.remote != nil && !p.PortSecurity && !slices.Contains(openRemotes, p.remote) {
			openRemotes = append(openRemotes, p.remote)
		}
	}
	slices.SortFunc(openRemotes, func(a, b *RemoteChassis) int { return cmp.Compare(a.Name, b.Name) })
	openLocal := c.floodLocal(open)
	if len(open)+len(openRemotes) > 0 {
		c.add(TableL2Lookup, prioL2Unknown, FeatureL2, []ofp.Field{fromLocal, netKey},
			c.floodRemote(n, openLocal, openRemotes)...)
	}
	if n.tunPort != 0 && len(open) > 0 {
		c.add(TableL2Lookup, prioL2Unknown, FeatureL2,
			[]ofp.Field{PktSourceField.Match(PktSourceTunnel), netKey}, openLocal...)
	}
}

// floodLocal is the actions delivering a flood to local ports, each
// through IngressACL.
func (c *compiler) floodLocal(ports []*portState) []ofp.Action {
	local := make([]ofp.Action, 0, 3*len(ports))
	flood := aclFlood{c: c}
	for _, p := range ports {
		local = append(flood.deliver(append(local, OutPortField.Load(p.OFPort)), p), ofp.Resubmit{Table: TableIngressACL.Number()})
	}
	return slices.Clip(local)
}

// floodRemote appends to a local flood the tunnels to remote chassis.
func (c *compiler) floodRemote(n *netState, local []ofp.Action, remotes []*RemoteChassis) []ofp.Action {
	all := slices.Clip(local)
	for _, r := range remotes {
		all = append(all, c.encap(n, r, ofp.Resubmit{Table: TableOutput.Number()})...)
	}
	return all
}

// encap sets the tunnel metadata towards chassis r and the tunnel port as
// output port, then continues with next.
func (c *compiler) encap(n *netState, r *RemoteChassis, next ofp.Action) []ofp.Action {
	return []ofp.Action{
		ofp.SetField{Field: ofp.Field{Kind: ofp.FTunID, Value: uint64(n.SegmentationID)}},
		ofp.SetField{Field: ofp.Field{Kind: ofp.FTunIPv4Dst, Prefix: netip.PrefixFrom(r.TunnelIP, 32)}},
		OutPortField.Load(n.tunPort),
		next,
	}
}

// output delivers to the OpenFlow port in reg7 with one flow (when any
// flow delivers: outputs). OpenFlow drops an output to the packet's own
// in_port, so a flood never returns to its sender.
func (c *compiler) output() {
	if c.outputs() {
		c.add(TableOutput, prioOutput, FeatureOutput, nil, ofp.OutputReg{Reg: OutPortField.Reg})
	}
}
