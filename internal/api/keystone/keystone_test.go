package keystone

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

var keystoneTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

const wantUnauthorized = `{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}` + "\n"

func TestVersionDocument(t *testing.T) {
	st := startEtcd(t)
	s := newService(t, st, nil)
	srv := serve(t, s)
	for _, path := range []string{"/v3", "/v3/"} {
		r := do(t, "GET", srv.URL+path, nil, nil)
		if r.code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.code, r.body)
		}
		v := r.json(t)["version"].(map[string]any)
		if v["id"] != "v3.14" || v["status"] != "stable" {
			t.Errorf("GET %s: version %v", path, v)
		}
		link := v["links"].([]any)[0].(map[string]any)
		if link["rel"] != "self" || link["href"] != srv.URL+"/v3/" {
			t.Errorf("GET %s: self link %v, want %s/v3/", path, link, srv.URL)
		}
	}
	s2 := newService(t, st, func(c *Config) { c.PublicURL = "https://cloud.example:9696/" })
	req, _ := http.NewRequest("GET", "http://127.0.0.1/v3", nil)
	if got := s2.VersionEntry(req).Links[0].Href; got != "https://cloud.example:9696/v3/" {
		t.Errorf("public URL self link = %s", got)
	}
}

func TestIssueValidateRevoke(t *testing.T) {
	e := storetest.Start(t)
	st := e.Store
	s := newService(t, st, nil)
	srv := serve(t, s)

	id, tok := issue(t, srv, "admin", testAdminPassword, "admin")
	if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("token %q: want 64 hex characters", id)
	}
	if got := tok["methods"].([]any); len(got) != 1 || got[0] != "password" {
		t.Errorf("methods = %v", got)
	}
	user := tok["user"].(map[string]any)
	if user["name"] != "admin" || user["id"] != UserID("admin") || user["domain"].(map[string]any)["name"] != "Default" {
		t.Errorf("user = %v", user)
	}
	if v, ok := user["password_expires_at"]; !ok || v != nil {
		t.Errorf("password_expires_at = %v (present %v), want null", v, ok)
	}
	proj := tok["project"].(map[string]any)
	if proj["name"] != "admin" || proj["id"] != ProjectID("admin") || proj["domain"].(map[string]any)["id"] != "default" {
		t.Errorf("project = %v", proj)
	}
	var roles []string
	for _, r := range tok["roles"].([]any) {
		rm := r.(map[string]any)
		if rm["id"] != RoleID(rm["name"].(string)) {
			t.Errorf("role %v: id", rm)
		}
		roles = append(roles, rm["name"].(string))
	}
	if !slices.Equal(roles, []string{"admin", "member", "reader"}) {
		t.Errorf("roles = %v", roles)
	}
	for _, k := range []string{"issued_at", "expires_at"} {
		if !keystoneTime.MatchString(tok[k].(string)) {
			t.Errorf("%s = %q, not Keystone's format", k, tok[k])
		}
	}
	issued, _ := time.Parse(time.RFC3339Nano, tok["issued_at"].(string))
	expires, _ := time.Parse(time.RFC3339Nano, tok["expires_at"].(string))
	if d := expires.Sub(issued); d != DefaultTokenTTL {
		t.Errorf("lifetime = %v, want %v", d, DefaultTokenTTL)
	}
	if a := tok["audit_ids"].([]any); len(a) != 1 || len(a[0].(string)) != 22 {
		t.Errorf("audit_ids = %v", a)
	}
	urls := map[string]string{}
	for _, sv := range tok["catalog"].([]any) {
		svc := sv.(map[string]any)
		eps := svc["endpoints"].([]any)
		if len(eps) != 3 {
			t.Errorf("%s: %d endpoints, want public, internal, admin", svc["type"], len(eps))
		}
		for _, e := range eps {
			ep := e.(map[string]any)
			if ep["region"] != "RegionOne" || ep["region_id"] != "RegionOne" {
				t.Errorf("endpoint region %v", ep)
			}
			urls[svc["type"].(string)+"/"+ep["interface"].(string)] = ep["url"].(string)
		}
	}
	want := map[string]string{
		"identity/public": srv.URL + "/v3", "identity/internal": srv.URL + "/v3", "identity/admin": srv.URL + "/v3",
		"network/public": srv.URL, "network/internal": srv.URL, "network/admin": srv.URL,
	}
	for k, v := range want {
		if urls[k] != v {
			t.Errorf("catalog %s = %q, want %q", k, urls[k], v)
		}
	}

	// The token is in etcd under the hash of its id, with a lease.
	granted, _, err := e.LeaseTTL(t.Context(), TokenKey(id))
	if err != nil || granted == 0 {
		t.Fatalf("etcd %s: lease %v, %v; want the token under a lease", TokenKey(id), granted, err)
	}
	if granted != DefaultTokenTTL.Truncate(time.Second) {
		t.Errorf("lease TTL = %v; want %v", granted, DefaultTokenTTL)
	}

	self := map[string]string{"X-Auth-Token": id, "X-Subject-Token": id}
	r := do(t, "GET", srv.URL+"/v3/auth/tokens", self, nil)
	if r.code != http.StatusOK || r.header.Get("X-Subject-Token") != id {
		t.Fatalf("validate own token: %d %s", r.code, r.body)
	}
	if got := r.json(t)["token"].(map[string]any); got["expires_at"] != tok["expires_at"] || got["catalog"] == nil {
		t.Errorf("validated body differs: %v", got)
	}
	if got := do(t, "GET", srv.URL+"/v3/auth/tokens?nocatalog", self, nil).json(t)["token"].(map[string]any); got["catalog"] != nil {
		t.Errorf("nocatalog still has a catalog")
	}
	if r := do(t, "HEAD", srv.URL+"/v3/auth/tokens", self, nil); r.code != http.StatusOK {
		t.Errorf("HEAD: %d", r.code)
	}

	// Admin may validate anyone's token, a member only its own.
	alice, _ := issue(t, srv, "alice", "alice-dev-password", "demo")
	if r := do(t, "GET", srv.URL+"/v3/auth/tokens", map[string]string{"X-Auth-Token": id, "X-Subject-Token": alice}, nil); r.code != http.StatusOK {
		t.Errorf("admin validates alice: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", srv.URL+"/v3/auth/tokens", map[string]string{"X-Auth-Token": alice, "X-Subject-Token": id}, nil); r.code != http.StatusForbidden {
		t.Errorf("alice validates admin: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", srv.URL+"/v3/auth/tokens", map[string]string{"X-Auth-Token": "bogus", "X-Subject-Token": id}, nil); r.code != http.StatusUnauthorized {
		t.Errorf("bogus caller: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", srv.URL+"/v3/auth/tokens", map[string]string{"X-Auth-Token": id, "X-Subject-Token": "bogus"}, nil); r.code != http.StatusNotFound {
		t.Errorf("unknown subject: %d %s", r.code, r.body)
	}

	// Revoke alice's token with admin's; it is gone from etcd and rejected.
	if r := do(t, "DELETE", srv.URL+"/v3/auth/tokens", map[string]string{"X-Auth-Token": id, "X-Subject-Token": alice}, nil); r.code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", srv.URL+"/v3/auth/tokens", map[string]string{"X-Auth-Token": id, "X-Subject-Token": alice}, nil); r.code != http.StatusNotFound {
		t.Errorf("revoked token validates: %d %s", r.code, r.body)
	}
	if v, err := st.GetString(t.Context(), TokenKey(alice)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked token still in etcd: %q %v", v, err)
	}
}

func TestIssueByIDAndRescope(t *testing.T) {
	st := startEtcd(t)
	s := newService(t, st, nil)
	srv := serve(t, s)
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"id": "7ad1d9b9c5e54a8f9f2c6ad8d1e0c2b1", "password": "bob-password"}}},
		"scope": map[string]any{"project": map[string]any{"id": "0c4e939acacf4376bdcd1129f1a054ad"}},
	}}
	r := do(t, "POST", srv.URL+"/v3/auth/tokens", nil, body)
	if r.code != http.StatusCreated {
		t.Fatalf("by id: %d %s", r.code, r.body)
	}
	if p := r.json(t)["token"].(map[string]any)["project"].(map[string]any); p["name"] != "ops" {
		t.Errorf("project = %v", p)
	}

	// Unscoped: no project, roles or catalog (alice has no default project).
	unscoped, tok := issue(t, srv, "alice", "alice-dev-password", "")
	for _, k := range []string{"project", "roles", "catalog"} {
		if _, ok := tok[k]; ok {
			t.Errorf("unscoped token has %s: %v", k, tok[k])
		}
	}
	// The explicit "unscoped" scope means the same.
	req := passwordAuth("alice", "alice-dev-password", "")
	req["auth"].(map[string]any)["scope"] = "unscoped"
	if r := do(t, "POST", srv.URL+"/v3/auth/tokens", nil, req); r.code != http.StatusCreated {
		t.Errorf(`scope "unscoped": %d %s`, r.code, r.body)
	}

	// Rescope the unscoped token to a project with the token method.
	rescope := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": unscoped}},
		"scope":    map[string]any{"project": map[string]any{"name": "demo", "domain": map[string]any{"name": "Default"}}},
	}}
	r = do(t, "POST", srv.URL+"/v3/auth/tokens", nil, rescope)
	if r.code != http.StatusCreated {
		t.Fatalf("rescope: %d %s", r.code, r.body)
	}
	scoped := r.json(t)["token"].(map[string]any)
	if scoped["expires_at"] != tok["expires_at"] {
		t.Errorf("rescoped expires_at %v, want the original %v", scoped["expires_at"], tok["expires_at"])
	}
	if scoped["project"].(map[string]any)["name"] != "demo" || len(scoped["audit_ids"].([]any)) != 2 {
		t.Errorf("rescoped token = %v", scoped)
	}
	rescope["auth"].(map[string]any)["scope"] = map[string]any{"project": map[string]any{"id": "0c4e939acacf4376bdcd1129f1a054ad"}}
	if r := do(t, "POST", srv.URL+"/v3/auth/tokens", nil, rescope); r.code != http.StatusUnauthorized {
		t.Errorf("rescope to a project without role: %d %s", r.code, r.body)
	}
}

func TestAuthFailures(t *testing.T) {
	st := startEtcd(t)
	s := newService(t, st, nil)
	srv := serve(t, s)
	unauthorized := map[string]map[string]any{
		"wrong password":     passwordAuth("admin", "nope", "admin"),
		"unknown user":       passwordAuth("mallory", "x", "admin"),
		"disabled user":      passwordAuth("carol", "carol-dev-password", "demo"),
		"no role on project": passwordAuth("alice", "alice-dev-password", "ops"),
		"no role on admin":   passwordAuth("alice", "alice-dev-password", "admin"),
		"disabled project":   passwordAuth("alice", "alice-dev-password", "archived"),
		"unknown project":    passwordAuth("alice", "alice-dev-password", "nowhere"),
	}
	domainScope := passwordAuth("admin", testAdminPassword, "")
	domainScope["auth"].(map[string]any)["scope"] = map[string]any{"domain": map[string]any{"id": "default"}}
	unauthorized["domain scope"] = domainScope
	otherDomain := passwordAuth("admin", testAdminPassword, "")
	otherDomain["auth"].(map[string]any)["identity"].(map[string]any)["password"].(map[string]any)["user"].(map[string]any)["domain"] = map[string]any{"name": "Corp"}
	unauthorized["user in another domain"] = otherDomain
	for name, body := range unauthorized {
		r := do(t, "POST", srv.URL+"/v3/auth/tokens", nil, body)
		if r.code != http.StatusUnauthorized || string(r.body) != wantUnauthorized {
			t.Errorf("%s: %d %s", name, r.code, r.body)
		}
		if r.header.Get("X-Subject-Token") != "" {
			t.Errorf("%s: got a token", name)
		}
	}
	malformed := map[string]any{
		"not json":         "{auth",
		"no auth":          map[string]any{},
		"no identity":      map[string]any{"auth": map[string]any{}},
		"no methods":       map[string]any{"auth": map[string]any{"identity": map[string]any{}}},
		"no user":          map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{}}}},
		"no user domain":   map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{"name": "admin", "password": "x"}}}}},
		"no password":      map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{"id": "x"}}}}},
		"project no dom":   map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"}}, "scope": map[string]any{"project": map[string]any{"name": "admin"}}}},
		"scope not object": map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"}}, "scope": 7}},
	}
	for name, body := range malformed {
		r := do(t, "POST", srv.URL+"/v3/auth/tokens", nil, body)
		if r.code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.code, r.body)
			continue
		}
		e, ok := r.json(t)["error"].(map[string]any)
		if !ok || e["code"] != float64(400) || e["title"] != "Bad Request" || e["message"] == "" {
			t.Errorf("%s: body %s not in Keystone's format", name, r.body)
		}
	}
	if r := do(t, "POST", srv.URL+"/v3/auth/tokens", nil, map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"totp"}}}}); r.code != http.StatusUnauthorized {
		t.Errorf("unsupported method: %d %s", r.code, r.body)
	}
	n, err := st.Count(t.Context(), TokenPrefix)
	if err != nil || n != 0 {
		t.Errorf("failed requests stored %d tokens (%v)", n, err)
	}
}

func TestTokenExpires(t *testing.T) {
	st := startEtcd(t)
	s := newService(t, st, func(c *Config) { c.TokenTTL = time.Second })
	srv := serve(t, s)
	id, _ := issue(t, srv, "alice", "alice-dev-password", "demo")
	if _, err := s.Validate(t.Context(), id); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	// Cached or not, the token is rejected once it expires.
	eventually(t, 10*time.Second, "token rejected", func() bool {
		_, err := s.Validate(t.Context(), id)
		return errors.Is(err, ErrInvalidToken)
	})
	self := map[string]string{"X-Auth-Token": id, "X-Subject-Token": id}
	if r := do(t, "GET", srv.URL+"/v3/auth/tokens", self, nil); r.code != http.StatusUnauthorized {
		t.Errorf("expired caller: %d %s", r.code, r.body)
	}
	// And etcd drops it when the lease runs out.
	eventually(t, 15*time.Second, "token key removed by its lease", func() bool {
		_, err := st.GetString(t.Context(), TokenKey(id))
		return errors.Is(err, store.ErrNotFound)
	})
}

func TestTokensSharedBetweenServers(t *testing.T) {
	st := startEtcd(t)
	a := newService(t, st, nil)
	b := newService(t, st, func(c *Config) { c.CacheTTL = -1 })
	srvA, srvB := serve(t, a), serve(t, b)
	id, _ := issue(t, srvA, "bob", "bob-password", "demo")
	self := map[string]string{"X-Auth-Token": id, "X-Subject-Token": id}
	if r := do(t, "GET", srvB.URL+"/v3/auth/tokens", self, nil); r.code != http.StatusOK {
		t.Fatalf("server B validates server A's token: %d %s", r.code, r.body)
	}
	if _, err := a.Validate(t.Context(), id); err != nil { // now in A's cache
		t.Fatal(err)
	}
	if r := do(t, "DELETE", srvB.URL+"/v3/auth/tokens", self, nil); r.code != http.StatusNoContent {
		t.Fatalf("revoke on B: %d %s", r.code, r.body)
	}
	if _, err := b.Validate(t.Context(), id); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("B after revoke: %v", err)
	}
	// A forgets it within its cache lifetime.
	eventually(t, DefaultCacheTTL+5*time.Second, "revocation reaches server A", func() bool {
		_, err := a.Validate(t.Context(), id)
		return errors.Is(err, ErrInvalidToken)
	})
}

func TestCacheIsBounded(t *testing.T) {
	st := startEtcd(t)
	s := newService(t, st, func(c *Config) { c.CacheSize = 2; c.CacheTTL = time.Minute })
	srv := serve(t, s)
	var ids []string
	for range 5 {
		id, _ := issue(t, srv, "alice", "alice-dev-password", "demo")
		ids = append(ids, id)
		if _, err := s.Validate(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		if n := s.tokens.cacheLen(); n > 2 {
			t.Fatalf("cache holds %d tokens, bound 2", n)
		}
	}
	// Concurrent validations share the cache safely (run with -race).
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(ids))
	for range 4 {
		for _, id := range ids {
			wg.Go(func() {
				if _, err := s.Validate(t.Context(), id); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent validate: %v", err)
	}
	if n := s.tokens.cacheLen(); n > 2 {
		t.Fatalf("cache holds %d tokens, bound 2", n)
	}
}
