package keystone

import (
	"net/http"
	"testing"
)

// TestIdentityAdmin: an admin creates a project and a user with a
// password, grants member, and the user gets a token on the project; a
// member is refused every admin call.
func TestIdentityAdmin(t *testing.T) {
	st := startEtcd(t)
	srv := serve(t, newService(t, st, nil))
	admin, _ := issue(t, srv, "admin", testAdminPassword, "admin")
	hdr := map[string]string{"X-Auth-Token": admin}
	r := do(t, "GET", srv.URL+"/v3/domains?name=Default", hdr, nil)
	if r.code != http.StatusOK || len(r.json(t)["domains"].([]any)) != 1 {
		t.Fatalf("domains: %d %s", r.code, r.body)
	}
	r = do(t, "POST", srv.URL+"/v3/projects", hdr, map[string]any{"project": map[string]any{"name": "p1", "domain_id": "default"}})
	if r.code != http.StatusCreated {
		t.Fatalf("create project: %d %s", r.code, r.body)
	}
	p := r.json(t)["project"].(map[string]any)
	if p["domain_id"] != "default" || p["enabled"] != true || p["links"] == nil {
		t.Errorf("project %v", p)
	}
	pid := p["id"].(string)
	if r = do(t, "POST", srv.URL+"/v3/projects", hdr, map[string]any{"project": map[string]any{"name": "p1"}}); r.code != http.StatusConflict {
		t.Errorf("duplicate project: %d %s", r.code, r.body)
	}
	if r = do(t, "POST", srv.URL+"/v3/projects", hdr, map[string]any{"project": map[string]any{"name": "demo"}}); r.code != http.StatusConflict {
		t.Errorf("duplicate of the users file's project: %d %s", r.code, r.body)
	}
	r = do(t, "POST", srv.URL+"/v3/users", hdr, map[string]any{"user": map[string]any{"name": "u1", "password": "pw1", "default_project_id": pid}})
	if r.code != http.StatusCreated {
		t.Fatalf("create user: %d %s", r.code, r.body)
	}
	uid := r.json(t)["user"].(map[string]any)["id"].(string)
	r = do(t, "GET", srv.URL+"/v3/roles?name=member", hdr, nil)
	roles := r.json(t)["roles"].([]any)
	if len(roles) != 1 {
		t.Fatalf("roles: %s", r.body)
	}
	rid := roles[0].(map[string]any)["id"].(string)
	grant := srv.URL + "/v3/projects/" + pid + "/users/" + uid + "/roles/" + rid
	if r = do(t, "HEAD", grant, hdr, nil); r.code != http.StatusNotFound {
		t.Errorf("check before grant: %d", r.code)
	}
	if r = do(t, "PUT", grant, hdr, nil); r.code != http.StatusNoContent {
		t.Fatalf("grant: %d %s", r.code, r.body)
	}
	if r = do(t, "HEAD", grant, hdr, nil); r.code != http.StatusNoContent {
		t.Errorf("check after grant: %d", r.code)
	}
	r = do(t, "GET", srv.URL+"/v3/role_assignments?user.id="+uid+"&scope.project.id="+pid, hdr, nil)
	if as := r.json(t)["role_assignments"].([]any); len(as) != 1 {
		t.Errorf("assignments: %s", r.body)
	}
	member, tok := issue(t, srv, "u1", "pw1", "p1")
	if tok["project"].(map[string]any)["id"] != pid {
		t.Errorf("token project %v", tok["project"])
	}
	mh := map[string]string{"X-Auth-Token": member}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v3/projects"}, {"POST", "/v3/projects"}, {"GET", "/v3/users"}, {"DELETE", "/v3/projects/" + pid},
		{"PUT", "/v3/projects/" + pid + "/users/" + uid + "/roles/" + RoleID(RoleAdmin)}, {"GET", "/v3/role_assignments"},
	} {
		if r = do(t, c.method, srv.URL+c.path, mh, map[string]any{"project": map[string]any{"name": "x"}}); r.code != http.StatusForbidden {
			t.Errorf("member %s %s: %d %s", c.method, c.path, r.code, r.body)
		}
	}
	// Disabling the project ends its tokens; the users file stays read-only.
	if r = do(t, "PATCH", srv.URL+"/v3/projects/"+pid, hdr, map[string]any{"project": map[string]any{"enabled": false}}); r.code != http.StatusOK {
		t.Fatalf("disable: %d %s", r.code, r.body)
	}
	if r = do(t, "PATCH", srv.URL+"/v3/users/"+UserID("alice"), hdr, map[string]any{"user": map[string]any{"enabled": false}}); r.code != http.StatusForbidden {
		t.Errorf("update a users file entry: %d %s", r.code, r.body)
	}
	if r = do(t, "DELETE", srv.URL+"/v3/users/"+uid, hdr, nil); r.code != http.StatusNoContent {
		t.Errorf("delete user: %d %s", r.code, r.body)
	}
	if r = do(t, "DELETE", srv.URL+"/v3/projects/"+pid, hdr, nil); r.code != http.StatusNoContent {
		t.Errorf("delete project: %d %s", r.code, r.body)
	}
	if r = do(t, "GET", srv.URL+"/v3/projects/"+pid, hdr, nil); r.code != http.StatusNotFound {
		t.Errorf("deleted project: %d %s", r.code, r.body)
	}
}
