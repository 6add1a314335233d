package neutron

import (
	"net/http"
	"testing"
)

func TestNetworkCRUD(t *testing.T) {
	a := newTestAPI(t)
	out := a.must(http.StatusCreated, "POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "n1"}})
	n := out["network"].(map[string]any)
	id := n["id"].(string)
	if n["provider:network_type"] != "geneve" || n["mtu"].(float64) != 1442 || n["project_id"] != "p1" || n["tenant_id"] != "p1" {
		t.Fatalf("unexpected network %v", n)
	}
	if seg := n["provider:segmentation_id"].(float64); seg < 1 || seg > 65535 {
		t.Fatalf("segmentation id %v out of range", seg)
	}
	// Another project gets 404, not 403.
	code, out := a.call("GET", "/v2.0/networks/"+id, "p2", nil)
	if code != http.StatusNotFound || errType(out) != "NetworkNotFound" {
		t.Fatalf("other project: %d %v", code, out)
	}
	// If-Match on a stale revision fails and changes nothing.
	code, _ = a.callIfMatch("PUT", "/v2.0/networks/"+id, "p1", 7, map[string]any{"network": map[string]any{"name": "x"}})
	if code != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d", code)
	}
	out = a.must(http.StatusOK, "PUT", "/v2.0/networks/"+id, "p1", map[string]any{"network": map[string]any{"name": "n2"}})
	if out["network"].(map[string]any)["revision_number"].(float64) != 1 {
		t.Fatalf("revision not bumped: %v", out)
	}
	// Unknown attributes are refused.
	code, out = a.call("POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"bogus": 1}})
	if code != http.StatusBadRequest {
		t.Fatalf("bogus attribute: %d %v", code, out)
	}
	// Tags.
	a.must(http.StatusCreated, "PUT", "/v2.0/networks/"+id+"/tags/red", "p1", nil)
	out = a.must(http.StatusOK, "GET", "/v2.0/networks?tags=red", "p1", nil)
	if len(out["networks"].([]any)) != 1 {
		t.Fatalf("tag filter: %v", out)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+id, "p1", nil)
	a.must(http.StatusNotFound, "GET", "/v2.0/networks/"+id, "p1", nil)
}

func TestNetworkListPagination(t *testing.T) {
	a := newTestAPI(t)
	for i := 0; i < 5; i++ {
		a.must(http.StatusCreated, "POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "n"}})
	}
	out := a.must(http.StatusOK, "GET", "/v2.0/networks?limit=2", "p1", nil)
	if len(out["networks"].([]any)) != 2 || out["networks_links"] == nil {
		t.Fatalf("page 1: %v", out)
	}
	seen := 0
	path := "/v2.0/networks?limit=2"
	for path != "" && seen < 10 {
		out = a.must(http.StatusOK, "GET", path, "p1", nil)
		seen += len(out["networks"].([]any))
		path = ""
		links, _ := out["networks_links"].([]any)
		for _, l := range links {
			m := l.(map[string]any)
			if m["rel"] == "next" {
				path = m["href"].(string)[len(a.srv.URL):]
			}
		}
	}
	if seen != 5 {
		t.Fatalf("paged through %d networks, want 5", seen)
	}
}
