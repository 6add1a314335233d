package compat

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestOpenStackCLIProvider drives provider networks with the python
// openstack CLI against a server with --network-vlan-ranges: a vlan
// network with --provider-segment, the same VLAN again (409), one outside
// the range (400), a VM port on the vlan network (served), a router
// interface on it and an external gateway on that router (served). Few
// commands: each starts the CLI (the API
// tests cover allocation and flat networks).
func TestOpenStackCLIProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: starts a server and runs the openstack CLI; skipped with -short")
	}
	if _, err := exec.LookPath("openstack"); err != nil {
		t.Fatalf("the openstack CLI is not installed (scripts/deps.sh installs python3-openstackclient): %v", err)
	}
	srv := startServerWith(t, buildWyvern(t), []string{"--network-vlan-ranges", "physnet1:100:199"})
	admin := srv.openstack(t, srv.admin)
	refused := func(what, want string, args ...string) {
		t.Helper()
		if out, errOut, err := admin.run(args...); err == nil || !strings.Contains(errOut, want) {
			t.Errorf("%s: err %v, want an error with %q\nstdout %s\nstderr %s", what, err, want, out, errOut)
		}
	}

	n := admin.obj("network", "create", "prov-vlan", "--provider-network-type", "vlan",
		"--provider-physical-network", "physnet1", "--provider-segment", "101")
	if got := fmt.Sprint(n["provider:network_type"], " ", n["provider:physical_network"], " ", n["provider:segmentation_id"]); got != "vlan physnet1 101" {
		t.Errorf("vlan network: provider attributes %q, want vlan physnet1 101", got)
	}
	refused("the same VLAN again", "VLAN 101 on physical network physnet1 is in use",
		"network", "create", "prov-dup", "--provider-network-type", "vlan", "--provider-physical-network", "physnet1", "--provider-segment", "101")
	refused("a VLAN outside the range", "outside the VLAN ranges of physical network physnet1",
		"network", "create", "prov-out", "--provider-network-type", "vlan", "--provider-physical-network", "physnet1", "--provider-segment", "300")

	admin.ok("subnet", "create", "prov-vlan-sub", "--network", "prov-vlan", "--subnet-range", "10.9.0.0/24")
	admin.ok("port", "create", "vm-on-vlan", "--network", "prov-vlan")
	admin.ok("router", "create", "r-prov")
	admin.ok("router", "add", "subnet", "r-prov", "prov-vlan-sub")
	admin.ok("network", "create", "prov-ext", "--external", "--provider-network-type", "flat", "--provider-physical-network", "physnet2")
	admin.ok("subnet", "create", "prov-ext-sub", "--network", "prov-ext", "--subnet-range", "203.0.113.0/24")
	admin.ok("router", "set", "r-prov", "--external-gateway", "prov-ext")
}
