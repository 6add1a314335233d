package pipeline

import (
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"net/netip"

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

// A unit is one part of the compiler: base, l2 (a section per network
// with local ports), l3, edge, acl and output, in that order (units). It owns
// its sections: for each, the fingerprint of what its flows read — the
// view through the index, the config and the generation (index.hasher) —
// computed next to the code that reads those inputs, and the code that
// compiles its flows. Units hand nothing to each other but through the
// index, built once before any of them.
type unit interface {
	sections(x *index, s *sectionList)
}

// units are the compiler's units, in section order. The order would
// matter to the reconciler only if two sections compiled the same flow key
// (the later wins); TestFlowInvariants checks that no two flows share one.
var units = [...]unit{baseUnit{}, l2Unit{}, l3Unit{}, edgeUnit{}, aclUnit{}, outputUnit{}, metadataUnit{}, meteringUnit{}, qosUnit{}, provRouteUnit{}}

// sectionList collects a compilation's sections, in order.
type sectionList struct {
	old  map[string]*Section // the previous compilation's, by ID
	secs []Section
	e    emitter
	open bool // the last of secs is being compiled into e
}

// next starts a section with its ID, the fingerprint of its inputs and a
// guess of its number of flows. When the previous compilation has a
// section with that ID and fingerprint, it is reused and next returns nil;
// otherwise the caller compiles the section's flows into the emitter
// returned, until the next call of next or the end of the compilation.
func (l *sectionList) next(id string, hash uint64, sizeHint int) *emitter {
	l.close()
	if p := l.old[id]; p != nil && p.Hash == hash {
		l.secs = append(l.secs, Section{ID: id, Hash: hash, Flows: p.Flows, Reused: true})
		return nil
	}
	l.secs = append(l.secs, Section{ID: id, Hash: hash})
	l.e.flows = make([]ofp.Flow, 0, sizeHint)
	l.open = true
	return &l.e
}

// close ends the section being compiled, if any.
func (l *sectionList) close() {
	if l.open {
		l.secs[len(l.secs)-1].Flows = compact(l.e.flows)
		l.e.flows = nil
		l.open = false
	}
}

// CompileSections compiles a view into sections; flattened, they are
// exactly Compile's flows, in Compile's order. A section of prev (the
// previous result for this chassis; nil: none) with the same ID and input
// hash is reused as it is. CompileSections is pure, and prev is only
// read: its flows may be shared by the result.
func CompileSections(v *View, cfg Config, generation uint32, prev []Section) []Section {
	x := newIndex(v, cfg, generation)
	l := &sectionList{
		old:  make(map[string]*Section, len(prev)),
		secs: make([]Section, 0, len(x.nets)+4),
		e:    emitter{gen: generation},
	}
	for i := range prev {
		l.old[prev[i].ID] = &prev[i]
	}
	for _, u := range units {
		u.sections(x, l)
	}
	l.close()
	return l.secs
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

// hashSeed seeds every section hash of the process: hashes are compared
// between compilations of one agent, never stored.
var hashSeed = maphash.MakeSeed()

// hasher fingerprints a section's inputs.
type hasher struct {
	maphash.Hash
	buf [16]byte
}

// hasher starts a section hash with what every section depends on: the
// generation (in every cookie) and the config.
func (x *index) hasher(kind string) *hasher {
	h := &hasher{}
	h.SetSeed(hashSeed)
	h.str(kind)
	h.u64(uint64(x.gen))
	h.u64(uint64(x.cfg.ControllerID))
	h.bool(x.cfg.NDResponder)
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
	h.u64(uint64(len(r.ProviderMACs)))
	for _, m := range r.ProviderMACs {
		h.u64(uint64(m.OFPort))
		h.bytes(m.MAC)
	}
}
