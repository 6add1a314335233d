package neutron

import (
	"net/http"
	"testing"
	"time"
)

func TestUsageCacheCountsNearTheLimit(t *testing.T) {
	var c usageCache
	now := time.Unix(1000, 0)
	if c.admit("p/ports", 1, 100, now) {
		t.Fatal("admitted without any count")
	}
	c.record("p/ports", 50, now)
	if !c.admit("p/ports", 1, 100, now.Add(time.Second)) {
		t.Fatal("far below the limit must not count again")
	}
	c.record("p/ports", 91, now)
	if c.admit("p/ports", 1, 100, now) {
		t.Fatal("within the slack of the limit every create must count exactly")
	}
	c.record("p/ports", 10, now)
	if c.admit("p/ports", 1, 100, now.Add(usageTTL+time.Second)) {
		t.Fatal("an old count must not be trusted")
	}
}

func TestPortQuota(t *testing.T) {
	a := newTestAPI(t)
	a.must(http.StatusOK, "PUT", "/v2.0/quotas/pq", "", map[string]any{"quota": map[string]any{"port": 3}})
	out := a.must(http.StatusCreated, "POST", "/v2.0/networks", "pq", map[string]any{"network": map[string]any{"name": "n"}})
	netID := out["network"].(map[string]any)["id"].(string)
	for i := 0; i < 3; i++ {
		a.must(http.StatusCreated, "POST", "/v2.0/ports", "pq", map[string]any{"port": map[string]any{"network_id": netID}})
	}
	code, body := a.call("POST", "/v2.0/ports", "pq", map[string]any{"port": map[string]any{"network_id": netID}})
	if code != http.StatusConflict || errType(body) != "OverQuota" {
		t.Fatalf("fourth port: %d %v", code, body)
	}
	// Bulk creates count every item, and a refused bulk writes nothing.
	a.must(http.StatusOK, "PUT", "/v2.0/quotas/pq", "", map[string]any{"quota": map[string]any{"port": 4}})
	code, body = a.call("POST", "/v2.0/ports", "pq", map[string]any{"ports": []any{
		map[string]any{"network_id": netID}, map[string]any{"network_id": netID}}})
	if code != http.StatusConflict {
		t.Fatalf("bulk over quota: %d %v", code, body)
	}
	out = a.must(http.StatusOK, "GET", "/v2.0/ports?network_id="+netID, "pq", nil)
	if n := len(out["ports"].([]any)); n != 3 {
		t.Fatalf("%d ports after a refused bulk create, want 3", n)
	}
	out = a.must(http.StatusOK, "GET", "/v2.0/quotas/pq/details.json", "pq", nil)
	if used := out["quota"].(map[string]any)["port"].(map[string]any)["used"].(float64); used != 3 {
		t.Fatalf("quota details used=%v, want 3", used)
	}
}
