package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// next returns the next event of an informer, failing the test after 10s.
func next(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the informer")
		return store.Event{}
	}
}

// TestInformRelistsOnCompaction compacts the history an informer is about
// to watch from: it must list again (a Reset with the current content),
// lose nothing, and stream the changes after.
func TestInformRelistsOnCompaction(t *testing.T) {
	e := storetest.Start(t)
	st := e.Store
	prefix := store.Prefix + "inf/"
	for attempt := 0; ; attempt++ {
		if attempt == 5 {
			t.Fatal("the informer never listed before the writes")
		}
		if err := put(st, prefix+"a", fmt.Sprint(attempt)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		// Unbuffered: the informer lists, then waits to hand over the
		// listing before it starts its watch.
		ch := make(chan store.Event)
		go st.Inform(ctx, 1, prefix, ch, nil)
		time.Sleep(200 * time.Millisecond)
		// Changes the watch would have to replay, then gone from history.
		if err := put(st, prefix+"b", "1"); err != nil {
			t.Fatal(err)
		}
		if err := del(st, prefix+"a"); err != nil {
			t.Fatal(err)
		}
		compacted := e.Compact(context.Background())

		var recs map[string]*int
		first := next(t, ch)
		store.Fold(&recs, first, prefix)
		if !first.Reset || first.Revision >= compacted {
			// Listed after the writes: nothing to relist. Again.
			cancel()
			if err := del(st, prefix+"b"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if len(recs) != 1 || recs["a"] == nil {
			t.Fatalf("first listing holds %v, want only a", recs)
		}
		relist := next(t, ch)
		if !relist.Reset || relist.Revision < compacted {
			t.Fatalf("after the compaction: %+v, want a reset at or after revision %d", relist, compacted)
		}
		store.Fold(&recs, relist, prefix)
		if len(recs) != 1 || recs["b"] == nil || *recs["b"] != 1 {
			t.Fatalf("relisted %v, want only b=1", recs)
		}
		// The watch from the new listing streams what follows.
		if err := put(st, prefix+"c", "3"); err != nil {
			t.Fatal(err)
		}
		ev := next(t, ch)
		if ev.Reset || ev.Delete || len(ev.KVs) != 1 || ev.KVs[0].Key != prefix+"c" || ev.Revision <= relist.Revision {
			t.Fatalf("after the relist: %+v", ev)
		}
		store.Fold(&recs, ev, prefix)
		if len(recs) != 2 || *recs["c"] != 3 {
			t.Fatalf("folded %v, want b and c", recs)
		}
		cancel()
		return
	}
}

func TestFold(t *testing.T) {
	const p = "/p/"
	var m map[string]*int
	store.Fold(&m, store.Event{Reset: true, KVs: []store.KV{{Key: p + "a", Value: []byte("1")}, {Key: p + "bad", Value: []byte("{")}}}, p)
	store.Fold(&m, store.Event{KVs: []store.KV{{Key: p + "b", Value: []byte("2")}}}, p)
	store.Fold(&m, store.Event{Delete: true, KVs: []store.KV{{Key: p + "a"}}}, p)
	if len(m) != 1 || m["b"] == nil || *m["b"] != 2 {
		t.Fatalf("folded %v, want only b=2", m)
	}
	store.Fold(&m, store.Event{Reset: true}, p)
	if len(m) != 0 {
		t.Fatalf("a reset kept %v", m)
	}
}
