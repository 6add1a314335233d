package keystone

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKeystone is a Keystone's token API in memory, for unit tests of
// Remote: POST /v3/auth/tokens for the service user, GET /v3/auth/tokens
// to validate. The real Keystone is tested in test/compat.
type fakeKeystone struct {
	t   *testing.T
	srv *httptest.Server
	now func() time.Time

	mu         sync.Mutex
	tokens     map[string]fakeToken
	svcLife    time.Duration
	svcIssued  int
	validates  int
	failStatus int // answer validations with this status when set
}

type fakeToken struct {
	project string // "" is unscoped
	roles   []string
	expires time.Time
	service bool
}

const (
	fakeSvcUser     = "wyvern"
	fakeSvcPassword = "service-secret"
	fakeSvcProject  = "service"
)

func newFakeKeystone(t *testing.T, now func() time.Time) *fakeKeystone {
	f := &fakeKeystone{t: t, now: now, tokens: map[string]fakeToken{}, svcLife: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/auth/tokens", f.issue)
	mux.HandleFunc("GET /v3/auth/tokens", f.validate)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// add makes a token valid until expires.
func (f *fakeKeystone) add(id, project string, expires time.Time, roles ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[id] = fakeToken{project: project, roles: roles, expires: expires}
}

func (f *fakeKeystone) revoke(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, id)
}

// revokeServiceTokens revokes every service token issued so far.
func (f *fakeKeystone) revokeServiceTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, tok := range f.tokens {
		if tok.service {
			delete(f.tokens, id)
		}
	}
}

func (f *fakeKeystone) counts() (svcIssued, validates int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.svcIssued, f.validates
}

func (f *fakeKeystone) issue(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Auth struct {
			Identity struct {
				Password struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
						Domain   struct {
							Name string `json:"name"`
						} `json:"domain"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope struct {
				Project struct {
					Name   string `json:"name"`
					Domain struct {
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"project"`
			} `json:"scope"`
		} `json:"auth"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		keystoneError(w, 400, "Bad Request", err.Error())
		return
	}
	u, s := body.Auth.Identity.Password.User, body.Auth.Scope.Project
	if u.Name != fakeSvcUser || u.Password != fakeSvcPassword || u.Domain.Name != "Default" ||
		s.Name != fakeSvcProject || s.Domain.Name != "Default" {
		keystoneError(w, 401, "Unauthorized", unauthorizedMsg)
		return
	}
	f.mu.Lock()
	f.svcIssued++
	id := "svc-" + strings.Repeat("x", f.svcIssued)
	now := f.now()
	f.tokens[id] = fakeToken{project: fakeSvcProject, roles: []string{"service"}, expires: now.Add(f.svcLife), service: true}
	f.mu.Unlock()
	w.Header().Set("X-Subject-Token", id)
	writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]any{
		"issued_at": now.UTC().Format(timeFormat), "expires_at": now.Add(f.svcLife).UTC().Format(timeFormat)}})
}

func (f *fakeKeystone) validate(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.validates++
	if f.failStatus != 0 {
		keystoneError(w, f.failStatus, "Error", "injected")
		return
	}
	now := f.now()
	svc, ok := f.tokens[r.Header.Get("X-Auth-Token")]
	if !ok || !svc.service || !now.Before(svc.expires) {
		keystoneError(w, 401, "Unauthorized", unauthorizedMsg)
		return
	}
	sid := r.Header.Get("X-Subject-Token")
	tok, ok := f.tokens[sid]
	if !ok || !now.Before(tok.expires) {
		keystoneError(w, 404, "Not Found", "Could not find token: "+sid+".")
		return
	}
	out := map[string]any{
		"methods":    []string{"password"},
		"user":       map[string]any{"id": "u-" + sid, "name": "user-" + sid, "domain": map[string]string{"id": "default", "name": "Default"}},
		"issued_at":  now.UTC().Format(timeFormat),
		"expires_at": tok.expires.UTC().Format(timeFormat),
		"audit_ids":  []string{"a"},
	}
	if tok.project != "" {
		out["project"] = map[string]any{"id": "p-" + tok.project, "name": tok.project, "domain": map[string]string{"id": "default", "name": "Default"}}
		var roles []map[string]string
		for _, role := range tok.roles {
			roles = append(roles, map[string]string{"id": "r-" + role, "name": role})
		}
		out["roles"] = roles
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": out})
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newRemote(t *testing.T, f *fakeKeystone, c *clock, mod func(*RemoteConfig)) *Remote {
	t.Helper()
	cfg := RemoteConfig{URL: f.srv.URL + "/v3/", Username: fakeSvcUser, Password: fakeSvcPassword,
		ProjectName: fakeSvcProject, CacheTTL: time.Minute, Now: c.now}
	if mod != nil {
		mod(&cfg)
	}
	k, err := NewRemote(cfg, nil)
	if err != nil {
		t.Fatalf("NewRemote: %v", err)
	}
	return k
}

func TestRemoteMiddlewareMapsRoles(t *testing.T) {
	c := newClock()
	f := newFakeKeystone(t, c.now)
	k := newRemote(t, f, c, nil)
	if k.URL() != f.srv.URL {
		t.Errorf("URL() = %q, want %q (trailing /v3 dropped)", k.URL(), f.srv.URL)
	}
	exp := c.now().Add(time.Hour)
	// A real Keystone lists implied roles: admin implies member implies reader.
	f.add("tok-admin", "ops", exp, "admin", "member", "reader")
	f.add("tok-member", "demo", exp, "member", "reader")
	f.add("tok-reader", "demo", exp, "reader")
	f.add("tok-unscoped", "", exp)
	srv := httptest.NewServer(k.Middleware(whoami))
	t.Cleanup(srv.Close)

	for tok, want := range map[string]struct {
		project string
		admin   bool
		role    string
	}{
		"tok-admin":  {"ops", true, "admin"},
		"tok-member": {"demo", false, "member"},
		"tok-reader": {"demo", false, "reader"},
	} {
		p := principalOf(t, do(t, "GET", srv.URL, map[string]string{"X-Auth-Token": tok}, nil))
		if p.ProjectName != want.project || p.ProjectID != "p-"+want.project || p.Admin != want.admin ||
			!p.HasRole(want.role) || p.UserID != "u-"+tok {
			t.Errorf("%s: principal %+v", tok, p)
		}
		if tok != "tok-admin" && p.HasRole("admin") {
			t.Errorf("%s: admin role granted: %+v", tok, p)
		}
	}
	for name, hdr := range map[string]map[string]string{
		"missing":  nil,
		"unknown":  {"X-Auth-Token": "nope"},
		"unscoped": {"X-Auth-Token": "tok-unscoped"},
		"huge":     {"X-Auth-Token": strings.Repeat("a", maxTokenLen+1)},
	} {
		r := do(t, "GET", srv.URL, hdr, nil)
		if r.code != http.StatusUnauthorized || string(r.body) != wantUnauthorized {
			t.Errorf("%s token: %d %s", name, r.code, r.body)
		}
		if got, want := r.header.Get("WWW-Authenticate"), `Keystone uri="`+f.srv.URL+`"`; got != want {
			t.Errorf("%s token: WWW-Authenticate %q, want %q", name, got, want)
		}
	}
	if svc, _ := f.counts(); svc != 1 {
		t.Errorf("service token issued %d times, want 1 (reused)", svc)
	}
}

func TestRemoteCacheBoundedByTTLAndExpiry(t *testing.T) {
	c := newClock()
	f := newFakeKeystone(t, c.now)
	k := newRemote(t, f, c, func(cfg *RemoteConfig) { cfg.CacheTTL = time.Minute })
	ctx := context.Background()
	f.add("long", "demo", c.now().Add(time.Hour), "member")
	f.add("short", "demo", c.now().Add(10*time.Second), "member")

	validate := func(tok string) error { _, err := k.Validate(ctx, tok); return err }
	for range 3 {
		for _, tok := range []string{"long", "short"} {
			if err := validate(tok); err != nil {
				t.Fatalf("%s: %v", tok, err)
			}
		}
	}
	if _, n := f.counts(); n != 2 {
		t.Fatalf("%d validations in Keystone, want 2 (the rest from the cache)", n)
	}
	// Past the short token's expiry but within the cache TTL: the entry
	// must not outlive its token.
	c.advance(11 * time.Second)
	if err := validate("short"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired token: %v, want ErrInvalidToken", err)
	}
	if err := validate("long"); err != nil {
		t.Fatal(err)
	}
	if _, n := f.counts(); n != 3 {
		t.Errorf("%d validations, want 3 (long still cached, short asked again)", n)
	}
	// Revoked in Keystone: trusted from memory at most CacheTTL.
	f.revoke("long")
	if err := validate("long"); err != nil {
		t.Errorf("revoked token within the cache time: %v (cache not used?)", err)
	}
	c.advance(time.Minute)
	if err := validate("long"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("revoked token after the cache time: %v, want ErrInvalidToken", err)
	}
}

func TestRemoteCacheSize(t *testing.T) {
	c := newClock()
	f := newFakeKeystone(t, c.now)
	k := newRemote(t, f, c, func(cfg *RemoteConfig) { cfg.CacheSize = 3 })
	for i := range 10 {
		id := "t" + strings.Repeat("i", i)
		f.add(id, "demo", c.now().Add(time.Hour), "member")
		if _, err := k.Validate(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if n, _ := k.cacheLen(); n > 3 {
			t.Fatalf("cache holds %d tokens, bound 3", n)
		}
	}
}

// Invalid tokens are remembered apart, bounded likewise: a flood of bogus
// tokens reaches Keystone once per token and evicts no valid one.
func TestRemoteInvalidTokenCache(t *testing.T) {
	c := newClock()
	f := newFakeKeystone(t, c.now)
	k := newRemote(t, f, c, func(cfg *RemoteConfig) { cfg.CacheSize = 3 })
	ctx := context.Background()
	f.add("good", "demo", c.now().Add(time.Hour), "member")
	if _, err := k.Validate(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := k.Validate(ctx, "bogus"); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("bogus token: %v", err)
		}
	}
	if _, n := f.counts(); n != 2 {
		t.Fatalf("%d validations in Keystone, want 2 (bogus asked once)", n)
	}
	for i := range 10 {
		if _, err := k.Validate(ctx, "bogus"+strings.Repeat("x", i)); !errors.Is(err, ErrInvalidToken) {
			t.Fatal(err)
		}
		if _, n := k.cacheLen(); n > 3 {
			t.Fatalf("%d invalid tokens cached, bound 3", n)
		}
	}
	if valid, _ := k.cacheLen(); valid != 1 {
		t.Errorf("valid tokens cached: %d, want 1 (none evicted by bogus ones)", valid)
	}
	// The verdict is forgotten after the cache time.
	_, before := f.counts()
	c.advance(time.Minute)
	if _, err := k.Validate(ctx, "bogus"); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
	if _, n := f.counts(); n != before+1 {
		t.Errorf("after the cache time: %d validations, want %d", n, before+1)
	}
}

func TestRemoteCacheDisabled(t *testing.T) {
	c := newClock()
	f := newFakeKeystone(t, c.now)
	k := newRemote(t, f, c, func(cfg *RemoteConfig) { cfg.CacheTTL = -1 })
	f.add("tok", "demo", c.now().Add(time.Hour), "member")
	for range 3 {
		if _, err := k.Validate(context.Background(), "tok"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := k.Validate(context.Background(), "bogus"); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
	if _, n := f.counts(); n != 4 {
		t.Errorf("validations %d, want 4 without a cache", n)
	}
	if valid, invalid := k.cacheLen(); valid+invalid != 0 {
		t.Errorf("cached %d valid and %d invalid tokens without a cache", valid, invalid)
	}
}

func TestRemoteServiceToken(t *testing.T) {
	c := newClock()
	f := newFakeKeystone(t, c.now)
	k := newRemote(t, f, c, func(cfg *RemoteConfig) { cfg.CacheTTL = -1 })
	ctx := context.Background()
	f.add("tok", "demo", c.now().Add(3*time.Hour), "member")
	if _, err := k.Validate(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	// Revoked service token: one new one, and the request succeeds.
	f.revokeServiceTokens()
	if _, err := k.Validate(ctx, "tok"); err != nil {
		t.Fatalf("after the service token's revocation: %v", err)
	}
	if svc, _ := f.counts(); svc != 2 {
		t.Fatalf("service tokens issued %d, want 2", svc)
	}
	// Renewed after three quarters of its (1h) lifetime, before it expires.
	c.advance(44 * time.Minute)
	if _, err := k.Validate(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if svc, _ := f.counts(); svc != 2 {
		t.Fatalf("service token renewed early: %d issued", svc)
	}
	c.advance(2 * time.Minute)
	if _, err := k.Validate(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if svc, _ := f.counts(); svc != 3 {
		t.Fatalf("service token not renewed at 3/4 of its life: %d issued", svc)
	}
}

// Failures of Keystone or of the service credentials are 503, never 401 (a
// client would drop a good token) and never 200.
func TestRemoteKeystoneFailures(t *testing.T) {
	c := newClock()
	f := newFakeKeystone(t, c.now)
	f.add("tok", "demo", c.now().Add(time.Hour), "member")
	check := func(name string, k *Remote) {
		t.Helper()
		srv := httptest.NewServer(k.Middleware(whoami))
		defer srv.Close()
		r := do(t, "GET", srv.URL, map[string]string{"X-Auth-Token": "tok"}, nil)
		if r.code != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"code":503`) {
			t.Errorf("%s: %d %s, want 503 in Keystone's format", name, r.code, r.body)
		}
	}
	check("wrong service password", newRemote(t, f, c, func(cfg *RemoteConfig) { cfg.Password = "wrong" }))
	for _, status := range []int{http.StatusInternalServerError, http.StatusForbidden} {
		f.mu.Lock()
		f.failStatus = status
		f.mu.Unlock()
		check(http.StatusText(status), newRemote(t, f, c, nil))
	}
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	check("unreachable", newRemote(t, f, c, func(cfg *RemoteConfig) { cfg.URL = url }))
}

func TestNewRemoteRefusesBadConfig(t *testing.T) {
	good := RemoteConfig{URL: "http://127.0.0.1:5000", Username: "u", Password: "p", ProjectName: "service"}
	for name, mod := range map[string]func(*RemoteConfig){
		"no scheme":        func(c *RemoteConfig) { c.URL = "127.0.0.1:5000" },
		"ftp":              func(c *RemoteConfig) { c.URL = "ftp://h/" },
		"no user":          func(c *RemoteConfig) { c.Username = "" },
		"no password":      func(c *RemoteConfig) { c.Password = "" },
		"no project":       func(c *RemoteConfig) { c.ProjectName = "" },
		"cache over 5 min": func(c *RemoteConfig) { c.CacheTTL = 6 * time.Minute },
		"missing CA file":  func(c *RemoteConfig) { c.CAFile = "/nonexistent/ca.pem" },
	} {
		cfg := good
		mod(&cfg)
		if _, err := NewRemote(cfg, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewRemote(good, nil); err != nil {
		t.Errorf("good config: %v", err)
	}
}

func TestRemoteNotIdentityAndIssue(t *testing.T) {
	c := newClock()
	f := newFakeKeystone(t, c.now)
	k := newRemote(t, f, c, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/v3/", k.NotIdentity)
	mux.HandleFunc("POST /issue", k.IssueToken)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r := do(t, "POST", srv.URL+"/v3/auth/tokens", nil, passwordAuth("x", "y", "z"))
	if r.code != http.StatusNotFound || !strings.Contains(string(r.body), f.srv.URL+"/v3") {
		t.Errorf("/v3 on a remote-Keystone server: %d %s", r.code, r.body)
	}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": fakeSvcUser, "domain": map[string]string{"name": "Default"}, "password": fakeSvcPassword}}},
		"scope": map[string]any{"project": map[string]any{"name": fakeSvcProject, "domain": map[string]string{"name": "Default"}}},
	}}
	r = do(t, "POST", srv.URL+"/issue", nil, body)
	if r.code != http.StatusCreated || !strings.HasPrefix(r.header.Get("X-Subject-Token"), "svc-") {
		t.Errorf("forwarded login: %d %v %s", r.code, r.header, r.body)
	}
	r = do(t, "POST", srv.URL+"/issue", nil, passwordAuth("x", "y", "z"))
	if r.code != http.StatusUnauthorized || r.header.Get("X-Subject-Token") != "" {
		t.Errorf("forwarded bad login: %d %v", r.code, r.header)
	}
}
