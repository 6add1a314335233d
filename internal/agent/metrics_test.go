package agent

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// TestAgentMetrics: after a scripted workload on a real etcd and the fake
// switch, the agent's metrics say what happened: bundles applied and
// refused as the switch saw them, flows by table adding up to the bridge's,
// ports bound, sections recompiled and reused, DHCP replied and
// unanswered, and the watch-to-flows lag observed.
func TestAgentMetrics(t *testing.T) {
	applied := metrics.AgentBundles.WithLabelValues("applied")
	refused := metrics.AgentBundles.WithLabelValues("refused")
	syncErr := metrics.AgentSyncs.WithLabelValues("error")
	reused := metrics.AgentSections.WithLabelValues("reused")
	recompiled := metrics.AgentSections.WithLabelValues("recompiled")
	replied := metrics.AgentDHCP.WithLabelValues("replied")
	unanswered := metrics.AgentDHCP.WithLabelValues("unanswered")
	applied0, refused0, syncErr0 := testutil.ToFloat64(applied), testutil.ToFloat64(refused), testutil.ToFloat64(syncErr)
	replied0, unanswered0 := testutil.ToFloat64(replied), testutil.ToFloat64(unanswered)
	retries0 := testutil.ToFloat64(metrics.AgentSyncRetries)
	lag0 := metrics.SampleCount(metrics.AgentWatchLag)
	compile0 := metrics.SampleCount(metrics.AgentSyncDuration)

	st := startStore(t)
	seed(t, st, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01", "pa2": "fa:16:3e:00:00:02"})
	seed(t, st, "net-b", 101, map[string]string{"pb1": "fa:16:3e:00:00:03"})
	sw := newFakeSwitch()
	runAgent(t, st, sw, "ch1")
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	waitFor(t, "binding", func() bool { s, _ := portStatus(t, st, "net-a", "pa1"); return s == model.StatusActive })
	waitFor(t, "one port bound", func() bool { return testutil.ToFloat64(metrics.AgentPortsBound) == 1 })

	// Two refused bundles, then the retry installs the second port.
	sw.mu.Lock()
	sw.failBundles = 2
	sw.mu.Unlock()
	sw.plug("tap2", "pa2", "fa:16:3e:00:00:02", 6)
	waitFor(t, "the second port installed by a retry", func() bool {
		return strings.Contains(sw.text(), "in_port=6") && testutil.ToFloat64(metrics.AgentPortsBound) == 2
	})

	flowsOnBridge := func() (int, int) {
		sw.mu.Lock()
		defer sw.mu.Unlock()
		return len(sw.flows), sw.bundles
	}
	waitFor(t, "flows by table adding up to the bridge's", func() bool {
		n, _ := flowsOnBridge()
		return metrics.Value(metrics.AgentFlows) == float64(n)
	})
	// The chassis' stats for the console follow: flows and ports bound.
	waitFor(t, "the chassis stats published", func() bool {
		raw, err := st.GetString(context.Background(), store.StatsKey("ch1"))
		var cs model.ChassisStats
		if err != nil || json.Unmarshal([]byte(raw), &cs) != nil {
			return false
		}
		n, _ := flowsOnBridge()
		return cs.Flows == n && cs.Ports == 2
	})
	_, bundles := flowsOnBridge()
	if d := testutil.ToFloat64(applied) - applied0; d != float64(bundles) {
		t.Errorf("bundles applied: %v, the switch took %d", d, bundles)
	}
	if d := testutil.ToFloat64(refused) - refused0; d != 2 {
		t.Errorf("bundles refused: %v, want 2", d)
	}
	if d := testutil.ToFloat64(syncErr) - syncErr0; d != 2 {
		t.Errorf("failed syncs: %v, want 2", d)
	}
	if d := testutil.ToFloat64(metrics.AgentSyncRetries) - retries0; d < 1 {
		t.Errorf("sync retries: %v, want ≥ 1", d)
	}
	// A port on a second network: the first network's sections are
	// reused, the new one's compiled. (The earlier syncs may each rebuild
	// everything: after a refused bundle the reconciler installs under a
	// new generation, and every section is compiled afresh.)
	reused1, recompiled1 := testutil.ToFloat64(reused), testutil.ToFloat64(recompiled)
	sw.plug("tap3", "pb1", "fa:16:3e:00:00:03", 7)
	waitFor(t, "the third port installed", func() bool {
		return strings.Contains(sw.text(), "in_port=7") && testutil.ToFloat64(metrics.AgentPortsBound) == 3
	})
	if testutil.ToFloat64(reused)-reused1 == 0 || testutil.ToFloat64(recompiled)-recompiled1 == 0 {
		t.Errorf("sections of a port on a second network: %v reused, %v recompiled; want some of each",
			testutil.ToFloat64(reused)-reused1, testutil.ToFloat64(recompiled)-recompiled1)
	}
	classify := pipeline.TableClassify.Name()
	if v := testutil.ToFloat64(metrics.AgentFlows.WithLabelValues(classify)); v == 0 {
		t.Errorf("no flows counted in %s", classify)
	}
	if d := metrics.SampleCount(metrics.AgentWatchLag) - lag0; d == 0 {
		t.Error("no watch-to-flows lag observed")
	}
	if d := metrics.SampleCount(metrics.AgentSyncDuration) - compile0; d < 4 {
		t.Errorf("sync duration observations: %d, want ≥ 4 (compile and bundle of two syncs)", d)
	}

	// DHCP: an answered request, and one for an unknown port key.
	ud := pipeline.UserData(pipeline.PacketInDHCPv4, 100)
	sw.pins <- PacketIn{InPort: 5, PortKey: 5, UserData: ud, Data: discover(t, "fa:16:3e:00:00:01")}
	select {
	case <-sw.out:
	case <-time.After(5 * time.Second):
		t.Fatal("no DHCP answer")
	}
	sw.pins <- PacketIn{InPort: 5, PortKey: 99, UserData: ud, Data: discover(t, "fa:16:3e:00:00:01")}
	waitFor(t, "the unanswered request counted", func() bool { return testutil.ToFloat64(unanswered)-unanswered0 == 1 })
	if d := testutil.ToFloat64(replied) - replied0; d != 1 {
		t.Errorf("DHCP replied: %v, want 1", d)
	}
}

// statsWrites records the writes of the chassis' stats.
type statsWrites struct {
	Store
	mu   sync.Mutex
	at   []time.Time
	last model.ChassisStats
}

func (s *statsWrites) Update(ctx context.Context, key string, f func([]byte) ([]byte, error)) error {
	b, err := f(nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Now())
	return json.Unmarshal(b, &s.last)
}

func (s *statsWrites) state() ([]time.Time, model.ChassisStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.at), s.last
}

// The stats are written at once, then at most once an interval, the
// newest value winning: a burst of syncs makes one more write, not one
// each.
func TestStatsPublishedOnceAnInterval(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &statsWrites{}
	var o observer
	const interval = 300 * time.Millisecond
	o.publish(ctx, st, "ch1", interval, model.ChassisStats{Flows: 1, Ports: 1})
	waitFor(t, "the first stats written", func() bool { at, _ := st.state(); return len(at) == 1 })
	for i := 2; i <= 20; i++ {
		o.publish(ctx, st, "ch1", interval, model.ChassisStats{Flows: i, Ports: 1})
	}
	o.publish(ctx, st, "ch1", interval, model.ChassisStats{Flows: 20, Ports: 1}) // unchanged: nothing
	waitFor(t, "the newest stats written", func() bool { _, last := st.state(); return last.Flows == 20 })
	at, _ := st.state()
	if len(at) != 2 || at[1].Sub(at[0]) < interval {
		t.Fatalf("%d writes for 20 values (at %v); want 2, %s apart at least", len(at), at, interval)
	}
}
