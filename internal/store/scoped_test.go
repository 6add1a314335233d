package store_test

import (
	"context"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// keys lists the keys under prefix.
func keys(t *testing.T, st *store.Store, prefix string) []string {
	t.Helper()
	kvs, _, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key
	}
	return out
}

func wantKeys(t *testing.T, st *store.Store, prefix string, want ...string) {
	t.Helper()
	got := keys(t, st, prefix)
	if len(got) != len(want) {
		t.Fatalf("under %s: %v, want %v", prefix, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("under %s: %v, want %v", prefix, got, want)
		}
	}
}

// A router, a floating IP and a rule are copied into the scopes agents
// watch in the transaction that writes them, and their copies follow
// every change and go with them.
func TestScopedCopiesFollowTheirObjects(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	txn := func(fn func(tx *store.Tx)) {
		t.Helper()
		if err := st.Txn(ctx, func(tx *store.Tx) error { fn(tx); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	router := store.ObjectKey(store.KindRouters, "r1")
	// The router's first interface port is created in the same
	// transaction as the router's update.
	txn(func(tx *store.Tx) {
		tx.PutString(store.IndexKey(store.KindPorts, "p1"), "netA")
		tx.PutString(router, `{"id":"r1","interface_port_ids":["p1"]}`)
	})
	wantKeys(t, st, store.ScopedOf("netA"), store.ScopedOf("netA")+"routers/r1")
	txn(func(tx *store.Tx) { tx.PutString(store.IndexKey(store.KindPorts, "p2"), "netB") })
	txn(func(tx *store.Tx) { tx.PutString(router, `{"id":"r1","interface_port_ids":["p2"]}`) })
	wantKeys(t, st, store.ScopedOf("netA"))
	wantKeys(t, st, store.ScopedOf("netB"), store.ScopedOf("netB")+"routers/r1")
	if v, err := st.GetString(ctx, store.ScopedOf("netB")+"routers/r1"); err != nil || v != `{"id":"r1","interface_port_ids":["p2"]}` {
		t.Fatalf("copy holds %q (%v)", v, err)
	}

	fip := store.ObjectKey(store.KindFloatingIPs, "f1")
	txn(func(tx *store.Tx) { tx.PutString(fip, `{"id":"f1","port_id":"p1"}`) })
	wantKeys(t, st, store.ScopedOf("netA"), store.ScopedOf("netA")+"floatingips/f1")
	txn(func(tx *store.Tx) { tx.PutString(fip, `{"id":"f1","port_id":""}`) })
	wantKeys(t, st, store.ScopedOf("netA"))
	// Port forwardings: a copy on the network of each internal port.
	txn(func(tx *store.Tx) {
		tx.PutString(fip, `{"id":"f1","port_id":"","port_forwardings":[{"internal_port_id":"p1"},{"internal_port_id":"p2"}]}`)
	})
	wantKeys(t, st, store.ScopedOf("netA"), store.ScopedOf("netA")+"floatingips/f1")
	wantKeys(t, st, store.ScopedOf("netB"), store.ScopedOf("netB")+"floatingips/f1", store.ScopedOf("netB")+"routers/r1")
	txn(func(tx *store.Tx) {
		tx.PutString(fip, `{"id":"f1","port_id":"","port_forwardings":[{"internal_port_id":"p2"}]}`)
	})
	wantKeys(t, st, store.ScopedOf("netA"))
	txn(func(tx *store.Tx) { tx.PutString(fip, `{"id":"f1","port_id":""}`) })
	wantKeys(t, st, store.ScopedOf("netB"), store.ScopedOf("netB")+"routers/r1")

	rule := store.ObjectKey(store.KindSGRules, "rule1")
	txn(func(tx *store.Tx) { tx.PutString(rule, `{"id":"rule1","security_group_id":"g1"}`) })
	wantKeys(t, st, store.GroupRulesOf("g1"), store.GroupRulesOf("g1")+"rule1")

	txn(func(tx *store.Tx) {
		tx.Delete(router)
		tx.Delete(fip)
		tx.Delete(rule)
	})
	wantKeys(t, st, store.ScopedPrefix)
	wantKeys(t, st, store.GroupRulesOf("g1"))
	wantKeys(t, st, store.Prefix+"scoped_index/")
}

// Rescope writes the copies of records stored without them.
func TestRescope(t *testing.T) {
	e := storetest.Start(t)
	ctx := context.Background()
	if err := put(e.Store, store.IndexKey(store.KindPorts, "p1"), "netA"); err != nil {
		t.Fatal(err)
	}
	// A record as an older server wrote it: straight through etcd's
	// client, without the transaction that copies it.
	storetest.PutRaw(t, e, store.ObjectKey(store.KindRouters, "r1"), `{"id":"r1","interface_port_ids":["p1"]}`)
	n, err := e.Store.Rescope(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Rescope = %d, %v; want 1", n, err)
	}
	wantKeys(t, e.Store, store.ScopedOf("netA"), store.ScopedOf("netA")+"routers/r1")
	if n, err := e.Store.Rescope(ctx); err != nil || n != 0 {
		t.Fatalf("second Rescope = %d, %v; want 0", n, err)
	}
}
