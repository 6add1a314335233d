package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ctl"
)

// ctlRunner runs wyvernctl (in process) as one account of a real server.
type ctlRunner struct {
	t   *testing.T
	env map[string]string
}

func (s *server) wyvernctl(t *testing.T, a account) *ctlRunner {
	return &ctlRunner{t: t, env: map[string]string{
		"OS_AUTH_URL": s.authURL(), "OS_USERNAME": a.user, "OS_PASSWORD": a.password,
		"OS_PROJECT_NAME": a.project, "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
	}}
}

func (c *ctlRunner) run(args ...string) (int, string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := ctl.Main(ctx, args, &out, &errOut, func(k string) string { return c.env[k] })
	return code, out.String(), errOut.String()
}

// obj runs a command with -o json and decodes one object.
func (c *ctlRunner) obj(args ...string) map[string]any {
	c.t.Helper()
	code, out, errOut := c.run(append(args, "-o", "json")...)
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
		c.t.Fatalf("wyvernctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return m
}

// ids runs a list command with -o json and returns the ids.
func (c *ctlRunner) ids(args ...string) []string {
	c.t.Helper()
	code, out, errOut := c.run(append(args, "-o", "json")...)
	var l []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil {
		c.t.Fatalf("wyvernctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	var ids []string
	for _, m := range l {
		ids = append(ids, str(m, "id"))
	}
	return ids
}

func (c *ctlRunner) ok(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != 0 {
		c.t.Fatalf("wyvernctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestWyvernctl drives a real wyvern server with wyvernctl: a tenant
// topology with names for references, table and JSON output, then
// deletes it.
func TestWyvernctl(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: starts a server; skipped with -short")
	}
	alice := account{user: "alice", password: "alice-ctl-pw", project: "alpha"}
	srv := startServer(t, buildWyvern(t), alice)
	admin, a := srv.wyvernctl(t, srv.admin), srv.wyvernctl(t, alice)

	netID := str(a.obj("network", "create", "net-a"), "id")
	sub := a.obj("subnet", "create", "sub-a", "--network", "net-a", "--cidr", "10.2.0.0/24", "--dns", "192.0.2.53")
	if str(sub, "gateway_ip") != "10.2.0.1" || str(sub, "network_id") != netID {
		t.Errorf("subnet create: %v", sub)
	}
	p1 := a.obj("port", "create", "p1", "--network", "net-a", "--fixed-ip", "subnet=sub-a,ip-address=10.2.0.7", "--mac", "fa:16:3e:12:34:56")
	if got := fixedIPs(t, p1); !slices.Equal(got, []string{"10.2.0.7"}) || str(p1, "mac_address") != "fa:16:3e:12:34:56" {
		t.Errorf("port create: %v", p1)
	}
	a.obj("router", "create", "r1")
	a.ok("router", "add-subnet", "r1", "sub-a")
	if ports := a.ids("port", "list", "--router", "r1"); len(ports) != 1 {
		t.Errorf("router ports after add-subnet: %v", ports)
	}

	pubID := str(admin.obj("network", "create", "public", "--external"), "id")
	admin.obj("subnet", "create", "public-sub", "--network", "public", "--cidr", "203.0.113.0/24", "--no-dhcp")
	r1 := a.obj("router", "set", "r1", "--external-gateway", "public")
	if gw, _ := r1["external_gateway_info"].(map[string]any); str(gw, "network_id") != pubID {
		t.Errorf("router set --external-gateway: %v", r1["external_gateway_info"])
	}
	fip := a.obj("floatingip", "create", "--network", "public", "--port", "p1")
	if str(fip, "fixed_ip_address") != "10.2.0.7" || !inPrefix(t, str(fip, "floating_ip_address"), "203.0.113.0/24") {
		t.Errorf("floatingip create: %v", fip)
	}
	a.obj("security-group", "create", "web")
	rule := a.obj("security-group-rule", "create", "web", "--protocol", "tcp", "--port-range", "80:443", "--remote-ip", "198.51.100.0/24")
	if rule["port_range_min"] != 80.0 || rule["port_range_max"] != 443.0 || str(rule, "direction") != "ingress" {
		t.Errorf("security-group-rule create: %v", rule)
	}

	// Tables: a header and the names.
	for _, c := range [][]string{
		{"network", "list"}, {"subnet", "list"}, {"port", "list"}, {"router", "list"},
		{"floatingip", "list"}, {"security-group", "list"}, {"security-group-rule", "list", "--security-group", "web"},
	} {
		out := a.ok(c...)
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) < 2 || !strings.HasPrefix(lines[0], "ID") {
			t.Errorf("wyvernctl %s:\n%s", strings.Join(c, " "), out)
		}
	}
	if out := a.ok("network", "show", "net-a"); !strings.Contains(out, netID) {
		t.Errorf("network show net-a:\n%s", out)
	}

	a.ok("floatingip", "delete", str(fip, "floating_ip_address"))
	a.ok("router", "set", "r1", "--no-external-gateway")
	a.ok("router", "remove-subnet", "r1", "sub-a")
	a.ok("router", "delete", "r1")
	a.ok("port", "delete", "p1")
	a.ok("security-group", "delete", "web")
	a.ok("subnet", "delete", "sub-a")
	a.ok("network", "delete", "net-a")
	admin.ok("network", "delete", "public")
	for _, kind := range []string{"network", "subnet", "port", "router", "floatingip"} {
		if got := admin.ids(kind, "list"); len(got) != 0 {
			t.Errorf("%s list after deleting everything: %v", kind, got)
		}
	}
	if code, _, errOut := a.run("network", "show", "net-a"); code != 1 || !strings.Contains(errOut, "no network with name or id net-a") {
		t.Errorf("show of a deleted network: exit %d, stderr %q", code, errOut)
	}
}
