package sim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/api/neutron"
	"github.com/wyvern-sdn/wyvern/internal/server"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// apiServer runs the real API server in-process against etcd until stop.
type apiServer struct {
	cfg    server.Config
	cancel context.CancelFunc
	done   chan error
}

func startServer(t *testing.T, endpoints []string, listen string) *apiServer {
	t.Helper()
	s := &apiServer{cfg: server.Config{Listen: listen, EtcdEndpoints: endpoints, NoAuth: true, Neutron: neutron.DefaultConfig()}}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *apiServer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- server.Run(ctx, s.cfg, slog.New(slog.DiscardHandler)) }()
}

func (s *apiServer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func logger(t *testing.T) *slog.Logger {
	if os.Getenv("SIM_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// converge waits until Check passes, or fails the test with its last
// complaint.
func converge(t *testing.T, ctx context.Context, s *Sim, topo *Topology, what string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var err error
	for time.Now().Before(deadline) {
		if err = s.Check(ctx, topo); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: chassis did not converge: %v", what, err)
}

// TestScaleCorrectness runs 50 simulated chassis on a 500-port cloud and
// checks that every chassis' switch holds exactly a full compile of its
// view, and nothing it cannot reach: after the cold start, after a burst
// of changes, after the API server restarts and after etcd restarts.
func TestScaleCorrectness(t *testing.T) {
	if testing.Short() {
		t.Skip("50 chassis: not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	e := storetest.Start(t)
	listen := freeAddr(t)
	api := startServer(t, e.Endpoints(), listen)
	cl := NewClient("http://" + listen)
	if err := cl.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	s := New(e.Endpoints(), 50, logger(t))
	t.Cleanup(func() { _ = s.StopAll() })
	topo := NewTopology()
	sched := NewScheduler(s.Names(), 1)
	p := Params{Projects: 5, NetsPerProject: 10, PortsPerNet: 10, RoutersPerProject: 2, NetsPerRouter: 3,
		SGsPerProject: 3, FIPs: 10, Workers: 4, Seed: 1}
	if err := topo.Build(ctx, cl, p, sched); err != nil {
		t.Fatal(err)
	}
	if len(topo.Ports) != 500 {
		t.Fatalf("built %d ports, want 500", len(topo.Ports))
	}
	s.PlugAll(topo)
	if err := s.StartAll(ctx, 50); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, s, topo, "cold start")
	allBound(t, ctx, cl, topo)

	// A burst: ports created, bound and deleted, rules and router
	// interfaces added, all without waiting in between.
	w := &Workload{Sim: s, Topo: topo, Client: cl, Sched: sched, Rnd: rand.New(rand.NewPCG(5, 6)), Timeout: 30 * time.Second}
	for i := 0; i < 10; i++ {
		o, err := w.PortCreate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A port never installed is never seen deleted either: report the
		// cause, not only its echo in the deletes below.
		if o.Missed > 0 {
			t.Errorf("%s: %d of %d interested chassis never installed it (the API call took %s)", o.Kind, o.Missed, o.Interested, o.API)
		}
	}
	for i := 0; i < 5; i++ {
		for _, op := range []func(context.Context) (Op, error){w.RuleCreate, w.RouterInterface, w.PortDelete} {
			o, err := op(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if o.Missed > 0 {
				t.Errorf("%s: %d of %d interested chassis never installed it", o.Kind, o.Missed, o.Interested)
			}
		}
	}
	if _, err := w.Burst(ctx, 900, 5, 100, 8, s.Names()[:5]); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, s, topo, "burst")

	// The API server restarts; then a change made through the new one.
	api.stop()
	api.start()
	if err := cl.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.PortCreate(ctx); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, s, topo, "server restart")

	// etcd restarts: every watch breaks and every agent lists again.
	e.Restart()
	if err := cl.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	op, err := w.RuleCreate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if op.Missed > 0 {
		t.Errorf("after the etcd restart, %d of %d chassis never installed a new rule", op.Missed, op.Interested)
	}
	converge(t, ctx, s, topo, "etcd restart")
}

// allBound waits until the API reports every port of topo bound to the
// chassis it was plugged on (the agents' bindings, mirrored by the
// server), or fails with those that are not.
func allBound(t *testing.T, ctx context.Context, cl *Client, topo *Topology) {
	t.Helper()
	var wrong []string
	for deadline := time.Now().Add(time.Minute); ; {
		var out struct {
			Ports []struct {
				ID   string `json:"id"`
				Host string `json:"binding:host_id"`
			} `json:"ports"`
		}
		if err := cl.Do(ctx, "GET", "/v2.0/ports?fields=id&fields=binding:host_id", "", nil, &out); err != nil {
			t.Fatal(err)
		}
		host := map[string]string{}
		for _, p := range out.Ports {
			host[p.ID] = p.Host
		}
		wrong = wrong[:0]
		for _, p := range topo.Ports {
			if p.Chassis != "" && host[p.ID] != p.Chassis {
				wrong = append(wrong, fmt.Sprintf("%s on %s (API: %q)", p.ID, p.Chassis, host[p.ID]))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d plugged ports not bound to their chassis, e.g. %v", len(wrong), len(topo.Ports), wrong[:min(5, len(wrong))])
		}
		time.Sleep(500 * time.Millisecond)
	}
}
