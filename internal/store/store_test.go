package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
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

func startStore(t *testing.T, dir string) (*Store, *Embedded) {
	t.Helper()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	e, err := StartEmbedded(EmbeddedConfig{DataDir: dir, ClientURL: client,
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
