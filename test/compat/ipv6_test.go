package compat

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

// TestOpenStackCLIIPv6 drives IPv6 with the python openstack CLI: a slaac
// and a dhcpv6-stateful subnet on a dual-stack network, a port taking its
// EUI-64 and stateful addresses, a router on the IPv6 subnet; an external
// network with an IPv6 subnet, a router's dual-stack gateway on it, and
// the refusal of an IPv6 floating IP reaching the CLI as an error.
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

	// An external network with an IPv6 subnet: a router's gateway gets an
	// address on each subnet (IPv6 is routed without NAT); an IPv6
	// floating IP is refused (provider networks: provider_test.go).
	admin.ok("network", "create", "public6", "--external")
	admin.ok("subnet", "create", "pub4", "--network", "public6", "--subnet-range", "203.0.113.0/24")
	admin.ok("subnet", "create", "pub6", "--network", "public6", "--ip-version", "6", "--subnet-range", "2001:db8:ff::/64")
	admin.ok("router", "create", "gw6")
	admin.ok("router", "set", "gw6", "--external-gateway", "public6")
	gw := formatAny(admin.obj("router", "show", "gw6")["external_gateway_info"])
	if !strings.Contains(gw, "203.0.113.") || !strings.Contains(gw, "2001:db8:ff:") {
		t.Errorf("dual-stack router gateway: %s", gw)
	}
	if out, errOut, err := admin.run("floating", "ip", "create", "public6", "--subnet", "pub6"); err == nil || !strings.Contains(errOut, "Floating IPs are IPv4 only") {
		t.Errorf("IPv6 floating IP: err %v\nstdout %s\nstderr %s", err, out, errOut)
	}
}
