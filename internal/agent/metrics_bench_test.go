package agent

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// BenchmarkBringupEventMetrics is what the metrics add to one event of
// BenchmarkBringupEventAgent (1,050 ports; run both side by side and
// compare): the sync's observations, steady (the flow count unchanged) and
// recount (counting the installed flows by table again, which the agent
// does only when the number of flows or the generation changed). The
// stats publisher is fed but never writes (its goroutine is not started).
func BenchmarkBringupEventMetrics(b *testing.B) {
	s := bringupState()
	local := pipeline.LocalChassis{Name: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1"), GeneveOFPort: 1}
	r := newReconciler(newFakeSwitch(), nil)
	v, _, _ := s.view(local)
	secs := pipeline.CompileSections(v, pipeline.Config{}, 1, nil)
	_, _, _, commit, _ := r.plan(secs)
	commit()
	r.synced = true
	a := &Agent{state: s, rec: r, cfg: Config{Chassis: "ch1"}}
	a.obs.pending = make(chan model.ChassisStats, 1) // no writer: publish only hands values over
	ctx := context.Background()
	for _, recount := range []bool{false, true} {
		name := "steady"
		if recount {
			name = "recount"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				start := a.obs.compiled(time.Now(), secs)
				if recount {
					a.obs.flowCount = -1 // force the count by table
				}
				a.observeApplied(ctx, start, nil)
			}
			b.ReportMetric(float64(len(r.installed)), "flows")
		})
	}
}
