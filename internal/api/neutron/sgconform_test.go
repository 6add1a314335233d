package neutron

import "testing"

// Security groups: bulk create, dedupe on a port.
func TestSecurityGroupBulkAndDedupe(t *testing.T) {
	a := newTestAPI(t)
	out := a.must(201, "POST", "/v2.0/security-groups", "p1", map[string]any{"security_groups": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}})
	sgs := out["security_groups"].([]any)
	if len(sgs) != 2 {
		t.Fatalf("bulk: %v", out)
	}
	id := sgs[0].(map[string]any)["id"]
	n := a.must(201, "POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "n"}})["network"].(map[string]any)
	p := a.must(201, "POST", "/v2.0/ports", "p1", map[string]any{"port": map[string]any{"network_id": n["id"], "security_groups": []any{id, id}}})["port"].(map[string]any)
	if g := p["security_groups"].([]any); len(g) != 1 {
		t.Errorf("port groups %v", g)
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
