package pipeline

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Section is one independently compiled part of a chassis' flows: the
// flows of one network with local ports ("net/<network id>"), or of a
// feature spanning networks ("base", "l3", "acl", "output"). Hash is a
// fingerprint of everything the section was compiled from (the part of
// the view it reads, the config and the generation): two sections with
// the same ID and Hash hold the same flows.
//
// Sections make compilation incremental: CompileSections reuses a previous
// section whose inputs did not change instead of compiling it again, and
// the agent's reconciler compares only the sections that changed with
// what is installed. A port event thus costs its own network's section
// and the sections spanning networks, not the whole chassis.
type Section struct {
	ID    string
	Hash  uint64
	Flows []ofp.Flow
	// Reused says the flows were taken from the previous compilation.
	Reused bool
}

// Flatten concatenates the sections' flows, in order.
func Flatten(secs []Section) []ofp.Flow {
	n := 0
	for _, s := range secs {
		n += len(s.Flows)
	}
	out := make([]ofp.Flow, 0, n)
	for _, s := range secs {
		out = append(out, s.Flows...)
	}
	return out
}

// CompileSections compiles a view into sections; flattened, they are
// exactly Compile's flows, in Compile's order. A section of prev (the
// previous result for this chassis; nil: none) with the same ID and input
// hash is reused as it is. CompileSections is pure, and prev is only
// read: its flows may be shared by the result.
func CompileSections(v *View, cfg Config, generation uint32, prev []Section) []Section {
	c := newCompiler(v, cfg, generation)
	c.index()
	c.routers = c.indexRouters()
	c.classified = map[*netState]bool{}
	c.responded = make(map[uint32]map[netip.Addr]bool, len(c.nets))
	for _, n := range c.nets {
		seen := make(map[netip.Addr]bool, len(n.all))
		for _, p := range n.all {
			for _, a := range p.IPs {
				if a.Is4() {
					seen[a] = true
				}
			}
		}
		c.responded[n.Key] = seen
		c.neighbours = c.neighbours || len(seen) > 0
	}
	c.neighbours = c.neighbours || len(c.routers) > 0

	old := make(map[string]*Section, len(prev))
	for i := range prev {
		old[prev[i].ID] = &prev[i]
	}
	secs := make([]Section, 0, len(c.nets)+4)
	section := func(id string, hash uint64, sizeHint int, build func()) {
		if p := old[id]; p != nil && p.Hash == hash {
			secs = append(secs, Section{ID: id, Hash: hash, Flows: p.Flows, Reused: true})
			return
		}
		c.flows = make([]ofp.Flow, 0, sizeHint)
		build()
		secs = append(secs, Section{ID: id, Hash: hash, Flows: compact(c.flows)})
		c.flows = nil
	}

	base := c.hasher("base")
	var secured, unsecured bool
	for _, n := range c.nets {
		for _, p := range n.local {
			secured = secured || p.PortSecurity
			unsecured = unsecured || !p.PortSecurity
		}
	}
	base.bool(secured)
	base.bool(unsecured)
	base.bool(c.neighbours)
	section("base", base.Sum64(), 32, func() {
		c.defaults()
		c.portSecurityShared()
		c.neighbourShared()
	})

	c.aclWordHash = c.hashACLWordInputs()
	netHash := make(map[*netState]uint64, len(c.netsByID))
	for _, n := range c.netsByID {
		netHash[n] = c.netHash(n)
	}
	for _, n := range c.nets {
		section("net/"+n.ID, netHash[n], 4+len(n.local)*16+len(n.all)*2, func() { c.network(n) })
	}

	// The sections spanning networks depend on every network's hash.
	all := make([]*netState, 0, len(c.netsByID))
	for _, n := range c.netsByID {
		all = append(all, n)
	}
	slices.SortFunc(all, func(a, b *netState) int { return cmp.Compare(a.Key, b.Key) })
	c.netHashes = netHash

	l3 := c.hasher("l3")
	l3.u64(uint64(len(c.routers))) // none: the section is empty
	if len(c.routers) > 0 {
		c.l3Inputs(l3, all)
	}
	section("l3", l3.Sum64(), 64, c.l3)

	c.aclSections(section, netHash)

	out := c.hasher("output")
	out.bool(c.outputs())
	section("output", out.Sum64(), 1, c.output)
	return secs
}

// compact copies flows into arrays of their exact size: a section may be
// kept for a long time, and must not pin the compiler's arenas (or the
// spare capacity of its flow slice) shared with sections since replaced.
func compact(flows []ofp.Flow) []ofp.Flow {
	nf, na := 0, 0
	for _, f := range flows {
		nf += len(f.Match)
		na += len(f.Actions)
	}
	out := make([]ofp.Flow, len(flows))
	fields := make([]ofp.Field, 0, nf)
	acts := make([]ofp.Action, 0, na)
	for i, f := range flows {
		out[i] = f
		if f.Match != nil {
			j := len(fields)
			fields = append(fields, f.Match...)
			out[i].Match = fields[j:len(fields):len(fields)]
		}
		if f.Actions != nil {
			j := len(acts)
			acts = append(acts, f.Actions...)
			out[i].Actions = acts[j:len(acts):len(acts)]
		}
	}
	return out
}

// l3Inputs hashes what the L3 section reads: routers, external networks,
// floating IPs, the chassis, its peers and every network of the view.
func (c *compiler) l3Inputs(h *hasher, all []*netState) {
	v := c.v
	h.json(v.Routers)
	h.json(v.External)
	h.json(v.FloatingIPs)
	h.str(v.Local.Name)
	h.u64(uint64(v.Local.GeneveOFPort))
	h.u64(uint64(v.Local.VXLANOFPort))
	remotes := make([]*RemoteChassis, 0, len(c.remotes))
	for _, r := range c.remotes {
		remotes = append(remotes, r)
	}
	slices.SortFunc(remotes, func(a, b *RemoteChassis) int { return cmp.Compare(a.Name, b.Name) })
	for _, r := range remotes {
		h.remote(r)
	}
	h.u64(uint64(len(all)))
	for _, n := range all {
		h.u64(c.netHashes[n]) // and through them the ACL word inputs
	}
}

// hashACLWordInputs hashes what the ACL word of a port depends on besides
// the port and its network: whether security groups are enforced, and the
// usable groups' keys.
func (c *compiler) hashACLWordInputs() uint64 {
	x := c.aclIndex()
	h := c.hasher("acl-word")
	h.bool(x.on)
	ids := make([]string, 0, len(x.sgs))
	for id := range x.sgs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		h.str(id)
		h.u64(uint64(x.sgs[id].Key))
	}
	return h.Sum64()
}

// aclSections adds the security group sections: "acl" (shared flows, the
// rules of groups shared by their ports, conj_id flows), "acl/<network>"
// (rules of the network's enforced ports in several groups) and
// "aclm/<n>" (member clauses of remote groups, spread over buckets by
// address).
func (c *compiler) aclSections(section func(string, uint64, int, func()), netHash map[*netState]uint64) {
	pl := c.aclPlan()
	shared := c.hasher("acl")
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
		groups := make([]groupRules, len(c.v.SecurityGroups))
		for i, g := range c.v.SecurityGroups {
			groups[i] = groupRules{g.ID, g.Key, g.Rules}
		}
		rules := c.hasher("acl-rules")
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
	section("acl", shared.Sum64(), 64, func() { c.aclShared(pl) })
	if pl == nil {
		return
	}
	for _, n := range c.nets {
		if len(pl.own[n]) == 0 {
			continue
		}
		h := c.hasher("acl-net")
		h.u64(netHash[n])
		h.u64(rulesHash)
		section("acl/"+n.ID, h.Sum64(), 8*len(pl.own[n]), func() { c.aclNetwork(pl, n) })
	}
	for bucket := range aclMemberBuckets {
		h := c.hasher("acl-members")
		h.u64(uint64(bucket))
		n := 0
		for _, k := range pl.conjs {
			ms := c.members(k, bucket)
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
		section(fmt.Sprint("aclm/", bucket), h.Sum64(), n, func() { c.aclMembers(pl, bucket) })
	}
}

// hashSeed seeds every section hash of the process: hashes are compared
// between compilations of one agent, never stored.
var hashSeed = maphash.MakeSeed()

// hasher fingerprints a section's inputs.
type hasher struct {
	maphash.Hash
	buf [16]byte
}

// hasher starts a section hash with what every section depends on.
func (c *compiler) hasher(kind string) *hasher {
	h := &hasher{}
	h.SetSeed(hashSeed)
	h.str(kind)
	h.u64(uint64(c.gen))
	h.u64(uint64(c.cfg.ControllerID))
	h.bool(c.cfg.NDResponder)
	return h
}

func (h *hasher) u64(x uint64) {
	binary.LittleEndian.PutUint64(h.buf[:8], x)
	_, _ = h.Write(h.buf[:8])
}

func (h *hasher) bool(b bool) {
	if b {
		_ = h.WriteByte(1)
	} else {
		_ = h.WriteByte(0)
	}
}

// str writes s with its length, so that consecutive strings never run
// into each other.
func (h *hasher) str(s string) {
	h.u64(uint64(len(s)))
	_, _ = h.WriteString(s)
}

func (h *hasher) bytes(b []byte) {
	h.u64(uint64(len(b)))
	_, _ = h.Write(b)
}

func (h *hasher) addr(a netip.Addr) {
	h.u64(uint64(a.BitLen()))
	h.buf = a.As16()
	_, _ = h.Write(h.buf[:])
}

func (h *hasher) prefix(p netip.Prefix) {
	h.addr(p.Addr())
	h.u64(uint64(p.Bits() + 1))
}

// json hashes a value of the view that few flows depend on (routers,
// floating IPs, security groups) through its JSON form: complete without a
// hand-written hash per type.
func (h *hasher) json(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("pipeline: hash view: " + err.Error()) // plain data always encodes
	}
	h.bytes(b)
}

func (h *hasher) remote(r *RemoteChassis) {
	if r == nil {
		h.u64(0)
		return
	}
	h.str(r.Name)
	h.addr(r.TunnelIP)
	h.u64(uint64(len(r.Encaps)))
	for _, e := range r.Encaps {
		h.str(string(e))
	}
}

// netHash fingerprints everything a network's section reads: the network,
// its tunnel port and DHCP subnets, and every port on it with what index
// derived from it (local, remote chassis).
func (c *compiler) netHash(n *netState) uint64 {
	h := c.hasher("net")
	h.str(n.ID)
	h.u64(uint64(n.Key))
	h.u64(uint64(n.SegmentationID))
	h.str(n.Type)
	h.u64(uint64(n.MTU))
	h.u64(uint64(n.CTZone))
	h.u64(uint64(n.tunPort))
	h.u64(uint64(len(n.dhcp4)))
	for _, s := range n.dhcp4 {
		h.prefix(s)
	}
	h.u64(c.aclWordHash) // the ACL words loaded for its local ports
	h.u64(uint64(len(n.all)))
	for _, p := range n.all {
		h.port(p)
	}
	return h.Sum64()
}

// port hashes every field of a port (View's Port and what index derived).
func (h *hasher) port(p *portState) {
	h.str(p.ID)
	h.str(p.NetworkID)
	h.u64(uint64(p.Key))
	h.bytes(p.MAC)
	h.u64(uint64(len(p.IPs)))
	for _, a := range p.IPs {
		h.addr(a)
	}
	h.u64(uint64(len(p.AllowedAddressPairs)))
	for _, ap := range p.AllowedAddressPairs {
		h.prefix(ap.Prefix)
		h.bytes(ap.MAC)
	}
	h.bool(p.PortSecurity)
	h.u64(uint64(len(p.SecurityGroups)))
	for _, g := range p.SecurityGroups {
		h.str(g)
	}
	h.str(p.Chassis)
	h.u64(uint64(p.OFPort))
	h.bool(p.local)
	h.remote(p.remote)
}
