package neutron

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/api/keystone"
)

// serveWith serves the API on st behind the given auth middleware.
func serveWith(t *testing.T, a *testAPI, wrap func(http.Handler) http.Handler) *testAPI {
	t.Helper()
	api := New(a.st, DefaultConfig(), nil)
	mux := http.NewServeMux()
	api.Register(mux, wrap)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testAPI{t: t, srv: srv, api: api, st: a.st}
}

// TestRefusedWithoutPrincipal: a request that reaches the API without an
// authenticated principal (no auth middleware, or one that put none in the
// context) is refused with Neutron's 401 and changes nothing; it is never
// served as an admin.
func TestRefusedWithoutPrincipal(t *testing.T) {
	a := newTestAPI(t)
	for name, wrap := range map[string]func(http.Handler) http.Handler{
		"no middleware":                nil,
		"middleware without principal": func(h http.Handler) http.Handler { return h },
	} {
		open := serveWith(t, a, wrap)
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v2.0/networks", nil},
			{"POST", "/v2.0/networks", jsonObj{"network": jsonObj{"name": "n"}}},
			{"GET", "/v2.0/quotas/p1", nil},
			{"PUT", "/v2.0/quotas/p1", jsonObj{"quota": jsonObj{"network": 1}}},
			{"GET", "/v2.0/agents", nil},
			{"GET", "/v2.0/extensions", nil},
			{"GET", "/v2.0/", nil},
		} {
			code, out := open.call(req.method, req.path, "", req.body)
			if code != http.StatusUnauthorized || errType(out) != "HTTPUnauthorized" {
				t.Errorf("%s: %s %s: %d %v, want 401 HTTPUnauthorized", name, req.method, req.path, code, out)
			}
		}
	}
	if nets := a.must(http.StatusOK, "GET", "/v2.0/networks", "", nil)["networks"].([]any); len(nets) != 0 {
		t.Errorf("a refused request created %v", nets)
	}
	// The version document stays open, as Neutron's does.
	if code, _ := serveWith(t, a, nil).call("GET", "/", "", nil); code != http.StatusOK {
		t.Errorf("GET /: %d", code)
	}
}

// TestNoAuthGrantsAdmin: the middleware of --noauth is what makes a caller
// without a token an admin, of the project in X-Project-Id if any.
func TestNoAuthGrantsAdmin(t *testing.T) {
	a := newTestAPI(t)
	noauth := serveWith(t, a, keystone.NoAuth)
	n := noauth.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"name": "private"}})["network"].(jsonObj)
	if n["project_id"] != "admin" {
		t.Errorf("noauth network project %v, want admin", n["project_id"])
	}
	req, _ := http.NewRequest("GET", noauth.srv.URL+"/v2.0/networks/"+n["id"].(string), nil)
	req.Header.Set("X-Project-Id", "p1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("noauth as p1 reading admin's network: %d, want 200 (admin)", resp.StatusCode)
	}
}
