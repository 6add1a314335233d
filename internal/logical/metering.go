package logical

import (
	"net/netip"
	"slices"
	"sort"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// addMetering adds the metering labels that apply to the view's routers,
// as Neutron's metering agent applies them: a label to every router of
// its project, a shared label to every router. Labels and rules without
// a datapath key (pipeline.MeteringLabel) are left out.
func (in *Inputs) addMetering(v *pipeline.View) {
	if len(in.MeteringLabels) == 0 || len(v.Routers) == 0 {
		return
	}
	rules := map[string][]pipeline.MeteringRule{}
	for _, r := range sortedValues(in.MeteringRules) {
		remote, ok1 := meterPrefix(r.RemoteIPPrefix)
		src, ok2 := meterPrefix(r.SourceIPPrefix)
		dst, ok3 := meterPrefix(r.DestinationIPPrefix)
		if !ok1 || !ok2 || !ok3 || r.Key <= 0 || r.Key > model.MeteringKeyMax {
			continue
		}
		rules[r.MeteringLabelID] = append(rules[r.MeteringLabelID], pipeline.MeteringRule{
			ID: r.ID, Key: uint16(r.Key), Direction: pipeline.Direction(r.Direction), Prefix: remote,
			Source: src, Destination: dst, Excluded: r.Excluded})
	}
	for _, l := range sortedValues(in.MeteringLabels) {
		if l.Key <= 0 || l.Key > model.MeteringKeyMax || len(rules[l.ID]) == 0 {
			continue
		}
		var routers []string
		for _, r := range v.Routers {
			if rec := in.Routers[r.ID]; rec != nil && (l.Shared || rec.ProjectID == l.ProjectID) {
				routers = append(routers, r.ID)
			}
		}
		if len(routers) == 0 {
			continue
		}
		sort.Strings(routers)
		v.Metering = append(v.Metering, pipeline.MeteringLabel{ID: l.ID, Key: uint16(l.Key),
			Routers: slices.Compact(routers), Rules: rules[l.ID]})
	}
}

// meterPrefix parses a rule's prefix: a CIDR or an address (a host
// prefix), "" for any (the zero Prefix); false when invalid.
func meterPrefix(s string) (netip.Prefix, bool) {
	if s == "" {
		return netip.Prefix{}, true
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}
