package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// waitFor polls cond for up to 15s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRegisterSurvivesLeaseLoss: the leased key lives while the context
// does, comes back when its lease is lost, and goes when the context ends;
// the plain key stays.
func TestRegisterSurvivesLeaseLoss(t *testing.T) {
	e := storetest.Start(t)
	st := e.Store
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec, alive := store.Prefix+"reg/rec", store.Prefix+"reg/alive"
	if err := st.Register(ctx, 2*time.Second, map[string]string{rec: "r"}, map[string]string{alive: "a"}); err != nil {
		t.Fatal(err)
	}
	has := func(key string) bool {
		_, err := st.GetString(context.Background(), key)
		return err == nil
	}
	if !has(rec) || !has(alive) {
		t.Fatal("registration not written")
	}
	if granted, _, err := e.LeaseTTL(context.Background(), alive); err != nil || granted != 2*time.Second {
		t.Fatalf("alive key lease %v (%v), want 2s", granted, err)
	}
	if granted, _, err := e.LeaseTTL(context.Background(), rec); err != nil || granted != 0 {
		t.Fatalf("record under a lease of %v (%v), want none", granted, err)
	}
	// Kept alive past its TTL.
	time.Sleep(3 * time.Second)
	if !has(alive) {
		t.Fatal("alive key expired while kept alive")
	}
	// A lost lease: registered again under a new one.
	e.RevokeLeases(context.Background())
	waitFor(t, "re-registration", func() bool { return has(alive) })
	// The end: the heartbeat expires, the record stays.
	cancel()
	waitFor(t, "the heartbeat to expire", func() bool { return !has(alive) })
	if !has(rec) {
		t.Fatal("the record went with the lease")
	}
}

func TestLeasedPutAndRevoke(t *testing.T) {
	e := storetest.Start(t)
	st := e.Store
	ctx := context.Background()
	key := store.Prefix + "leased"
	if _, err := st.Grant(ctx, 0); err == nil {
		t.Fatal("a zero lease granted")
	}
	lease, err := st.Grant(ctx, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutLeased(ctx, key, "v", lease); err != nil {
		t.Fatal(err)
	}
	if granted, left, err := e.LeaseTTL(ctx, key); err != nil || granted != 2*time.Second || left <= 0 || left > granted {
		t.Fatalf("lease %v, %v left (%v); want 2s, rounded up", granted, left, err)
	}
	if err := st.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetString(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key after revoke: %v", err)
	}
	if _, _, err := e.LeaseTTL(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lease of a missing key: %v", err)
	}
}
