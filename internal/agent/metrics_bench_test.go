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
// compare): the sync's observations when no section changed, and when one
// did (its flows are counted by table again). The stats publisher is fed
// but never writes (its goroutine is not started).
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
	a.sections = secs
	for _, changed := range []bool{false, true} {
		name := "steady"
		if changed {
			name = "one-section-changed"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				start := a.obs.compiled(time.Now(), secs)
				if changed {
					delete(a.obs.sections, secs[len(secs)/2].ID) // counted again
				}
				a.observeApplied(ctx, start, nil)
			}
			b.ReportMetric(float64(len(r.installed)), "flows")
			b.ReportMetric(float64(len(secs)), "sections")
		})
	}
}
