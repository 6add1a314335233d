package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Automatic steering (issue 9, point 4). Every SteerInterval each gateway
// reads the packet counters of its inbound NAT flows (OpenFlow flow stats
// of table Inbound, one flow per floating IP) and computes each served
// address's packet rate through this gateway:
//
//   - a gateway outside the scrubbing pool (SteerPool) that sees an
//     address above SteerThreshold proposes to move it to SteerPool, if a
//     gateway of SteerPool is running (registered): else the move would
//     withdraw the address everywhere;
//   - a gateway of SteerPool that carries an address moved there
//     automatically proposes to move it back to the pool it came from once
//     its rate has stayed at or below the threshold for SteerHoldDown
//     (hysteresis: a flood that pauses for less than the hold-down keeps
//     the address where it is). An address an operator moved is never
//     moved back automatically.
//
// The threshold is per gateway: the upstream routers spread an address's
// flows over the pool with ECMP, and one gateway's share above the
// threshold is enough. A proposal is one etcd transaction on the address's
// pool record, guarded by the record's revision and the floating IP's
// existence (Deps.Steer): it writes only if the address is still where the
// proposer saw it, so when several gateways propose at once exactly one
// move is written and the others find it done. The move (from, to, reason
// auto, the gateway, the rate, the time) is appended to the record's
// history, which the API shows as edge_pool_moves.

// Steering is the automatic steering configuration; a zero Threshold
// turns it off.
type Steering struct {
	// Threshold is the packet rate (packets/s through one gateway) above
	// which an address is steered to Pool.
	Threshold uint64
	// Pool is the scrubbing pool hot addresses go to.
	Pool string
	// HoldDown is how long an address must stay at or below Threshold
	// before it is steered back.
	HoldDown time.Duration
	// Interval is how often the counters are read (default 1 s).
	Interval time.Duration
}

func (s *Steering) validate() error {
	if s.Threshold == 0 {
		if s.Pool != "" {
			return errors.New("gateway: a steering pool needs a steering threshold (packets/s)")
		}
		return nil
	}
	if s.Pool == "" {
		return errors.New("gateway: automatic steering needs the pool to steer hot addresses to")
	}
	if err := ValidPool(s.Pool); err != nil {
		return err
	}
	if s.HoldDown <= 0 {
		s.HoldDown = 30 * time.Second
	}
	if s.Interval <= 0 {
		s.Interval = time.Second
	}
	if s.HoldDown < s.Interval {
		return fmt.Errorf("gateway: steering hold-down %s is shorter than the counter interval %s", s.HoldDown, s.Interval)
	}
	return nil
}

// proposal is a move the steering wants written.
type proposal struct {
	FIP      FIP
	From, To string
	Rate     uint64
	// Back is a move back out of the scrubbing pool.
	Back bool
}

// steerer holds the automatic steering's state between counter readings.
// It does no I/O: tick is a function of the time, the counters, the
// served view and the pool records.
type steerer struct {
	cfg  Steering
	pool string // the gateway's own pool
	// last are the previous reading's counters, at lastAt.
	last   map[netip.Addr]uint64
	lastAt time.Time
	// below is when each address (by floating IP id) last went at or
	// below the threshold, on the scrubbing side.
	below map[string]time.Time
	// pending holds the time of each proposal not yet seen applied: no
	// second proposal for the address before it is a second old.
	pending map[string]time.Time
	// rates are the last computed rates, by floating IP id.
	rates map[string]uint64
	// warned holds the addresses whose proposal found no gateway in the
	// target pool, logged once.
	warned map[string]bool
}

func newSteerer(cfg Steering, pool string) *steerer {
	return &steerer{cfg: cfg, pool: pool, below: map[string]time.Time{}, pending: map[string]time.Time{}, rates: map[string]uint64{},
		warned: map[string]bool{}}
}

// retryAfter is how long a proposal blocks the next one for the same
// address (the write and its watch event normally take milliseconds).
const retryAfter = 2 * time.Second

// tick takes a reading of the counters (packets by floating address) at
// now and returns the moves to propose.
func (s *steerer) tick(now time.Time, counts map[netip.Addr]uint64, v *View, pools map[string]*PoolAssignment) []proposal {
	prev, prevAt := s.last, s.lastAt
	s.last, s.lastAt = counts, now
	dt := now.Sub(prevAt).Seconds()
	served := map[string]bool{}
	var out []proposal
	for _, f := range v.FIPs {
		served[f.ID] = true
		cur, ok := counts[f.FloatingIP]
		old, ok2 := prev[f.FloatingIP]
		if !ok || !ok2 || cur < old || dt <= 0 {
			// No rate yet (a new flow, or counters reset with a new
			// generation of flows): wait for the next reading.
			delete(s.rates, f.ID)
			continue
		}
		rate := uint64(float64(cur-old)/dt + 0.5)
		s.rates[f.ID] = rate
		if t, ok := s.pending[f.ID]; ok && now.Sub(t) < retryAfter {
			continue
		}
		delete(s.pending, f.ID)
		rec := pools[f.ID]
		if s.pool != s.cfg.Pool {
			if rate > s.cfg.Threshold {
				out = append(out, proposal{FIP: f, From: s.pool, To: s.cfg.Pool, Rate: rate})
			}
			continue
		}
		last := rec.LastMove()
		if last == nil || last.Reason != model.MoveAuto || last.Pool != s.cfg.Pool || last.From == s.cfg.Pool {
			delete(s.below, f.ID)
			continue
		}
		if rate > s.cfg.Threshold {
			delete(s.below, f.ID)
			continue
		}
		since, ok := s.below[f.ID]
		if !ok {
			s.below[f.ID] = now
			continue
		}
		if now.Sub(since) >= s.cfg.HoldDown {
			out = append(out, proposal{FIP: f, From: s.pool, To: last.From, Rate: rate, Back: true})
		}
	}
	for id := range s.below {
		if !served[id] {
			delete(s.below, id)
		}
	}
	for id := range s.pending {
		if !served[id] {
			delete(s.pending, id)
		}
	}
	for id := range s.rates {
		if !served[id] {
			delete(s.rates, id)
		}
	}
	for _, p := range out {
		s.pending[p.FIP.ID] = now
	}
	return out
}

// decide is the guard of a proposal's transaction: given the address's
// pool record as it is now, the record to write, or nil to write nothing
// (the address moved meanwhile, or an operator took it over).
func (p proposal) decide(by string, now time.Time) func(cur *PoolAssignment) *PoolAssignment {
	return func(cur *PoolAssignment) *PoolAssignment {
		if cur.PoolOf() != p.From {
			return nil
		}
		if p.Back {
			if last := cur.LastMove(); last == nil || last.Reason != model.MoveAuto || last.From != p.To {
				return nil
			}
		}
		return cur.Move(model.EdgeMove{Pool: p.To, Reason: model.MoveAuto, At: now.UTC(), By: by, Rate: p.Rate})
	}
}

// steerTick reads the counters and writes the moves the steering wants.
func (g *Gateway) steerTick(ctx context.Context) {
	if g.counters == nil || g.steerFn == nil || g.view == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	counts, err := g.counters(ctx)
	if err != nil {
		g.log.Warn("cannot read the flow counters for steering", "err", err)
		return
	}
	now := time.Now()
	proposals := g.steer.tick(now, counts, g.view, g.records.Pools)
	if g.log.Enabled(ctx, slog.LevelDebug) {
		for id, r := range g.steer.rates {
			if r > 0 {
				g.log.Debug("floating IP packet rate", "fip_id", id, "rate_pps", r, "threshold_pps", g.steer.cfg.Threshold)
			}
		}
	}
	for _, p := range proposals {
		if !g.records.poolAlive(p.To) {
			// Steering there would withdraw the address everywhere.
			if !g.steer.warned[p.FIP.ID] {
				g.log.Warn("hot floating IP not steered: no running gateway in the pool", "fip_id", p.FIP.ID,
					"fip", p.FIP.FloatingIP, "rate_pps", p.Rate, "pool", p.To)
				g.steer.warned[p.FIP.ID] = true
			}
			continue
		}
		delete(g.steer.warned, p.FIP.ID)
		wrote, err := g.steerFn(ctx, p.FIP.ID, p.decide(g.cfg.Name, now))
		switch {
		case err != nil:
			g.log.Error("automatic steering failed", "fip_id", p.FIP.ID, "fip", p.FIP.FloatingIP, "to", p.To, "err", err)
		case wrote && p.Back:
			g.log.Info("steering floating IP back: below the threshold for the hold-down", "fip_id", p.FIP.ID,
				"fip", p.FIP.FloatingIP, "from", p.From, "to", p.To, "rate_pps", p.Rate, "threshold_pps", g.steer.cfg.Threshold,
				"hold_down", g.steer.cfg.HoldDown)
		case wrote:
			g.log.Info("steering hot floating IP", "fip_id", p.FIP.ID, "fip", p.FIP.FloatingIP, "from", p.From, "to", p.To,
				"rate_pps", p.Rate, "threshold_pps", g.steer.cfg.Threshold)
		default:
			g.log.Debug("steering proposal not written: the address moved meanwhile", "fip_id", p.FIP.ID, "to", p.To)
		}
	}
}

// logMoves logs every floating IP whose pool changed between before and
// the records' pools now.
func (g *Gateway) logMoves(before map[string]*PoolAssignment) {
	seen := map[string]bool{}
	check := func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		old, cur := before[id], g.records.Pools[id]
		if old.PoolOf() == cur.PoolOf() && sameMove(old.LastMove(), cur.LastMove()) {
			return
		}
		var addr string
		if f := g.records.FloatingIPs[id]; f != nil {
			addr = f.FloatingIPAddress
		}
		args := []any{"fip_id", id, "fip", addr, "from", old.PoolOf(), "to", cur.PoolOf(),
			"serving", cur.PoolOf() == g.cfg.Pool}
		if m := cur.LastMove(); m != nil {
			args = append(args, "reason", m.Reason, "by", m.By, "at", m.At.Format(time.RFC3339Nano))
			if m.Rate > 0 {
				args = append(args, "rate_pps", m.Rate)
			}
		}
		g.log.Info("floating IP moved between pools", args...)
	}
	for id := range before {
		check(id)
	}
	for id := range g.records.Pools {
		check(id)
	}
}

func sameMove(a, b *model.EdgeMove) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Pool == b.Pool && a.From == b.From && a.At.Equal(b.At) && a.Reason == b.Reason
}
