package keystone

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/auth"
)

// openstackCLI runs python-openstackclient against authURL with a clean
// environment and returns its stdout.
func openstackCLI(t *testing.T, authURL, user, password, project string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("openstack")
	if err != nil {
		t.Fatalf("the openstack CLI is required (python3-openstackclient, installed by scripts/deps.sh): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	full := append([]string{
		"--os-auth-url", authURL, "--os-identity-api-version", "3",
		"--os-username", user, "--os-password", password, "--os-project-name", project,
		"--os-user-domain-name", "Default", "--os-project-domain-name", "Default",
		"--os-interface", "public", "--os-region-name", "RegionOne",
	}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	home := t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CACHE_HOME=" + home, "LANG=C.UTF-8"}
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("openstack %v: %v\nstdout: %s\nstderr: %s", args, err, out, stderr)
	}
	return out
}

// TestOpenstackCLI authenticates with the real python-openstackclient
// (keystoneauth1 version discovery on /v3, then POST /v3/auth/tokens) and
// lists networks through the catalog and the middleware.
func TestOpenstackCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the openstack CLI")
	}
	st := startEtcd(t)
	s := newService(t, st, nil)
	mux := http.NewServeMux()
	s.Register(mux)
	neutronStandIn(mux, s)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	out := openstackCLI(t, srv.URL+"/v3", "admin", testAdminPassword, "admin", "token", "issue", "-f", "json")
	var tok struct {
		ID        string `json:"id"`
		ProjectID string `json:"project_id"`
		UserID    string `json:"user_id"`
		Expires   string `json:"expires"`
	}
	if err := json.Unmarshal(out, &tok); err != nil {
		t.Fatalf("token issue output %q: %v", out, err)
	}
	if tok.ProjectID != ProjectID("admin") || tok.UserID != UserID("admin") || tok.Expires == "" {
		t.Errorf("token issue: %+v", tok)
	}
	got, err := s.Validate(t.Context(), tok.ID)
	if err != nil || got.User.Name != "admin" {
		t.Errorf("token from the CLI does not validate: %v %+v", err, got)
	}

	// `token revoke` validates nothing itself: DELETE /v3/auth/tokens with
	// the CLI's own admin token.
	openstackCLI(t, srv.URL+"/v3", "admin", testAdminPassword, "admin", "token", "revoke", tok.ID)
	if _, err := s.Validate(t.Context(), tok.ID); err == nil {
		t.Error("token still valid after openstack token revoke")
	}

	out = openstackCLI(t, srv.URL+"/v3", "alice", "alice-dev-password", "demo", "network", "list", "-f", "json")
	var nets []map[string]any
	if err := json.Unmarshal(out, &nets); err != nil {
		t.Fatalf("network list output %q: %v", out, err)
	}
	if len(nets) != 1 || nets[0]["Name"] != "net-of-demo" {
		t.Errorf("network list = %v", nets)
	}
}

// neutronStandIn serves a stand-in for the Neutron API on mux: its version
// document and, behind the middleware, a network list that shows the
// caller's project.
func neutronStandIn(mux *http.ServeMux, s *Service) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
			"id": "v2.0", "status": "CURRENT",
			"links": []any{map[string]any{"rel": "self", "href": s.BaseURL(r) + "/v2.0/"}},
		}}})
	})
	mux.Handle("GET /v2.0/networks", s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		writeJSON(w, http.StatusOK, map[string]any{"networks": []any{map[string]any{
			"id": "5d3b6c49-8bd3-4e35-9b3f-1d1d0d6a2d10", "name": "net-of-" + p.ProjectName,
			"project_id": p.ProjectID, "tenant_id": p.ProjectID, "status": "ACTIVE",
			"admin_state_up": true, "shared": false, "subnets": []any{},
		}}})
	}), false))
}
