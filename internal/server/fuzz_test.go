package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// The HTTP fuzz target drives the whole server — Keystone's middleware, the
// Neutron and identity handlers, the router — over a real socket, against
// its embedded etcd, with random methods, paths, headers, tokens and bodies.
// Its invariants are the project's rules for bad input:
//
//   - nothing panics and nothing answers 5xx;
//   - every Neutron error is in Neutron's format ({"NeutronError": {...}}),
//     every identity error in Keystone's ({"error": {...}});
//   - a refused request changes nothing: etcd's revision is the same after
//     it as before.
//
// `make test` runs the seeds as tests and then the fuzzer itself for a short
// time (`make fuzz`).

var fuzzMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}

// fuzzPaths are the routes served, with placeholders for the fixtures'
// ids; the fuzzer appends a suffix (more path, a query string, garbage).
var fuzzPaths = []string{
	"/", "/v2.0", "/v2.0/", "/v2.0/extensions", "/v2.0/extensions/dvr",
	"/v2.0/networks", "/v2.0/networks/NET", "/v2.0/networks/NET/tags", "/v2.0/networks/NET/tags/red",
	"/v2.0/subnets", "/v2.0/subnets/SUB", "/v2.0/ports", "/v2.0/ports/PORT",
	"/v2.0/routers", "/v2.0/routers/ROUTER", "/v2.0/routers/ROUTER/add_router_interface",
	"/v2.0/routers/ROUTER/remove_router_interface", "/v2.0/routers/ROUTER/add_extraroutes",
	"/v2.0/floatingips", "/v2.0/floatingips/FIP",
	"/v2.0/security-groups", "/v2.0/security-groups/SG", "/v2.0/security-group-rules", "/v2.0/security-group-rules/RULE",
	"/v2.0/subnetpools", "/v2.0/address-scopes", "/v2.0/address-groups", "/v2.0/agents",
	"/v2.0/quotas", "/v2.0/quotas/PROJ", "/v2.0/quotas/PROJ/default", "/v2.0/availability_zones",
	"/v3", "/v3/auth/tokens", "/v3/projects", "/v3/users", "/v3/domains", "/v3/roles",
	"/v3/role_assignments", "/v3/auth/projects", "/v3/auth/catalog",
}

// fuzzServer is one server for a whole fuzz worker, with fixtures to aim
// requests at and a token per identity.
type fuzzServer struct {
	base   string
	st     *store.Store
	tokens []string // "", admin, member of demo, member of other, garbage
	ids    map[string]string
	http   *http.Client
}

func newFuzzServer(f *testing.F) *fuzzServer {
	dir := f.TempDir()
	users := filepath.Join(dir, "users.json")
	if err := os.WriteFile(users, []byte(`{
  "projects": [{"name": "demo"}, {"name": "other"}],
  "users": [{"name": "alice", "password": "alice-pw"}, {"name": "dave", "password": "dave-pw"}],
  "role_assignments": [{"user": "alice", "project": "demo", "role": "member"},
                       {"user": "dave", "project": "other", "role": "member"}]}`), 0o600); err != nil {
		f.Fatal(err)
	}
	cfg := config(f, filepath.Join(dir, "etcd"))
	cfg.NoAuth = false
	cfg.AdminPassword = "admin-pw"
	cfg.UsersFile = users
	run(f, cfg)
	s := &fuzzServer{base: "http://" + cfg.Listen, ids: map[string]string{}, http: &http.Client{Timeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	if s.st, err = store.Dial(ctx, []string{cfg.EtcdClientURL}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.st.Close() })
	admin := s.token(f, "admin", "admin-pw", "admin")
	alice := s.token(f, "alice", "alice-pw", "demo")
	s.tokens = []string{"", admin, alice, s.token(f, "dave", "dave-pw", "other"), "0123456789abcdef"}

	// Fixtures: an external network of the admin's; the rest alice's.
	ext := s.create(f, admin, "/v2.0/networks", `{"network": {"name": "ext", "router:external": true}}`, "network")
	s.create(f, admin, "/v2.0/subnets", `{"subnet": {"network_id": "`+ext+`", "cidr": "203.0.113.0/24", "ip_version": 4}}`, "subnet")
	s.ids["NET"] = s.create(f, alice, "/v2.0/networks", `{"network": {"name": "n"}}`, "network")
	s.ids["SUB"] = s.create(f, alice, "/v2.0/subnets", `{"subnet": {"network_id": "`+s.ids["NET"]+`", "cidr": "10.9.0.0/24", "ip_version": 4}}`, "subnet")
	s.ids["PORT"] = s.create(f, alice, "/v2.0/ports", `{"port": {"network_id": "`+s.ids["NET"]+`"}}`, "port")
	s.ids["ROUTER"] = s.create(f, alice, "/v2.0/routers", `{"router": {"name": "r", "external_gateway_info": {"network_id": "`+ext+`"}}}`, "router")
	s.ids["SG"] = s.create(f, alice, "/v2.0/security-groups", `{"security_group": {"name": "sg"}}`, "security_group")
	s.ids["RULE"] = s.create(f, alice, "/v2.0/security-group-rules", `{"security_group_rule": {"security_group_id": "`+s.ids["SG"]+`", "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}}`, "security_group_rule")
	s.ids["FIP"] = s.create(f, alice, "/v2.0/floatingips", `{"floatingip": {"floating_network_id": "`+ext+`"}}`, "floatingip")
	s.ids["EXT"] = ext
	return s
}

func (s *fuzzServer) token(t testing.TB, user, password, project string) string {
	t.Helper()
	body := fmt.Sprintf(`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": %q, "domain": {"id": "default"}, "password": %q}}},
		"scope": {"project": {"name": %q, "domain": {"id": "default"}}}}}`, user, password, project)
	resp, err := s.http.Post(s.base+"/v3/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("token for %s: %d %s", user, resp.StatusCode, raw)
	}
	var tok struct {
		Token struct {
			Project struct{ ID string } `json:"project"`
		} `json:"token"`
	}
	_ = json.Unmarshal(raw, &tok)
	if project == "demo" {
		s.ids["PROJ"] = tok.Token.Project.ID
	}
	return resp.Header.Get("X-Subject-Token")
}

func (s *fuzzServer) create(t testing.TB, token, path, body, singular string) string {
	t.Helper()
	code, raw := s.do(t, "POST", path, token, "application/json", []byte(body))
	if code != http.StatusCreated {
		t.Fatalf("fixture %s: %d %s", path, code, raw)
	}
	var out map[string]map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out[singular]["id"].(string)
}

func (s *fuzzServer) do(t testing.TB, method, path, token, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return -1, nil // not a request a client could send
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "invalid header field") {
			return -1, nil // the client refused to send it
		}
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (s *fuzzServer) revision(t testing.TB) int64 {
	t.Helper()
	_, rev, err := s.st.List(context.Background(), store.Prefix+"no-such-key/")
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// expand replaces the fixtures' placeholders in a path or body.
func (s *fuzzServer) expand(in string) string {
	for k, v := range s.ids {
		in = strings.ReplaceAll(in, k, v)
	}
	return in
}

// checkErrorFormat asserts that a refusal's body is in the API's error
// format: Neutron's under /v2.0, Keystone's under /v3.
func checkErrorFormat(t *testing.T, method, path string, code int, raw []byte) {
	if method == "HEAD" || code < 400 {
		return
	}
	switch {
	case path == "/v2.0" || strings.HasPrefix(path, "/v2.0/"):
		var e struct {
			NeutronError *struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"NeutronError"`
			Error *struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s %s: %d with a body that is not JSON: %q", method, path, code, raw)
		}
		// keystonemiddleware's 401 is Keystone's format, as in Neutron.
		if code == http.StatusUnauthorized && e.Error != nil && e.Error.Code == 401 {
			return
		}
		if e.NeutronError == nil || e.NeutronError.Type == "" || e.NeutronError.Message == "" {
			t.Fatalf("%s %s: %d not in Neutron's error format: %s", method, path, code, raw)
		}
	case path == "/v3" || strings.HasPrefix(path, "/v3/"):
		var e struct {
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Error == nil || e.Error.Code != code {
			t.Fatalf("%s %s: %d not in Keystone's error format: %s", method, path, code, raw)
		}
	}
}

func FuzzHTTP(f *testing.F) {
	type seed struct {
		method, path, suffix string
		token                uint8
		body                 string
	}
	for _, sd := range []seed{
		{"GET", "/v2.0/networks", "", 2, ""},
		{"GET", "/v2.0/networks/NET", "", 3, ""},
		{"GET", "/v2.0/ports", "?fields=id&sort_key=name&sort_dir=sideways", 2, ""},
		{"GET", "/v2.0/ports", "?limit=-1&marker=nope", 2, ""},
		{"POST", "/v2.0/networks", "", 0, `{"network": {}}`},
		{"POST", "/v2.0/networks", "", 4, `{"network": {}}`},
		{"POST", "/v2.0/ports", "", 2, `{"port": {"network_id": "NET", "fixed_ips": [{"ip_address": "10.9.0.300"}]}}`},
		{"POST", "/v2.0/ports", "", 3, `{"port": {"network_id": "NET"}}`},
		{"PUT", "/v2.0/ports/PORT", "", 2, `{"port": {"mac_address": "zz"}}`},
		{"PUT", "/v2.0/ports/PORT", "", 3, `{"port": {"name": "x"}}`},
		{"PUT", "/v2.0/routers/ROUTER/add_router_interface", "", 2, `{"subnet_id": "nope"}`},
		{"PUT", "/v2.0/routers/ROUTER/add_router_interface", "", 2, `{"subnet_id": "SUB", "port_id": "PORT"}`},
		{"PUT", "/v2.0/floatingips/FIP", "", 2, `{"floatingip": {"port_id": "PORT", "fixed_ip_address": "10.9.0.250"}}`},
		{"POST", "/v2.0/security-group-rules", "", 2, `{"security_group_rule": {"security_group_id": "SG", "direction": "sideways"}}`},
		{"POST", "/v2.0/security-group-rules", "", 2, `{"security_group_rule": {"security_group_id": "SG", "direction": "ingress", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80}}`},
		{"DELETE", "/v2.0/networks/NET", "", 2, ""},
		{"DELETE", "/v2.0/security-groups/SG", "", 3, ""},
		{"PUT", "/v2.0/quotas/PROJ", "", 2, `{"quota": {"network": 1}}`},
		{"PUT", "/v2.0/quotas/PROJ", "", 1, `{"quota": {"network": "many"}}`},
		{"PUT", "/v2.0/networks/NET/tags/red", "", 2, ""},
		{"PATCH", "/v2.0/networks/NET", "", 2, `{}`},
		{"POST", "/v2.0/networks", "/extra/path", 2, `{"network": {"name": "x"}}`},
		{"GET", "/v2.0/nothing-here", "", 2, ""},
		{"POST", "/v3/auth/tokens", "", 0, `{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "alice", "password": "wrong", "domain": {"id": "default"}}}}}}`},
		{"POST", "/v3/auth/tokens", "", 0, `{"auth": `},
		{"POST", "/v3/projects", "", 2, `{"project": {"name": "p"}}`},
		{"POST", "/v3/projects", "", 1, `{"project": {"name": 7}}`},
		{"GET", "/v3/users", "", 3, ""},
		{"DELETE", "/v3/auth/tokens", "", 2, ""},
	} {
		m, p := 0, 0
		for i, x := range fuzzMethods {
			if x == sd.method {
				m = i
			}
		}
		for i, x := range fuzzPaths {
			if x == sd.path {
				p = i
			}
		}
		f.Add(uint8(m), uint8(p), sd.suffix, sd.token, "application/json", []byte(sd.body))
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, method, pathIdx uint8, suffix string, token uint8, ctype string, body []byte) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		path := s.expand(fuzzPaths[int(pathIdx)%len(fuzzPaths)] + suffix)
		before := s.revision(t)
		code, raw := s.do(t, m, path, s.tokens[int(token)%len(s.tokens)], ctype, []byte(s.expand(string(body))))
		if code == -1 {
			return
		}
		if code >= 500 {
			t.Fatalf("%s %s %q: %d %s", m, path, body, code, raw)
		}
		if code/100 != 2 {
			if after := s.revision(t); after != before {
				t.Fatalf("%s %s %q was refused (%d %s) but changed the store (revision %d → %d)", m, path, body, code, raw, before, after)
			}
			p, _, _ := strings.Cut(path, "?")
			checkErrorFormat(t, m, p, code, raw)
		}
		// A fixture deleted by a successful request is made again, so
		// later inputs still reach deep paths.
		if m == "DELETE" && code/100 == 2 {
			s.restoreFixtures(t)
		}
	})
}

// restoreFixtures re-creates the fixtures a successful delete removed.
func (s *fuzzServer) restoreFixtures(t *testing.T) {
	alice := s.tokens[2]
	exists := func(path string) bool { code, _ := s.do(t, "GET", path, alice, "", nil); return code == http.StatusOK }
	if !exists("/v2.0/networks/" + s.ids["NET"]) {
		s.ids["NET"] = s.create(t, alice, "/v2.0/networks", `{"network": {"name": "n"}}`, "network")
	}
	if !exists("/v2.0/subnets/" + s.ids["SUB"]) {
		s.ids["SUB"] = s.create(t, alice, "/v2.0/subnets", `{"subnet": {"network_id": "`+s.ids["NET"]+`", "cidr": "10.9.0.0/24", "ip_version": 4}}`, "subnet")
	}
	if !exists("/v2.0/ports/" + s.ids["PORT"]) {
		s.ids["PORT"] = s.create(t, alice, "/v2.0/ports", `{"port": {"network_id": "`+s.ids["NET"]+`"}}`, "port")
	}
	if !exists("/v2.0/routers/" + s.ids["ROUTER"]) {
		s.ids["ROUTER"] = s.create(t, alice, "/v2.0/routers", `{"router": {"name": "r"}}`, "router")
	}
	if !exists("/v2.0/security-groups/" + s.ids["SG"]) {
		s.ids["SG"] = s.create(t, alice, "/v2.0/security-groups", `{"security_group": {"name": "sg"}}`, "security_group")
	}
	if !exists("/v2.0/security-group-rules/" + s.ids["RULE"]) {
		s.ids["RULE"] = s.create(t, alice, "/v2.0/security-group-rules", `{"security_group_rule": {"security_group_id": "`+s.ids["SG"]+`", "direction": "ingress"}}`, "security_group_rule")
	}
	if !exists("/v2.0/floatingips/" + s.ids["FIP"]) {
		s.ids["FIP"] = s.create(t, alice, "/v2.0/floatingips", `{"floatingip": {"floating_network_id": "`+s.ids["EXT"]+`"}}`, "floatingip")
	}
}
