package neutron

import (
	"net/http"
	"testing"
)

// Floating IPs created in bulk with their ports are associated in a few
// etcd requests for the whole bulk (the ports, their index entries and
// the MACs and addresses drawn for the floating IPs' own ports are read
// for all of them at once); a bad item fails the whole request and
// creates nothing.
func TestFloatingIPBulkCreateAssociated(t *testing.T) {
	const n = 20
	bed := newFIPBed(t, n+2, 2)
	ext := bed.a.must(http.StatusOK, "GET", "/v2.0/networks?router:external=true", "", nil)["networks"].([]any)[0].(jsonObj)["id"].(string)
	count := func() int {
		return len(bed.a.must(http.StatusOK, "GET", "/v2.0/floatingips", "p1", nil)["floatingips"].([]any))
	}
	before := count()
	items := make([]any, n)
	for i := range items {
		items[i] = jsonObj{"floating_network_id": ext, "port_id": bed.ports[i]}
	}
	rpcs := bed.rpcs.Load()
	out := bed.a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", jsonObj{"floatingips": items})["floatingips"].([]any)
	used := bed.rpcs.Load() - rpcs
	t.Logf("%d floating IPs created with their ports in %d etcd requests", n, used)
	// Whatever the size of the bulk (the quota check, the transaction's
	// reads in batches, the commit).
	const most = 16
	if used > most {
		t.Errorf("%d floating IPs created with their ports in %d etcd requests, want at most %d", n, used, most)
	}
	if len(out) != n {
		t.Fatalf("created %d floating IPs, want %d", len(out), n)
	}
	for i, o := range out {
		f := o.(jsonObj)
		if f["port_id"] != bed.ports[i] || f["fixed_ip_address"] == "" || f["router_id"] == "" {
			t.Errorf("floating IP %d: port %v, fixed %v, router %v: want associated with %s", i, f["port_id"], f["fixed_ip_address"], f["router_id"], bed.ports[i])
		}
	}
	for name, c := range map[string]struct {
		ports  []string
		status int
	}{
		"unknown port":         {[]string{bed.ports[n], "no-such-port"}, http.StatusNotFound},
		"port already has one": {[]string{bed.ports[n], bed.ports[0]}, http.StatusConflict},
		"same port twice":      {[]string{bed.ports[n+1], bed.ports[n+1]}, http.StatusConflict},
	} {
		items := []any{}
		for _, p := range c.ports {
			items = append(items, jsonObj{"floating_network_id": ext, "port_id": p})
		}
		bed.a.must(c.status, "POST", "/v2.0/floatingips", "p1", jsonObj{"floatingips": items})
		if got := count(); got != before+n {
			t.Fatalf("%s: %d floating IPs after the refused request, want %d", name, got, before+n)
		}
	}
}
