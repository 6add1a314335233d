package logical

import (
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

func TestPortQoS(t *testing.T) {
	pid, nid, min, none := "p", "n", "min", "gone"
	pols := map[string]*model.QoSPolicy{
		pid: {Rules: []model.QoSRule{
			{Type: model.RuleBandwidthLimit, MaxKbps: 10000, Direction: model.DirectionEgress},
			{Type: model.RuleBandwidthLimit, MaxKbps: 20000, MaxBurstKbps: 500, Direction: model.DirectionIngress},
			{Type: model.RuleDSCPMarking, DSCPMark: 0},
		}},
		nid: {Rules: []model.QoSRule{{Type: model.RuleDSCPMarking, DSCPMark: 46}}},
		min: {Rules: []model.QoSRule{{Type: model.RuleMinimumBandwidth, MinKbps: 1000, Direction: model.DirectionEgress}}},
	}
	netWith := &model.Network{QoSPolicyID: &nid}
	for _, c := range []struct {
		name string
		port model.Port
		net  *model.Network
		want *pipeline.PortQoS
	}{
		{"port's own, burst 80 % by default", model.Port{QoSPolicyID: &pid}, netWith,
			&pipeline.PortQoS{EgressKbps: 10000, EgressBurstKbits: 8000, IngressKbps: 20000, IngressBurstKbits: 500, MarkDSCP: true, DSCP: 0}},
		{"the network's", model.Port{}, netWith, &pipeline.PortQoS{MarkDSCP: true, DSCP: 46}},
		{"not on the network's own ports", model.Port{DeviceOwner: model.OwnerRouterInterface}, netWith, nil},
		{"none", model.Port{}, &model.Network{}, nil},
		{"unknown policy", model.Port{QoSPolicyID: &none}, netWith, nil},
		{"nothing the data plane enforces", model.Port{QoSPolicyID: &min}, nil, nil},
	} {
		got := PortQoS(&c.port, c.net, pols)
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
