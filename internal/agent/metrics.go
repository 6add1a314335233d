package agent

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// observer feeds the agent's Prometheus metrics (internal/metrics). It is
// owned by the loop, like the rest of the agent's state; the loop calls it
// through one-line hooks.
type observer struct {
	// oldest is when the oldest watch event not yet applied arrived.
	oldest time.Time
	// newestRev is the newest revision among those events.
	newestRev int64
	// sections are the flow counts by table of the last installed
	// sections, by section id; flows is their sum, as last exported.
	sections map[string]sectionCount
	flows    map[uint8]int
	// stats are the last published chassis stats; pending hands the
	// newest to the one writer goroutine (started on first use).
	stats   model.ChassisStats
	pending chan model.ChassisStats
}

// publish writes the chassis' stats (store.StatsKey) when they changed,
// off the loop: one goroutine writes the newest value, at most once every
// interval (Config.StatsInterval), coalescing what changes meanwhile.
func (o *observer) publish(ctx context.Context, st Store, chassis string, interval time.Duration, s model.ChassisStats) {
	if s.Flows == o.stats.Flows && s.Ports == o.stats.Ports && o.pending != nil {
		return
	}
	o.stats = s
	if o.pending == nil {
		o.pending = make(chan model.ChassisStats, 1)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case s := <-o.pending:
					s.UpdatedAt = time.Now().UTC()
					b, err := json.Marshal(s)
					if err != nil {
						continue
					}
					_ = st.Update(ctx, store.StatsKey(chassis), func([]byte) ([]byte, error) { return b, nil })
					sleepCtx(ctx, interval)
				}
			}
		}()
	}
	select { // replace a value not yet written
	case <-o.pending:
	default:
	}
	o.pending <- s
}

// event notes a watch event folded into the state.
func (o *observer) event(e kvEvent) {
	if !e.Received.IsZero() && (o.oldest.IsZero() || e.Received.Before(o.oldest)) {
		o.oldest = e.Received
	}
	o.newestRev = max(o.newestRev, e.Revision)
}

// compiled records a compilation that started at start and returns the
// time the bundle phase starts.
func (o *observer) compiled(start time.Time, secs []pipeline.Section) time.Time {
	now := time.Now()
	metrics.AgentSyncDuration.WithLabelValues("compile").Observe(now.Sub(start).Seconds())
	reused := 0
	for _, s := range secs {
		if s.Reused {
			reused++
		}
	}
	metrics.AgentSections.WithLabelValues("reused").Add(float64(reused))
	metrics.AgentSections.WithLabelValues("recompiled").Add(float64(len(secs) - reused))
	return now
}

// observeApplied records the end of a sync's bundle phase, and publishes
// the chassis' stats when they changed.
func (a *Agent) observeApplied(ctx context.Context, bundleStart time.Time, err error) {
	o := &a.obs
	metrics.AgentSyncDuration.WithLabelValues("bundle").Observe(time.Since(bundleStart).Seconds())
	if err != nil {
		metrics.AgentSyncs.WithLabelValues("error").Inc()
		return
	}
	metrics.AgentSyncs.WithLabelValues("ok").Inc()
	if !o.oldest.IsZero() {
		metrics.AgentWatchLag.Observe(time.Since(o.oldest).Seconds())
		o.oldest = time.Time{}
	}
	if o.newestRev > 0 {
		metrics.AgentAppliedRevision.Set(float64(o.newestRev))
	}
	bound := 0
	for _, i := range a.state.ifaces {
		if a.state.portNet[i.IfaceID()] != "" && i.OFPort > 0 {
			bound++
		}
	}
	metrics.AgentPortsBound.Set(float64(bound))
	a.obs.publish(ctx, a.st, a.cfg.Chassis, a.cfg.StatsInterval, model.ChassisStats{Flows: len(a.rec.installed), Ports: bound})
	o.countFlows(a.sections)
}

// sectionCount is the flows of one compiled section by table, for the
// section's input hash.
type sectionCount struct {
	hash    uint64
	byTable map[uint8]int
}

// countFlows sets the flows-by-table gauges from the sections just
// installed. A section whose hash is unchanged keeps its count, so the
// cost follows the sections that changed, not the flows installed.
func (o *observer) countFlows(secs []pipeline.Section) {
	next := make(map[string]sectionCount, len(secs))
	total := map[uint8]int{}
	for _, s := range secs {
		c, ok := o.sections[s.ID]
		if !ok || c.hash != s.Hash {
			c = sectionCount{hash: s.Hash, byTable: map[uint8]int{}}
			for _, f := range s.Flows {
				c.byTable[f.Table]++
			}
		}
		next[s.ID] = c
		for t, n := range c.byTable {
			total[t] += n
		}
	}
	o.sections = next
	for t := range o.flows {
		if _, still := total[t]; !still {
			metrics.AgentFlows.DeleteLabelValues(tableName(t))
		}
	}
	for t, n := range total {
		if n != o.flows[t] || o.flows == nil {
			metrics.AgentFlows.WithLabelValues(tableName(t)).Set(float64(n))
		}
	}
	o.flows = total
}

// tableName is a table's declared name, or its number for a table the
// pipeline does not declare.
func tableName(t uint8) string {
	for _, d := range pipeline.Tables() {
		if d.ID.Number() == t {
			return d.Name
		}
	}
	return strconv.Itoa(int(t))
}

// countingConn counts the bundles the switch applied or refused.
type countingConn struct{ FlowConn }

func (c countingConn) Bundle(ctx context.Context, add, modify, del []ofp.Flow) error {
	err := c.FlowConn.Bundle(ctx, add, modify, del)
	if err != nil {
		metrics.AgentBundles.WithLabelValues("refused").Inc()
	} else {
		metrics.AgentBundles.WithLabelValues("applied").Inc()
	}
	return err
}

// countDHCP counts a DHCPv4 request: replied or unanswered.
func countDHCP(replied bool) {
	if replied {
		metrics.AgentDHCP.WithLabelValues("replied").Inc()
	} else {
		metrics.AgentDHCP.WithLabelValues("unanswered").Inc()
	}
}
