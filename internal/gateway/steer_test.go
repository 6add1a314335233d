package gateway

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

var steerCfg = Steering{Threshold: 100, Pool: "scrubbing", HoldDown: 5 * time.Second, Interval: time.Second}

// TestSteererOut: a general gateway proposes the move of an address above
// the threshold, once, and not of one at or below it.
func TestSteererOut(t *testing.T) {
	v, _ := BuildView(scenario(), DefaultPool)
	hot, calm := v.FIPs[0], v.FIPs[1]
	s := newSteerer(steerCfg, DefaultPool)
	t0 := time.Unix(1000, 0)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	if p := s.tick(at(0), map[netip.Addr]uint64{hot.FloatingIP: 0, calm.FloatingIP: 0}, v, nil); len(p) != 0 {
		t.Fatalf("first reading proposed %v", p)
	}
	p := s.tick(at(1), map[netip.Addr]uint64{hot.FloatingIP: 500, calm.FloatingIP: 100}, v, nil)
	if len(p) != 1 || p[0].FIP.ID != hot.ID || p[0].To != "scrubbing" || p[0].From != DefaultPool || p[0].Rate != 500 || p[0].Back {
		t.Fatalf("proposals %+v, want %s to scrubbing at 500 pps", p, hot.ID)
	}
	// Not again while the move is pending...
	if p := s.tick(at(2), map[netip.Addr]uint64{hot.FloatingIP: 1000, calm.FloatingIP: 200}, v, nil); len(p) != 0 {
		t.Fatalf("proposed again while pending: %+v", p)
	}
	// ...and a counter that went back (new flow generation) gives no rate.
	if p := s.tick(at(4), map[netip.Addr]uint64{hot.FloatingIP: 10, calm.FloatingIP: 300}, v, nil); len(p) != 0 {
		t.Fatalf("proposed on a counter reset: %+v", p)
	}
	if p := s.tick(at(5), map[netip.Addr]uint64{hot.FloatingIP: 800}, v, nil); len(p) != 1 || p[0].Rate != 790 {
		t.Fatalf("after the reset: %+v", p)
	}
}

// TestSteererBack: the scrubbing gateway moves an automatically steered
// address back once it stayed at or below the threshold for the
// hold-down, not before, and not an address an operator moved.
func TestSteererBack(t *testing.T) {
	recs := scenario()
	moved := (*PoolAssignment)(nil).Move(model.EdgeMove{Pool: "scrubbing", Reason: model.MoveAuto, By: "gw1"})
	manual := (*PoolAssignment)(nil).Move(model.EdgeMove{Pool: "scrubbing", Reason: model.MoveManual})
	recs.Pools["f1"], recs.Pools["f2"] = moved, manual
	v, _ := BuildView(recs, "scrubbing")
	if len(v.FIPs) != 2 {
		t.Fatalf("view %+v", v)
	}
	a1, a2 := v.FIPs[0].FloatingIP, v.FIPs[1].FloatingIP
	s := newSteerer(steerCfg, "scrubbing")
	t0 := time.Unix(1000, 0)
	n := uint64(0)
	var got []proposal
	for sec := 0; sec <= 20; sec++ {
		// 300 pps for 4 s (a flood), a 2 s pause, 300 pps for 2 s, then quiet.
		if sec <= 4 || sec == 7 || sec == 8 {
			n += 300
		}
		p := s.tick(t0.Add(time.Duration(sec)*time.Second), map[netip.Addr]uint64{a1: n, a2: n}, v, recs.Pools)
		for _, q := range p {
			if q.FIP.ID != "f1" || !q.Back || q.To != DefaultPool || q.From != "scrubbing" {
				t.Fatalf("at %d s: proposal %+v", sec, q)
			}
			if len(got) == 0 && sec != 14 {
				// Quiet from second 9 (the reading at 9 is the first at 0
				// pps); back 5 s of hold-down later.
				t.Fatalf("moved back at %d s, want 14 s", sec)
			}
		}
		got = append(got, p...)
	}
	if len(got) == 0 {
		t.Fatal("never moved back")
	}
	// The guard: a proposal writes only on the record it was made from.
	d := got[0].decide("gw4", t0)
	if next := d(moved); next == nil || next.Pool != DefaultPool || len(next.Moves) != 2 ||
		next.Moves[1].Reason != model.MoveAuto || next.Moves[1].From != "scrubbing" || next.Moves[1].By != "gw4" {
		t.Fatalf("decide on the auto move: %+v", next)
	}
	if next := d(manual); next != nil {
		t.Fatalf("an operator's move was undone: %+v", next)
	}
	if next := d(nil); next != nil {
		t.Fatalf("an address already back was moved: %+v", next)
	}
}

func TestSteeringValidate(t *testing.T) {
	for name, s := range map[string]Steering{
		"pool without threshold": {Pool: "scrubbing"},
		"threshold without pool": {Threshold: 10},
		"bad pool":               {Threshold: 10, Pool: "Scrubbing"},
		"hold-down < interval":   {Threshold: 10, Pool: "scrubbing", HoldDown: time.Millisecond, Interval: time.Second},
	} {
		if err := s.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s := Steering{Threshold: 10, Pool: "scrubbing"}
	if err := s.validate(); err != nil || s.HoldDown != 30*time.Second || s.Interval != time.Second {
		t.Fatalf("defaults: %+v %v", s, err)
	}
}

// TestGatewaySteers runs a gateway with fake counters: the hot address is
// proposed once through Steer, whose transaction the fake applies to the
// store; the gateway then withdraws it.
func TestGatewaySteers(t *testing.T) {
	st := newFakeStore()
	recs := scenario()
	for id, n := range recs.Networks {
		st.put(store.NetworkKey(id), n)
	}
	for id, s := range recs.Subnets {
		st.put(store.SubnetKey(s.NetworkID, id), s)
	}
	for id, p := range recs.Ports {
		st.put(store.PortKey(p.NetworkID, id), p)
	}
	for name, c := range recs.Chassis {
		st.put(store.ChassisKey(name), c)
	}
	for id, f := range recs.FloatingIPs {
		st.put(store.ObjectKey(store.KindFloatingIPs, id), f)
	}
	var mu sync.Mutex
	packets, reads := uint64(0), 0
	counters := func(context.Context) (map[netip.Addr]uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		packets += 1000
		return map[netip.Addr]uint64{netip.MustParseAddr("203.0.113.10"): packets, netip.MustParseAddr("203.0.113.11"): 5}, nil
	}
	var pools sync.Map
	writes := 0
	steer := func(_ context.Context, id string, decide func(*PoolAssignment) *PoolAssignment) (bool, error) {
		var cur *PoolAssignment
		if v, ok := pools.Load(id); ok {
			cur = v.(*PoolAssignment)
		}
		next := decide(cur)
		if next == nil {
			return false, nil
		}
		mu.Lock()
		writes++
		mu.Unlock()
		pools.Store(id, next)
		st.put(PoolKey(id), next)
		return true, nil
	}
	cfg := Config{Name: "gw1", UplinkIP: netip.MustParseAddr("198.51.100.11"), Pool: DefaultPool,
		Steering: Steering{Threshold: 100, Pool: "scrubbing", HoldDown: time.Second, Interval: 50 * time.Millisecond}}
	ann := &bgp.Fake{}
	g := New(cfg, Deps{Source: st, Flows: newFakeFlows(), Announcer: ann, Ports: testPorts, Counters: counters, Steer: steer}, quiet())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)
	// No gateway of the scrubbing pool runs: the address stays, however
	// hot.
	mu.Lock()
	r0 := reads
	mu.Unlock()
	waitFor(t, "4 readings", func() bool { mu.Lock(); defer mu.Unlock(); return reads >= r0+4 })
	if _, steered := pools.Load("f1"); steered || len(ann.Routes()) != 2 {
		t.Fatalf("steered to a pool with no gateway: %v", ann.Routes())
	}
	st.put(store.EdgeGatewayKey("gw4"), model.EdgeGateway{Name: "gw4", Pool: "scrubbing"})
	waitFor(t, "f1 steered away", func() bool { return routeText(ann.Routes()) == "203.0.113.11/32 via 198.51.100.11" })
	v, _ := pools.Load("f1")
	p := v.(*PoolAssignment)
	if p.Pool != "scrubbing" || len(p.Moves) != 1 || p.Moves[0].Reason != model.MoveAuto || p.Moves[0].By != "gw1" || p.Moves[0].Rate < 100 {
		t.Fatalf("pool record %+v", p)
	}
	// A few more readings at the same rate: no second move.
	mu.Lock()
	r0 = reads
	mu.Unlock()
	waitFor(t, "4 more readings", func() bool { mu.Lock(); defer mu.Unlock(); return reads >= r0+4 })
	mu.Lock()
	defer mu.Unlock()
	if writes != 1 {
		t.Fatalf("%d moves written, want 1", writes)
	}
}
