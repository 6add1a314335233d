package keystone

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/auth"
)

// whoami answers with the principal of the request.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(p)
})

func principalOf(t *testing.T, r response) auth.Principal {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	var p auth.Principal
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveWithNeutron serves Keystone and a guarded /v2.0/whoami.
func serveWithNeutron(t *testing.T, s *Service, noauth bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	s.Register(mux)
	mux.Handle("GET /v2.0/whoami", s.Middleware(whoami, noauth))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestMiddleware(t *testing.T) {
	st := startEtcd(t)
	s := newService(t, st, nil)
	srv := serveWithNeutron(t, s, false)
	url := srv.URL + "/v2.0/whoami"

	for name, hdr := range map[string]map[string]string{
		"missing": nil,
		"empty":   {"X-Auth-Token": ""},
		"bogus":   {"X-Auth-Token": "not-a-token"},
	} {
		r := do(t, "GET", url, hdr, nil)
		if r.code != http.StatusUnauthorized || string(r.body) != wantUnauthorized {
			t.Errorf("%s token: %d %s", name, r.code, r.body)
		}
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Keystone uri=") {
			t.Errorf("%s token: WWW-Authenticate %q", name, r.header.Get("WWW-Authenticate"))
		}
	}

	alice, _ := issue(t, srv, "alice", "alice-dev-password", "demo")
	p := principalOf(t, do(t, "GET", url, map[string]string{"X-Auth-Token": alice}, nil))
	want := auth.Principal{UserID: UserID("alice"), UserName: "alice", ProjectID: ProjectID("demo"), ProjectName: "demo",
		Roles: []string{"member", "reader"}}
	if !equalPrincipal(p, want) {
		t.Errorf("alice: %+v, want %+v", p, want)
	}

	bob, _ := issue(t, srv, "bob", "bob-password", "demo")
	p = principalOf(t, do(t, "GET", url, map[string]string{"X-Auth-Token": bob}, nil))
	if !p.Admin || !p.HasRole("admin") || p.ProjectName != "demo" {
		t.Errorf("bob, admin on demo: %+v", p)
	}
	bobOps, _ := issue(t, srv, "bob", "bob-password", "ops")
	p = principalOf(t, do(t, "GET", url, map[string]string{"X-Auth-Token": bobOps}, nil))
	if p.Admin || !slices.Equal(p.Roles, []string{"reader"}) {
		t.Errorf("bob, reader on ops: %+v", p)
	}

	// An unscoped token does not reach Neutron.
	unscoped, _ := issue(t, srv, "alice", "alice-dev-password", "")
	if r := do(t, "GET", url, map[string]string{"X-Auth-Token": unscoped}, nil); r.code != http.StatusUnauthorized {
		t.Errorf("unscoped token: %d %s", r.code, r.body)
	}

	// A revoked token is rejected at once by the server that revoked it.
	if r := do(t, "DELETE", srv.URL+"/v3/auth/tokens", map[string]string{"X-Auth-Token": alice, "X-Subject-Token": alice}, nil); r.code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", url, map[string]string{"X-Auth-Token": alice}, nil); r.code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d %s", r.code, r.body)
	}
}

func TestMiddlewareNoAuth(t *testing.T) {
	st := startEtcd(t)
	s := newService(t, st, nil)
	srv := serveWithNeutron(t, s, true)
	url := srv.URL + "/v2.0/whoami"
	p := principalOf(t, do(t, "GET", url, nil, nil))
	if !p.Admin || p.ProjectID != "admin" {
		t.Errorf("noauth default: %+v", p)
	}
	p = principalOf(t, do(t, "GET", url, map[string]string{"X-Project-Id": "p1", "X-Auth-Token": "ignored"}, nil))
	if !p.Admin || p.ProjectID != "p1" || !p.HasRole("admin") {
		t.Errorf("noauth with X-Project-Id: %+v", p)
	}
}

func equalPrincipal(a, b auth.Principal) bool {
	return a.UserID == b.UserID && a.UserName == b.UserName && a.ProjectID == b.ProjectID &&
		a.ProjectName == b.ProjectName && a.Admin == b.Admin && slices.Equal(a.Roles, b.Roles)
}
