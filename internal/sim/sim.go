// Package sim runs many simulated chassis in one process for the scale
// harness (cmd/wyvern-sim, bench/scale) and its correctness test. Each
// simulated chassis is the real agent (internal/agent) with its own etcd
// connection, informers, view, compiler, reconciler and heartbeat lease;
// only its Open vSwitch is a fake (Switch), which keeps the flow table in
// memory and hands the agent the interfaces the harness plugs. A topology
// generator builds a cloud through the real Neutron API and places ports
// on chassis as a spreading scheduler would; the harness then knows what
// each chassis can reach, and checks and measures against it.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/agent"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Chassis is one simulated chassis.
type Chassis struct {
	Name   string
	IP     netip.Addr
	Switch *Switch
	// Counters count what the agent's informers received; Full what a
	// full-replication agent would have (when the harness runs it).
	Counters Counters
	Full     Counters

	mu     sync.Mutex
	st     *store.Store
	agent  *agent.Agent
	cancel context.CancelFunc
	done   chan error
}

// Agent returns the running agent (nil when stopped).
func (c *Chassis) Agent() *agent.Agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agent
}

// Sim is a set of simulated chassis against one etcd.
type Sim struct {
	Endpoints []string
	Chassis   []*Chassis
	byName    map[string]*Chassis
	// FullReplication adds to each chassis an informer on every topology
	// prefix, counted in Chassis.Full.
	FullReplication bool
	Log             *slog.Logger
	// LeaseTTL is the agents' heartbeat lease (default 30 s: renewed
	// every 10 s, it survives a process starved of CPU for seconds; a
	// lease that expires costs every chassis two events).
	LeaseTTL time.Duration
	// Coalesce is the agents' Config.Coalesce.
	Coalesce time.Duration
	// Progress, when set, is called every few seconds of a start with
	// how many chassis have synced of how many started.
	Progress func(synced, started, total int)
}

func (s *Sim) leaseTTL() time.Duration {
	if s.LeaseTTL > 0 {
		return s.LeaseTTL
	}
	return 30 * time.Second
}

// ChassisName is the name of simulated chassis i.
func ChassisName(i int) string { return fmt.Sprintf("sim-%04d", i) }

// TunnelIP is chassis i's tunnel address, from the RFC 2544 benchmarking
// range 198.18.0.0/15: no interface ever holds it; it is a value in etcd
// that other chassis' flows name.
func TunnelIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(i/65000), byte(i % 65000 / 250), byte(1 + i%250)})
}

// New returns n chassis, not started.
func New(endpoints []string, n int, log *slog.Logger) *Sim {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{Endpoints: endpoints, byName: map[string]*Chassis{}, Log: log}
	for i := 0; i < n; i++ {
		c := &Chassis{Name: ChassisName(i), IP: TunnelIP(i), Switch: NewSwitch()}
		s.Chassis = append(s.Chassis, c)
		s.byName[c.Name] = c
	}
	return s
}

// Names are the chassis' names.
func (s *Sim) Names() []string {
	out := make([]string, len(s.Chassis))
	for i, c := range s.Chassis {
		out[i] = c.Name
	}
	return out
}

// Get returns a chassis by name.
func (s *Sim) Get(name string) *Chassis { return s.byName[name] }

// Start starts chassis c's agent with its own etcd connection.
func (s *Sim) Start(ctx context.Context, c *Chassis) error {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	st, err := store.DialWith(dctx, s.Endpoints, nil, store.StarvedDial)
	cancel()
	if err != nil {
		return err
	}
	a, err := agent.New(agent.Config{Chassis: c.Name, TunnelIP: c.IP, LeaseTTL: s.leaseTTL(), Coalesce: s.Coalesce}, &countingStore{Store: st, c: &c.Counters},
		c.Switch, s.Log)
	if err != nil {
		st.Close()
		return err
	}
	actx, acancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	if s.FullReplication {
		go fullReplication(actx, st, &c.Full)
	}
	c.mu.Lock()
	c.st, c.agent, c.cancel, c.done = st, a, acancel, done
	c.mu.Unlock()
	return nil
}

// Stop stops chassis c's agent and closes its connection. Its lease is
// left to expire, as when an agent is killed.
func (s *Sim) Stop(c *Chassis) error {
	c.mu.Lock()
	cancel, done, st := c.cancel, c.done, c.st
	c.agent, c.cancel, c.done, c.st = nil, nil, nil, nil
	c.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	err := <-done
	st.Close()
	return err
}

// StartAll starts every chassis, workers at a time, and waits until each
// has installed its first complete view or ctx ends.
func (s *Sim) StartAll(ctx context.Context, workers int) error {
	// The agents live on ctx, not on the pool's context, which ends
	// with the pool.
	err := parallel(ctx, workers, len(s.Chassis), func(_ context.Context, i int) error {
		return s.Start(ctx, s.Chassis[i])
	})
	if err != nil {
		return err
	}
	return s.WaitSynced(ctx)
}

// StartWindow starts every chassis with at most window of them started
// and not yet synced at any time (a sliding window: each that syncs lets
// the next start), and waits until all have synced or ctx ends. It bounds
// the initial listings in flight against etcd, as a rolling restart of a
// cloud's agents would.
func (s *Sim) StartWindow(ctx context.Context, window int) error {
	var synced, started atomic.Int64
	stop := s.progress(ctx, &synced, &started)
	defer stop()
	err := parallel(ctx, window, len(s.Chassis), func(pctx context.Context, i int) error {
		c := s.Chassis[i]
		if err := s.Start(ctx, c); err != nil {
			return err
		}
		started.Add(1)
		select {
		case <-c.Agent().Synced():
			synced.Add(1)
			return nil
		case <-pctx.Done():
			return fmt.Errorf("sim: %s not synced: %w", c.Name, pctx.Err())
		}
	})
	if err != nil {
		return err
	}
	return s.WaitSynced(ctx)
}

// progress calls s.Progress every 5 s until the returned func is called.
func (s *Sim) progress(ctx context.Context, synced, started *atomic.Int64) func() {
	if s.Progress == nil {
		return func() {}
	}
	pctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				s.Progress(int(synced.Load()), int(started.Load()), len(s.Chassis))
			}
		}
	}()
	return cancel
}

// StartWaves starts the chassis wave at a time, each wave once the one
// before has synced: a rolling start, gentler on etcd than all at once.
func (s *Sim) StartWaves(ctx context.Context, wave int) error {
	for i := 0; i < len(s.Chassis); i += wave {
		batch := s.Chassis[i:min(i+wave, len(s.Chassis))]
		err := parallel(ctx, len(batch), len(batch), func(_ context.Context, j int) error {
			return s.Start(ctx, batch[j])
		})
		if err != nil {
			return err
		}
		if err := s.WaitSynced(ctx); err != nil {
			return err
		}
	}
	return nil
}

// WaitSynced waits until every running agent has installed a first view.
func (s *Sim) WaitSynced(ctx context.Context) error {
	for _, c := range s.Chassis {
		a := c.Agent()
		if a == nil {
			continue
		}
		select {
		case <-a.Synced():
		case <-ctx.Done():
			return fmt.Errorf("sim: %s not synced: %w", c.Name, ctx.Err())
		}
	}
	return nil
}

// StopAll stops every chassis.
func (s *Sim) StopAll() error {
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.Chassis {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Stop(c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// PlugAll plugs every port of t into its chassis' switch.
func (s *Sim) PlugAll(t *Topology) {
	for _, p := range t.Ports {
		if c := s.byName[p.Chassis]; c != nil {
			c.Switch.Plug(p.ID, p.MAC)
		}
	}
}

// Counts returns every chassis' counters, by name.
func (s *Sim) Counts() map[string]Count {
	out := make(map[string]Count, len(s.Chassis))
	for _, c := range s.Chassis {
		out[c.Name] = c.Counters.Snapshot()
	}
	return out
}

// FullCounts returns every chassis' full-replication counters.
func (s *Sim) FullCounts() map[string]Count {
	out := make(map[string]Count, len(s.Chassis))
	for _, c := range s.Chassis {
		out[c.Name] = c.Full.Snapshot()
	}
	return out
}

// Quiet waits until no chassis has received an event for idle, or ctx
// ends.
func (s *Sim) Quiet(ctx context.Context, idle time.Duration) error {
	total := func() int64 {
		var n int64
		for _, c := range s.Chassis {
			n += c.Counters.Events.Load() + c.Full.Events.Load()
		}
		return n
	}
	last, since := total(), time.Now()
	for time.Since(since) < idle {
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: never quiet: %w", ctx.Err())
		case <-time.After(idle / 10):
		}
		if n := total(); n != last {
			last, since = n, time.Now()
		}
	}
	return nil
}
