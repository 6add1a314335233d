package neutron

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// TestBindingsReportedAndMigrated: a port whose record an older agent
// bound is reported as stored; MigrateBindings moves that binding into the
// chassis' key, and once mirrored the API reports the same; a chassis'
// own binding is what the port then reports, and DOWN when it lets go.
func TestBindingsReportedAndMigrated(t *testing.T) {
	a := newTestAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.st.MirrorBindings(ctx, nil) }()
	defer func() { cancel(); <-done }()

	net := a.must(201, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"name": "n"}})["network"].(jsonObj)["id"].(string)
	port := a.must(201, "POST", "/v2.0/ports", "", jsonObj{"port": jsonObj{"network_id": net}})["port"].(jsonObj)
	id := port["id"].(string)
	if port["status"] != model.StatusDown || port["binding:host_id"] != "" {
		t.Fatalf("new port: %v %v", port["status"], port["binding:host_id"])
	}
	show := func() jsonObj { return a.must(200, "GET", "/v2.0/ports/"+id, "", nil)["port"].(jsonObj) }

	// As an agent of the previous version bound it: in the record.
	key := store.PortKey(net, id)
	if err := a.st.Update(context.Background(), key, func(cur []byte) ([]byte, error) {
		var p model.Port
		if err := json.Unmarshal(cur, &p); err != nil {
			return nil, err
		}
		p.HostID, p.Status, p.VIFType = "hv-old", model.StatusActive, "ovs"
		p.VIFDetails = map[string]any{"port_filter": true, "bridge_name": "br-int"}
		return json.Marshal(&p)
	}); err != nil {
		t.Fatal(err)
	}
	if p := show(); p["status"] != model.StatusActive || p["binding:host_id"] != "hv-old" {
		t.Fatalf("old-style binding not reported: %v %v", p["status"], p["binding:host_id"])
	}
	n, err := a.api.MigrateBindings(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("migrated %d, %v", n, err)
	}
	if n, err := a.api.MigrateBindings(context.Background()); err != nil || n != 0 {
		t.Fatalf("migrating again: %d, %v", n, err)
	}
	if _, err := a.st.GetString(context.Background(), store.BindingKey("hv-old", id)); err != nil {
		t.Fatalf("binding key: %v", err)
	}
	waitShow := func(what string, cond func(jsonObj) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			p := show()
			if cond(p) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v on %v", what, p["status"], p["binding:host_id"])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitShow("migrated binding", func(p jsonObj) bool {
		return p["status"] == model.StatusActive && p["binding:host_id"] == "hv-old" && p["binding:vif_details"].(jsonObj)["bridge_name"] == "br-int"
	})
	// The chassis lets it go; another binds it.
	if err := a.st.WriteBinding(context.Background(), "hv-old", id, model.PortBinding{NetworkID: net, Status: model.StatusDown, VIFType: "ovs"}); err != nil {
		t.Fatal(err)
	}
	waitShow("DOWN", func(p jsonObj) bool { return p["status"] == model.StatusDown && p["binding:host_id"] == "hv-old" })
	if err := a.st.WriteBinding(context.Background(), "hv2", id, model.PortBinding{NetworkID: net, Status: model.StatusActive, VIFType: "ovs"}); err != nil {
		t.Fatal(err)
	}
	waitShow("bound to hv2", func(p jsonObj) bool { return p["status"] == model.StatusActive && p["binding:host_id"] == "hv2" })
	// Lists (the general path and an admin's page) report the binding too.
	for _, path := range []string{"/v2.0/ports?network_id=" + net, "/v2.0/ports?limit=10"} {
		ps := a.must(200, "GET", path, "", nil)["ports"].([]any)
		if len(ps) != 1 || ps[0].(jsonObj)["binding:host_id"] != "hv2" || ps[0].(jsonObj)["status"] != model.StatusActive {
			t.Errorf("%s: %v", path, ps)
		}
	}
	// Deleting the port takes the bindings with it.
	a.must(204, "DELETE", "/v2.0/ports/"+id, "", nil)
	kvs, _, err := a.st.List(context.Background(), store.BindingsPrefix)
	if err != nil || len(kvs) != 0 {
		t.Errorf("bindings left after the port's deletion: %v %v", kvs, err)
	}
}
