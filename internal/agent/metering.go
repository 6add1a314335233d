package agent

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Metering. The agent follows every metering label and rule (two global
// watches: they are few, an admin's), logical applies them to the view's
// routers, and the pipeline counts each rule in a flow of MeterCount with
// the rule's key in its cookie. Every MeteringInterval the agent reads
// those flows' stats, adds what they counted since the last read to its
// totals (a flow replaced, its counters restarted, adds its new count),
// exports them as Prometheus counters (wyvern_agent_metering_*_total) and
// writes them under metering/<chassis> for `wyvernctl metering`, which
// sums the chassis.

// Tags of the metering watches: above any network watch's.
const (
	watchMeterLabels uint64 = 1 << 40
	watchMeterRules  uint64 = 1<<40 + 1
)

// defaultMeteringInterval is how often the counters are read when
// Config.MeteringInterval is 0.
const defaultMeteringInterval = 10 * time.Second

// meterRecords are the metering labels and rules, by id, as the loop
// holds them.
type meterRecords struct {
	labels map[string]*model.MeteringLabel
	rules  map[string]*model.MeteringLabelRule
}

// meterRule is what the counter reader knows of a rule's key.
type meterRule struct {
	id, label, direction string
}

// handleMetering folds an event of a metering watch; ok is false for
// another watch's.
func (a *Agent) handleMetering(e kvEvent) (dirty, ok bool) {
	m := &a.state.meter
	switch e.Tag {
	case watchMeterLabels:
		foldRecords(&m.labels, e, store.KindPrefix(store.KindMeteringLabels))
	case watchMeterRules:
		foldRecords(&m.rules, e, store.KindPrefix(store.KindMeteringRules))
	default:
		return false, false
	}
	byKey := make(map[uint16]meterRule, len(m.rules))
	for _, r := range m.rules {
		if r.Key > 0 && r.Key <= model.MeteringKeyMax {
			byKey[uint16(r.Key)] = meterRule{id: r.ID, label: r.MeteringLabelID, direction: r.Direction}
		}
	}
	a.meterKeys.Store(&byKey)
	return true, true
}

// flowStatser reads flow stats: the real switch does.
type flowStatser interface {
	FlowStats(ctx context.Context, table uint8, cookie, mask uint64) ([]ovs.FlowStat, error)
}

// FlowStats reads the counters of a table's flows (metering).
func (s *OVSSwitch) FlowStats(ctx context.Context, table uint8, cookie, mask uint64) ([]ovs.FlowStat, error) {
	return s.c().FlowStats(ctx, table, cookie, mask)
}

// meterCounter is one counting flow's last reading.
type meterCounter struct{ packets, bytes uint64 }

// meterTotals accumulates the counting flows' stats into per-rule totals.
type meterTotals struct {
	last   map[uint64]meterCounter // by flow cookie
	totals map[string]model.MeteringCounter
	dirs   map[string]string // the rules' directions, by id
}

// add folds one reading of the counting flows in; it returns the rules
// whose totals grew, with what they grew by.
func (t *meterTotals) add(stats []ovs.FlowStat, keys map[uint16]meterRule) map[meterRule]meterCounter {
	grew := map[meterRule]meterCounter{}
	seen := make(map[uint64]meterCounter, len(stats))
	for _, s := range stats {
		k := pipeline.CookieMeterRule(s.Cookie)
		r, ok := keys[k]
		if k == 0 || !ok {
			continue
		}
		cur := meterCounter{s.Packets, s.Bytes}
		seen[s.Cookie] = cur
		d := cur
		if prev, ok := t.last[s.Cookie]; ok && cur.packets >= prev.packets && cur.bytes >= prev.bytes {
			d = meterCounter{cur.packets - prev.packets, cur.bytes - prev.bytes}
		}
		if d.packets == 0 && d.bytes == 0 {
			continue
		}
		g := grew[r]
		grew[r] = meterCounter{g.packets + d.packets, g.bytes + d.bytes}
		c := t.totals[r.id]
		c.LabelID = r.label
		if t.dirs == nil {
			t.dirs = map[string]string{}
		}
		t.dirs[r.id] = r.direction
		c.Packets += d.packets
		c.Bytes += d.bytes
		t.totals[r.id] = c
	}
	t.last = seen
	return grew
}

// prune forgets the totals of the rules no longer known (deleted), and
// returns them.
func (t *meterTotals) prune(keys map[uint16]meterRule) []meterRule {
	known := make(map[string]meterRule, len(keys))
	for _, r := range keys {
		known[r.id] = r
	}
	var gone []meterRule
	for id, c := range t.totals {
		if _, ok := known[id]; !ok {
			gone = append(gone, meterRule{id: id, label: c.LabelID, direction: t.dirs[id]})
			delete(t.totals, id)
			delete(t.dirs, id)
		}
	}
	return gone
}

// meterCounters reads the counting flows every interval until ctx ends.
func (a *Agent) meterCounters(ctx context.Context) {
	fs, ok := a.sw.(flowStatser)
	if !ok {
		return
	}
	every := a.cfg.MeteringInterval
	if every <= 0 {
		every = defaultMeteringInterval
	}
	t := &meterTotals{totals: map[string]model.MeteringCounter{}}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		keys := a.meterKeys.Load()
		if keys == nil || len(*keys) == 0 && len(t.totals) == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		stats, err := fs.FlowStats(rctx, pipeline.TableMeterCount.Number(),
			pipeline.Cookie(pipeline.FeatureMetering, 0), pipeline.CookieOwnerMask|pipeline.CookieFeatureMask)
		cancel()
		if err != nil {
			a.log.Debug("metering: flow stats", "err", err)
			continue
		}
		grew := t.add(stats, *keys)
		for r, d := range grew {
			metrics.AgentMeteringPackets.WithLabelValues(r.label, r.id, r.direction).Add(float64(d.packets))
			metrics.AgentMeteringBytes.WithLabelValues(r.label, r.id, r.direction).Add(float64(d.bytes))
		}
		gone := t.prune(*keys)
		for _, r := range gone {
			metrics.AgentMeteringPackets.DeleteLabelValues(r.label, r.id, r.direction)
			metrics.AgentMeteringBytes.DeleteLabelValues(r.label, r.id, r.direction)
		}
		if len(grew) == 0 && len(gone) == 0 {
			continue
		}
		b, err := json.Marshal(model.MeteringCounters{Rules: t.totals, UpdatedAt: time.Now().UTC()})
		if err == nil {
			err = a.st.Update(ctx, store.MeteringCountersKey(a.cfg.Chassis), func([]byte) ([]byte, error) { return b, nil })
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn("metering: publish counters", "err", err)
		}
	}
}

// meterKeysPtr is the rules by key, published by the loop for the reader.
type meterKeysPtr = atomic.Pointer[map[uint16]meterRule]
