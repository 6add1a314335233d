package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// binding is what the tests read of a mirror.
type binding struct {
	Chassis string   `json:"chassis"`
	Hosts   []string `json:"hosts"`
	Status  string   `json:"status"`
}

// waitMirror waits until the mirror of port on net satisfies cond (nil:
// the mirror is absent).
func waitMirror(t *testing.T, st *store.Store, net, port string, cond func(*binding) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last *binding
	for time.Now().Before(deadline) {
		raw, err := st.GetString(context.Background(), store.BindingMirrorKey(net, port))
		last = nil
		if err == nil {
			last = &binding{}
			if err := json.Unmarshal([]byte(raw), last); err != nil {
				t.Fatal(err)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if cond(last) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("mirror of %s: condition not met, last %+v", port, last)
}

func putRaw(t *testing.T, st *store.Store, key, val string) {
	t.Helper()
	if err := st.Txn(context.Background(), func(tx *store.Tx) error { tx.PutString(key, val); return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestMirrorBindings: a chassis' binding reaches its port's network scope
// (where agents watch), an ACTIVE binding wins over a DOWN one whatever
// their order, the mirror follows the bindings' removal, and deleting the
// port deletes its mirror and every chassis' binding in its transaction.
func TestMirrorBindings(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.MirrorBindings(ctx, nil) }()
	defer func() { cancel(); <-done }()

	putRaw(t, st, store.IndexKey(store.KindPorts, "p1"), "n1")
	putRaw(t, st, store.PortKey("n1", "p1"), `{"id":"p1","network_id":"n1","status":"DOWN"}`)
	if err := st.WriteBinding(context.Background(), "hv1", "p1", map[string]string{"network_id": "n1", "status": "ACTIVE"}); err != nil {
		t.Fatal(err)
	}
	waitMirror(t, st, "n1", "p1", func(b *binding) bool { return b != nil && b.Chassis == "hv1" && b.Status == "ACTIVE" })

	// The port moves: hv2 binds it, then hv1 lets it go (DOWN).
	if err := st.WriteBinding(context.Background(), "hv2", "p1", map[string]string{"network_id": "n1", "status": "ACTIVE"}); err != nil {
		t.Fatal(err)
	}
	waitMirror(t, st, "n1", "p1", func(b *binding) bool { return b != nil && b.Chassis == "hv2" && len(b.Hosts) == 2 })
	if err := st.WriteBinding(context.Background(), "hv1", "p1", map[string]string{"network_id": "n1", "status": "DOWN"}); err != nil {
		t.Fatal(err)
	}
	// hv2 goes DOWN too: the latest, hv2's, is reported.
	if err := st.WriteBinding(context.Background(), "hv2", "p1", map[string]string{"network_id": "n1", "status": "DOWN"}); err != nil {
		t.Fatal(err)
	}
	waitMirror(t, st, "n1", "p1", func(b *binding) bool { return b != nil && b.Chassis == "hv2" && b.Status == "DOWN" })
	if err := st.WriteBinding(context.Background(), "hv1", "p1", map[string]string{"network_id": "n1", "status": "ACTIVE"}); err != nil {
		t.Fatal(err)
	}
	waitMirror(t, st, "n1", "p1", func(b *binding) bool { return b != nil && b.Chassis == "hv1" && b.Status == "ACTIVE" })

	// Deleting the port takes its mirror and both bindings.
	if err := st.Txn(context.Background(), func(tx *store.Tx) error {
		tx.Delete(store.PortKey("n1", "p1"))
		tx.Delete(store.IndexKey(store.KindPorts, "p1"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, st, store.BindingsPrefix)
	wantKeys(t, st, store.ScopedPrefix)

	// A binding of a port that does not exist is removed by the mirror.
	if err := st.WriteBinding(context.Background(), "hv1", "ghost", map[string]string{"status": "ACTIVE"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(keys(t, st, store.BindingsPrefix)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("binding of a missing port kept: %v", keys(t, st, store.BindingsPrefix))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMirrorCatchesUp: bindings written while no server mirrors them are
// mirrored when one starts, and a mirror without a binding goes.
func TestMirrorCatchesUp(t *testing.T) {
	st := storetest.New(t)
	putRaw(t, st, store.IndexKey(store.KindPorts, "p1"), "n1")
	putRaw(t, st, store.IndexKey(store.KindPorts, "p2"), "n1")
	if err := st.WriteBinding(context.Background(), "hv1", "p1", map[string]string{"status": "ACTIVE"}); err != nil {
		t.Fatal(err)
	}
	putRaw(t, st, store.BindingMirrorKey("n1", "p2"), `{"chassis":"hv9","status":"ACTIVE"}`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.MirrorBindings(ctx, nil) }()
	defer func() { cancel(); <-done }()
	waitMirror(t, st, "n1", "p1", func(b *binding) bool { return b != nil && b.Chassis == "hv1" })
	waitMirror(t, st, "n1", "p2", func(b *binding) bool { return b == nil })
}

func TestParseBindingMirror(t *testing.T) {
	for key, want := range map[string]bool{
		store.BindingMirrorKey("n1", "p1"):            true,
		store.ScopedOf("n1") + "routers/r1":           false,
		store.ScopedOf("n1") + "bindings/":            false,
		store.ScopedOf("n1") + "bindings/p1/x":        false,
		store.PortKey("n1", "p1"):                     false,
		store.ScopedPrefix + "bindings/bindings/port": true,
	} {
		if _, _, ok := store.ParseBindingMirror(key); ok != want {
			t.Errorf("%s: %v, want %v", key, ok, want)
		}
	}
}
