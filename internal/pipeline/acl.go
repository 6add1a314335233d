package pipeline

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Priorities of the ACL stage (EgressACL, IngressACL, IngressACLEval).
const (
	prioACLInvalid  = 200 // tracked invalid: drop
	prioACLEst      = 190 // tracked established or related: pass
	prioACLBypass   = 110 // DHCP, ND: always pass, never tracked
	prioACLTrack    = 100 // an enforced port's untracked IP traffic: to conntrack
	prioACLRule     = 100 // a rule with a remote prefix (or none); conj_id
	prioACLConj     = 90  // clauses of remote-group rules
	prioACLEgressNo = 10  // tracked, new, allowed by no rule: drop
)

// ICMPv6 types that always pass the ACLs: MLD (130–132, 143), router
// solicitation (133), neighbour solicitation and advertisement (135, 136).
var icmp6Always = []uint8{130, 131, 132, 133, 135, 136, 143}

// aclIndex is what the ACL register word of the local ports needs: the
// usable security groups, built once per compilation on first use.
type aclIndex struct {
	on  bool // some local port's security groups are enforced
	sgs map[string]*SecurityGroup
}

// newACLIndex indexes the security groups of a view whose networks with
// local ports are nets: the first by key wins, keys must be in 1..0x7fff
// (ACLGroupField, conjunction ids).
func newACLIndex(v *View, nets []*netState) *aclIndex {
	x := &aclIndex{sgs: map[string]*SecurityGroup{}}
	if !v.SecurityGroupsEnabled {
		return x
	}
	x.on = slices.ContainsFunc(nets, func(n *netState) bool {
		return slices.ContainsFunc(n.local, func(p *portState) bool { return p.PortSecurity })
	})
	sgList := make([]*SecurityGroup, len(v.SecurityGroups))
	for i := range v.SecurityGroups {
		sgList[i] = &v.SecurityGroups[i]
	}
	slices.SortFunc(sgList, func(a, b *SecurityGroup) int { return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.ID, b.ID)) })
	keys := map[uint16]bool{}
	for _, g := range sgList {
		if g.Key == 0 || g.Key >= 0x8000 || keys[g.Key] || x.sgs[g.ID] != nil {
			continue
		}
		keys[g.Key] = true
		x.sgs[g.ID] = g
	}
	return x
}

// enforced reports whether a local port's security groups are enforced.
func (x *index) enforced(p *portState) bool {
	return p.local && p.PortSecurity && x.acl.on
}

// groups are the known security groups of a port, by ID, once each.
func (x *aclIndex) groups(p *portState) []*SecurityGroup {
	ids := slices.Clone(p.SecurityGroups)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var out []*SecurityGroup
	for _, id := range ids {
		if g := x.sgs[id]; g != nil {
			out = append(out, g)
		}
	}
	return out
}

// aclWord is the value of reg3 for a local port (see ACLTrackField): the
// track bit, its network's zone and, when it is in exactly one known
// group, that group's key; 0 when its security groups are not enforced.
func (x *index) aclWord(p *portState) uint32 {
	if !x.enforced(p) {
		return 0
	}
	n := x.netsByID[p.NetworkID]
	zone := n.CTZone
	if zone == 0 {
		zone = uint16(n.Key)
	}
	w := uint32(1)<<ACLTrackField.Start | uint32(zone)<<ACLZoneField.Start
	if gs := x.acl.groups(p); len(gs) == 1 {
		w |= uint32(gs[0].Key) << ACLGroupField.Start
	}
	return w
}

// aclLoad is the load of the ACL word of port p into reg3.
func (x *index) aclLoad(p *portState) ofp.Action {
	return ofp.Load{Reg: ACLTrackField.Reg, Start: 0, Bits: 32, Value: uint64(x.aclWord(p))}
}

// aclClassify appends to acts, the actions of local port p's in_port flow
// in Classify, the load of its ACL word when its groups are enforced.
func (x *index) aclClassify(acts []ofp.Action, p *portState) []ofp.Action {
	if !x.enforced(p) {
		return acts
	}
	return append(acts, x.aclLoad(p))
}

// aclDeliver appends to acts, the actions delivering a packet to local port
// p through IngressACL, the load of p's ACL word (0 when p is not
// enforced, clearing the sender's), whenever security groups are in use.
func (x *index) aclDeliver(acts []ofp.Action, p *portState) []ofp.Action {
	if !x.acl.on {
		return acts
	}
	return append(acts, x.aclLoad(p))
}

// hashACLWords fingerprints what the ACL word of a port (aclWord) depends
// on besides the port and its network: whether security groups are
// enforced, and the usable groups' keys. The network sections, which load
// the words, hash it.
func (x *index) hashACLWords() uint64 {
	h := x.hasher("acl-word")
	h.bool(x.acl.on)
	ids := make([]string, 0, len(x.acl.sgs))
	for id := range x.acl.sgs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		h.str(id)
		h.u64(uint64(x.acl.sgs[id].Key))
	}
	return h.Sum64()
}

// aclUnit compiles the security group sections: "acl" (shared flows, the
// rules of groups shared by their ports, conj_id flows), "acl/<network>"
// (rules of the network's enforced ports in several groups) and
// "aclm/<n>" (member clauses of remote groups, spread over buckets by
// address).
type aclUnit struct{}

func (aclUnit) sections(x *index, s *sectionList) {
	pl := x.aclPlan()
	shared := x.hasher("acl")
	shared.bool(pl != nil)
	var rulesHash uint64
	if pl != nil {
		// What rules depend on besides ports: the groups' keys and rules
		// (not their members).
		type groupRules struct {
			ID    string
			Key   uint16
			Rules []SecurityGroupRule
		}
		groups := make([]groupRules, len(x.v.SecurityGroups))
		for i, g := range x.v.SecurityGroups {
			groups[i] = groupRules{g.ID, g.Key, g.Rules}
		}
		rules := x.hasher("acl-rules")
		rules.json(groups)
		rulesHash = rules.Sum64()
		shared.u64(rulesHash)
		shared.u64(uint64(len(pl.single)))
		for _, g := range pl.single {
			shared.str(g.ID)
		}
		shared.u64(uint64(len(pl.conjs)))
		for _, k := range pl.conjs {
			shared.u64(uint64(k.table))
			shared.u64(uint64(k.id))
			shared.bool(k.v6)
		}
	}
	if e := s.next("acl", shared.Sum64(), 64); e != nil {
		newACLBuilder(x, e).compileShared(pl)
	}
	if pl == nil {
		return
	}
	for _, n := range x.nets {
		if len(pl.own[n]) == 0 {
			continue
		}
		h := x.hasher("acl-net")
		h.u64(x.netHash[n])
		h.u64(rulesHash)
		if e := s.next("acl/"+n.ID, h.Sum64(), 8*len(pl.own[n])); e != nil {
			newACLBuilder(x, e).compileNetwork(pl, n)
		}
	}
	for bucket := range aclMemberBuckets {
		h := x.hasher("acl-members")
		h.u64(uint64(bucket))
		n := 0
		for _, k := range pl.conjs {
			ms := pl.members(k, bucket)
			h.u64(uint64(k.table))
			h.u64(uint64(k.id))
			h.bool(k.v6)
			h.u64(uint64(len(ms)))
			for _, m := range ms {
				h.prefix(m)
			}
			n += len(ms)
		}
		if n == 0 {
			continue
		}
		if e := s.next(fmt.Sprint("aclm/", bucket), h.Sum64(), n); e != nil {
			newACLBuilder(x, e).compileMembers(pl, bucket)
		}
	}
}

// conjClause is a conjunctive flow being built: its match and the
// conjunction actions of every rule sharing that match.
type conjClause struct {
	table TableID
	match []ofp.Field
	acts  []ofp.Action
}

// aclFlood loads the ACL words of the ports a flood delivers to, one after
// the other. reg3 survives each delivery (nothing from IngressACL on writes
// it), so a word is loaded only when it differs from the previous port's:
// a flood to ports of one group loads it once.
type aclFlood struct {
	x      *index
	last   uint32
	loaded bool
}

// deliver appends to acts, the actions delivering the flood to local port
// p, the load of p's ACL word when security groups are in use and the
// word is not already in reg3.
func (f *aclFlood) deliver(acts []ofp.Action, p *portState) []ofp.Action {
	if !f.x.acl.on {
		return acts
	}
	w := f.x.aclWord(p)
	if f.loaded && w == f.last {
		return acts
	}
	f.last, f.loaded = w, true
	return append(acts, f.x.aclLoad(p))
}

// aclBuilder collects the ACL flows of one compilation, so that rules
// producing the same flow (a group's rules for each of its ports) yield it
// once.
type aclBuilder struct {
	x       *index
	e       *emitter
	sgs     map[string]*SecurityGroup
	direct  map[string]bool
	clauses map[string]*conjClause
	order   []string // clause keys in first-seen order
}

type conjKey struct {
	table TableID
	id    uint32
	group string
	v6    bool
}

// aclMemberBuckets is the number of sections the member clauses of remote
// groups are spread over (by address): a port joining a group recompiles
// one bucket, not every member.
const aclMemberBuckets = 16

// aclPlan is how the ACL flows split into sections: the groups whose
// rules are shared (the only group of some enforced port), the enforced
// ports with rules of their own (in several groups, or none) by network,
// and the conjunctions in use.
type aclPlan struct {
	single []*SecurityGroup // by key
	own    map[*netState][]*portState
	conjs  []conjKey // by table and id

	sgs map[string]*SecurityGroup // aclIndex.sgs
	// memberBuckets are the remote groups' members by bucket (members).
	memberBuckets map[string]*[aclMemberBuckets][]netip.Prefix
}

// aclPlan sorts the enforced ports' rules into sections; nil when no
// local port is enforced.
func (x *index) aclPlan() *aclPlan {
	if !x.acl.on {
		return nil
	}
	pl := &aclPlan{own: map[*netState][]*portState{}, sgs: x.acl.sgs}
	single := map[*SecurityGroup]bool{}
	used := map[conjKey]bool{}
	for _, n := range x.nets {
		for _, p := range n.local {
			if !x.enforced(p) {
				continue
			}
			gs := x.acl.groups(p)
			if len(gs) == 1 {
				single[gs[0]] = true
			} else {
				pl.own[n] = append(pl.own[n], p)
			}
			for _, g := range gs {
				for i := range g.Rules {
					if k, ok := x.acl.conjOf(g, &g.Rules[i]); ok {
						used[k] = true
					}
				}
			}
		}
	}
	for g := range single {
		pl.single = append(pl.single, g)
	}
	slices.SortFunc(pl.single, func(a, b *SecurityGroup) int { return cmp.Compare(a.Key, b.Key) })
	for k := range used {
		pl.conjs = append(pl.conjs, k)
	}
	slices.SortFunc(pl.conjs, func(a, b conjKey) int { return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.id, b.id)) })
	return pl
}

// conjOf is the conjunction a remote-group rule of g compiles to, as rule
// compiles it.
func (x *aclIndex) conjOf(g *SecurityGroup, r *SecurityGroupRule) (conjKey, bool) {
	table, v6, _, ok := ruleShape(r)
	if !ok || r.RemoteGroupID == "" {
		return conjKey{}, false
	}
	remote := x.sgs[r.RemoteGroupID]
	if remote == nil {
		return conjKey{}, false
	}
	return conjKey{table, conjID(g.Key, remote.Key, v6), remote.ID, v6}, true
}

// ruleShape is where a rule is enforced (EgressACL or IngressACLEval), its
// family and its protocol matches (ruleL4); ok false when the rule cannot
// be compiled (unknown direction or ethertype, unsupported ports).
func ruleShape(r *SecurityGroupRule) (table TableID, v6 bool, l4 [][]ofp.Field, ok bool) {
	switch r.Direction {
	case Egress:
		table = TableEgressACL
	case Ingress:
		table = TableIngressACLEval
	default:
		return 0, false, nil, false
	}
	switch r.EtherType {
	case "IPv4":
	case "IPv6":
		v6 = true
	default:
		return 0, false, nil, false
	}
	l4, ok = ruleL4(r, v6)
	return table, v6, l4, ok
}

func newACLBuilder(x *index, e *emitter) *aclBuilder {
	return &aclBuilder{x: x, e: e, sgs: x.acl.sgs, direct: map[string]bool{}, clauses: map[string]*conjClause{}}
}

// compileShared compiles the flows common to every enforced port, the
// rules of the groups shared by their ports and the conj_id flows.
func (b *aclBuilder) compileShared(pl *aclPlan) {
	if pl == nil {
		return
	}
	c := b.e
	missFlows(c, FeatureACL) // IngressACLEval's
	b.shared()
	for _, g := range pl.single {
		for i := range g.Rules {
			b.rule(nil, true, g, &g.Rules[i])
		}
	}
	for _, k := range pl.conjs {
		et := ofp.EthType(ofp.EthTypeIPv4)
		if k.v6 {
			et = ofp.EthType(ofp.EthTypeIPv6)
		}
		c.add(k.table, prioACLRule, FeatureACL, []ofp.Field{ofp.ConjID(k.id), et}, ctCommit, accept(k.table))
	}
	b.flushClauses()
}

// compileNetwork compiles the rules of a network's enforced ports that
// are not in exactly one group.
func (b *aclBuilder) compileNetwork(pl *aclPlan, n *netState) {
	for _, p := range pl.own[n] {
		b.port(p)
	}
	b.flushClauses()
}

// memberBucket is the member-clause section an address belongs to.
func memberBucket(pf netip.Prefix) int {
	a := pf.Addr().As16()
	return int(a[15]^a[14]^a[13]^a[12]) % aclMemberBuckets
}

// compileMembers compiles the clauses matching the members, with an
// address in bucket, of the remote groups in use.
func (b *aclBuilder) compileMembers(pl *aclPlan, bucket int) {
	for _, k := range pl.conjs {
		et := ofp.EthType(ofp.EthTypeIPv4)
		if k.v6 {
			et = ofp.EthType(ofp.EthTypeIPv6)
		}
		for _, m := range pl.members(k, bucket) {
			b.clause(k.table, []ofp.Field{et, ctNew, peerField(k.table, m.Masked())}, ofp.Conjunction{ID: k.id, Clause: 2, N: 2})
		}
	}
	b.flushClauses()
}

// members are the addresses of conjunction k's remote group in bucket,
// sorted. Each group's members are split into buckets once per
// compilation.
func (pl *aclPlan) members(k conjKey, bucket int) []netip.Prefix {
	if pl.memberBuckets == nil {
		pl.memberBuckets = map[string]*[aclMemberBuckets][]netip.Prefix{}
	}
	bs := pl.memberBuckets[k.group]
	if bs == nil {
		bs = new([aclMemberBuckets][]netip.Prefix)
		for _, m := range pl.sgs[k.group].Members {
			if m.IsValid() {
				b := memberBucket(m)
				bs[b] = append(bs[b], m)
			}
		}
		for i := range bs {
			slices.SortFunc(bs[i], func(x, y netip.Prefix) int {
				return cmp.Or(x.Addr().Compare(y.Addr()), cmp.Compare(x.Bits(), y.Bits()))
			})
		}
		pl.memberBuckets[k.group] = bs
	}
	var out []netip.Prefix
	for _, m := range bs[bucket] {
		if m.Addr().Is4() != k.v6 {
			out = append(out, m)
		}
	}
	return out
}

var (
	ctNew     = ofp.CTState(ofp.CTNew|ofp.CTTrk, ofp.CTNew|ofp.CTInv|ofp.CTTrk)
	ctEstRel  = ofp.CTState(ofp.CTTrk, ofp.CTNew|ofp.CTInv|ofp.CTTrk)
	ctInvalid = ofp.CTState(ofp.CTInv|ofp.CTTrk, ofp.CTInv|ofp.CTTrk)
	ctTracked = ofp.CTState(ofp.CTTrk, ofp.CTTrk)
	ctUntrack = ofp.CTState(0, ofp.CTTrk)
	ctCommit  = ofp.CT{Commit: true, ZoneReg: ACLZoneField.Reg, Table: -1}
)

// accept is where a packet allowed by a table's ACL goes.
func accept(t TableID) ofp.Action {
	if t == TableEgressACL {
		return NextTable(TableEgressACL)
	}
	return ofp.OutputReg{Reg: OutPortField.Reg}
}

// shared compiles the flows common to every enforced port.
func (b *aclBuilder) shared() {
	c := b.e
	ip4, ip6 := ofp.EthType(ofp.EthTypeIPv4), ofp.EthType(ofp.EthTypeIPv6)
	udp := ofp.IPProto(ofp.ProtoUDP)
	for _, t := range []TableID{TableEgressACL, TableIngressACL} {
		next := NextTable(t)
		dhcp4 := []ofp.Field{ip4, udp, ofp.UDPSrc(68, 0), ofp.UDPDst(67, 0)}
		dhcp6 := []ofp.Field{ip6, udp, ofp.UDPSrc(546, 0), ofp.UDPDst(547, 0)}
		if t == TableIngressACL {
			dhcp4 = []ofp.Field{ip4, udp, ofp.UDPSrc(67, 0), ofp.UDPDst(68, 0)}
			dhcp6 = []ofp.Field{ip6, udp, ofp.UDPSrc(547, 0), ofp.UDPDst(546, 0)}
		}
		c.add(t, prioACLBypass, FeatureACL, dhcp4, next)
		c.add(t, prioACLBypass, FeatureACL, dhcp6, next)
		for _, ty := range icmp6Always {
			c.add(t, prioACLBypass, FeatureACL, []ofp.Field{ip6, ofp.IPProto(ofp.ProtoICMPv6), ofp.ICMPv6Type(ty)}, next)
		}
	}
	// Traffic of enforced ports (their ACL word loaded by Classify or by
	// the delivery to them) goes through conntrack in the zone of their
	// network.
	track := ACLTrackField.Match(1)
	for _, et := range []uint16{ofp.EthTypeIPv4, ofp.EthTypeIPv6} {
		c.add(TableEgressACL, prioACLTrack, FeatureACL,
			[]ofp.Field{track, ofp.EthType(et), ctUntrack},
			ofp.CT{ZoneReg: ACLZoneField.Reg, Table: int(TableEgressACL.Number())})
		c.add(TableIngressACL, prioACLTrack, FeatureACL,
			[]ofp.Field{track, ofp.EthType(et)},
			ofp.CT{ZoneReg: ACLZoneField.Reg, Table: int(TableIngressACLEval.Number())})
	}
	for _, t := range []TableID{TableEgressACL, TableIngressACLEval} {
		c.add(t, prioACLInvalid, FeatureACL, []ofp.Field{ctInvalid})
		c.add(t, prioACLEst, FeatureACL, []ofp.Field{ctEstRel}, accept(t))
	}
	// EgressACL's miss passes untracked traffic; tracked traffic no rule
	// allowed stops here.
	c.add(TableEgressACL, prioACLEgressNo, FeatureACL, []ofp.Field{ctTracked})
}

// port compiles the rules of an enforced port's groups: a port in a
// single group shares the group's flows, matched on ACLGroupField (compiled
// once, for the first such port); a port in several groups (or none) has
// its own, matched on the port.
func (b *aclBuilder) port(p *portState) {
	groups := b.x.acl.groups(p)
	for _, g := range groups {
		for i := range g.Rules {
			b.rule(p, len(groups) == 1, g, &g.Rules[i])
		}
	}
}

// rule compiles one rule for one port, or for every port whose only group
// is g when shared.
func (b *aclBuilder) rule(p *portState, shared bool, g *SecurityGroup, r *SecurityGroupRule) {
	table, v6, l4, ok := ruleShape(r)
	if !ok {
		return // cannot be expressed: fail closed
	}
	var portMatch ofp.Field
	switch {
	case shared:
		portMatch = ACLGroupField.Match(uint32(g.Key))
	case table == TableEgressACL:
		portMatch = InPortKeyField.Match(p.Key)
	default:
		portMatch = OutPortField.Match(p.OFPort)
	}
	et := ofp.EthType(ofp.EthTypeIPv4)
	if v6 {
		et = ofp.EthType(ofp.EthTypeIPv6)
	}
	if r.RemoteGroupID != "" {
		remote := b.sgs[r.RemoteGroupID]
		if remote == nil {
			return // unknown group: no member, nothing allowed
		}
		id := conjID(g.Key, remote.Key, v6) // its conj_id flow and member clauses: aclShared, aclMembers
		for _, m := range l4 {
			b.clause(table, append([]ofp.Field{portMatch, et, ctNew}, m...), ofp.Conjunction{ID: id, Clause: 1, N: 2})
		}
		return
	}
	var peer []ofp.Field
	if pf := r.RemotePrefix; pf.IsValid() {
		if pf.Addr().Is4() == v6 {
			return // the other family: matches nothing
		}
		if pf.Bits() > 0 {
			peer = []ofp.Field{peerField(table, pf.Masked())}
		}
	}
	for _, m := range l4 {
		match := append(append([]ofp.Field{portMatch, et, ctNew}, peer...), m...)
		f := ofp.Flow{Table: table.Number(), Priority: prioACLRule, Match: match}
		if k := f.Key(); !b.direct[k] {
			b.direct[k] = true
			b.e.add(table, prioACLRule, FeatureACL, match, ctCommit, accept(table))
		}
	}
}

// peerField matches the remote address: the source of ingress traffic,
// the destination of egress traffic.
func peerField(t TableID, pf netip.Prefix) ofp.Field {
	if t == TableEgressACL {
		return ofp.IPDst(pf)
	}
	return ofp.IPSrc(pf)
}

// conjID names the conjunction of a group's rules with one remote group
// and family; stable as long as the group keys are.
func conjID(group, remote uint16, v6 bool) uint32 {
	id := uint32(group)<<16 | uint32(remote&0x7fff)<<1
	if v6 {
		id |= 1
	}
	return id
}

// clause adds a conjunction action to the conjunctive flow with match.
func (b *aclBuilder) clause(t TableID, match []ofp.Field, conj ofp.Conjunction) {
	f := ofp.Flow{Table: t.Number(), Priority: prioACLConj, Match: match}
	k := f.Key()
	cl := b.clauses[k]
	if cl == nil {
		cl = &conjClause{table: t, match: match}
		b.clauses[k] = cl
		b.order = append(b.order, k)
	}
	if !slices.Contains(cl.acts, ofp.Action(conj)) {
		cl.acts = append(cl.acts, conj)
	}
}

// flushClauses compiles the conjunctive flows collected, in first-seen
// order.
func (b *aclBuilder) flushClauses() {
	for _, k := range b.order {
		cl := b.clauses[k]
		b.e.add(cl.table, prioACLConj, FeatureACL, cl.match, cl.acts...)
	}
}

// ruleL4 is the protocol part of a rule's matches: one match per port
// range piece; ok false when the rule cannot be compiled.
func ruleL4(r *SecurityGroupRule, v6 bool) (ms [][]ofp.Field, ok bool) {
	proto := r.Protocol
	if proto == ofp.ProtoICMP && v6 {
		proto = ofp.ProtoICMPv6
	}
	if proto == 0 {
		return [][]ofp.Field{nil}, true
	}
	pr := ofp.IPProto(proto)
	switch proto {
	case ofp.ProtoTCP, ofp.ProtoUDP:
		if r.PortMin == 0 && r.PortMax == 0 {
			return [][]ofp.Field{{pr}}, true
		}
		hi := max(r.PortMax, r.PortMin)
		for _, vm := range portMasks(r.PortMin, hi) {
			f := ofp.TCPDst(vm[0], vm[1])
			if proto == ofp.ProtoUDP {
				f = ofp.UDPDst(vm[0], vm[1])
			}
			ms = append(ms, []ofp.Field{pr, f})
		}
		return ms, true
	case ofp.ProtoICMP, ofp.ProtoICMPv6:
		m := []ofp.Field{pr}
		if r.ICMPType != nil {
			tk, ck := ofp.FICMPType, ofp.FICMPCode
			if v6 {
				tk, ck = ofp.FICMPv6Type, ofp.FICMPv6Code
			}
			m = append(m, ofp.Field{Kind: tk, Value: uint64(*r.ICMPType)})
			if r.ICMPCode != nil {
				m = append(m, ofp.Field{Kind: ck, Value: uint64(*r.ICMPCode)})
			}
		}
		return [][]ofp.Field{m}, true
	}
	if r.PortMin != 0 || r.PortMax != 0 {
		return nil, false // ports of SCTP and others: not supported
	}
	return [][]ofp.Field{{pr}}, true
}

// portMasks covers [lo, hi] with value/mask pairs (mask 0: exact).
func portMasks(lo, hi uint16) [][2]uint16 {
	var out [][2]uint16
	l, h := uint32(lo), uint32(hi)
	for l <= h {
		size := uint32(1)
		for l&(size*2-1) == 0 && l+size*2-1 <= h && size < 0x8000 {
			size *= 2
		}
		mask := uint16(0)
		if size > 1 {
			mask = uint16(0x10000 - size)
		}
		out = append(out, [2]uint16{uint16(l), mask})
		l += size
	}
	return out
}
