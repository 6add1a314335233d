package agent

import (
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// In edge mode the chassis tunnels its floating IPs' traffic to the edge
// with the encapsulation the gateways choose for it (gateway.chooseEncap
// from both sides' encapsulations), so it must know what they have.
// Unless the operator says it (Config.EdgeEncaps, --edge-encaps), the
// agent learns it from the gateways' registrations (edge/gateways/NAME,
// leased, readable by an enrolled chassis): the encapsulations every
// registered gateway has, since any of them may hold the anycast
// endpoint. With no gateway registered it keeps what it learned last
// (both, until a first gateway registers), so that the edge's restart
// changes no flow here.

// learnsEdgeEncaps says the agent watches the gateways' registrations.
func (c *Config) learnsEdgeEncaps() bool {
	return c.FIPMode == model.FIPModeEdge && len(c.EdgeEncaps) == 0
}

// handleGateways folds a change of the gateways' registrations in and
// reports whether the learned encapsulations changed.
func (a *Agent) handleGateways(e kvEvent) bool {
	foldRecords(&a.state.edgeGateways, e, store.EdgeGatewayKey(""))
	first := !a.state.gatewaysReady && e.Reset
	a.state.gatewaysReady = a.state.gatewaysReady || e.Reset
	learned := commonEncaps(a.state.edgeGateways)
	if len(a.state.edgeGateways) == 0 || slices.Equal(learned, a.state.edgeEncaps) {
		return first
	}
	if len(learned) == 0 {
		a.log.Warn("the registered edge gateways share no encapsulation: keeping the last one learned",
			"encaps", a.state.edgeEncaps)
		return first
	}
	a.log.Info("edge encapsulations learned from the gateways' registrations", "encaps", learned,
		"gateways", len(a.state.edgeGateways))
	a.state.edgeEncaps = learned
	return true
}

// commonEncaps are the encapsulations every gateway has (a registration
// that lists none has both), in the pipeline's order.
func commonEncaps(gws map[string]*model.EdgeGateway) []pipeline.Encap {
	var out []pipeline.Encap
	for _, e := range []pipeline.Encap{pipeline.EncapGeneve, pipeline.EncapVXLAN} {
		all := true
		for _, g := range gws {
			if len(g.Encaps) > 0 && !slices.Contains(g.Encaps, string(e)) {
				all = false
			}
		}
		if all {
			out = append(out, e)
		}
	}
	return out
}

// edgeEncaps are the encapsulations this chassis tunnels to the edge with:
// the operator's, else those learned (nil: both).
func (a *Agent) edgeEncaps() []pipeline.Encap {
	if len(a.cfg.EdgeEncaps) > 0 {
		return a.cfg.EdgeEncaps
	}
	return a.state.edgeEncaps
}
