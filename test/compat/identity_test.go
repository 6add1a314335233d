package compat

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestOpenStackIdentity: an admin creates a project and a user with the
// real CLI, makes the user a member, and the user then works in the
// project, within the quota the admin sets for it.
func TestOpenStackIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: starts a server and runs the openstack CLI; skipped with -short")
	}
	if _, err := exec.LookPath("openstack"); err != nil {
		t.Fatalf("the openstack CLI is not installed (scripts/deps.sh installs python3-openstackclient): %v", err)
	}
	srv := startServer(t, buildWyvern(t))
	admin := srv.openstack(t, srv.admin)

	if d := admin.obj("domain", "show", "Default"); str(d, "id") != "default" {
		t.Errorf("domain show: %v", d)
	}
	p := admin.obj("project", "create", "proj-x", "--description", "made by the CLI")
	if str(p, "name") != "proj-x" || str(p, "domain_id") != "default" {
		t.Errorf("project create: %v", p)
	}
	if _, errOut, err := admin.run("project", "create", "proj-x"); err == nil || !strings.Contains(errOut, "409") && !strings.Contains(errOut, "Conflict") {
		t.Errorf("duplicate project create: %v %s", err, errOut)
	}
	u := admin.obj("user", "create", "user-x", "--password", "user-x-pw", "--project", "proj-x")
	if str(u, "name") != "user-x" {
		t.Errorf("user create: %v", u)
	}
	admin.ok("role", "add", "--project", "proj-x", "--user", "user-x", "member")
	as := admin.list("role", "assignment", "list", "--user", "user-x", "--project", "proj-x")
	if len(as) != 1 {
		t.Errorf("role assignment list: %v", as)
	}

	x := srv.openstack(t, account{user: "user-x", password: "user-x-pw", project: "proj-x"})
	if tok := x.obj("token", "issue"); str(tok, "project_id") != str(p, "id") {
		t.Errorf("token issue: %v, want project %s", tok, str(p, "id"))
	}
	if _, errOut, err := x.run("project", "create", "proj-y"); err == nil || !strings.Contains(errOut, "403") && !strings.Contains(strings.ToLower(errOut), "not authorized") {
		t.Errorf("member project create: %v %s", err, errOut)
	}
	// The CLI's quota set needs a compute service; set it the way Neutron
	// clients do.
	tokID := str(admin.obj("token", "issue"), "id")
	req, err := http.NewRequest("PUT", srv.url+"/v2.0/quotas/"+str(p, "id"), strings.NewReader(`{"quota": {"network": 1}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", tokID)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("quota update: %d", resp.StatusCode)
	}
	x.ok("network", "create", "net-x1")
	if _, errOut, err := x.run("network", "create", "net-x2"); err == nil || !strings.Contains(errOut, "Quota exceeded") {
		t.Errorf("network beyond the project's quota: %v %s", err, errOut)
	}
}
