package keystone

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestUnservedRoutes: an unknown identity object, and any path under /v3
// that is not served, gets a Keystone-format error, never the mux's
// plain-text 404 or a crash; a served path with a wrong method gets 405.
func TestUnservedRoutes(t *testing.T) {
	st := startEtcd(t)
	srv := serve(t, newService(t, st, nil))
	admin, _ := issue(t, srv, "admin", testAdminPassword, "admin")
	hdr := map[string]string{"X-Auth-Token": admin}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/v3/no/such/thing", http.StatusNotFound},
		{"GET", "/v3/domains/nosuch", http.StatusNotFound},
		{"GET", "/v3/projects/nosuch", http.StatusNotFound},
		{"PUT", "/v3/projects/p/users/u/roles/r", http.StatusNotFound},
		{"PUT", "/v3/auth/tokens", http.StatusMethodNotAllowed},
		{"POST", "/v3", http.StatusMethodNotAllowed},
	} {
		r := do(t, c.method, srv.URL+c.path, hdr, map[string]any{})
		var body struct {
			Error struct {
				Code    int    `json:"code"`
				Title   string `json:"title"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || r.code != c.code || body.Error.Code != c.code ||
			body.Error.Title != http.StatusText(c.code) || body.Error.Message == "" {
			t.Errorf("%s %s: %d %q, want a Keystone %d", c.method, c.path, r.code, r.body, c.code)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
	}
	// The served routes are unchanged.
	if r := do(t, "GET", srv.URL+"/v3", nil, nil); r.code != http.StatusOK {
		t.Errorf("GET /v3: %d %s", r.code, r.body)
	}
}
