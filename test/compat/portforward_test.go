package compat

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestOpenStackCLIPortForwarding drives floating-IP port forwarding with
// the real openstack CLI: create, list, show, set and delete, Neutron's
// errors for a duplicate external port and for associating a forwarded
// floating IP, and another project's 404.
func TestOpenStackCLIPortForwarding(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: starts a server and runs the openstack CLI; skipped with -short")
	}
	if _, err := exec.LookPath("openstack"); err != nil {
		t.Fatalf("the openstack CLI is not installed (scripts/deps.sh installs python3-openstackclient): %v", err)
	}
	alice := account{user: "alice", password: "alice-compat-pw", project: "alpha"}
	bob := account{user: "bob", password: "bob-compat-pw", project: "beta"}
	srv := startServer(t, buildWyvern(t), alice, bob)
	admin, a, b := srv.openstack(t, srv.admin), srv.openstack(t, alice), srv.openstack(t, bob)

	exts := admin.list("extension", "list", "--network")
	found := false
	for _, e := range exts {
		found = found || e["Alias"] == "floating-ip-port-forwarding"
	}
	if !found {
		t.Fatalf("floating-ip-port-forwarding not in the extension list: %v", exts)
	}

	a.ok("network", "create", "net-a")
	a.ok("subnet", "create", "sub-a", "--network", "net-a", "--subnet-range", "10.1.0.0/24")
	port := a.obj("port", "create", "vm-a", "--network", "net-a", "--fixed-ip", "subnet=sub-a,ip-address=10.1.0.20")
	portID := str(port, "id")
	a.ok("router", "create", "router-a")
	a.ok("router", "add", "subnet", "router-a", "sub-a")
	admin.ok("network", "create", "public", "--external")
	admin.ok("subnet", "create", "public-sub", "--network", "public",
		"--subnet-range", "203.0.113.0/24", "--no-dhcp", "--allocation-pool", "start=203.0.113.10,end=203.0.113.200")
	a.ok("router", "set", "router-a", "--external-gateway", "public")
	fip := a.obj("floating", "ip", "create", "public")
	fipID := str(fip, "id")

	pf := a.obj("floating", "ip", "port", "forwarding", "create", "--internal-ip-address", "10.1.0.20", "--port", "vm-a",
		"--internal-protocol-port", "22", "--external-protocol-port", "2222", "--protocol", "tcp", "--description", "ssh", fipID)
	pfID := str(pf, "id")
	if pfID == "" || pf["internal_port_id"] != portID || fmt.Sprint(pf["internal_port"]) != "22" ||
		fmt.Sprint(pf["external_port"]) != "2222" || pf["protocol"] != "tcp" || pf["internal_ip_address"] != "10.1.0.20" ||
		pf["description"] != "ssh" {
		t.Fatalf("port forwarding create: %v", pf)
	}
	if l := a.list("floating", "ip", "port", "forwarding", "list", fipID); len(l) != 1 || l[0]["ID"] != pfID {
		t.Fatalf("port forwarding list: %v", l)
	}
	a.ok("floating", "ip", "port", "forwarding", "set", "--external-protocol-port", "2200", "--description", "moved", fipID, pfID)
	pf = a.obj("floating", "ip", "port", "forwarding", "show", fipID, pfID)
	if fmt.Sprint(pf["external_port"]) != "2200" || pf["description"] != "moved" || fmt.Sprint(pf["internal_port"]) != "22" {
		t.Fatalf("port forwarding show after set: %v", pf)
	}
	// The floating IP took the router.
	if fip = a.obj("floating", "ip", "show", fipID); str(fip, "router_id") == "" {
		t.Errorf("floating ip show: no router_id with a port forwarding: %v", fip)
	}

	// Neutron's errors, through the CLI.
	_, errOut, err := a.run("floating", "ip", "port", "forwarding", "create", "--internal-ip-address", "10.1.0.20", "--port", "vm-a",
		"--internal-protocol-port", "80", "--external-protocol-port", "2200", "--protocol", "tcp", fipID)
	if err == nil || !strings.Contains(errOut, "collision") {
		t.Errorf("duplicate external port: err %v, stderr %s", err, errOut)
	}
	_, errOut, err = a.run("floating", "ip", "set", "--port", "vm-a", fipID)
	if err == nil || !strings.Contains(errOut, "in use by Port Forwarding") {
		t.Errorf("associating a forwarded floating IP: err %v, stderr %s", err, errOut)
	}
	_, errOut, err = a.run("floating", "ip", "delete", fipID)
	if err == nil {
		t.Errorf("deleting a floating IP with forwardings succeeded: %s", errOut)
	}
	if _, _, err := b.run("floating", "ip", "port", "forwarding", "show", fipID, pfID); err == nil {
		t.Errorf("bob sees alice's port forwarding")
	}

	a.ok("floating", "ip", "port", "forwarding", "delete", fipID, pfID)
	if l := a.list("floating", "ip", "port", "forwarding", "list", fipID); len(l) != 0 {
		t.Fatalf("port forwarding list after delete: %v", l)
	}
	a.ok("floating", "ip", "delete", fipID)
}
