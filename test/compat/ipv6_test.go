package compat

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

// TestOpenStackCLIIPv6 drives IPv6 with the python openstack CLI: a slaac
// and a dhcpv6-stateful subnet on a dual-stack network, a port taking its
// EUI-64 and stateful addresses, a router on the IPv6 subnet; and the
// refusal of what the data plane does not serve (IPv6 on an external
// network) reaches the CLI as an error.
func TestOpenStackCLIIPv6(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: starts a server and runs the openstack CLI; skipped with -short")
	}
	if _, err := exec.LookPath("openstack"); err != nil {
		t.Fatalf("the openstack CLI is not installed (scripts/deps.sh installs python3-openstackclient): %v", err)
	}
	alice := account{user: "alice", password: "alice-compat-pw", project: "alpha"}
	srv := startServer(t, buildWyvern(t), alice)
	admin, a := srv.openstack(t, srv.admin), srv.openstack(t, alice)

	a.ok("network", "create", "net6")
	a.ok("subnet", "create", "v4", "--network", "net6", "--subnet-range", "10.5.0.0/24")
	slaac := a.obj("subnet", "create", "slaac", "--network", "net6", "--ip-version", "6",
		"--subnet-range", "2001:db8:5::/64", "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac")
	if str(slaac, "ipv6_ra_mode") != "slaac" || str(slaac, "ipv6_address_mode") != "slaac" || str(slaac, "gateway_ip") != "2001:db8:5::1" {
		t.Errorf("slaac subnet: %v", slaac)
	}
	a.obj("subnet", "create", "stateful", "--network", "net6", "--ip-version", "6",
		"--subnet-range", "2001:db8:6::/64", "--ipv6-ra-mode", "dhcpv6-stateful", "--ipv6-address-mode", "dhcpv6-stateful")
	p := a.obj("port", "create", "p6", "--network", "net6", "--mac-address", "fa:16:3e:12:34:56")
	ips := fixedIPs(t, p)
	var v4, eui, stateful bool
	for _, ip := range ips {
		v4 = v4 || inPrefix(t, ip, "10.5.0.0/24")
		eui = eui || netip.MustParseAddr(ip) == netip.MustParseAddr("2001:db8:5::f816:3eff:fe12:3456")
		stateful = stateful || inPrefix(t, ip, "2001:db8:6::/64")
	}
	if !v4 || !eui || !stateful {
		t.Errorf("dual-stack port: fixed IPs %v, want one IPv4, the EUI-64 2001:db8:5::f816:3eff:fe12:3456 and one stateful", ips)
	}
	a.ok("router", "create", "r6")
	a.ok("router", "add", "subnet", "r6", "slaac")
	if rports := a.list("port", "list", "--router", "r6", "--long"); len(rports) != 1 ||
		!strings.Contains(formatAny(rports[0]["Fixed IP Addresses"]), "2001:db8:5::1") {
		t.Errorf("router interface on the IPv6 subnet: %v", rports)
	}

	// Refused: IPv6 on an external network (provider networks:
	// provider_test.go).
	admin.ok("network", "create", "public6", "--external")
	if out, errOut, err := admin.run("subnet", "create", "pub6", "--network", "public6", "--ip-version", "6",
		"--subnet-range", "2001:db8:ff::/64"); err == nil || !strings.Contains(errOut, "IPv6 subnets on external networks are not supported") {
		t.Errorf("IPv6 subnet on an external network: err %v\nstdout %s\nstderr %s", err, out, errOut)
	}
}
