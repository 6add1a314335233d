package compat

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOpenStackMeter drives the metering extension with the real
// `openstack network meter` commands and wyvernctl: an admin creates a
// label and its rules (an overlap refused as Neutron refuses it), lists
// and shows them, and reads their counters with `wyvernctl metering`; a
// member may neither create nor see them.
func TestOpenStackMeter(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: starts a server and runs the openstack CLI; skipped with -short")
	}
	if _, err := exec.LookPath("openstack"); err != nil {
		t.Fatalf("the openstack CLI is not installed (scripts/deps.sh installs python3-openstackclient): %v", err)
	}
	alice := account{user: "alice", password: "alice-meter-pw", project: "alpha"}
	srv := startServer(t, buildWyvern(t), alice)
	admin, a := srv.openstack(t, srv.admin), srv.openstack(t, alice)

	m := admin.obj("network", "meter", "create", "web", "--description", "web traffic", "--share")
	meterID := str(m, "id")
	if str(m, "name") != "web" || str(m, "description") != "web traffic" || m["shared"] != true {
		t.Fatalf("meter create: %v", m)
	}
	out := admin.obj("network", "meter", "rule", "create", "--egress", "--remote-ip-prefix", "203.0.113.0/24", "web")
	if str(out, "direction") != "egress" || str(out, "remote_ip_prefix") != "203.0.113.0/24" || excluded(out) != false ||
		str(out, "metering_label_id") != meterID {
		t.Fatalf("meter rule create: %v", out)
	}
	in := admin.obj("network", "meter", "rule", "create", "--remote-ip-prefix", "198.51.100.0/24", "web") // ingress by default
	ex := admin.obj("network", "meter", "rule", "create", "--egress", "--exclude", "--remote-ip-prefix", "203.0.113.7/32", "web")
	if str(in, "direction") != "ingress" || excluded(ex) != true {
		t.Fatalf("meter rules: %v, %v", in, ex)
	}
	sd := admin.obj("network", "meter", "rule", "create", "--egress", "--source-ip-prefix", "10.0.0.0/24",
		"--destination-ip-prefix", "198.51.100.9/32", "web")
	if str(sd, "source_ip_prefix") != "10.0.0.0/24" || str(sd, "destination_ip_prefix") != "198.51.100.9/32" {
		t.Fatalf("meter rule create by source and destination: %v", sd)
	}
	if _, errOut, err := admin.run("network", "meter", "rule", "create", "--remote-ip-prefix", "198.51.100.0/24",
		"--source-ip-prefix", "10.0.0.0/24", "web"); err == nil || !strings.Contains(errOut, "in conjunction") {
		t.Fatalf("remote and source prefixes together: err %v, stderr %s", err, errOut)
	}
	if _, errOut, err := admin.run("network", "meter", "rule", "create", "--egress", "--remote-ip-prefix", "203.0.113.128/25", "web"); err == nil ||
		!strings.Contains(errOut, "overlaps") {
		t.Fatalf("overlapping rule: err %v, stderr %s", err, errOut)
	}
	if l := admin.list("network", "meter", "list"); len(l) != 1 || str(l[0], "ID") != meterID {
		t.Fatalf("meter list: %v", l)
	}
	if l := admin.list("network", "meter", "rule", "list"); len(l) != 4 {
		t.Fatalf("meter rule list: %v", l)
	}
	if s := admin.obj("network", "meter", "show", "web"); str(s, "id") != meterID {
		t.Fatalf("meter show: %v", s)
	}
	if s := admin.obj("network", "meter", "rule", "show", str(ex, "id")); str(s, "remote_ip_prefix") != "203.0.113.7/32" {
		t.Fatalf("meter rule show: %v", s)
	}

	// Neutron's policy: a member can neither create nor see metering.
	if _, errOut, err := a.run("network", "meter", "create", "mine"); err == nil || !strings.Contains(errOut, "403") && !strings.Contains(errOut, "disallowed by policy") {
		t.Fatalf("member meter create: err %v, stderr %s", err, errOut)
	}
	if l := a.list("network", "meter", "list"); len(l) != 0 {
		t.Fatalf("member meter list: %v", l)
	}

	// wyvernctl sums the counters (none yet: no agent counted anything).
	ctl := srv.wyvernctl(t, srv.admin)
	table := ctl.ok("metering")
	if !strings.Contains(table, "web") || !strings.Contains(table, meterID) || !strings.Contains(table, "OUT BYTES") {
		t.Fatalf("wyvernctl metering:\n%s", table)
	}
	if rules := ctl.ok("metering", "--rules", "-o", "json"); strings.Count(rules, "metering_label_rule_id") != 4 {
		t.Fatalf("wyvernctl metering --rules:\n%s", rules)
	}
	if code, _, _ := srv.wyvernctl(t, alice).run("metering"); code == 0 {
		t.Fatal("wyvernctl metering as a member succeeded")
	}

	admin.ok("network", "meter", "rule", "delete", str(in, "id"))
	if l := admin.list("network", "meter", "rule", "list"); len(l) != 3 {
		t.Fatalf("meter rule list after delete: %v", l)
	}
	admin.ok("network", "meter", "delete", "web")
	if l := admin.list("network", "meter", "rule", "list"); len(l) != 0 {
		t.Fatalf("rules left after the meter's delete: %v", l)
	}
}

// excluded is a rule's excluded attribute, which the CLI shows as
// is_excluded.
func excluded(rule map[string]any) any {
	if v, ok := rule["is_excluded"]; ok {
		return v
	}
	return rule["excluded"]
}
