package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// run runs wyvernctl against f in noauth mode (plus env) and returns the
// exit code, stdout and stderr.
func run(t *testing.T, f *fakeNeutron, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if env == nil {
		args = append([]string{"--noauth", "--url", f.srv.URL}, args...)
	}
	code := Main(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

func mustRun(t *testing.T, f *fakeNeutron, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, f, nil, args...)
	if code != 0 {
		t.Fatalf("wyvernctl %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

func seedNetworks(f *fakeNeutron) {
	f.add("networks", map[string]any{"id": "n1", "name": "private", "status": "ACTIVE", "subnets": []any{"s1", "s2"}, "router:external": false, "shared": false})
	f.add("networks", map[string]any{"id": "n2", "name": "public", "status": "ACTIVE", "subnets": []any{}, "router:external": true, "shared": true, "mtu": 1500.0})
}

func TestNetworkListTable(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	got := mustRun(t, f, "network", "list")
	want := "" +
		"ID  NAME     STATUS  SUBNETS  EXTERNAL  SHARED\n" +
		"n1  private  ACTIVE  s1, s2   false     false\n" +
		"n2  public   ACTIVE           true      true\n"
	if got != want {
		t.Errorf("network list:\n%s\nwant:\n%s", got, want)
	}
}

func TestNetworkListJSON(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	out := mustRun(t, f, "network", "list", "-o", "json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(got) != 2 || got[0]["id"] != "n1" || got[1]["router:external"] != true || got[1]["mtu"] != 1500.0 {
		t.Errorf("network list -o json = %v", got)
	}
	// An empty list is an empty array, not null.
	f2 := newFakeNeutron(t)
	if out := strings.TrimSpace(mustRun(t, f2, "-o", "json", "port", "list")); out != "[]" {
		t.Errorf("empty list JSON = %q, want []", out)
	}
}

func TestShowByNameAndID(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	byName := mustRun(t, f, "network", "show", "public")
	byID := mustRun(t, f, "network", "show", "n2")
	if byName != byID {
		t.Errorf("show by name and by id differ:\n%s\n%s", byName, byID)
	}
	want := "" +
		"FIELD            VALUE\n" +
		"id               n2\n" +
		"mtu              1500\n" +
		"name             public\n" +
		"router:external  true\n" +
		"shared           true\n" +
		"status           ACTIVE\n" +
		"subnets          \n"
	if byName != want {
		t.Errorf("network show:\n%q\nwant:\n%q", byName, want)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, f, "network", "show", "n1", "-o", "json")), &obj); err != nil || obj["name"] != "private" {
		t.Errorf("show -o json = %v, %v", obj, err)
	}
}

func TestResolveErrors(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	f.add("networks", map[string]any{"id": "n3", "name": "public"})
	code, _, errOut := run(t, f, nil, "network", "show", "public")
	if code != 1 || !strings.Contains(errOut, "2 networks are named public (n2, n3): use an id") {
		t.Errorf("ambiguous: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, f, nil, "network", "delete", "nope")
	if code != 1 || !strings.Contains(errOut, "no network with name or id nope") {
		t.Errorf("missing: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, f, nil, "security-group-rule", "show", "nope")
	if code != 1 || !strings.Contains(errOut, "no security-group-rule with id nope") {
		t.Errorf("rule by name: exit %d, stderr %q", code, errOut)
	}
}

func TestAPIErrorMessage(t *testing.T) {
	f := newFakeNeutron(t)
	code, out, errOut := run(t, f, nil, "network", "create", "conflict")
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	if want := "Error: Quota exceeded for resources: ['network']. (HTTP 409)\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

func TestNetworkCreate(t *testing.T) {
	f := newFakeNeutron(t)
	mustRun(t, f, "network", "create", "ext", "--external", "--shared")
	got := f.last("POST", "/v2.0/networks").body
	want := map[string]any{"network": map[string]any{"name": "ext", "router:external": true, "shared": true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("create body = %v, want %v", got, want)
	}
	mustRun(t, f, "network", "create", "plain")
	got = f.last("POST", "/v2.0/networks").body
	want = map[string]any{"network": map[string]any{"name": "plain"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("create body = %v, want %v", got, want)
	}
	mustRun(t, f, "network", "delete", "ext", "plain")
	if out := mustRun(t, f, "network", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after delete: %s", out)
	}
}

func TestSubnetCreate(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	mustRun(t, f, "subnet", "create", "s", "--network", "private", "--cidr", "10.0.0.0/24",
		"--gateway", "none", "--no-dhcp", "--dns", "192.0.2.53,198.51.100.53", "--allocation-pool", "start=10.0.0.10,end=10.0.0.20")
	got := f.last("POST", "/v2.0/subnets").body["subnet"]
	want := map[string]any{
		"name": "s", "network_id": "n1", "cidr": "10.0.0.0/24", "ip_version": 4.0,
		"gateway_ip": nil, "enable_dhcp": false,
		"dns_nameservers":  []any{"192.0.2.53", "198.51.100.53"},
		"allocation_pools": []any{map[string]any{"start": "10.0.0.10", "end": "10.0.0.20"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("subnet body = %v, want %v", got, want)
	}
	mustRun(t, f, "subnet", "create", "v6", "--network", "n1", "--cidr", "2001:db8::/64", "--gateway", "2001:db8::1")
	got = f.last("POST", "/v2.0/subnets").body["subnet"]
	if m := got.(map[string]any); m["ip_version"] != 6.0 || m["gateway_ip"] != "2001:db8::1" {
		t.Errorf("v6 subnet body = %v", m)
	}
	if code, _, errOut := run(t, f, nil, "subnet", "create", "x", "--network", "n1", "--cidr", "10.0.0.0/33"); code != 1 || !strings.Contains(errOut, "--cidr") {
		t.Errorf("bad cidr: exit %d %q", code, errOut)
	}
	out := mustRun(t, f, "subnet", "list", "--network", "private")
	if !strings.Contains(out, "10.0.0.0/24") || !strings.Contains(out, "2001:db8::/64") {
		t.Errorf("subnet list --network:\n%s", out)
	}
	if q := f.last("GET", "/v2.0/subnets").query; q != "network_id=n1" {
		t.Errorf("subnet list query = %q", q)
	}
}

func TestPortCreate(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	f.add("subnets", map[string]any{"id": "s1", "name": "private-v4", "network_id": "n1"})
	f.add("security-groups", map[string]any{"id": "sg1", "name": "web"})
	out := mustRun(t, f, "port", "create", "vm1", "--network", "private",
		"--fixed-ip", "subnet=private-v4,ip-address=10.0.0.5", "--fixed-ip", "subnet=s1",
		"--mac", "fa:16:3e:00:00:01", "--security-group", "web")
	got := f.last("POST", "/v2.0/ports").body["port"]
	want := map[string]any{
		"name": "vm1", "network_id": "n1", "mac_address": "fa:16:3e:00:00:01",
		"fixed_ips": []any{
			map[string]any{"subnet_id": "s1", "ip_address": "10.0.0.5"},
			map[string]any{"subnet_id": "s1"},
		},
		"security_groups": []any{"sg1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("port body = %v, want %v", got, want)
	}
	if !strings.Contains(out, "{ip_address='10.0.0.5', subnet_id='s1'}, {subnet_id='s1'}") {
		t.Errorf("port create output:\n%s", out)
	}
	list := mustRun(t, f, "port", "list")
	if !strings.Contains(list, "10.0.0.5") || !strings.Contains(list, "FIXED IPS") {
		t.Errorf("port list:\n%s", list)
	}
	mustRun(t, f, "port", "create", "bare", "--network", "n1", "--no-security-group")
	if got := f.last("POST", "/v2.0/ports").body["port"].(map[string]any); !reflect.DeepEqual(got["security_groups"], []any{}) {
		t.Errorf("--no-security-group body = %v", got)
	}
	if code, _, errOut := run(t, f, nil, "port", "create", "x", "--network", "n1", "--fixed-ip", "ip=1"); code != 1 || !strings.Contains(errOut, "unknown key") {
		t.Errorf("bad --fixed-ip: exit %d %q", code, errOut)
	}
}

func TestRouter(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	f.add("subnets", map[string]any{"id": "s1", "name": "private-v4", "network_id": "n1"})
	mustRun(t, f, "router", "create", "r1", "--external-gateway", "public")
	got := f.last("POST", "/v2.0/routers").body["router"]
	want := map[string]any{"name": "r1", "external_gateway_info": map[string]any{"network_id": "n2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("router body = %v, want %v", got, want)
	}
	list := mustRun(t, f, "router", "list")
	if !strings.Contains(list, "EXTERNAL GATEWAY") || !strings.Contains(list, "n2") {
		t.Errorf("router list:\n%s", list)
	}
	out := mustRun(t, f, "router", "add-subnet", "r1", "private-v4")
	if b := f.last("PUT", "/v2.0/routers/router-1/add_router_interface").body; !reflect.DeepEqual(b, map[string]any{"subnet_id": "s1"}) {
		t.Errorf("add_router_interface body = %v", b)
	}
	if !strings.Contains(out, "port_id") {
		t.Errorf("add-subnet output:\n%s", out)
	}
	mustRun(t, f, "router", "remove-subnet", "router-1", "s1")
	if b := f.last("PUT", "/v2.0/routers/router-1/remove_router_interface").body; !reflect.DeepEqual(b, map[string]any{"subnet_id": "s1"}) {
		t.Errorf("remove_router_interface body = %v", b)
	}
	mustRun(t, f, "router", "set", "r1", "--no-external-gateway")
	if b := f.last("PUT", "/v2.0/routers/router-1").body; !reflect.DeepEqual(b, map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{}}}) {
		t.Errorf("router set body = %v", b)
	}
}

func TestFloatingIP(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	f.add("ports", map[string]any{"id": "p1", "name": "vm1", "network_id": "n1"})
	mustRun(t, f, "floatingip", "create", "--network", "public", "--port", "vm1")
	if b := f.last("POST", "/v2.0/floatingips").body; !reflect.DeepEqual(b, map[string]any{"floatingip": map[string]any{"floating_network_id": "n2", "port_id": "p1"}}) {
		t.Errorf("floatingip body = %v", b)
	}
	f.add("floatingips", map[string]any{"id": "fip9", "floating_ip_address": "203.0.113.9", "floating_network_id": "n2", "status": "DOWN"})
	mustRun(t, f, "floatingip", "set", "203.0.113.9", "--port", "p1")
	if b := f.last("PUT", "/v2.0/floatingips/fip9").body; !reflect.DeepEqual(b, map[string]any{"floatingip": map[string]any{"port_id": "p1"}}) {
		t.Errorf("floatingip set body = %v", b)
	}
	mustRun(t, f, "floatingip", "unset", "fip9")
	if b := f.last("PUT", "/v2.0/floatingips/fip9").body; !reflect.DeepEqual(b, map[string]any{"floatingip": map[string]any{"port_id": nil}}) {
		t.Errorf("floatingip unset body = %v", b)
	}
	list := mustRun(t, f, "floatingip", "list")
	if !strings.Contains(list, "203.0.113.9") || !strings.Contains(list, "FLOATING IP") {
		t.Errorf("floatingip list:\n%s", list)
	}
}

func TestSecurityGroupRule(t *testing.T) {
	f := newFakeNeutron(t)
	f.add("security-groups", map[string]any{"id": "sg1", "name": "web"})
	f.add("security-groups", map[string]any{"id": "sg2", "name": "db"})
	mustRun(t, f, "security-group-rule", "create", "web", "--protocol", "tcp", "--port-range", "80:443", "--remote-ip", "2001:db8::/32")
	got := f.last("POST", "/v2.0/security-group-rules").body["security_group_rule"]
	want := map[string]any{"security_group_id": "sg1", "direction": "ingress", "ethertype": "IPv6",
		"protocol": "tcp", "port_range_min": 80.0, "port_range_max": 443.0, "remote_ip_prefix": "2001:db8::/32"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rule body = %v, want %v", got, want)
	}
	mustRun(t, f, "security-group-rule", "create", "db", "--egress", "--protocol", "udp", "--port-range", "53", "--remote-group", "web")
	got = f.last("POST", "/v2.0/security-group-rules").body["security_group_rule"]
	want = map[string]any{"security_group_id": "sg2", "direction": "egress", "ethertype": "IPv4",
		"protocol": "udp", "port_range_min": 53.0, "port_range_max": 53.0, "remote_group_id": "sg1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rule body = %v, want %v", got, want)
	}
	out := mustRun(t, f, "security-group-rule", "list", "--security-group", "web")
	if !strings.Contains(out, "80:443") || strings.Contains(out, "sg2") {
		t.Errorf("rule list:\n%s", out)
	}
	for _, bad := range [][]string{
		{"web", "--ingress", "--egress"},
		{"web", "--port-range", "22"},
		{"web", "--protocol", "tcp", "--port-range", "9:1"},
		{"web", "--remote-ip", "10.0.0.0/8", "--remote-group", "db"},
	} {
		if code, _, _ := run(t, f, nil, append([]string{"security-group-rule", "create"}, bad...)...); code != 1 {
			t.Errorf("rule create %v: exit %d, want 1", bad, code)
		}
	}
	mustRun(t, f, "security-group", "create", "app", "--description", "the app")
	if b := f.last("POST", "/v2.0/security-groups").body; !reflect.DeepEqual(b, map[string]any{"security_group": map[string]any{"name": "app", "description": "the app"}}) {
		t.Errorf("security group body = %v", b)
	}
}

func TestPasswordAuthFromEnv(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	env := map[string]string{
		"OS_AUTH_URL": f.srv.URL + "/v3", "OS_USERNAME": "alice", "OS_PASSWORD": "secret",
		"OS_PROJECT_NAME": "demo", "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
	}
	code, out, errOut := run(t, f, env, "network", "list")
	if code != 0 || !strings.Contains(out, "private") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	auth := f.last("POST", "/v3/auth/tokens").body
	if lookup(auth, "auth.scope.project.name") != "demo" || lookup(auth, "auth.identity.password.user.name") != "alice" ||
		lookup(auth, "auth.identity.password.user.domain.name") != "Default" {
		t.Errorf("auth request = %v", auth)
	}
	if h := f.last("GET", "/v2.0/networks").header.Get("X-Auth-Token"); h != "tok-123" {
		t.Errorf("X-Auth-Token = %q", h)
	}
	env["OS_PASSWORD"] = "wrong"
	code, _, errOut = run(t, f, env, "network", "list")
	if code != 1 || !strings.Contains(errOut, "requires authentication") {
		t.Errorf("bad password: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, f, map[string]string{}, "network", "list")
	if code != 1 || !strings.Contains(errOut, "missing credentials") {
		t.Errorf("no credentials: exit %d, stderr %q", code, errOut)
	}
	// Flags win over the environment.
	env["OS_PASSWORD"] = "wrong"
	if code, _, errOut := run(t, f, env, "--os-password", "secret", "network", "list"); code != 0 {
		t.Errorf("--os-password: exit %d, stderr %q", code, errOut)
	}
	// --help never shows the password from the environment.
	env["OS_PASSWORD"] = "env-secret-value"
	if _, out, _ := run(t, f, env, "--help"); strings.Contains(out, "env-secret-value") || !strings.Contains(out, "--os-password") {
		t.Errorf("--help:\n%s", out)
	}
}

func TestDeleteSeveralReportsEach(t *testing.T) {
	f := newFakeNeutron(t)
	seedNetworks(f)
	code, _, errOut := run(t, f, nil, "network", "delete", "gone1", "private", "gone2")
	if code != 1 || !strings.Contains(errOut, "gone1") || !strings.Contains(errOut, "gone2") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if ids := mustRun(t, f, "network", "list"); strings.Contains(ids, "private") || !strings.Contains(ids, "public") {
		t.Errorf("after delete:\n%s", ids)
	}
}

func TestNoAuthProject(t *testing.T) {
	f := newFakeNeutron(t)
	mustRun(t, f, "--noauth-project", "p42", "network", "list")
	r := f.last("GET", "/v2.0/networks")
	if r.header.Get("X-Project-Id") != "p42" || r.header.Get("X-Auth-Token") != "" {
		t.Errorf("headers = %v", r.header)
	}
	if code, _, errOut := run(t, f, nil, "-o", "yaml", "network", "list"); code != 1 || !strings.Contains(errOut, "unknown output format") {
		t.Errorf("-o yaml: exit %d %q", code, errOut)
	}
}
