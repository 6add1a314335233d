package pipeline

import (
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// outputUnit compiles the "output" section: Output's one delivering flow,
// when any flow delivers (index.outputs).
type outputUnit struct{}

func (outputUnit) sections(x *index, s *sectionList) {
	on := x.outputs()
	h := x.hasher("output")
	h.bool(on)
	if e := s.next("output", h.Sum64(), 1); e != nil && on {
		output(e)
	}
}

// outputs reports whether any flow delivers to a port: a network has local
// ports, or a local active gateway routes into a tunnel.
func (x *index) outputs() bool {
	if len(x.nets) > 0 {
		return true
	}
	for _, r := range x.routers {
		if r.gwLocal && slices.ContainsFunc(r.ports, func(p routerPort) bool { return p.net.tunPort != 0 }) {
			return true
		}
	}
	return false
}

// output delivers to the OpenFlow port in reg7 with one flow. OpenFlow
// drops an output to the packet's own in_port, so a flood never returns
// to its sender.
func output(e *emitter) {
	e.add(TableOutput, prioOutput, FeatureOutput, nil, ofp.OutputReg{Reg: OutPortField.Reg})
}
