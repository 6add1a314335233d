package trace

import (
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// TestQoSSteps: the trace explains a source port's egress meter and DSCP
// mark, and the destination's ingress meter from its network's policy.
func TestQoSSteps(t *testing.T) {
	tp := topo()
	gold, silver := "gold", "silver"
	tp.QoSPolicies = []model.QoSPolicy{
		{Standard: model.Standard{ID: gold}, Rules: []model.QoSRule{
			{ID: "r1", Type: model.RuleBandwidthLimit, MaxKbps: 10000, Direction: model.DirectionEgress},
			{ID: "r2", Type: model.RuleDSCPMarking, DSCPMark: 46},
		}},
		{Standard: model.Standard{ID: silver}, Rules: []model.QoSRule{
			{ID: "r3", Type: model.RuleBandwidthLimit, MaxKbps: 5000, MaxBurstKbps: 1000, Direction: model.DirectionIngress},
		}},
	}
	for i := range tp.Ports {
		if tp.Ports[i].ID == "a" {
			tp.Ports[i].QoSPolicyID = &gold
		}
	}
	for i := range tp.Networks {
		if tp.Networks[i].ID == "n1" {
			tp.Networks[i].QoSPolicyID = &silver
		}
	}
	r := mustTrace(t, tp, "a", "tcp, dst 10.1.0.11:22")
	var got []string
	for _, s := range r.Steps {
		if s.Stage == StageQoS {
			got = append(got, s.Chassis+": "+s.Detail)
		}
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{"egress meter: 10000 kbit/s, burst 8000 kbit", "DSCP set to 46 (ToS 0xb8)",
		"silver (the network's)", "ingress meter: 5000 kbit/s, burst 1000 kbit"} {
		if !strings.Contains(text, want) {
			t.Errorf("QoS steps lack %q:\n%s", want, text)
		}
	}
	if len(got) != 2 || r.Verdict != Delivered {
		t.Errorf("verdict %s, QoS steps:\n%s", r.Verdict, text)
	}
}
