package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store/embedded"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startStore(t *testing.T, dir string) (*Store, *embedded.Member) {
	t.Helper()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	e, err := embedded.Start(embedded.Config{DataDir: dir, ClientURL: client,
		PeerURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), UnsafeNoFsync: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := Dial(ctx, []string{client})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	return st, e
}

func TestTxnIsAtomicAndSerialised(t *testing.T) {
	st, e := startStore(t, t.TempDir())
	defer e.Close()
	defer st.Close()
	ctx := context.Background()
	// 50 concurrent increments of one counter: optimistic retries must
	// serialise them, losing none.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.Txn(ctx, func(tx *Tx) error {
				var n int
				if _, err := tx.Get(Prefix+"counter", &n); err != nil {
					return err
				}
				return tx.Put(Prefix+"counter", n+1)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var n int
	if _, err := st.Get(ctx, Prefix+"counter", &n); err != nil || n != 50 {
		t.Fatalf("counter = %d (%v), want 50", n, err)
	}
	// An error aborts the whole transaction: nothing is written.
	boom := errors.New("boom")
	err := st.Txn(ctx, func(tx *Tx) error {
		tx.PutString(Prefix+"a", "1")
		tx.PutString(Prefix+"b", "2")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := st.Get(ctx, Prefix+"a", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("aborted write visible: %v", err)
	}
}

func TestListPagesAndWatchFromRevision(t *testing.T) {
	st, e := startStore(t, t.TempDir())
	defer e.Close()
	defer st.Close()
	ctx := context.Background()
	for i := 0; i < listPage+5; i++ {
		if err := st.Txn(ctx, func(tx *Tx) error { return tx.Put(fmt.Sprintf("%sx/%05d", Prefix, i), i) }); err != nil {
			t.Fatal(err)
		}
	}
	got, rev, err := ListOf[int](ctx, st, Prefix+"x/")
	if err != nil || len(got) != listPage+5 {
		t.Fatalf("listed %d (%v), want %d", len(got), err, listPage+5)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("item %d = %d: not in key order", i, v)
		}
	}
	// A watch from the listed revision sees exactly the later changes.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := st.Watch(wctx, Prefix+"x/", rev+1)
	if err := st.Txn(ctx, func(tx *Tx) error { tx.Delete(Prefix + "x/00000"); return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-wch:
		if len(resp.Events) != 1 || string(resp.Events[0].Kv.Key) != Prefix+"x/00000" {
			t.Fatalf("unexpected events %v", resp.Events)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st, e := startStore(t, dir)
	if err := st.Txn(context.Background(), func(tx *Tx) error { return tx.Put(Prefix+"keep", "me") }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	e.Close()
	st, e = startStore(t, dir)
	defer e.Close()
	defer st.Close()
	var v string
	if _, err := st.Get(context.Background(), Prefix+"keep", &v); err != nil || v != "me" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
}

func TestTxnReadsOwnWritesAndSnapshot(t *testing.T) {
	st, e := startStore(t, t.TempDir())
	defer e.Close()
	defer st.Close()
	ctx := context.Background()
	if err := st.Txn(ctx, func(tx *Tx) error { tx.PutString(Prefix+"k", "old"); tx.PutString(Prefix+"empty", ""); return nil }); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := st.Txn(ctx, func(tx *Tx) error {
		runs++
		if !tx.Exists(Prefix+"empty") || tx.GetString(Prefix+"empty") != "" {
			t.Error("an empty value exists but reads as \"\"")
		}
		if got := tx.GetString(Prefix + "k"); runs == 1 && got != "old" {
			t.Errorf("first read %q", got)
		}
		if runs == 1 {
			// A change after the snapshot makes this attempt conflict.
			if _, err := st.cli.Put(ctx, Prefix+"k", "new"); err != nil {
				return err
			}
			// Later reads stay on the snapshot.
			if tx.Exists(Prefix + "late") {
				t.Error("read past the snapshot")
			}
		}
		tx.PutString(Prefix+"w", "1")
		tx.Delete(Prefix + "k")
		if tx.GetString(Prefix+"w") != "1" || tx.Exists(Prefix+"k") {
			t.Error("own writes not seen")
		}
		return nil
	})
	if err != nil || runs != 2 {
		t.Fatalf("runs = %d, err = %v; want a retry after the conflict", runs, err)
	}
	if _, err := st.Get(ctx, Prefix+"k", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("k not deleted: %v", err)
	}
}

func TestTxnGuard(t *testing.T) {
	st, e := startStore(t, t.TempDir())
	defer e.Close()
	defer st.Close()
	ctx := context.Background()
	prefix := Prefix + "guarded/"
	if _, err := st.cli.Put(ctx, prefix+"a", "1"); err != nil {
		t.Fatal(err)
	}
	// A key created under the prefix after the snapshot: retry; the retry
	// sees it.
	runs := 0
	var seen int
	err := st.Txn(ctx, func(tx *Tx) error {
		runs++
		tx.Guard(prefix)
		kvs, _, err := st.List(ctx, prefix)
		if err != nil {
			return err
		}
		seen = len(kvs)
		if runs == 1 {
			if _, err := st.cli.Put(ctx, prefix+"b", "2"); err != nil {
				return err
			}
		}
		tx.PutString(Prefix+"summary", fmt.Sprint(seen))
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
		{"change", func() error { _, err := st.cli.Put(ctx, prefix+"a", "x"); return err }, 2},
		{"delete", func() error { _, err := st.cli.Delete(ctx, prefix+"b"); return err }, 1},
		{"outside", func() error { _, err := st.cli.Put(ctx, Prefix+"guardedX", "x"); return err }, 1},
	} {
		runs := 0
		err := st.Txn(ctx, func(tx *Tx) error {
			runs++
			tx.GetString(Prefix + "summary") // the snapshot comes from a read here
			tx.Guard(prefix)
			if runs == 1 {
				if err := tc.write(); err != nil {
					return err
				}
			}
			tx.PutString(Prefix+"summary", tc.name)
			return nil
		})
		if err != nil || runs != tc.runs {
			t.Fatalf("%s: runs = %d (%v), want %d", tc.name, runs, err, tc.runs)
		}
	}
}

func TestTxnReadErrorAborts(t *testing.T) {
	st, e := startStore(t, t.TempDir())
	defer st.Close()
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := st.Txn(ctx, func(tx *Tx) error {
		tx.GetString(Prefix + "x")
		tx.PutString(Prefix+"x", "1")
		return nil
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
