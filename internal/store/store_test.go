package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/embedded"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// put writes key blindly, in a transaction of its own.
func put(st *store.Store, key, val string) error {
	return st.Txn(context.Background(), func(tx *store.Tx) error { tx.PutString(key, val); return nil })
}

// del deletes key, in a transaction of its own.
func del(st *store.Store, key string) error {
	return st.Txn(context.Background(), func(tx *store.Tx) error { tx.Delete(key); return nil })
}

func TestTxnIsAtomicAndSerialised(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	// 50 concurrent increments of one counter: optimistic retries must
	// serialise them, losing none.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.Txn(ctx, func(tx *store.Tx) error {
				var n int
				if _, err := tx.Get(store.Prefix+"counter", &n); err != nil {
					return err
				}
				return tx.Put(store.Prefix+"counter", n+1)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var n int
	if _, err := st.Get(ctx, store.Prefix+"counter", &n); err != nil || n != 50 {
		t.Fatalf("counter = %d (%v), want 50", n, err)
	}
	// An error aborts the whole transaction: nothing is written.
	boom := errors.New("boom")
	err := st.Txn(ctx, func(tx *store.Tx) error {
		tx.PutString(store.Prefix+"a", "1")
		tx.PutString(store.Prefix+"b", "2")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := st.Get(ctx, store.Prefix+"a", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("aborted write visible: %v", err)
	}
}

func TestListPagesAndWatchFromRevision(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	for i := 0; i < store.ListPage+5; i++ {
		if err := st.Txn(ctx, func(tx *store.Tx) error { return tx.Put(fmt.Sprintf("%sx/%05d", store.Prefix, i), i) }); err != nil {
			t.Fatal(err)
		}
	}
	got, rev, err := store.ListOf[int](ctx, st, store.Prefix+"x/")
	if err != nil || len(got) != store.ListPage+5 {
		t.Fatalf("listed %d (%v), want %d", len(got), err, store.ListPage+5)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("item %d = %d: not in key order", i, v)
		}
	}
	// An informer lists at one revision (across pages), then streams
	// exactly the later changes.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan store.Event)
	go st.Inform(wctx, 7, store.Prefix+"x/", ch, nil)
	e := next(t, ch)
	if !e.Reset || e.Tag != 7 || len(e.KVs) != store.ListPage+5 || e.Revision != rev {
		t.Fatalf("first event: reset %v, tag %d, %d keys at %d; want a reset, tag 7, %d keys at %d",
			e.Reset, e.Tag, len(e.KVs), e.Revision, store.ListPage+5, rev)
	}
	if err := del(st, store.Prefix+"x/00000"); err != nil {
		t.Fatal(err)
	}
	e = next(t, ch)
	if e.Reset || !e.Delete || len(e.KVs) != 1 || e.KVs[0].Key != store.Prefix+"x/00000" || e.Revision <= rev {
		t.Fatalf("unexpected event %+v", e)
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	e := storetest.Start(t)
	if err := e.Store.Txn(context.Background(), func(tx *store.Tx) error { return tx.Put(store.Prefix+"keep", "me") }); err != nil {
		t.Fatal(err)
	}
	e.Restart()
	st := e.Store
	var v string
	if _, err := st.Get(context.Background(), store.Prefix+"keep", &v); err != nil || v != "me" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
}

func TestTxnReadsOwnWritesAndSnapshot(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	if err := st.Txn(ctx, func(tx *store.Tx) error {
		tx.PutString(store.Prefix+"k", "old")
		tx.PutString(store.Prefix+"empty", "")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := st.Txn(ctx, func(tx *store.Tx) error {
		runs++
		if !tx.Exists(store.Prefix+"empty") || tx.GetString(store.Prefix+"empty") != "" {
			t.Error("an empty value exists but reads as \"\"")
		}
		if got := tx.GetString(store.Prefix + "k"); runs == 1 && got != "old" {
			t.Errorf("first read %q", got)
		}
		if runs == 1 {
			// A change after the snapshot makes this attempt conflict.
			if err := put(st, store.Prefix+"k", "new"); err != nil {
				return err
			}
			// Later reads stay on the snapshot.
			if tx.Exists(store.Prefix + "late") {
				t.Error("read past the snapshot")
			}
		}
		tx.PutString(store.Prefix+"w", "1")
		tx.Delete(store.Prefix + "k")
		if tx.GetString(store.Prefix+"w") != "1" || tx.Exists(store.Prefix+"k") {
			t.Error("own writes not seen")
		}
		return nil
	})
	if err != nil || runs != 2 {
		t.Fatalf("runs = %d, err = %v; want a retry after the conflict", runs, err)
	}
	if _, err := st.Get(ctx, store.Prefix+"k", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("k not deleted: %v", err)
	}
}

func TestTxnGuard(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	prefix := store.Prefix + "guarded/"
	if err := put(st, prefix+"a", "1"); err != nil {
		t.Fatal(err)
	}
	// A key created under the prefix after the snapshot: retry; the retry
	// sees it.
	runs := 0
	var seen int
	err := st.Txn(ctx, func(tx *store.Tx) error {
		runs++
		tx.Guard(prefix)
		kvs, _, err := st.List(ctx, prefix)
		if err != nil {
			return err
		}
		seen = len(kvs)
		if runs == 1 {
			if err := put(st, prefix+"b", "2"); err != nil {
				return err
			}
		}
		tx.PutString(store.Prefix+"summary", fmt.Sprint(seen))
		return nil
	})
	if err != nil || runs != 2 || seen != 2 {
		t.Fatalf("runs = %d, seen = %d, err = %v; want a retry that sees both keys", runs, seen, err)
	}
	// A change to an existing key under the prefix trips it too, a
	// deletion does not (nothing is left to orphan), and nor do keys
	// outside the prefix.
	for _, tc := range []struct {
		name  string
		write func() error
		runs  int
	}{
		{"change", func() error { return put(st, prefix+"a", "x") }, 2},
		{"delete", func() error { return del(st, prefix+"b") }, 1},
		{"outside", func() error { return put(st, store.Prefix+"guardedX", "x") }, 1},
	} {
		runs := 0
		err := st.Txn(ctx, func(tx *store.Tx) error {
			runs++
			tx.GetString(store.Prefix + "summary") // the snapshot comes from a read here
			tx.Guard(prefix)
			if runs == 1 {
				if err := tc.write(); err != nil {
					return err
				}
			}
			tx.PutString(store.Prefix+"summary", tc.name)
			return nil
		})
		if err != nil || runs != tc.runs {
			t.Fatalf("%s: runs = %d (%v), want %d", tc.name, runs, err, tc.runs)
		}
	}
}

func TestTxnReadErrorAborts(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := st.Txn(ctx, func(tx *store.Tx) error {
		tx.GetString(store.Prefix + "x")
		tx.PutString(store.Prefix+"x", "1")
		return nil
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestTxnTooLarge: a change beyond etcd's limits of one transaction is
// refused as ErrTxnTooLarge, not split, and writes nothing.
func TestTxnTooLarge(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	err := st.Txn(ctx, func(tx *store.Tx) error {
		for i := 0; i < embedded.MaxTxnOps+1; i++ {
			tx.PutString(fmt.Sprintf("%sbig/%05d", store.Prefix, i), "x")
		}
		return nil
	})
	if !errors.Is(err, store.ErrTxnTooLarge) {
		t.Fatalf("got %v, want ErrTxnTooLarge", err)
	}
	if n, err := st.Count(ctx, store.Prefix+"big/"); err != nil || n != 0 {
		t.Fatalf("%d keys written by a refused transaction (%v)", n, err)
	}
	err = st.Txn(ctx, func(tx *store.Tx) error {
		for i := 0; i < embedded.MaxTxnOps; i++ {
			tx.PutString(fmt.Sprintf("%sbig/%05d", store.Prefix, i), "x")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a transaction at the limit: %v", err)
	}
}
