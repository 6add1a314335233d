package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

func TestCountPageGetAtDelete(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	p := store.Prefix + "pg/"
	// etcd takes at most 128 operations in one transaction.
	for from := 0; from < 250; from += 50 {
		err := st.Txn(ctx, func(tx *store.Tx) error {
			for i := from; i < from+50; i++ {
				tx.PutString(fmt.Sprintf("%s%03d", p, i), fmt.Sprint(i))
			}
			tx.PutString(store.Prefix+"pgX", "outside")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Count(ctx, p); err != nil || n != 250 {
		t.Fatalf("count %d (%v), want 250", n, err)
	}
	// Pages of 100 walk the prefix in order, each after the last key of
	// the one before.
	var keys []string
	after := ""
	for page := 0; ; page++ {
		kvs, rev, more, err := st.Page(ctx, p, after, 100)
		if err != nil || rev == 0 {
			t.Fatalf("page %d: %v (rev %d)", page, err, rev)
		}
		for _, kv := range kvs {
			keys = append(keys, kv.Key)
		}
		if !more {
			if page != 2 || len(kvs) != 50 {
				t.Fatalf("last page %d holds %d", page, len(kvs))
			}
			break
		}
		after = kvs[len(kvs)-1].Key
	}
	for i, k := range keys {
		if want := fmt.Sprintf("%s%03d", p, i); k != want {
			t.Fatalf("key %d = %s, want %s", i, k, want)
		}
	}
	if _, _, _, err := st.Page(ctx, p, p+"nope", 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown marker: %v", err)
	}
	if kvs, _, more, err := st.Page(ctx, p, p+"248", 1); err != nil || more || len(kvs) != 1 || kvs[0].Key != p+"249" {
		t.Fatalf("page after 248: %v more=%v (%v)", kvs, more, err)
	}
	// GetAt reads as of a revision, in batches, skipping absent keys.
	_, rev, _, _ := st.Page(ctx, p, "", 1)
	if err := st.Delete(ctx, p+"000"); err != nil {
		t.Fatal(err)
	}
	want := []string{p + "000", p + "missing"}
	for i := 1; i < 250; i++ {
		want = append(want, fmt.Sprintf("%s%03d", p, i))
	}
	old, err := st.GetAt(ctx, rev, want)
	if err != nil || len(old) != 250 || old[0].Key != p+"000" || string(old[249].Value) != "249" {
		t.Fatalf("at %d: %d keys (%v)", rev, len(old), err)
	}
	now, err := st.GetAt(ctx, 0, want)
	if err != nil || len(now) != 249 || now[0].Key != p+"001" {
		t.Fatalf("now: %d keys (%v)", len(now), err)
	}
}

func TestUpdate(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	key := store.Prefix + "upd"
	// Absent: fn sees nil; a nil answer writes nothing.
	if err := st.Update(ctx, key, func(cur []byte) ([]byte, error) {
		if cur != nil {
			t.Errorf("absent key read as %q", cur)
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetString(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a nil answer wrote: %v", err)
	}
	for range 2 {
		if err := st.Update(ctx, key, func(cur []byte) ([]byte, error) { return append(cur, 'x'), nil }); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := st.GetString(ctx, key); err != nil || v != "xx" {
		t.Fatalf("after two updates %q (%v)", v, err)
	}
	boom := errors.New("boom")
	if err := st.Update(ctx, key, func([]byte) ([]byte, error) { return []byte("y"), boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

// ListWith lists a prefix and reads keys in one go at the transaction's
// snapshot: a key added under the prefix after the snapshot is not
// listed, the keys read are in the read set (a change to one fails the
// commit and retries the transaction), and a listing longer than one
// page is read whole.
func TestListWith(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	p := store.Prefix + "lw/"
	const n = 2100 // more than one page of the store's listings
	for from := 0; from < n; from += 100 {
		err := st.Txn(ctx, func(tx *store.Tx) error {
			for i := from; i < from+100; i++ {
				tx.PutString(fmt.Sprintf("%s%04d", p, i), fmt.Sprint(i))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := store.Prefix+"lwa", store.Prefix+"lwb"
	for _, k := range []string{a, b} {
		if err := st.Txn(ctx, func(tx *store.Tx) error { tx.PutString(k, "0"); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	attempts := 0
	var listed []int
	err := st.Txn(ctx, func(tx *store.Tx) error {
		attempts++
		_ = tx.GetString(a) // the snapshot
		if attempts == 1 {
			// Others write after the snapshot.
			if err := st.Txn(ctx, func(o *store.Tx) error {
				o.PutString(p+"9999", "late")
				o.PutString(b, "1")
				return nil
			}); err != nil {
				return err
			}
		}
		kvs := tx.ListWith(p, b)
		listed = append(listed, len(kvs))
		for i := 1; i < len(kvs); i++ {
			if kvs[i-1].Key >= kvs[i].Key {
				return fmt.Errorf("listing out of order at %d: %s, %s", i, kvs[i-1].Key, kvs[i].Key)
			}
		}
		if attempts == 1 && tx.GetString(b) != "0" {
			return fmt.Errorf("b read %q at the snapshot, want 0", tx.GetString(b))
		}
		tx.PutString(store.Prefix+"lwc", "done")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 || len(listed) != 2 || listed[0] != n || listed[1] != n+1 {
		t.Fatalf("attempts %d, listed %v: want 2 attempts listing %d then %d keys", attempts, listed, n, n+1)
	}
}

// A prefix listed again in the same attempt is the same listing, and costs
// no round trip but the one for keys not read yet.
func TestListWithAgain(t *testing.T) {
	e := storetest.Start(t)
	st, rpcs := storetest.DialCounting(t, e.Endpoints())
	ctx := context.Background()
	p := store.Prefix + "lwagain/"
	for _, k := range []string{p + "1", p + "2", store.Prefix + "lwagain-x"} {
		if err := st.Txn(ctx, func(tx *store.Tx) error { tx.PutString(k, "v"); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var first, second, third []store.KV
	var costs []int64
	err := st.Txn(ctx, func(tx *store.Tx) error {
		first = tx.ListWith(p)
		if err := e.Store.Txn(ctx, func(o *store.Tx) error { o.PutString(p+"3", "late"); return nil }); err != nil {
			return err
		}
		n := rpcs.Load()
		second = tx.ListWith(p)
		costs = append(costs, rpcs.Load()-n)
		n = rpcs.Load()
		third = tx.ListWith(p, store.Prefix+"lwagain-x")
		costs = append(costs, rpcs.Load()-n)
		if tx.GetString(store.Prefix+"lwagain-x") != "v" {
			return errors.New("the key read with the listing is not in the read set")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || len(second) != 2 || len(third) != 2 {
		t.Fatalf("listed %d, %d, %d keys: want 2 each time (the snapshot's)", len(first), len(second), len(third))
	}
	if costs[0] != 0 || costs[1] != 1 {
		t.Fatalf("listing again cost %d round trips, with a key %d: want 0 and 1", costs[0], costs[1])
	}
}
