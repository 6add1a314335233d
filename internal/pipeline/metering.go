package pipeline

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// MeteringLabel is a metering label (Neutron's extension "metering") with
// the routers it applies to here: those of its project, or every router
// for a shared label. Its rules count the IPv4 traffic crossing those
// routers' external gateways on this chassis (IPv6 too, routed without
// NAT on the router's active gateway: ipv6gw.go): what enters a router from
// its external network (Ingress, counted where it is let in: L3DNAT) and
// what leaves it there (Egress, counted in L3Out). A distributed router's
// traffic crosses its gateway on the chassis that NATs it (a floating
// IP's port's chassis, the active gateway for SNAT), so every packet is
// counted once in the cloud and a rule's total is the sum over chassis.
// Traffic of edge floating IPs leaves by the edge and is not counted.
type MeteringLabel struct {
	ID string
	// Key names the label in MeterLabelField: 1..0xffff, unique.
	Key uint16
	// Routers are the ids of the routers it applies to.
	Routers []string
	Rules   []MeteringRule
}

// MeteringRule is a rule of a metering label.
type MeteringRule struct {
	ID string
	// Key is in the cookie of the rule's counting flow
	// (CookieMeterRule): 1..0xffff, unique.
	Key       uint16
	Direction Direction
	// Prefix is the address of the external side: the source of ingress
	// traffic, the destination of egress traffic (Neutron's
	// remote_ip_prefix); invalid: any.
	Prefix netip.Prefix
	// Source and Destination are the packet's addresses as the router
	// sees them (an internal address before SNAT going out, after DNAT
	// coming in); invalid: any. Not with Prefix.
	Source, Destination netip.Prefix
	// Excluded: what the prefix matches is not counted by the label.
	Excluded bool
}

// CookieMeterRuleMask selects a metering rule's key in a cookie.
const CookieMeterRuleMask uint64 = 0xffff << 32

// CookieMeterRule is the key of the metering rule whose counting flow has
// cookie c; 0 for any other flow.
func CookieMeterRule(c uint64) uint16 {
	if !IsOwnCookie(c) || CookieFeature(c) != FeatureMetering {
		return 0
	}
	return uint16(c & CookieMeterRuleMask >> 32)
}

// Priorities of MeterCount: an excluded rule above every counted one, a
// longer prefix above a shorter one.
const (
	prioMeterCount    = 100
	prioMeterExcluded = 400
)

// meterEgressBit is MeterLabelField's direction bit for egress.
const meterEgressBit = 1 << 16

// meteredLabels maps the key of every router of index.routers with a
// gateway to the metering labels applying to it, in key order; the
// labels with a zero or duplicate key are left out, first in key order
// wins.
func (x *index) meteredLabels() map[uint32][]*MeteringLabel {
	if len(x.v.Metering) == 0 {
		return nil
	}
	labels := make([]*MeteringLabel, 0, len(x.v.Metering))
	for i := range x.v.Metering {
		labels = append(labels, &x.v.Metering[i])
	}
	slices.SortFunc(labels, func(a, b *MeteringLabel) int { return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.ID, b.ID)) })
	byRouter := map[string]*routerState{}
	for _, r := range x.routers {
		if r.ext != nil || r.ext6 != nil {
			byRouter[r.ID] = r
		}
	}
	out := map[uint32][]*MeteringLabel{}
	seen := map[uint16]bool{}
	for _, l := range labels {
		if l.Key == 0 || seen[l.Key] {
			continue
		}
		seen[l.Key] = true
		for _, id := range l.Routers {
			if r := byRouter[id]; r != nil && !slices.Contains(out[r.Key], l) {
				out[r.Key] = append(out[r.Key], l)
			}
		}
	}
	return out
}

// meterHook is the action counting a router's packet in table (MeterIn or
// MeterOut) before the L3 flow that lets it in or out goes on; none when
// no label applies to the router.
func (x *index) meterHook(r *routerState, table TableID) []ofp.Action {
	if len(x.meters[r.Key]) == 0 {
		return nil
	}
	return []ofp.Action{ofp.Resubmit{Table: table.Number()}}
}

// meterDNAT is the action of a new connection to a floating IP: its
// metering (hook, none when not metered) sees the destination DNAT gives
// it, as Neutron's metering counts after DNAT, then the packet goes on
// unchanged to commit (the DNAT itself).
func (c *l3Builder) meterDNAT(hook []ofp.Action, f fipState, commit ofp.Action) []ofp.Action {
	if len(hook) == 0 {
		return []ofp.Action{commit}
	}
	return append([]ofp.Action{ofp.SetField{Field: ofp.IPDst(netip.PrefixFrom(f.fixed, 32))}}, append(hook,
		ofp.SetField{Field: ofp.IPDst(netip.PrefixFrom(f.fip, 32))}, commit)...)
}

// hashMetered adds to an L3 fingerprint which routers have a meterHook.
func (x *index) hashMetered(h *hasher) {
	for _, r := range x.routers {
		h.bool(len(x.meters[r.Key]) > 0)
	}
}

// meteringUnit compiles the "metering" section: the fan-out of each
// metered router to its labels (MeterIn, MeterOut) and the counting flow
// of every rule of those labels (MeterCount).
//
// Egress is looked up where the router's traffic leaves it here, before
// SNAT (L3SNAT), but counted only for what this chassis NATs: everything
// on the router's active gateway, else the traffic of its local floating
// IPs' fixed addresses; the rest is tunnelled to the gateway, which counts
// it. Ingress is counted as L3DNAT lets it in, with its destination after
// DNAT.
type meteringUnit struct{}

func (meteringUnit) sections(x *index, s *sectionList) {
	h := x.hasher("metering")
	var routers []*routerState
	for _, r := range x.routers {
		if len(x.meters[r.Key]) > 0 {
			routers = append(routers, r)
		}
	}
	h.u64(uint64(len(routers)))
	for _, r := range routers {
		h.u64(uint64(r.Key))
		h.bool(r.gwLocal)
		h.bool(r.gw6Local)
		for _, f := range r.fips {
			h.addr(f.fixed)
		}
		for _, l := range x.meters[r.Key] {
			h.str(l.ID)
			h.u64(uint64(l.Key))
			h.json(l.Rules)
		}
	}
	e := s.next("metering", h.Sum64(), 4*len(routers))
	if e == nil || len(routers) == 0 {
		return
	}
	missFlows(e, FeatureMetering)
	counted := map[*MeteringLabel]bool{}
	for _, r := range routers {
		labels := x.meters[r.Key]
		in := make([]ofp.Action, 0, 2*len(labels))
		out := make([]ofp.Action, 0, 2*len(labels))
		count := ofp.Resubmit{Table: TableMeterCount.Number()}
		for _, l := range labels {
			in = append(in, MeterLabelField.Load(uint32(l.Key)), count)
			out = append(out, MeterLabelField.Load(meterEgressBit|uint32(l.Key)), count)
		}
		rk := RouterKeyMatch(r.Key)
		e.add(TableMeterIn, prioMeterCount, FeatureMetering, []ofp.Field{rk}, in...)
		if r.gwLocal {
			e.add(TableMeterOut, prioMeterCount, FeatureMetering, []ofp.Field{rk}, out...)
		} else if r.gw6Local {
			// IPv6 only: the router's IPv4 is SNATed elsewhere, or not.
			e.add(TableMeterOut, prioMeterCount, FeatureMetering, []ofp.Field{rk, ofp.EthType(ofp.EthTypeIPv6)}, out...)
		}
		if !r.gwLocal {
			for _, f := range r.fips {
				e.add(TableMeterOut, prioMeterCount, FeatureMetering, []ofp.Field{
					rk, ofp.EthType(ofp.EthTypeIPv4), ofp.IPSrc(netip.PrefixFrom(f.fixed, 32))}, out...)
			}
		}
		for _, l := range labels {
			if !counted[l] {
				counted[l] = true
				meterRules(e, l)
			}
		}
	}
}

// meterRules compiles a label's counting flows, one per rule (the first
// of duplicates wins), each with the rule's key in its cookie.
func meterRules(e *emitter, l *MeteringLabel) {
	rules := slices.Clone(l.Rules)
	slices.SortFunc(rules, func(a, b MeteringRule) int { return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.ID, b.ID)) })
	type match struct {
		dir      Direction
		excluded bool
		src, dst netip.Prefix
	}
	seen := map[match]bool{}
	for _, r := range rules {
		src, dst := r.Source.Masked(), r.Destination.Masked()
		if p := r.Prefix.Masked(); p.IsValid() {
			if r.Source.IsValid() || r.Destination.IsValid() {
				continue // not both kinds
			}
			if r.Direction == Ingress {
				src = p
			} else {
				dst = p
			}
		}
		m := match{r.Direction, r.Excluded, src, dst}
		if r.Key == 0 || seen[m] || r.Direction != Ingress && r.Direction != Egress ||
			src.IsValid() && dst.IsValid() && src.Addr().Is4() != dst.Addr().Is4() {
			continue
		}
		seen[m] = true
		label := uint32(l.Key)
		if r.Direction == Egress {
			label |= meterEgressBit
		}
		// One flow a rule (its cookie is the rule's counter): a prefix
		// sets the family, a rule without one counts IPv4 and IPv6 (only
		// IP reaches MeterCount).
		match := []ofp.Field{MeterLabelField.Match(label)}
		switch {
		case src.IsValid() && src.Addr().Is4() || dst.IsValid() && dst.Addr().Is4():
			match = append(match, ofp.EthType(ofp.EthTypeIPv4))
		case src.IsValid() || dst.IsValid():
			match = append(match, ofp.EthType(ofp.EthTypeIPv6))
		}
		bits := 0
		if src.IsValid() && src.Bits() > 0 {
			match = append(match, ofp.IPSrc(src))
			bits += src.Bits()
		}
		if dst.IsValid() && dst.Bits() > 0 {
			match = append(match, ofp.IPDst(dst))
			bits += dst.Bits()
		}
		prio := uint16(prioMeterCount + bits)
		if r.Excluded {
			prio = uint16(prioMeterExcluded + bits)
		}
		e.add(TableMeterCount, prio, FeatureMetering, match)
		e.flows[len(e.flows)-1].Cookie |= uint64(r.Key) << 32
	}
}
