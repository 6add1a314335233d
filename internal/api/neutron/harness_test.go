package neutron

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// startEtcd runs an embedded etcd for one test and returns a store on it
// and its endpoints.
func startEtcd(t testing.TB) (*store.Store, []string) {
	t.Helper()
	e := storetest.Start(t)
	return e.Store, e.Endpoints()
}

// testAPI is the API on a private etcd, called as a chosen principal.
type testAPI struct {
	t   testing.TB
	srv *httptest.Server
	api *Server
	st  *store.Store
}

func newTestAPI(t testing.TB) *testAPI {
	t.Helper()
	st, _ := startEtcd(t)
	api := New(st, DefaultConfig(), nil)
	mux := http.NewServeMux()
	api.Register(mux, testCaller)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testAPI{t: t, srv: srv, api: api, st: st}
}

// testCaller is the tests' auth middleware: it puts the principal the
// request names in its context, as the token middleware would. The
// X-Test-Project header names a member's project; no header, or
// X-Test-Admin: true, makes the caller an admin (of "admin-project" when
// no project is named). Without a middleware like it the API refuses
// every request.
func testCaller(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Principal{ProjectID: r.Header.Get("X-Test-Project"), Roles: []string{"member"}}
		if p.ProjectID == "" || r.Header.Get("X-Test-Admin") == "true" {
			p.Admin = true
			p.Roles = []string{"admin"}
			if p.ProjectID == "" {
				p.ProjectID = "admin-project"
			}
		}
		h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// call sends a request as project ("" = admin) and decodes the JSON answer
// into a generic map. It returns the status code.
func (a *testAPI) call(method, path, project string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if project != "" {
		req.Header.Set("X-Test-Project", project)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: non-JSON answer %d: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

// must is call that fails the test unless the status is want.
func (a *testAPI) must(want int, method, path, project string, body any) map[string]any {
	a.t.Helper()
	code, out := a.call(method, path, project, body)
	if code != want {
		a.t.Fatalf("%s %s: got %d want %d: %v", method, path, code, want, out)
	}
	return out
}

// errType returns NeutronError.type of an error answer.
func errType(out map[string]any) string {
	e, _ := out["NeutronError"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

// callIfMatch is call with an If-Match revision constraint.
func (a *testAPI) callIfMatch(method, path, project string, rev int, body any) (int, map[string]any) {
	a.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(b))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("If-Match", fmt.Sprintf("revision_number=%d", rev))
	if project != "" {
		req.Header.Set("X-Test-Project", project)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
