package neutron

import (
	"fmt"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// TestBulkCreateOneTransaction: a bulk create of a hundred ports is one
// transaction (all or nothing) that the store takes: etcd's default limit
// of 128 operations refused a dozen ports with a 500.
func TestBulkCreateOneTransaction(t *testing.T) {
	st, _ := startEtcd(t)
	a := serveAPI(t, st)
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.50.0.0/24", nil)
	ports := make([]jsonObj, 100)
	for i := range ports {
		ports[i] = jsonObj{"network_id": net, "name": fmt.Sprintf("bulk-%d", i)}
	}
	out := a.must(201, "POST", "/v2.0/ports", "p1", jsonObj{"ports": ports})
	if got := len(out["ports"].([]any)); got != len(ports) {
		t.Fatalf("bulk create returned %d ports, want %d", got, len(ports))
	}

	// One bad port in a bulk: nothing is created.
	before := a.countKeys(store.Prefix)
	ports[50] = jsonObj{"network_id": net, "fixed_ips": []jsonObj{{"ip_address": "10.99.0.1"}}}
	if code, body := a.call("POST", "/v2.0/ports", "p1", jsonObj{"ports": ports}); code != 400 {
		t.Fatalf("bulk with a bad port: %d %v", code, body)
	}
	if after := a.countKeys(store.Prefix); after != before {
		t.Fatalf("a refused bulk changed the store: %d keys, had %d", after, before)
	}
}
