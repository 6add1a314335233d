package compat

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// osc runs the real python `openstack` CLI as one account.
type osc struct {
	t   *testing.T
	env []string
	who string
}

func (s *server) openstack(t *testing.T, a account) *osc {
	env := append(withoutOSVars(os.Environ()),
		"OS_AUTH_URL="+s.authURL(),
		"OS_USERNAME="+a.user,
		"OS_PASSWORD="+a.password,
		"OS_PROJECT_NAME="+a.project,
		"OS_USER_DOMAIN_NAME=Default",
		"OS_PROJECT_DOMAIN_NAME=Default",
		"OS_IDENTITY_API_VERSION=3",
		"OS_INTERFACE=public",
		"HOME="+t.TempDir(), // no client cache or clouds.yaml from the host
	)
	return &osc{t: t, env: env, who: a.user}
}

// run runs `openstack args...` and returns stdout, stderr and the error.
func (o *osc) run(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	return runCmd(ctx, "", o.env, "openstack", args...)
}

// ok runs `openstack args...` and fails the test unless it succeeds.
func (o *osc) ok(args ...string) string {
	o.t.Helper()
	out, errOut, err := o.run(args...)
	if err != nil {
		o.t.Fatalf("[%s] openstack %s: %v\nstdout: %s\nstderr: %s", o.who, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// obj runs `openstack args... -f json` and decodes one object.
func (o *osc) obj(args ...string) map[string]any {
	o.t.Helper()
	out := o.ok(append(args, "-f", "json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		o.t.Fatalf("[%s] openstack %s: not a JSON object: %v\n%s", o.who, strings.Join(args, " "), err, out)
	}
	return m
}

// list runs `openstack args... -f json` and decodes a list.
func (o *osc) list(args ...string) []map[string]any {
	o.t.Helper()
	out := o.ok(append(args, "-f", "json")...)
	var l []map[string]any
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		o.t.Fatalf("[%s] openstack %s: not a JSON list: %v\n%s", o.who, strings.Join(args, " "), err, out)
	}
	return l
}

// ids returns the "ID" column of a list.
func ids(l []map[string]any) []string {
	var out []string
	for _, m := range l {
		if id, ok := m["ID"].(string); ok {
			out = append(out, id)
		}
	}
	return out
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// fixedIPs returns the addresses of a port object's fixed_ips.
func fixedIPs(t *testing.T, port map[string]any) []string {
	t.Helper()
	l, ok := port["fixed_ips"].([]any)
	if !ok {
		t.Fatalf("port %s: fixed_ips = %#v", str(port, "id"), port["fixed_ips"])
	}
	var out []string
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, str(m, "ip_address"))
		}
	}
	return out
}

func inPrefix(t *testing.T, addr, prefix string) bool {
	t.Helper()
	a, err := netip.ParseAddr(addr)
	if err != nil {
		t.Errorf("address %q: %v", addr, err)
		return false
	}
	return netip.MustParsePrefix(prefix).Contains(a)
}

// TestOpenStackCLI drives a real wyvern server with the python openstack
// CLI through a tenant's whole topology (network, subnet, ports, router,
// external network, gateway, floating IP, security groups, tags), checks
// project isolation, and deletes everything again.
func TestOpenStackCLI(t *testing.T) {
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

	// Tenant network, subnet and ports.
	net := a.obj("network", "create", "net-a")
	netID := str(net, "id")
	if str(net, "name") != "net-a" || netID == "" {
		t.Fatalf("network create: %v", net)
	}
	sub := a.obj("subnet", "create", "sub-a", "--network", "net-a", "--subnet-range", "10.1.0.0/24")
	subID := str(sub, "id")
	if str(sub, "cidr") != "10.1.0.0/24" || str(sub, "gateway_ip") != "10.1.0.1" || str(sub, "network_id") != netID {
		t.Errorf("subnet create: %v", sub)
	}
	p1 := a.obj("port", "create", "port-a1", "--network", "net-a")
	p1ID := str(p1, "id")
	p1IPs := fixedIPs(t, p1)
	if len(p1IPs) != 1 || !inPrefix(t, p1IPs[0], "10.1.0.0/24") || p1IPs[0] == "10.1.0.1" {
		t.Errorf("port create: fixed IPs %v, want one in 10.1.0.0/24 other than the gateway", p1IPs)
	}
	if !strings.HasPrefix(str(p1, "mac_address"), "fa:16:3e:") {
		t.Errorf("port create: mac_address %q", str(p1, "mac_address"))
	}
	p2 := a.obj("port", "create", "port-a2", "--network", "net-a", "--fixed-ip", "subnet=sub-a,ip-address=10.1.0.50")
	p2ID := str(p2, "id")
	if got := fixedIPs(t, p2); !slices.Equal(got, []string{"10.1.0.50"}) {
		t.Errorf("port create --fixed-ip: fixed IPs %v, want [10.1.0.50]", got)
	}

	// Router with the tenant subnet.
	router := a.obj("router", "create", "router-a")
	routerID := str(router, "id")
	a.ok("router", "add", "subnet", "router-a", "sub-a")
	rports := a.list("port", "list", "--router", "router-a", "--long")
	if len(rports) != 1 {
		t.Errorf("router ports after add subnet: %v", rports)
	} else if !strings.Contains(formatAny(rports[0]["Fixed IP Addresses"]), "10.1.0.1") {
		t.Errorf("router interface port %v: want the gateway 10.1.0.1", rports[0])
	}

	// External network (admin) and the router's gateway on it.
	pub := admin.obj("network", "create", "public", "--external")
	pubID := str(pub, "id")
	if pub["router:external"] != true {
		t.Errorf("network create --external: router:external = %v", pub["router:external"])
	}
	pubSub := admin.obj("subnet", "create", "public-sub", "--network", "public",
		"--subnet-range", "203.0.113.0/24", "--no-dhcp", "--allocation-pool", "start=203.0.113.10,end=203.0.113.200")
	if pubSub["enable_dhcp"] != false {
		t.Errorf("subnet create --no-dhcp: enable_dhcp = %v", pubSub["enable_dhcp"])
	}
	a.ok("router", "set", "router-a", "--external-gateway", "public")
	router = a.obj("router", "show", "router-a")
	gw, _ := router["external_gateway_info"].(map[string]any)
	if str(gw, "network_id") != pubID {
		t.Errorf("router show: external_gateway_info = %v, want network %s", router["external_gateway_info"], pubID)
	}
	if !strings.Contains(formatAny(gw["external_fixed_ips"]), "203.0.113.") {
		t.Errorf("router show: gateway has no address on 203.0.113.0/24: %v", gw)
	}

	// Floating IP, then associated with port-a1.
	fip := a.obj("floating", "ip", "create", "public")
	fipID, fipAddr := str(fip, "id"), str(fip, "floating_ip_address")
	if !inPrefix(t, fipAddr, "203.0.113.0/24") {
		t.Errorf("floating ip create: address %q", fipAddr)
	}
	a.ok("floating", "ip", "set", "--port", "port-a1", fipID)
	fip = a.obj("floating", "ip", "show", fipID)
	if str(fip, "port_id") != p1ID || str(fip, "fixed_ip_address") != p1IPs[0] {
		t.Errorf("floating ip show after set --port: port_id %q fixed_ip_address %q, want %s %s",
			str(fip, "port_id"), str(fip, "fixed_ip_address"), p1ID, p1IPs[0])
	}

	// Security group and a rule.
	sg := a.obj("security", "group", "create", "sg-a", "--description", "compat")
	sgID := str(sg, "id")
	rule := a.obj("security", "group", "rule", "create", "sg-a", "--protocol", "tcp", "--dst-port", "22", "--remote-ip", "192.0.2.0/24")
	ruleID := str(rule, "id")
	if rule["port_range_min"] != 22.0 || rule["port_range_max"] != 22.0 || str(rule, "remote_ip_prefix") != "192.0.2.0/24" ||
		str(rule, "direction") != "ingress" || str(rule, "security_group_id") != sgID {
		t.Errorf("security group rule create: %v", rule)
	}
	if got := ids(a.list("security", "group", "rule", "list", "sg-a")); !slices.Contains(got, ruleID) {
		t.Errorf("security group rule list: %v lacks %s", got, ruleID)
	}

	// List and show each kind.
	for _, c := range []struct {
		kind []string
		id   string
	}{
		{[]string{"network"}, netID},
		{[]string{"subnet"}, subID},
		{[]string{"port"}, p1ID},
		{[]string{"port"}, p2ID},
		{[]string{"router"}, routerID},
		{[]string{"floating", "ip"}, fipID},
		{[]string{"security", "group"}, sgID},
		{[]string{"security", "group", "rule"}, ruleID},
	} {
		name := strings.Join(c.kind, " ")
		if got := ids(a.list(append(slices.Clone(c.kind), "list")...)); !slices.Contains(got, c.id) {
			t.Errorf("%s list: %v lacks %s", name, got, c.id)
		}
		if got := a.obj(append(slices.Clone(c.kind), "show", c.id)...); str(got, "id") != c.id {
			t.Errorf("%s show %s: %v", name, c.id, got)
		}
	}

	// Tags.
	a.ok("network", "set", "--tag", "red", "--tag", "blue", "net-a")
	if tags := formatAny(a.obj("network", "show", "net-a")["tags"]); !strings.Contains(tags, "red") || !strings.Contains(tags, "blue") {
		t.Errorf("network tags after set --tag red --tag blue: %s", tags)
	}
	if got := ids(a.list("network", "list", "--tags", "red")); !slices.Equal(got, []string{netID}) {
		t.Errorf("network list --tags red: %v, want [%s]", got, netID)
	}

	// Projects see only their own networks.
	netB := b.obj("network", "create", "net-b")
	netBID := str(netB, "id")
	aNets, bNets := ids(a.list("network", "list")), ids(b.list("network", "list"))
	if !slices.Contains(aNets, netID) || slices.Contains(aNets, netBID) {
		t.Errorf("alice's network list %v: want %s and not bob's %s", aNets, netID, netBID)
	}
	if !slices.Contains(bNets, netBID) || slices.Contains(bNets, netID) {
		t.Errorf("bob's network list %v: want %s and not alice's %s", bNets, netBID, netID)
	}
	for _, c := range []struct {
		who *osc
		id  string
	}{{a, netBID}, {b, netID}} {
		out, errOut, err := c.who.run("network", "show", c.id)
		if err == nil || !strings.Contains(errOut, "No Network found") {
			t.Errorf("[%s] network show of another project's %s: err %v, stdout %q, stderr %q; want a failure saying No Network found",
				c.who.who, c.id, err, out, errOut)
		}
	}

	// Delete everything.
	a.ok("floating", "ip", "delete", fipID)
	a.ok("router", "unset", "--external-gateway", "router-a")
	a.ok("router", "remove", "subnet", "router-a", "sub-a")
	a.ok("router", "delete", "router-a")
	a.ok("port", "delete", "port-a1", "port-a2")
	a.ok("security", "group", "delete", "sg-a")
	a.ok("subnet", "delete", "sub-a")
	a.ok("network", "delete", "net-a")
	admin.ok("subnet", "delete", "public-sub")
	admin.ok("network", "delete", "public")
	b.ok("network", "delete", "net-b")
	for _, kind := range [][]string{{"network"}, {"subnet"}, {"port"}, {"router"}, {"floating", "ip"}} {
		for _, who := range []*osc{a, b, admin} {
			if got := who.list(append(slices.Clone(kind), "list")...); len(got) != 0 {
				t.Errorf("[%s] %s list after deleting everything: %v", who.who, strings.Join(kind, " "), got)
			}
		}
	}
	if got := a.list("security", "group", "list"); slices.Contains(ids(got), sgID) {
		t.Errorf("security group list after delete still has %s", sgID)
	}
}

// formatAny renders a decoded JSON value for substring checks.
func formatAny(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
