package compat

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOpenStackCLIQoS drives the qos extension with the python openstack
// CLI: a policy with a bandwidth limit in each direction and a DSCP mark,
// attached to a network and a port; the rule types served; and the
// refusals (an invalid DSCP mark, a minimum_bandwidth policy on a port)
// reaching the CLI as errors.
func TestOpenStackCLIQoS(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: starts a server and runs the openstack CLI; skipped with -short")
	}
	if _, err := exec.LookPath("openstack"); err != nil {
		t.Fatalf("the openstack CLI is not installed (scripts/deps.sh installs python3-openstackclient): %v", err)
	}
	alice := account{user: "alice", password: "alice-compat-pw", project: "alpha"}
	srv := startServer(t, buildWyvern(t), alice)
	a := srv.openstack(t, alice)

	pol := a.obj("network", "qos", "policy", "create", "gold", "--description", "ten megabits")
	if str(pol, "name") != "gold" {
		t.Fatalf("policy: %v", pol)
	}
	eg := a.obj("network", "qos", "rule", "create", "gold", "--type", "bandwidth-limit", "--max-kbps", "10000", "--max-burst-kbits", "8000", "--egress")
	if formatAny(eg["max_kbps"]) != "10000" || str(eg, "direction") != "egress" {
		t.Errorf("egress rule: %v", eg)
	}
	in := a.obj("network", "qos", "rule", "create", "gold", "--type", "bandwidth-limit", "--max-kbps", "20000", "--ingress")
	if str(in, "direction") != "ingress" {
		t.Errorf("ingress rule: %v", in)
	}
	a.obj("network", "qos", "rule", "create", "gold", "--type", "dscp-marking", "--dscp-mark", "46")
	if rules := a.list("network", "qos", "rule", "list", "gold"); len(rules) != 3 {
		t.Errorf("rules: %v", rules)
	}
	if out, errOut, err := a.run("network", "qos", "rule", "create", "gold", "--type", "dscp-marking", "--dscp-mark", "47"); err == nil {
		t.Errorf("DSCP mark 47 accepted: %s %s", out, errOut)
	}
	types := formatAny(a.list("network", "qos", "rule", "type", "list"))
	if !strings.Contains(types, "bandwidth_limit") || !strings.Contains(types, "dscp_marking") || strings.Contains(types, "minimum_bandwidth") {
		t.Errorf("rule types: %s", types)
	}

	a.ok("network", "create", "qnet", "--qos-policy", "gold")
	a.ok("subnet", "create", "qsub", "--network", "qnet", "--subnet-range", "10.7.0.0/24")
	p := a.obj("port", "create", "qport", "--network", "qnet", "--qos-policy", "gold")
	if str(p, "qos_policy_id") != str(pol, "id") {
		t.Errorf("port qos_policy_id %v, want %s", p["qos_policy_id"], str(pol, "id"))
	}

	// minimum_bandwidth: stored, refused on a port.
	a.ok("network", "qos", "policy", "create", "floor")
	a.obj("network", "qos", "rule", "create", "floor", "--type", "minimum-bandwidth", "--min-kbps", "1000", "--egress")
	if out, errOut, err := a.run("port", "set", "qport", "--qos-policy", "floor"); err == nil || !strings.Contains(errOut, "not supported") {
		t.Errorf("minimum_bandwidth policy on a port: err %v\nstdout %s\nstderr %s", err, out, errOut)
	}
	if out, errOut, err := a.run("network", "qos", "policy", "delete", "gold"); err == nil {
		t.Errorf("policy in use deleted: %s %s", out, errOut)
	}
	a.ok("port", "unset", "qport", "--qos-policy")
	a.ok("network", "set", "qnet", "--no-qos-policy")
	a.ok("network", "qos", "policy", "delete", "gold")
}
