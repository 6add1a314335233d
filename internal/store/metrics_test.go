package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// TestTxnMetrics: a transaction whose read key changes under it counts one
// conflict and one retry, then commits; one whose function fails counts as
// aborted; informer events are counted by type.
func TestTxnMetrics(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	key := store.Prefix + "metrics-test/k"
	if err := put(st, key, "0"); err != nil {
		t.Fatal(err)
	}
	conflicts0 := testutil.ToFloat64(metrics.StoreTxnConflicts)
	retries0 := testutil.ToFloat64(metrics.StoreTxnRetries)
	committed0 := testutil.ToFloat64(metrics.StoreTxns.WithLabelValues("committed"))
	aborted0 := testutil.ToFloat64(metrics.StoreTxns.WithLabelValues("aborted"))

	attempts := 0
	err := st.Txn(ctx, func(tx *store.Tx) error {
		attempts++
		v := tx.GetString(key)
		if attempts == 1 { // another writer changes the key before the commit
			if err := put(st, key, "other"); err != nil {
				return err
			}
		}
		tx.PutString(key, v+"+1")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2", attempts)
	}
	if err := st.Txn(ctx, func(tx *store.Tx) error { return errors.New("refused") }); err == nil {
		t.Fatal("no error")
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"conflicts", testutil.ToFloat64(metrics.StoreTxnConflicts) - conflicts0, 1},
		{"retries", testutil.ToFloat64(metrics.StoreTxnRetries) - retries0, 1},
		// The other writer's put is a transaction too.
		{"committed", testutil.ToFloat64(metrics.StoreTxns.WithLabelValues("committed")) - committed0, 2},
		{"aborted", testutil.ToFloat64(metrics.StoreTxns.WithLabelValues("aborted")) - aborted0, 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}

	// An informer: one reset, two puts, one delete.
	resets0 := testutil.ToFloat64(metrics.WatchEvents.WithLabelValues("reset"))
	puts0 := testutil.ToFloat64(metrics.WatchEvents.WithLabelValues("put"))
	dels0 := testutil.ToFloat64(metrics.WatchEvents.WithLabelValues("delete"))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan store.Event, 16)
	prefix := store.Prefix + "metrics-test/w/"
	go st.Inform(wctx, 1, prefix, ch, nil)
	next := func() store.Event {
		select {
		case e := <-ch:
			if e.Received.IsZero() {
				t.Error("event without its arrival time")
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return store.Event{}
		}
	}
	if e := next(); !e.Reset {
		t.Fatalf("first event not a reset: %+v", e)
	}
	for _, op := range []func() error{
		func() error { return put(st, prefix+"a", "1") },
		func() error { return put(st, prefix+"b", "2") },
		func() error { return del(st, prefix+"a") },
	} {
		if err := op(); err != nil {
			t.Fatal(err)
		}
		next()
	}
	if d := testutil.ToFloat64(metrics.WatchEvents.WithLabelValues("reset")) - resets0; d != 1 {
		t.Errorf("resets: %v, want 1", d)
	}
	if d := testutil.ToFloat64(metrics.WatchEvents.WithLabelValues("put")) - puts0; d != 2 {
		t.Errorf("puts: %v, want 2", d)
	}
	if d := testutil.ToFloat64(metrics.WatchEvents.WithLabelValues("delete")) - dels0; d != 1 {
		t.Errorf("deletes: %v, want 1", d)
	}
}
