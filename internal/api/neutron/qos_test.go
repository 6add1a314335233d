package neutron

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestQoSPolicies: policies, rules and attachment, validated as Neutron
// validates them; a refused request changes nothing.
func TestQoSPolicies(t *testing.T) {
	a := newTestAPI(t)
	obj := func(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
	fail := func(what string, wantStatus int, wantType string, status int, out map[string]any) {
		t.Helper()
		if status != wantStatus || errType(out) != wantType {
			t.Fatalf("%s: %d %v, want %d %s", what, status, out, wantStatus, wantType)
		}
	}

	pol := obj(a.must(http.StatusCreated, "POST", "/v2.0/qos/policies", "p1", jsonObj{"policy": jsonObj{"name": "gold", "description": "d"}}), "policy")
	pid := pol["id"].(string)
	if pol["shared"] != false || pol["is_default"] != false || len(pol["rules"].([]any)) != 0 || pol["project_id"] != "p1" {
		t.Fatalf("policy = %v", pol)
	}
	// Another project does not see it; a member may not share it.
	st, out := a.call("GET", "/v2.0/qos/policies/"+pid, "p2", nil)
	fail("other project's policy", http.StatusNotFound, "QosPolicyNotFound", st, out)
	st, out = a.call("POST", "/v2.0/qos/policies", "p1", jsonObj{"policy": jsonObj{"shared": true}})
	fail("member shares", http.StatusForbidden, "HTTPForbidden", st, out)
	if l := a.must(http.StatusOK, "GET", "/v2.0/qos/policies", "p2", nil)["policies"].([]any); len(l) != 0 {
		t.Fatalf("p2 lists %v", l)
	}

	// Rules: validation.
	base := "/v2.0/qos/policies/" + pid
	bad := []struct {
		path string
		body jsonObj
		typ  string
	}{
		{"/bandwidth_limit_rules", jsonObj{"bandwidth_limit_rule": jsonObj{"max_burst_kbps": 100}}, "HTTPBadRequest"},
		{"/bandwidth_limit_rules", jsonObj{"bandwidth_limit_rule": jsonObj{"max_kbps": -1}}, "InvalidInput"},
		{"/bandwidth_limit_rules", jsonObj{"bandwidth_limit_rule": jsonObj{"max_kbps": 1000, "direction": "up"}}, "InvalidInput"},
		{"/bandwidth_limit_rules", jsonObj{"bandwidth_limit_rule": jsonObj{"max_kbps": "x"}}, "InvalidInput"},
		{"/bandwidth_limit_rules", jsonObj{"bandwidth_limit_rule": jsonObj{"max_kbps": 1000, "dscp_mark": 8}}, "HTTPBadRequest"},
		{"/dscp_marking_rules", jsonObj{"dscp_marking_rule": jsonObj{"dscp_mark": 7}}, "InvalidInput"},
		{"/dscp_marking_rules", jsonObj{"dscp_marking_rule": jsonObj{"dscp_mark": 58}}, "InvalidInput"},
		{"/dscp_marking_rules", jsonObj{"dscp_marking_rule": jsonObj{}}, "HTTPBadRequest"},
		{"/minimum_bandwidth_rules", jsonObj{"minimum_bandwidth_rule": jsonObj{"min_kbps": 10, "direction": "sideways"}}, "InvalidInput"},
	}
	for _, c := range bad {
		st, out := a.call("POST", base+c.path, "p1", c.body)
		fail(c.path+" "+strings.TrimSpace(toJSON(c.body)), http.StatusBadRequest, c.typ, st, out)
	}
	if rules := obj(a.must(http.StatusOK, "GET", base, "p1", nil), "policy")["rules"].([]any); len(rules) != 0 {
		t.Fatalf("refused rules stored: %v", rules)
	}

	eg := obj(a.must(http.StatusCreated, "POST", base+"/bandwidth_limit_rules", "p1", jsonObj{"bandwidth_limit_rule": jsonObj{"max_kbps": 10000}}), "bandwidth_limit_rule")
	if eg["direction"] != "egress" || eg["max_burst_kbps"] != float64(0) || eg["max_kbps"] != float64(10000) {
		t.Fatalf("egress rule = %v", eg)
	}
	in := obj(a.must(http.StatusCreated, "POST", base+"/bandwidth_limit_rules", "p1", jsonObj{"bandwidth_limit_rule": jsonObj{"max_kbps": 5000, "max_burst_kbps": 4000, "direction": "ingress"}}), "bandwidth_limit_rule")
	st, out = a.call("POST", base+"/bandwidth_limit_rules", "p1", jsonObj{"bandwidth_limit_rule": jsonObj{"max_kbps": 1}})
	fail("second egress limit", http.StatusConflict, "QoSRulesConflict", st, out)
	dscp := obj(a.must(http.StatusCreated, "POST", base+"/dscp_marking_rules", "p1", jsonObj{"dscp_marking_rule": jsonObj{"dscp_mark": 0}}), "dscp_marking_rule")
	if v, ok := dscp["dscp_mark"]; !ok || v != float64(0) {
		t.Fatalf("dscp rule = %v", dscp)
	}
	a.must(http.StatusOK, "PUT", base+"/dscp_marking_rules/"+dscp["id"].(string), "p1", jsonObj{"dscp_marking_rule": jsonObj{"dscp_mark": 46}})
	st, out = a.call("PUT", base+"/bandwidth_limit_rules/"+in["id"].(string), "p1", jsonObj{"bandwidth_limit_rule": jsonObj{"direction": "egress"}})
	fail("update into a conflict", http.StatusConflict, "QoSRulesConflict", st, out)
	st, out = a.call("POST", base+"/dscp_marking_rules", "p2", jsonObj{"dscp_marking_rule": jsonObj{"dscp_mark": 8}})
	fail("rule on another project's policy", http.StatusNotFound, "QosPolicyNotFound", st, out)
	got := obj(a.must(http.StatusOK, "GET", base, "p1", nil), "policy")
	if rules := got["rules"].([]any); len(rules) != 3 {
		t.Fatalf("rules = %v", rules)
	}
	if l := a.must(http.StatusOK, "GET", base+"/bandwidth_limit_rules", "p1", nil)["bandwidth_limit_rules"].([]any); len(l) != 2 {
		t.Fatalf("bandwidth_limit_rules = %v", l)
	}
	if r := obj(a.must(http.StatusOK, "GET", base+"/dscp_marking_rules/"+dscp["id"].(string), "p1", nil), "dscp_marking_rule"); r["dscp_mark"] != float64(46) {
		t.Fatalf("dscp after update = %v", r)
	}

	// Rule types: only what the data plane enforces.
	types := a.must(http.StatusOK, "GET", "/v2.0/qos/rule-types", "p1", nil)["rule_types"].([]any)
	if len(types) != 2 || toJSON(types) != `[{"type":"bandwidth_limit"},{"type":"dscp_marking"}]` {
		t.Fatalf("rule types = %v", types)
	}
	st, out = a.call("GET", "/v2.0/qos/rule-types/minimum_bandwidth", "p1", nil)
	fail("minimum_bandwidth rule type", http.StatusNotFound, "HTTPNotFound", st, out)

	// Attach to a network and a port; detach; in use.
	net := obj(a.must(http.StatusCreated, "POST", "/v2.0/networks", "p1", jsonObj{"network": jsonObj{"name": "n", "qos_policy_id": pid}}), "network")
	if net["qos_policy_id"] != pid {
		t.Fatalf("network qos_policy_id = %v", net["qos_policy_id"])
	}
	netID := net["id"].(string)
	port := obj(a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": netID}}), "port")
	if port["qos_policy_id"] != nil {
		t.Fatalf("port qos_policy_id = %v", port["qos_policy_id"])
	}
	portID := port["id"].(string)
	a.must(http.StatusOK, "PUT", "/v2.0/ports/"+portID, "p1", jsonObj{"port": jsonObj{"qos_policy_id": pid}})
	st, out = a.call("DELETE", base, "p1", nil)
	fail("delete a policy in use", http.StatusConflict, "QosPolicyInUse", st, out)

	// Another project cannot attach p1's policy; a shared one it can.
	net2 := obj(a.must(http.StatusCreated, "POST", "/v2.0/networks", "p2", jsonObj{"network": jsonObj{"name": "n2"}}), "network")["id"].(string)
	st, out = a.call("PUT", "/v2.0/networks/"+net2, "p2", jsonObj{"network": jsonObj{"qos_policy_id": pid}})
	fail("attach another project's policy", http.StatusNotFound, "QosPolicyNotFound", st, out)

	// minimum_bandwidth: stored and shown, refused where it would apply.
	st, out = a.call("POST", base+"/minimum_bandwidth_rules", "p1", jsonObj{"minimum_bandwidth_rule": jsonObj{"min_kbps": 1000}})
	fail("minimum bandwidth on a policy in use", http.StatusConflict, "QosRuleNotSupported", st, out)
	pmin := obj(a.must(http.StatusCreated, "POST", "/v2.0/qos/policies", "p1", jsonObj{"policy": jsonObj{"name": "min"}}), "policy")["id"].(string)
	mr := obj(a.must(http.StatusCreated, "POST", "/v2.0/qos/policies/"+pmin+"/minimum_bandwidth_rules", "p1",
		jsonObj{"minimum_bandwidth_rule": jsonObj{"min_kbps": 1000}}), "minimum_bandwidth_rule")
	if mr["min_kbps"] != float64(1000) || mr["direction"] != "egress" {
		t.Fatalf("minimum bandwidth rule = %v", mr)
	}
	st, out = a.call("PUT", "/v2.0/ports/"+portID, "p1", jsonObj{"port": jsonObj{"qos_policy_id": pmin}})
	fail("port with a minimum bandwidth policy", http.StatusConflict, "QosRuleNotSupported", st, out)
	st, out = a.call("PUT", "/v2.0/networks/"+netID, "p1", jsonObj{"network": jsonObj{"qos_policy_id": pmin}})
	fail("network with a minimum bandwidth policy", http.StatusConflict, "QosRuleNotSupportedByNetwork", st, out)
	if got := obj(a.must(http.StatusOK, "GET", "/v2.0/ports/"+portID, "p1", nil), "port")["qos_policy_id"]; got != pid {
		t.Fatalf("refused update changed the port's policy to %v", got)
	}

	// Detach everywhere, then the policy goes.
	a.must(http.StatusOK, "PUT", "/v2.0/ports/"+portID, "p1", jsonObj{"port": jsonObj{"qos_policy_id": nil}})
	a.must(http.StatusOK, "PUT", "/v2.0/networks/"+netID, "p1", jsonObj{"network": jsonObj{"qos_policy_id": nil}})
	if got := obj(a.must(http.StatusOK, "GET", "/v2.0/networks/"+netID, "p1", nil), "network")["qos_policy_id"]; got != nil {
		t.Fatalf("network qos_policy_id after detach = %v", got)
	}
	a.must(http.StatusNoContent, "DELETE", base+"/bandwidth_limit_rules/"+in["id"].(string), "p1", nil)
	a.must(http.StatusNoContent, "DELETE", base, "p1", nil)

	// A port deleted with a policy releases it.
	p3 := obj(a.must(http.StatusCreated, "POST", "/v2.0/qos/policies", "p1", jsonObj{"policy": jsonObj{"name": "p3"}}), "policy")["id"].(string)
	port3 := obj(a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": netID, "qos_policy_id": p3}}), "port")
	if port3["qos_policy_id"] != p3 {
		t.Fatalf("port created with policy: %v", port3["qos_policy_id"])
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/ports/"+port3["id"].(string), "p1", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/qos/policies/"+p3, "p1", nil)

	// is_default: one a project, given to the project's new networks.
	def := obj(a.must(http.StatusCreated, "POST", "/v2.0/qos/policies", "p1", jsonObj{"policy": jsonObj{"name": "def", "is_default": true}}), "policy")["id"].(string)
	st, out = a.call("POST", "/v2.0/qos/policies", "p1", jsonObj{"policy": jsonObj{"is_default": true}})
	fail("second default", http.StatusConflict, "QoSPolicyDefaultAlreadyExists", st, out)
	if got := obj(a.must(http.StatusCreated, "POST", "/v2.0/networks", "p1", jsonObj{"network": jsonObj{"name": "nd"}}), "network")["qos_policy_id"]; got != def {
		t.Fatalf("new network's policy = %v, want the default %s", got, def)
	}
	if got := obj(a.must(http.StatusCreated, "POST", "/v2.0/networks", "p2", jsonObj{"network": jsonObj{"name": "nd2"}}), "network")["qos_policy_id"]; got != nil {
		t.Fatalf("another project's network got policy %v", got)
	}

	// The extension is advertised.
	for _, alias := range []string{"qos", "qos-bw-limit-direction", "qos-default", "qos-rule-type-details"} {
		a.must(http.StatusOK, "GET", "/v2.0/extensions/"+alias, "", nil)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
