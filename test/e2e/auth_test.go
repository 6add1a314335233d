package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pki"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// TestChassisLeastPrivilege runs Wyvern with etcd's users and roles (wyvern
// server --etcd-auth, each chassis enrolled): the agents, each with its own
// certificate, bind their VMs in keys of their own, the API reports the
// ports ACTIVE on their chassis, and the VMs talk across chassis (each
// agent learns where the other's port is from the server's mirror). With
// chassis A's certificate, etcd refuses to write B's binding, a port and
// a security group, and none of them changes. A floating IP on an
// enrolled chassis turns ACTIVE.
func TestChassisLeastPrivilege(t *testing.T) {
	l := newLab(t, lab.Options{TLS: true, EtcdAuth: true})
	chs := chassis(t, l, 2)
	a, b := chs[0], chs[1]
	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "lp-net", Type: "geneve", CIDR: "10.8.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	vm1, _ := boot(t, l, a, "vm1", "p1", n, nil)
	_, p2 := boot(t, l, b, "vm2", "p1", n, nil)
	mustPing(t, l, vm1, lab.FixedIP(p2))

	// A's credentials, as its agent runs with them.
	dir := l.PKIDir()
	creds, err := pki.Files{CertFile: filepath.Join(dir, a.Name+".pem"), KeyFile: filepath.Join(dir, a.Name+"-key.pem"),
		CAFile: filepath.Join(dir, "ca.pem")}.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	asA, err := store.DialTLS(ctx, []string{l.EtcdURL}, creds)
	if err != nil {
		t.Fatal(err)
	}
	defer asA.Close()

	groups, _, err := store.ListOf[model.SecurityGroup](ctx, l.Store, store.KindPrefix(store.KindSecGroups))
	if err != nil || len(groups) == 0 {
		t.Fatalf("security groups: %v, %v", groups, err)
	}
	sgKey := store.ObjectKey(store.KindSecGroups, groups[0].ID)
	watched := []string{store.PortKey(n.ID, p2.ID), sgKey, store.BindingKey(b.Name, p2.ID), store.BindingMirrorKey(n.ID, p2.ID)}
	before := map[string]string{}
	for _, k := range watched {
		if before[k], err = l.Store.GetString(ctx, k); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	for what, err := range map[string]error{
		"B's binding": asA.WriteBinding(ctx, b.Name, p2.ID, model.PortBinding{NetworkID: n.ID, Status: model.StatusDown}),
		"a port record": asA.Txn(ctx, func(tx *store.Tx) error {
			var p model.Port
			if _, err := tx.Get(store.PortKey(n.ID, p2.ID), &p); err != nil {
				return err
			}
			p.HostID = a.Name
			return tx.Put(store.PortKey(n.ID, p2.ID), &p)
		}),
		"a security group": asA.Txn(ctx, func(tx *store.Tx) error {
			var g model.SecurityGroup
			if _, err := tx.Get(sgKey, &g); err != nil {
				return err
			}
			g.Name = "taken"
			return tx.Put(sgKey, &g)
		}),
		"the binding's mirror": asA.Update(ctx, store.BindingMirrorKey(n.ID, p2.ID), func([]byte) ([]byte, error) {
			return []byte(`{"chassis":"` + a.Name + `","status":"ACTIVE"}`), nil
		}),
	} {
		if !store.IsPermissionDenied(err) {
			t.Errorf("writing %s with %s's credentials: %v, want permission denied", what, a.Name, err)
		}
	}
	for _, k := range watched {
		if now, err := l.Store.GetString(ctx, k); err != nil || now != before[k] {
			t.Errorf("%s changed after refused writes: %q, %v (was %q)", k, now, err, before[k])
		}
	}
	if p, err := l.Port(p2.ID); err != nil || p.HostID != b.Name || p.Status != model.StatusActive {
		t.Errorf("vm2's port as the API reports it: %s on %q, %v", p.Status, p.HostID, err)
	}
	// A still writes its own keys: its heartbeat is alive and its VM's
	// port is bound to it.
	if _, err := asA.GetString(ctx, store.AliveKey(a.Name)); err != nil {
		t.Errorf("%s's heartbeat: %v", a.Name, err)
	}
	mustPing(t, l, vm1, lab.FixedIP(p2))

	// A floating IP NATed by an enrolled chassis turns ACTIVE: the
	// chassis reports it in its own key, the server marks it.
	brEx := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-ex") }
	c, err := l.AddChassisWith("lp-ext", brEx, []string{"--bridge-mappings", "physnet1:br-ex"})
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := extNet(t, l)
	n1, _, _ := routedOut(t, l, ext)
	_, p3 := boot(t, l, c, "vm3", "p1", n1, nil)
	var f fipOut
	if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": ext.ID, "port_id": p3.ID}}, &f); err != nil {
		t.Fatal(err)
	}
	waitFIPActive(t, l, "p1", f.FloatingIP.ID)
}
