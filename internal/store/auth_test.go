package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// TestChassisLeastPrivilege: with etcd's authentication on, an enrolled
// chassis reads the model and writes its own chassis record, heartbeat
// and bindings; etcd refuses it another chassis' binding or record, a
// port, a security group and the Keystone tokens, and the refused writes
// change nothing.
func TestChassisLeastPrivilege(t *testing.T) {
	e := storetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := e.Store
	port := `{"id":"p1","network_id":"n1","status":"DOWN"}`
	sg := `{"id":"sg1","name":"default"}`
	putRaw(t, st, store.NetworkKey("n1"), `{"id":"n1"}`)
	putRaw(t, st, store.PortKey("n1", "p1"), port)
	putRaw(t, st, store.IndexKey(store.KindPorts, "p1"), "n1")
	putRaw(t, st, store.ObjectKey(store.KindSecGroups, "sg1"), sg)
	putRaw(t, st, store.Prefix+"tokens/abc", "secret")

	if err := st.EnableAuth(ctx, "rootpw", ""); err != nil {
		t.Fatal(err)
	}
	root, err := store.DialAuth(ctx, e.Endpoints(), nil, store.RootUser, "rootpw")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.EnableAuth(ctx, "rootpw", ""); err != nil {
		t.Fatalf("enabling again: %v", err)
	}
	for _, c := range []string{"hvA", "hvB"} {
		if err := root.Enroll(ctx, c, store.RoleChassis, "pw-"+c); err != nil {
			t.Fatal(err)
		}
	}
	if err := root.Enroll(ctx, "hvA", store.RoleChassis, "pw-hvA"); err != nil {
		t.Fatalf("enrolling again: %v", err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
	if _, err := store.DialAuth(wctx, e.Endpoints(), nil, "hvA", "wrong"); err == nil {
		t.Fatal("a wrong password was admitted")
	}
	wcancel()
	a, err := store.DialAuth(ctx, e.Endpoints(), nil, "hvA", "pw-hvA")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	// What the chassis may do.
	if err := a.WriteBinding(ctx, "hvA", "p1", map[string]string{"network_id": "n1", "status": "ACTIVE"}); err != nil {
		t.Fatalf("own binding: %v", err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	if err := a.Register(rctx, 5*time.Second, map[string]string{store.ChassisKey("hvA"): `{"name":"hvA"}`},
		map[string]string{store.AliveKey("hvA"): "now", store.GatewayChassisKey("hvA"): `{"name":"hvA"}`}); err != nil {
		t.Fatalf("own chassis and heartbeat: %v", err)
	}
	if err := a.Update(ctx, store.StatsKey("hvA"), func([]byte) ([]byte, error) { return []byte(`{}`), nil }); err != nil {
		t.Fatalf("own stats: %v", err)
	}
	if err := a.Update(ctx, store.FIPStatusKey("hvA", "f1"), func([]byte) ([]byte, error) { return []byte(`{"port_id":"p1"}`), nil }); err != nil {
		t.Fatalf("own floating IP report: %v", err)
	}
	if v, err := a.GetString(ctx, store.PortKey("n1", "p1")); err != nil || v != port {
		t.Fatalf("reading a port: %q, %v", v, err)
	}

	// What it may not.
	refused := map[string]error{
		"B's binding": a.WriteBinding(ctx, "hvB", "p1", map[string]string{"status": "ACTIVE"}),
		"a port": a.Txn(ctx, func(tx *store.Tx) error {
			tx.PutString(store.PortKey("n1", "p1"), `{"id":"p1","network_id":"n1","binding:host_id":"hvA"}`)
			return nil
		}),
		"a security group": a.Txn(ctx, func(tx *store.Tx) error {
			tx.PutString(store.ObjectKey(store.KindSecGroups, "sg1"), `{"id":"sg1","name":"open"}`)
			return nil
		}),
		"B's chassis record":       a.Update(ctx, store.ChassisKey("hvB"), func([]byte) ([]byte, error) { return []byte(`{}`), nil }),
		"B's heartbeat":            a.Update(ctx, store.AliveKey("hvB"), func([]byte) ([]byte, error) { return []byte(`now`), nil }),
		"B's gateway registration": a.Update(ctx, store.GatewayChassisKey("hvB"), func([]byte) ([]byte, error) { return []byte(`{}`), nil }),
		"a binding mirror":         a.Update(ctx, store.BindingMirrorKey("n1", "p1"), func([]byte) ([]byte, error) { return []byte(`{"chassis":"hvA"}`), nil }),
		"a token":                  func() error { _, err := a.GetString(ctx, store.Prefix+"tokens/abc"); return err }(),
		"B's floating IP report":   a.Update(ctx, store.FIPStatusKey("hvB", "f1"), func([]byte) ([]byte, error) { return []byte(`{"port_id":"p1"}`), nil }),
		"a floating IP":            a.Update(ctx, store.ObjectKey(store.KindFloatingIPs, "f1"), func([]byte) ([]byte, error) { return []byte(`{"status":"ACTIVE"}`), nil }),
	}
	for what, err := range refused {
		if !store.IsPermissionDenied(err) {
			t.Errorf("%s: %v, want permission denied", what, err)
		}
	}
	for key, want := range map[string]string{
		store.PortKey("n1", "p1"):                   port,
		store.ObjectKey(store.KindSecGroups, "sg1"): sg,
	} {
		if v, err := root.GetString(ctx, key); err != nil || v != want {
			t.Errorf("%s after refused writes: %q, %v", key, v, err)
		}
	}
	wantKeys(t, root, store.BindingsPrefix, store.BindingKey("hvA", "p1"))
	wantKeys(t, root, store.KindPrefix(store.KindChassis), store.ChassisKey("hvA"))
	wantKeys(t, root, store.ScopedPrefix)

	// Unenrolled, the chassis can do nothing.
	if err := root.Unenroll(ctx, "hvA"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetString(ctx, store.PortKey("n1", "p1")); err == nil {
		t.Error("an unenrolled chassis still reads")
	}
}

// TestGatewayRole: an enrolled gateway writes its registration and the
// pools' steering, and nothing of a chassis or of the model.
func TestGatewayRole(t *testing.T) {
	e := storetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.Store.EnableAuth(ctx, "rootpw", ""); err != nil {
		t.Fatal(err)
	}
	root, err := store.DialAuth(ctx, e.Endpoints(), nil, store.RootUser, "rootpw")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.Enroll(ctx, "gw1", store.RoleGateway, "pw"); err != nil {
		t.Fatal(err)
	}
	gw, err := store.DialAuth(ctx, e.Endpoints(), nil, "gw1", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	if err := gw.Register(rctx, 5*time.Second, nil, map[string]string{store.EdgeGatewayKey("gw1"): `{"name":"gw1"}`}); err != nil {
		t.Errorf("own registration: %v", err)
	}
	put := func(key string) error {
		return gw.Txn(ctx, func(tx *store.Tx) error { tx.PutString(key, `{}`); return nil })
	}
	if err := put(store.EdgePoolKey("fip1")); err != nil {
		t.Errorf("steering a pool: %v", err)
	}
	for _, key := range []string{store.EdgeGatewayKey("gw2"), store.ChassisKey("gw1"), store.BindingKey("gw1", "p1"),
		store.PortKey("n1", "p1"), store.ObjectKey(store.KindFloatingIPs, "fip1")} {
		if err := put(key); !store.IsPermissionDenied(err) {
			t.Errorf("a gateway writing %s: %v, want permission denied", key, err)
		}
	}
}
