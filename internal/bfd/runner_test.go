package bfd

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// Two runners on loopback addresses bring their session up; when one
// stops, the other takes it down within the detection time.
func TestRunnersOverLoopback(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	pa := 20000 + rand.IntN(20000)
	pb := pa + 1 + rand.IntN(1000)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	type event struct {
		up bool
		at time.Time
	}
	var mu sync.Mutex
	events := map[string][]event{}
	record := func(name string) func(netip.Addr, bool) {
		return func(_ netip.Addr, up bool) {
			mu.Lock()
			defer mu.Unlock()
			events[name] = append(events[name], event{up, time.Now()})
		}
	}
	last := func(name string) (event, bool) {
		mu.Lock()
		defer mu.Unlock()
		es := events[name]
		if len(es) == 0 {
			return event{}, false
		}
		return es[len(es)-1], true
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctxB, stopB := context.WithCancel(ctx)
	errs := make(chan error, 2) // a runner that failed
	iv := 30 * time.Millisecond
	run := func(ctx context.Context, local, peer netip.Addr, listen, to int, name string) {
		r, err := Open(Config{Local: local, Peers: []netip.Addr{peer}, Interval: iv, ListenPort: listen, PeerPort: to}, log, record(name))
		if err != nil {
			errs <- err
			return
		}
		r.Run(ctx)
	}
	go run(ctx, a, b, pa, pb, "a")
	go run(ctxB, b, a, pb, pa, "b")
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
			select {
			case err := <-errs:
				t.Fatalf("runner stopped: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s", what, d)
			}
		}
	}
	isUp := func(name string) func() bool {
		return func() bool { e, ok := last(name); return ok && e.up }
	}
	// Slow transmission (1 s) until up: the handshake takes a few seconds.
	waitFor("both up", 5*time.Second, func() bool { return isUp("a")() && isUp("b")() })
	stopped := time.Now()
	stopB()
	waitFor("a down after b stopped", 2*time.Second, func() bool { return !isUp("a")() })
	e, _ := last("a")
	t.Logf("a down %s after b stopped (detection time %s)", e.at.Sub(stopped).Round(time.Millisecond), 3*iv)
}
