package neutron

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

func sgRules(t *testing.T, g map[string]any) []map[string]any {
	t.Helper()
	raw, ok := g["security_group_rules"].([]any)
	if !ok {
		t.Fatalf("no security_group_rules in %v", g)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

func createSG(t *testing.T, a *testAPI, project, name string) map[string]any {
	t.Helper()
	out := a.must(http.StatusCreated, "POST", "/v2.0/security-groups", project,
		map[string]any{"security_group": map[string]any{"name": name}})
	return out["security_group"].(map[string]any)
}

func createRule(a *testAPI, project string, rule map[string]any) (int, map[string]any) {
	a.t.Helper()
	return a.call("POST", "/v2.0/security-group-rules", project, map[string]any{"security_group_rule": rule})
}

func TestSecurityGroupDefaultOnFirstList(t *testing.T) {
	a := newTestAPI(t)
	out := a.must(http.StatusOK, "GET", "/v2.0/security-groups", "p1", nil)
	groups := out["security_groups"].([]any)
	if len(groups) != 1 {
		t.Fatalf("want only the default group, got %v", groups)
	}
	g := groups[0].(map[string]any)
	if g["name"] != "default" || g["project_id"] != "p1" || g["stateful"] != true {
		t.Fatalf("default group: %v", g)
	}
	rules := sgRules(t, g)
	if len(rules) != 4 {
		t.Fatalf("default group has %d rules, want 4: %v", len(rules), rules)
	}
	seen := map[string]bool{}
	for _, r := range rules {
		remote, _ := r["remote_group_id"].(string)
		if r["direction"] == "ingress" && remote != g["id"] {
			t.Fatalf("ingress rule without remote group self: %v", r)
		}
		if r["direction"] == "egress" && (r["remote_group_id"] != nil || r["remote_ip_prefix"] != nil || r["protocol"] != nil) {
			t.Fatalf("egress rule not open: %v", r)
		}
		seen[r["direction"].(string)+r["ethertype"].(string)] = true
	}
	if len(seen) != 4 {
		t.Fatalf("rules do not cover both directions and families: %v", rules)
	}
	// A second list does not create another one; another project gets its own.
	out = a.must(http.StatusOK, "GET", "/v2.0/security-groups", "p1", nil)
	if n := len(out["security_groups"].([]any)); n != 1 {
		t.Fatalf("second list: %d groups", n)
	}
	out = a.must(http.StatusOK, "GET", "/v2.0/security-groups", "p2", nil)
	g2 := out["security_groups"].([]any)
	if len(g2) != 1 || g2[0].(map[string]any)["id"] == g["id"] {
		t.Fatalf("p2 groups: %v", g2)
	}
	// The rules collection shows them too, to their project only.
	out = a.must(http.StatusOK, "GET", "/v2.0/security-group-rules?security_group_id="+g["id"].(string), "p1", nil)
	if n := len(out["security_group_rules"].([]any)); n != 4 {
		t.Fatalf("rules list: %d", n)
	}
	out = a.must(http.StatusOK, "GET", "/v2.0/security-group-rules?security_group_id="+g["id"].(string), "p2", nil)
	if n := len(out["security_group_rules"].([]any)); n != 0 {
		t.Fatalf("p2 sees p1's rules: %d", n)
	}
	// Creating another "default" is refused; so is renaming to it or
	// renaming the default group.
	code, body := a.call("POST", "/v2.0/security-groups", "p1", map[string]any{"security_group": map[string]any{"name": "Default"}})
	if code != http.StatusConflict || errType(body) != "SecurityGroupDefaultAlreadyExists" {
		t.Fatalf("second default: %d %v", code, body)
	}
	code, body = a.call("PUT", "/v2.0/security-groups/"+g["id"].(string), "p1", map[string]any{"security_group": map[string]any{"name": "x"}})
	if code != http.StatusConflict || errType(body) != "SecurityGroupCannotUpdateDefault" {
		t.Fatalf("rename default: %d %v", code, body)
	}
	a.must(http.StatusOK, "PUT", "/v2.0/security-groups/"+g["id"].(string), "p1", map[string]any{"security_group": map[string]any{"description": "d"}})
	other := createSG(t, a, "p1", "web")
	code, body = a.call("PUT", "/v2.0/security-groups/"+other["id"].(string), "p1", map[string]any{"security_group": map[string]any{"name": "default"}})
	if code != http.StatusConflict || errType(body) != "SecurityGroupDefaultAlreadyExists" {
		t.Fatalf("rename to default: %d %v", code, body)
	}
	// Members cannot delete their default group; admins can, and the next
	// look creates a fresh one.
	code, body = a.call("DELETE", "/v2.0/security-groups/"+g["id"].(string), "p1", nil)
	if code != http.StatusConflict || errType(body) != "SecurityGroupCannotRemoveDefault" {
		t.Fatalf("delete default: %d %v", code, body)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/security-groups/"+g["id"].(string), "", nil)
	out = a.must(http.StatusOK, "GET", "/v2.0/security-groups?name=default", "p1", nil)
	fresh := out["security_groups"].([]any)
	if len(fresh) != 1 || fresh[0].(map[string]any)["id"] == g["id"] {
		t.Fatalf("default not recreated: %v", fresh)
	}
	// The old default's rules went with it.
	out = a.must(http.StatusOK, "GET", "/v2.0/security-group-rules?security_group_id="+g["id"].(string), "", nil)
	if n := len(out["security_group_rules"].([]any)); n != 0 {
		t.Fatalf("%d rules of a deleted group remain", n)
	}
}

func TestSecurityGroupCRUD(t *testing.T) {
	a := newTestAPI(t)
	g := createSG(t, a, "p1", "web")
	id := g["id"].(string)
	rules := sgRules(t, g)
	if len(rules) != 2 || rules[0]["direction"] != "egress" || rules[1]["direction"] != "egress" || g["stateful"] != true {
		t.Fatalf("new group: %v", g)
	}
	// Creating a group also created the project's default one.
	out := a.must(http.StatusOK, "GET", "/v2.0/security-groups", "p1", nil)
	if n := len(out["security_groups"].([]any)); n != 2 {
		t.Fatalf("want web and default, got %d", n)
	}
	// Another project sees nothing of it.
	code, body := a.call("GET", "/v2.0/security-groups/"+id, "p2", nil)
	if code != http.StatusNotFound || errType(body) != "SecurityGroupNotFound" {
		t.Fatalf("other project show: %d %v", code, body)
	}
	code, _ = a.call("PUT", "/v2.0/security-groups/"+id, "p2", map[string]any{"security_group": map[string]any{"name": "x"}})
	if code != http.StatusNotFound {
		t.Fatalf("other project update: %d", code)
	}
	code, _ = a.call("DELETE", "/v2.0/security-groups/"+id, "p2", nil)
	if code != http.StatusNotFound {
		t.Fatalf("other project delete: %d", code)
	}
	// If-Match.
	rev := int(g["revision_number"].(float64))
	code, _ = a.callIfMatch("PUT", "/v2.0/security-groups/"+id, "p1", rev+5, map[string]any{"security_group": map[string]any{"name": "x"}})
	if code != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d", code)
	}
	code, body = a.callIfMatch("PUT", "/v2.0/security-groups/"+id, "p1", rev, map[string]any{"security_group": map[string]any{"name": "web2", "stateful": false}})
	if code != http.StatusOK {
		t.Fatalf("If-Match update: %d %v", code, body)
	}
	up := body["security_group"].(map[string]any)
	if up["name"] != "web2" || up["stateful"] != false || up["revision_number"].(float64) != float64(rev+1) || len(sgRules(t, up)) != 2 {
		t.Fatalf("updated group: %v", up)
	}
	// Tags.
	a.must(http.StatusCreated, "PUT", "/v2.0/security-groups/"+id+"/tags/blue", "p1", nil)
	out = a.must(http.StatusOK, "GET", "/v2.0/security-groups?tags=blue", "p1", nil)
	if n := len(out["security_groups"].([]any)); n != 1 {
		t.Fatalf("tag filter: %d", n)
	}
	// Deleting removes the group and its rules.
	a.must(http.StatusNoContent, "DELETE", "/v2.0/security-groups/"+id, "p1", nil)
	a.must(http.StatusNotFound, "GET", "/v2.0/security-groups/"+id, "p1", nil)
	for _, r := range rules {
		a.must(http.StatusNotFound, "GET", "/v2.0/security-group-rules/"+r["id"].(string), "p1", nil)
	}
}

func TestSecurityGroupRules(t *testing.T) {
	a := newTestAPI(t)
	g := createSG(t, a, "p1", "web")
	id := g["id"].(string)
	rev := g["revision_number"].(float64)

	code, body := createRule(a, "p1", map[string]any{"security_group_id": id, "direction": "ingress",
		"ethertype": "IPv4", "protocol": "TCP", "port_range_min": 80, "port_range_max": 90, "remote_ip_prefix": "10.1.2.3/16", "description": "web"})
	if code != http.StatusCreated {
		t.Fatalf("create rule: %d %v", code, body)
	}
	r := body["security_group_rule"].(map[string]any)
	if r["protocol"] != "tcp" || r["port_range_min"].(float64) != 80 || r["remote_ip_prefix"] != "10.1.2.3/16" ||
		r["normalized_cidr"] != "10.1.0.0/16" || r["remote_group_id"] != nil || r["description"] != "web" || r["project_id"] != "p1" {
		t.Fatalf("rule: %v", r)
	}
	ruleID := r["id"].(string)
	out := a.must(http.StatusOK, "GET", "/v2.0/security-groups/"+id, "p1", nil)
	g = out["security_group"].(map[string]any)
	if g["revision_number"].(float64) != rev+1 || len(sgRules(t, g)) != 3 {
		t.Fatalf("group after rule create: %v", g)
	}

	// The same rule again, spelled differently, is a duplicate.
	code, body = createRule(a, "p1", map[string]any{"security_group_id": id, "direction": "ingress",
		"protocol": "6", "port_range_min": 80, "port_range_max": 90, "remote_ip_prefix": "10.1.0.0/16"})
	if code != http.StatusConflict || errType(body) != "SecurityGroupRuleExists" ||
		!strings.Contains(body["NeutronError"].(map[string]any)["message"].(string), ruleID) {
		t.Fatalf("duplicate: %d %v", code, body)
	}

	bad := []struct {
		name string
		rule map[string]any
		code int
		typ  string
	}{
		{"direction", map[string]any{"direction": "sideways"}, 400, "HTTPBadRequest"},
		{"no direction", map[string]any{"direction": nil}, 400, "HTTPBadRequest"},
		{"ethertype", map[string]any{"direction": "ingress", "ethertype": "IPX"}, 400, "SecurityGroupRuleInvalidEtherType"},
		{"protocol name", map[string]any{"direction": "ingress", "protocol": "bogus"}, 400, "SecurityGroupRuleInvalidProtocol"},
		{"protocol number", map[string]any{"direction": "ingress", "protocol": 256}, 400, "SecurityGroupRuleInvalidProtocol"},
		{"ports without protocol", map[string]any{"direction": "ingress", "port_range_min": 1, "port_range_max": 2}, 400, "SecurityGroupProtocolRequiredWithPorts"},
		{"min > max", map[string]any{"direction": "ingress", "protocol": "udp", "port_range_min": 9, "port_range_max": 2}, 400, "SecurityGroupInvalidPortRange"},
		{"port 0", map[string]any{"direction": "ingress", "protocol": "tcp", "port_range_min": 0, "port_range_max": 2}, 400, "SecurityGroupInvalidPortValue"},
		{"port too big", map[string]any{"direction": "ingress", "protocol": "tcp", "port_range_min": 1, "port_range_max": 70000}, 400, "SecurityGroupInvalidPortValue"},
		{"ports on gre", map[string]any{"direction": "ingress", "protocol": "gre", "port_range_min": 1, "port_range_max": 2}, 400, "SecurityGroupInvalidProtocolForPortRange"},
		{"icmp type", map[string]any{"direction": "ingress", "protocol": "icmp", "port_range_min": 300}, 400, "SecurityGroupInvalidIcmpValue"},
		{"icmp code only", map[string]any{"direction": "ingress", "protocol": "icmp", "port_range_max": 0}, 400, "SecurityGroupMissingIcmpType"},
		{"family mismatch", map[string]any{"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}, 400, "SecurityGroupRuleParameterConflict"},
		{"icmpv6 on IPv4", map[string]any{"direction": "ingress", "ethertype": "IPv4", "protocol": "ipv6-icmp"}, 400, "SecurityGroupEthertypeConflictWithProtocol"},
		{"bad prefix", map[string]any{"direction": "ingress", "remote_ip_prefix": "10.0.0.0/33"}, 400, "InvalidCIDR"},
		{"both remotes", map[string]any{"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": id}, 400, "SecurityGroupRemoteGroupAndRemoteIpPrefix"},
		{"missing remote group", map[string]any{"direction": "ingress", "remote_group_id": "nope"}, 404, "SecurityGroupNotFound"},
		{"missing group", map[string]any{"direction": "ingress", "security_group_id": "nope"}, 404, "SecurityGroupNotFound"},
		{"unknown attribute", map[string]any{"direction": "ingress", "name": "x"}, 400, "HTTPBadRequest"},
	}
	for _, tc := range bad {
		rule := map[string]any{"security_group_id": id}
		for k, v := range tc.rule {
			if v == nil {
				delete(rule, k)
			} else {
				rule[k] = v
			}
		}
		code, body := createRule(a, "p1", rule)
		if code != tc.code || errType(body) != tc.typ {
			t.Errorf("%s: got %d %s, want %d %s: %v", tc.name, code, errType(body), tc.code, tc.typ, body)
		}
	}

	// Good variants.
	for _, rule := range []map[string]any{
		{"direction": "ingress", "protocol": "icmp", "port_range_min": 8, "port_range_max": 0},
		{"direction": "ingress", "ethertype": "IPv6", "protocol": "icmpv6"},
		{"direction": "ingress", "ethertype": "ipv6", "remote_ip_prefix": "2001:db8::1"},
		{"direction": "ingress", "protocol": "any", "remote_group_id": id},
		{"direction": "ingress", "protocol": 132, "port_range_min": 5, "port_range_max": 5},
	} {
		rule["security_group_id"] = id
		if code, body := createRule(a, "p1", rule); code != http.StatusCreated {
			t.Errorf("rule %v: %d %v", rule, code, body)
		} else if rule["ethertype"] == "ipv6" {
			got := body["security_group_rule"].(map[string]any)
			if got["ethertype"] != "IPv6" || got["remote_ip_prefix"] != "2001:db8::1/128" {
				t.Errorf("normalised rule: %v", got)
			}
		}
	}

	// Another project cannot add rules to the group, nor see or delete them.
	code, body = createRule(a, "p2", map[string]any{"security_group_id": id, "direction": "egress", "protocol": "udp"})
	if code != http.StatusNotFound || errType(body) != "SecurityGroupNotFound" {
		t.Fatalf("other project's rule: %d %v", code, body)
	}
	a.must(http.StatusNotFound, "GET", "/v2.0/security-group-rules/"+ruleID, "p2", nil)
	a.must(http.StatusNotFound, "DELETE", "/v2.0/security-group-rules/"+ruleID, "p2", nil)
	// Admins adding a rule to p1's group make it p1's.
	code, body = createRule(a, "", map[string]any{"security_group_id": id, "direction": "egress", "protocol": "udp"})
	if code != http.StatusCreated || body["security_group_rule"].(map[string]any)["project_id"] != "p1" {
		t.Fatalf("admin rule: %d %v", code, body)
	}

	// Rules have no update but their description.
	code, body = a.call("PUT", "/v2.0/security-group-rules/"+ruleID, "p1", map[string]any{"security_group_rule": map[string]any{"direction": "egress"}})
	if code != http.StatusBadRequest {
		t.Fatalf("rule update: %d %v", code, body)
	}
	a.must(http.StatusOK, "PUT", "/v2.0/security-group-rules/"+ruleID, "p1", map[string]any{"security_group_rule": map[string]any{"description": "d"}})

	// Delete bumps the group's revision and takes the rule off it.
	before := a.must(http.StatusOK, "GET", "/v2.0/security-groups/"+id, "p1", nil)["security_group"].(map[string]any)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/security-group-rules/"+ruleID, "p1", nil)
	after := a.must(http.StatusOK, "GET", "/v2.0/security-groups/"+id, "p1", nil)["security_group"].(map[string]any)
	if after["revision_number"].(float64) != before["revision_number"].(float64)+1 || len(sgRules(t, after)) != len(sgRules(t, before))-1 {
		t.Fatalf("after rule delete: %v", after)
	}
	a.must(http.StatusNotFound, "DELETE", "/v2.0/security-group-rules/"+ruleID, "p1", nil)

	// Bulk create: both in one transaction; a duplicate inside the batch
	// fails the whole batch.
	rule := func(port int) map[string]any {
		return map[string]any{"security_group_id": id, "direction": "ingress", "protocol": "tcp", "port_range_min": port, "port_range_max": port}
	}
	out = a.must(http.StatusCreated, "POST", "/v2.0/security-group-rules", "p1", map[string]any{"security_group_rules": []any{rule(1000), rule(1001)}})
	if n := len(out["security_group_rules"].([]any)); n != 2 {
		t.Fatalf("bulk: %v", out)
	}
	code, body = a.call("POST", "/v2.0/security-group-rules", "p1", map[string]any{"security_group_rules": []any{rule(2000), rule(2000)}})
	if code != http.StatusConflict {
		t.Fatalf("bulk duplicate: %d %v", code, body)
	}
	out = a.must(http.StatusOK, "GET", "/v2.0/security-group-rules?port_range_min=2000", "p1", nil)
	if n := len(out["security_group_rules"].([]any)); n != 0 {
		t.Fatalf("failed bulk left %d rules", n)
	}
}

func TestSecurityGroupRemoteGroupCascade(t *testing.T) {
	a := newTestAPI(t)
	web := createSG(t, a, "p1", "web")
	db := createSG(t, a, "p1", "db")
	code, body := createRule(a, "p1", map[string]any{"security_group_id": db["id"], "direction": "ingress", "protocol": "tcp",
		"port_range_min": 5432, "port_range_max": 5432, "remote_group_id": web["id"]})
	if code != http.StatusCreated {
		t.Fatalf("rule: %d %v", code, body)
	}
	rid := body["security_group_rule"].(map[string]any)["id"].(string)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/security-groups/"+web["id"].(string), "p1", nil)
	a.must(http.StatusNotFound, "GET", "/v2.0/security-group-rules/"+rid, "p1", nil)
	g := a.must(http.StatusOK, "GET", "/v2.0/security-groups/"+db["id"].(string), "p1", nil)["security_group"].(map[string]any)
	if len(sgRules(t, g)) != 2 {
		t.Fatalf("db group still lists the cascaded rule: %v", g)
	}
}

func TestSecurityGroupInUse(t *testing.T) {
	a := newTestAPI(t)
	g := createSG(t, a, "p1", "web")
	id := g["id"].(string)
	// A port using the group, written directly so this test does not
	// depend on the ports API.
	port := model.Port{Standard: model.Standard{ID: "port-1", ProjectID: "p1"}, NetworkID: "net-1", SecurityGroups: []string{id}}
	ctx := context.Background()
	if err := a.st.Txn(ctx, func(tx *store.Tx) error { return tx.Put(store.PortKey("net-1", "port-1"), &port) }); err != nil {
		t.Fatal(err)
	}
	code, body := a.call("DELETE", "/v2.0/security-groups/"+id, "p1", nil)
	if code != http.StatusConflict || errType(body) != "SecurityGroupInUse" {
		t.Fatalf("delete in use: %d %v", code, body)
	}
	code, body = a.call("PUT", "/v2.0/security-groups/"+id, "p1", map[string]any{"security_group": map[string]any{"stateful": false}})
	if code != http.StatusConflict || errType(body) != "SecurityGroupInUse" {
		t.Fatalf("stateful change in use: %d %v", code, body)
	}
	if err := a.st.Txn(ctx, func(tx *store.Tx) error { tx.Delete(store.PortKey("net-1", "port-1")); return nil }); err != nil {
		t.Fatal(err)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/security-groups/"+id, "p1", nil)
}

func TestEnsureDefaultSecurityGroupInTxn(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	var first, second string
	err := a.st.Txn(ctx, func(tx *store.Tx) error {
		var err error
		if first, err = a.api.ensureDefaultSecurityGroup(ctx, tx, "p9"); err != nil {
			return err
		}
		// A second call in the same transaction sees the first's writes.
		second, err = a.api.ensureDefaultSecurityGroup(ctx, tx, "p9")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if first == "" || first != second {
		t.Fatalf("ids %q %q", first, second)
	}
	out := a.must(http.StatusOK, "GET", "/v2.0/security-groups", "p9", nil)
	groups := out["security_groups"].([]any)
	if len(groups) != 1 || groups[0].(map[string]any)["id"] != first {
		t.Fatalf("groups: %v", groups)
	}
}

// concurrently sends n requests as p1 at once and counts the answers by
// status code. req returns method, path and body of request i.
func concurrently(t *testing.T, a *testAPI, n int, req func(i int) (string, string, any)) map[int]int {
	t.Helper()
	type result struct {
		code int
		err  error
	}
	results := make(chan result, n)
	start := make(chan struct{})
	for i := range n {
		method, path, body := req(i)
		go func() {
			<-start
			b, _ := json.Marshal(body)
			r, err := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(b))
			if err != nil {
				results <- result{err: err}
				return
			}
			r.Header.Set("X-Test-Project", "p1")
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				results <- result{err: err}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- result{code: resp.StatusCode}
		}()
	}
	close(start)
	codes := map[int]int{}
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		codes[r.code]++
	}
	return codes
}

// Concurrent creates of one rule: exactly one wins, since each reads and
// writes the group in its transaction.
func TestSecurityGroupRuleConcurrentDuplicates(t *testing.T) {
	a := newTestAPI(t)
	g := createSG(t, a, "p1", "web")
	const n = 6
	codes := concurrently(t, a, n, func(int) (string, string, any) {
		return "POST", "/v2.0/security-group-rules", map[string]any{"security_group_rule": map[string]any{
			"security_group_id": g["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}}
	})
	if codes[http.StatusCreated] != 1 || codes[http.StatusConflict] != n-1 {
		t.Fatalf("status counts %v, want one 201 and %d 409", codes, n-1)
	}
	out := a.must(http.StatusOK, "GET", "/v2.0/security-groups/"+g["id"].(string), "p1", nil)
	if rules := sgRules(t, obj(t, out, "security_group")); len(rules) != 3 {
		t.Fatalf("%d rules, want 3", len(rules))
	}
}
