package keystone

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
	"golang.org/x/crypto/bcrypt"
)

// startEtcd runs an embedded etcd for the test and returns a store
// connected to it; both are closed when the test ends.
func startEtcd(t *testing.T) *store.Store { return storetest.New(t) }

const testAdminPassword = "admin-secret"

// newService builds a service on st with the test users file and the
// bootstrap admin; mod may change the config first.
func newService(t *testing.T, st *store.Store, mod func(*Config)) *Service {
	t.Helper()
	cfg := Config{
		UsersFile:     filepath.Join("testdata", "users.json"),
		AdminPassword: testAdminPassword,
		BcryptCost:    bcrypt.MinCost,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, st, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// serve runs the Keystone routes of s on an httptest server.
func serve(t *testing.T, s *Service) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

func do(t *testing.T, method, url string, headers map[string]string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

// passwordAuth is a password request body; project "" is unscoped.
func passwordAuth(user, password, project string) map[string]any {
	a := map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": user, "domain": map[string]any{"name": "Default"}, "password": password,
			}},
		},
	}
	if project != "" {
		a["scope"] = map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"id": "default"}}}
	}
	return map[string]any{"auth": a}
}

// issue gets a token or fails the test.
func issue(t *testing.T, srv *httptest.Server, user, password, project string) (string, map[string]any) {
	t.Helper()
	r := do(t, "POST", srv.URL+"/v3/auth/tokens", nil, passwordAuth(user, password, project))
	if r.code != http.StatusCreated {
		t.Fatalf("issue %s/%s: %d %s", user, project, r.code, r.body)
	}
	id := r.header.Get("X-Subject-Token")
	if id == "" {
		t.Fatal("no X-Subject-Token")
	}
	return id, r.json(t)["token"].(map[string]any)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
