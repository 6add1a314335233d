package neutron

import "testing"

// Security groups: bulk create; the same group twice on a port is a 400,
// as Neutron validates the list as type:uuid_list.
func TestSecurityGroupBulkAndDuplicates(t *testing.T) {
	a := newTestAPI(t)
	out := a.must(201, "POST", "/v2.0/security-groups", "p1", map[string]any{"security_groups": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}})
	sgs := out["security_groups"].([]any)
	if len(sgs) != 2 {
		t.Fatalf("bulk: %v", out)
	}
	id := sgs[0].(map[string]any)["id"]
	n := a.must(201, "POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "n"}})["network"].(map[string]any)
	a.wantErr(400, "", "Duplicate items", "POST", "/v2.0/ports", "p1", map[string]any{"port": map[string]any{"network_id": n["id"], "security_groups": []any{id, id}}})
	p := a.must(201, "POST", "/v2.0/ports", "p1", map[string]any{"port": map[string]any{"network_id": n["id"]}})["port"].(map[string]any)
	before := p["security_groups"]
	path := "/v2.0/ports/" + p["id"].(string)
	a.wantErr(400, "", "Duplicate items", "PUT", path, "p1", map[string]any{"port": map[string]any{"security_groups": []any{id, id}}})
	a.wantErr(404, "SecurityGroupNotFound", "", "PUT", path, "p1", map[string]any{"port": map[string]any{"security_groups": []any{"2c1e7d46-9f3a-4b1e-8c55-0a4d6f1b2e3c"}}})
	a.wantErr(400, "", "not a valid UUID", "PUT", path, "p1", map[string]any{"port": map[string]any{"security_groups": []any{"web"}}})
	if got := a.must(200, "GET", path, "p1", nil)["port"].(map[string]any)["security_groups"]; len(got.([]any)) != len(before.([]any)) || got.([]any)[0] != before.([]any)[0] {
		t.Errorf("groups changed by refused updates: %v, were %v", got, before)
	}
}

// The default group's description may change; a bad name is a 400 even on
// the default group; renaming it is a 409.
func TestDefaultSecurityGroupUpdate(t *testing.T) {
	a := newTestAPI(t)
	a.must(200, "GET", "/v2.0/networks", "p1", nil)
	sgs := a.must(200, "GET", "/v2.0/security-groups?name=default", "p1", nil)["security_groups"].([]any)
	if len(sgs) != 1 {
		t.Fatalf("default groups: %v", sgs)
	}
	path := "/v2.0/security-groups/" + sgs[0].(map[string]any)["id"].(string)
	a.must(200, "PUT", path, "p1", map[string]any{"security_group": map[string]any{"description": "d"}})
	for _, name := range []any{true, 12, fmtLong()} {
		if code, out := a.call("PUT", path, "p1", map[string]any{"security_group": map[string]any{"name": name}}); code != 400 {
			t.Errorf("name %v: %d %v", name, code, out)
		}
	}
	if code, out := a.call("PUT", path, "p1", map[string]any{"security_group": map[string]any{"name": "x"}}); code != 409 {
		t.Errorf("rename default: %d %v", code, out)
	}
}

func fmtLong() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

// Security group and rule quotas count the default group and its rules;
// an invalid quota value is a 400.
func TestSecurityGroupQuotas(t *testing.T) {
	a := newTestAPI(t)
	a.must(200, "PUT", "/v2.0/quotas/p1", "", map[string]any{"quota": map[string]any{"security_group": 2}})
	a.must(201, "POST", "/v2.0/security-groups", "p1", map[string]any{"security_group": map[string]any{"name": "a"}})
	code, out := a.call("POST", "/v2.0/security-groups", "p1", map[string]any{"security_group": map[string]any{"name": "b"}})
	if code != 409 || errType(out) != "OverQuota" {
		t.Errorf("group beyond the quota: %d %v", code, out)
	}
	rules := a.must(200, "GET", "/v2.0/security-group-rules", "p1", nil)["security_group_rules"].([]any)
	a.must(200, "PUT", "/v2.0/quotas/p1", "", map[string]any{"quota": map[string]any{"security_group_rule": len(rules)}})
	sg := a.must(200, "GET", "/v2.0/security-groups?name=a", "p1", nil)["security_groups"].([]any)[0].(map[string]any)
	code, out = a.call("POST", "/v2.0/security-group-rules", "p1", map[string]any{"security_group_rule": map[string]any{
		"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}})
	if code != 409 || errType(out) != "OverQuota" {
		t.Errorf("rule beyond the quota: %d %v", code, out)
	}
	for _, v := range []any{"abc", -2, 1.5} {
		if code, out := a.call("PUT", "/v2.0/quotas/p1", "", map[string]any{"quota": map[string]any{"security_group": v}}); code != 400 {
			t.Errorf("quota %v: %d %v", v, code, out)
		}
	}
}

// A member sees every rule of its groups, those an admin added too.
func TestSecurityGroupRulesOfOwnGroups(t *testing.T) {
	a := newTestAPI(t)
	sg := a.must(201, "POST", "/v2.0/security-groups", "p1", map[string]any{"security_group": map[string]any{"name": "a"}})["security_group"].(map[string]any)
	r := a.must(201, "POST", "/v2.0/security-group-rules", "", map[string]any{"security_group_rule": map[string]any{
		"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "project_id": "admin-project"}})["security_group_rule"].(map[string]any)
	found := false
	for _, x := range a.must(200, "GET", "/v2.0/security-group-rules", "p1", nil)["security_group_rules"].([]any) {
		found = found || x.(map[string]any)["id"] == r["id"]
	}
	if !found {
		t.Errorf("rule %v of the member's group not listed", r["id"])
	}
	a.must(200, "GET", "/v2.0/security-group-rules/"+r["id"].(string), "p1", nil)
}
