package compat

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOpenStackCLIConformance drives the behaviours of issue 14 where
// Wyvern answered differently from Neutron through the real openstack CLI
// (openstacksdk underneath): what the CLI reads back is what it reads from
// Neutron.
func TestOpenStackCLIConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: starts a server and runs the openstack CLI; skipped with -short")
	}
	if _, err := exec.LookPath("openstack"); err != nil {
		t.Fatalf("the openstack CLI is not installed (scripts/deps.sh installs python3-openstackclient): %v", err)
	}
	carol := account{user: "carol", password: "carol-compat-pw", project: "gamma"}
	srv := startServer(t, buildWyvern(t), carol)
	admin, c := srv.openstack(t, srv.admin), srv.openstack(t, carol)

	fails := func(who *osc, want string, args ...string) {
		t.Helper()
		out, errOut, err := who.run(args...)
		if err == nil || !strings.Contains(errOut, want) {
			t.Errorf("[%s] openstack %s: err %v, stdout %q, stderr %q; want a failure saying %q",
				who.who, strings.Join(args, " "), err, out, errOut, want)
		}
	}

	// Subnet pools: Neutron writes the prefix lengths as strings; the SDK
	// reads them as integers.
	sp := c.obj("subnet", "pool", "create", "sp-c", "--pool-prefix", "10.90.0.0/16", "--min-prefix-length", "24", "--max-prefix-length", "28")
	if sp["min_prefixlen"] != 24.0 || sp["max_prefixlen"] != 28.0 || sp["default_prefixlen"] != 24.0 {
		t.Errorf("subnet pool create: %v", sp)
	}
	// A pool's shared is set at creation only (the CLI has no --share on
	// set; an extra property sends it).
	fails(c, "shared", "subnet", "pool", "set", "--extra-property", "type=bool,name=shared,value=true", "sp-c")

	// Address scopes: a member names shared in no update.
	c.obj("address", "scope", "create", "as-c")
	fails(c, "disallowed by policy", "address", "scope", "set", "--share", "as-c")
	shared := admin.obj("address", "scope", "create", "as-shared", "--share")
	fails(c, "cannot be associated with address scope", "subnet", "pool", "create", "sp-c2",
		"--pool-prefix", "10.91.0.0/16", "--address-scope", str(shared, "id"))

	// Address groups keep each address as its network.
	ag := c.obj("address", "group", "create", "ag-c", "--address", "192.168.0.10/24", "--address", "2001:db8::f00/64")
	if got := formatAny(ag["addresses"]); !strings.Contains(got, "192.168.0.0/24") || !strings.Contains(got, "2001:db8::/64") {
		t.Errorf("address group create: addresses %s", got)
	}

	// A port's security groups: the same one twice is refused.
	c.obj("network", "create", "net-c")
	sg := c.obj("security", "group", "create", "sg-c")
	fails(c, "Duplicate items", "port", "create", "port-c", "--network", "net-c",
		"--security-group", str(sg, "id"), "--security-group", str(sg, "id"))

}
