package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// TestApplyFIPStatuses: a chassis' report makes its floating IP ACTIVE,
// keeping every other field, and goes; a report for another port (the
// floating IP moved meanwhile) changes nothing and goes too.
func TestApplyFIPStatuses(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.ApplyFIPStatuses(ctx, nil) }()
	defer func() { cancel(); <-done }()

	putRaw(t, st, store.ObjectKey(store.KindFloatingIPs, "f1"),
		`{"id":"f1","port_id":"p1","status":"DOWN","revision_number":3,"description":"kept","port_forwardings":[]}`)
	putRaw(t, st, store.ObjectKey(store.KindFloatingIPs, "f2"), `{"id":"f2","port_id":"p2","status":"DOWN","revision_number":1}`)
	putRaw(t, st, store.ObjectKey(store.KindFloatingIPs, "f3"), `{"id":"f3","port_id":"","status":"DOWN","revision_number":1}`)
	putRaw(t, st, store.FIPStatusKey("hv1", "f1"), `{"port_id":"p1"}`)
	putRaw(t, st, store.FIPStatusKey("hv2", "f3"), `{"port_id":""}`)
	putRaw(t, st, store.FIPStatusKey("hv1", "f2"), `{"port_id":"p-old"}`)

	deadline := time.Now().Add(10 * time.Second)
	for len(keys(t, st, store.FIPStatusPrefix)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("reports not applied: %v", keys(t, st, store.FIPStatusPrefix))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var f1 map[string]any
	raw, err := st.GetString(context.Background(), store.ObjectKey(store.KindFloatingIPs, "f1"))
	if err == nil {
		err = json.Unmarshal([]byte(raw), &f1)
	}
	if err != nil || f1["status"] != "ACTIVE" || f1["revision_number"] != 4.0 || f1["description"] != "kept" || f1["updated_at"] == nil {
		t.Fatalf("f1 after its report: %s (%v)", raw, err)
	}
	// A floating IP with port forwardings has no port: its report names none.
	if raw, _ := st.GetString(context.Background(), store.ObjectKey(store.KindFloatingIPs, "f3")); !strings.Contains(raw, `"status":"ACTIVE"`) {
		t.Fatalf("f3 after its report: %s", raw)
	}
	if raw, _ := st.GetString(context.Background(), store.ObjectKey(store.KindFloatingIPs, "f2")); raw != `{"id":"f2","port_id":"p2","status":"DOWN","revision_number":1}` {
		t.Fatalf("f2 changed by a report for another port: %s", raw)
	}
}

// Reports that arrive together are applied in batches; a report whose
// floating IP cannot be decoded holds the others back for no more than
// one try: it stays, alone, and every other floating IP becomes ACTIVE.
func TestApplyFIPStatusesBatch(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.ApplyFIPStatuses(ctx, nil) }()
	defer func() { cancel(); <-done }()
	const n = 150 // more than one batch
	err := st.Txn(ctx, func(tx *store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("b%03d", i)
			tx.PutString(store.ObjectKey(store.KindFloatingIPs, id), fmt.Sprintf(`{"id":%q,"port_id":"p%d","status":"DOWN","revision_number":1}`, id, i))
			tx.PutString(store.FIPStatusKey("hv1", id), fmt.Sprintf(`{"port_id":"p%d"}`, i))
		}
		tx.PutString(store.ObjectKey(store.KindFloatingIPs, "bad"), `not json`)
		tx.PutString(store.FIPStatusKey("hv1", "bad"), `{"port_id":"p"}`)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{store.FIPStatusKey("hv1", "bad")}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if left := keys(t, st, store.FIPStatusPrefix); slices.Equal(left, want) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d reports left, want only the bad one", len(left))
		}
	}
	for i := range n {
		id := fmt.Sprintf("b%03d", i)
		if raw, _ := st.GetString(ctx, store.ObjectKey(store.KindFloatingIPs, id)); !strings.Contains(raw, `"status":"ACTIVE"`) {
			t.Fatalf("%s after its report: %s", id, raw)
		}
	}
}
