package neutron

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// The tests in this file follow neutron-tempest-plugin's API tests, call
// for call, so that each answer is the one a Neutron server gives.

// test_address_scopes_negative: the shared attribute of an address scope
// is an admin's on update whatever its value; an admin cannot unshare.
func TestTempestAddressScopeShared(t *testing.T) {
	a := newTestAPI(t)
	a.wantErr(http.StatusForbidden, "", "", "POST", "/v2.0/address-scopes", "p1", jsonObj{"address_scope": jsonObj{"name": "s", "ip_version": 4, "shared": true}})
	for _, shared := range []bool{true, false} {
		sc := a.must(http.StatusCreated, "POST", "/v2.0/address-scopes", "p1", jsonObj{"address_scope": jsonObj{"name": "s", "ip_version": 4}})["address_scope"].(jsonObj)
		a.wantErr(http.StatusForbidden, "", "", "PUT", "/v2.0/address-scopes/"+sc["id"].(string), "p1",
			jsonObj{"address_scope": jsonObj{"name": "new_name", "shared": shared}})
		if got := a.must(http.StatusOK, "GET", "/v2.0/address-scopes/"+sc["id"].(string), "p1", nil)["address_scope"].(jsonObj); got["name"] != "s" {
			t.Errorf("refused update changed the scope: %v", got)
		}
	}
	sc := a.must(http.StatusCreated, "POST", "/v2.0/address-scopes", "", jsonObj{"address_scope": jsonObj{"name": "s", "ip_version": 4, "shared": true}})["address_scope"].(jsonObj)
	a.wantErr(http.StatusBadRequest, "AddressScopeUpdateError", "", "PUT", "/v2.0/address-scopes/"+sc["id"].(string), "",
		jsonObj{"address_scope": jsonObj{"name": "new-name", "shared": false}})
	a.must(http.StatusOK, "PUT", "/v2.0/address-scopes/"+sc["id"].(string), "", jsonObj{"address_scope": jsonObj{"name": "new_name", "shared": true}})
}

// test_subnetpools_negative: a pool's shared cannot be updated (400, even
// by a caller who cannot see the pool), and a pool joins only a scope its
// caller owns, given by id.
func TestTempestSubnetPoolScopes(t *testing.T) {
	a := newTestAPI(t)
	pool := func(project string, extra jsonObj) (int, jsonObj) {
		body := jsonObj{"name": "sp", "prefixes": []string{"10.11.12.0/24"}, "min_prefixlen": "29"}
		for k, v := range extra {
			body[k] = v
		}
		return a.call("POST", "/v2.0/subnetpools", project, jsonObj{"subnetpool": body})
	}
	code, out := pool("", nil)
	if code != http.StatusCreated {
		t.Fatalf("admin pool: %d %v", code, out)
	}
	adminPool := out["subnetpool"].(jsonObj)
	// test_get_subnetpool compares them with the strings it sent: Neutron
	// writes them as strings.
	if adminPool["min_prefixlen"] != "29" || adminPool["default_prefixlen"] != "29" || adminPool["max_prefixlen"] != "32" {
		t.Errorf("prefix lengths not strings: %v", adminPool)
	}
	a.wantErr(http.StatusBadRequest, "", "shared", "PUT", "/v2.0/subnetpools/"+adminPool["id"].(string), "p1", jsonObj{"subnetpool": jsonObj{"shared": true}})

	if code, out := pool("p1", jsonObj{"address_scope_id": "foo-addr-scope"}); code != http.StatusBadRequest {
		t.Errorf("scope by name: %d %v", code, out)
	}
	if code, out := pool("p1", jsonObj{"address_scope_id": "6d5e3a8c-2b7e-4a36-9d8e-0c1f2a3b4c5d"}); code != http.StatusNotFound {
		t.Errorf("scope that does not exist: %d %v", code, out)
	}
	private := a.must(http.StatusCreated, "POST", "/v2.0/address-scopes", "", jsonObj{"address_scope": jsonObj{"name": "as", "ip_version": 4}})["address_scope"].(jsonObj)
	if code, out := pool("p1", jsonObj{"address_scope_id": private["id"]}); code != http.StatusNotFound {
		t.Errorf("another project's scope: %d %v", code, out)
	}
	shared := a.must(http.StatusCreated, "POST", "/v2.0/address-scopes", "", jsonObj{"address_scope": jsonObj{"name": "as", "ip_version": 4, "shared": true}})["address_scope"].(jsonObj)
	if code, out := pool("p1", jsonObj{"address_scope_id": shared["id"]}); code != http.StatusBadRequest || errType(out) != "IllegalSubnetPoolAssociationToAddressScope" {
		t.Errorf("shared scope of another project: %d %v", code, out)
	}

	// test_project_update_sp_prefix_associated_with_shared_addr_scope
	code, out = a.call("POST", "/v2.0/subnetpools", "p1", jsonObj{"subnetpool": jsonObj{"name": "sp", "prefixes": []string{"20.0.0.0/18", "30.0.0.0/18"}}})
	if code != http.StatusCreated {
		t.Fatalf("member pool: %d %v", code, out)
	}
	path := "/v2.0/subnetpools/" + out["subnetpool"].(jsonObj)["id"].(string)
	a.must(http.StatusOK, "PUT", path, "", jsonObj{"subnetpool": jsonObj{"address_scope_id": shared["id"]}})
	grown := []string{"20.0.0.0/18", "30.0.0.0/18", "40.0.0.0/18"}
	a.wantErr(http.StatusBadRequest, "IllegalSubnetPoolUpdate", "", "PUT", path, "p1", jsonObj{"subnetpool": jsonObj{"prefixes": grown}})
	got := a.must(http.StatusOK, "PUT", path, "", jsonObj{"subnetpool": jsonObj{"prefixes": grown}})["subnetpool"].(jsonObj)
	if len(got["prefixes"].([]any)) != 3 {
		t.Errorf("admin's update: %v", got)
	}
}

// test_address_groups: addresses are CIDRs, stored as their network
// (address_group_db normalises each to network/prefixlen); add and remove
// take bare addresses too.
func TestTempestAddressGroups(t *testing.T) {
	a := newTestAPI(t)
	sorted := func(g jsonObj) []string {
		l := groupAddrs(t, g)
		sort.Strings(l)
		return l
	}
	want := []string{"10.10.10.3/32", "192.168.0.0/24", "2001:db8::/64"}
	g := a.must(http.StatusCreated, "POST", "/v2.0/address-groups", "p1", jsonObj{"address_group": jsonObj{"name": "ag", "description": "d",
		"addresses": []string{"10.10.10.3/32", "192.168.0.10/24", "2001:db8::f00/64"}}})["address_group"].(jsonObj)
	if got := sorted(g); !equalStrings(got, want) {
		t.Fatalf("created %v want %v", got, want)
	}
	path := "/v2.0/address-groups/" + g["id"].(string)
	up := a.must(http.StatusOK, "PUT", path, "p1", jsonObj{"address_group": jsonObj{"description": "New"}})["address_group"].(jsonObj)
	if got := sorted(up); !equalStrings(got, want) || up["name"] != "ag" {
		t.Fatalf("updated %v", up)
	}
	for _, bad := range []string{"10.20.30.40", "this is bad IP address"} {
		a.wantErr(http.StatusBadRequest, "", "", "POST", "/v2.0/address-groups", "p1", jsonObj{"address_group": jsonObj{"name": "x", "addresses": []string{bad}}})
	}
	a.wantErr(http.StatusBadRequest, "", "", "PUT", path+"/add_addresses", "p1", jsonObj{"addresses": []string{"this is bad IP address"}})
	a.wantErr(http.StatusNotFound, "AddressesNotFound", "", "PUT", path+"/remove_addresses", "p1", jsonObj{"addresses": []string{"10.200.200.200"}})
	a.wantErr(http.StatusBadRequest, "", "", "PUT", path+"/remove_addresses", "p1", jsonObj{"addresses": []string{"this is bad IP address"}})
	a.must(http.StatusOK, "PUT", path+"/add_addresses", "p1", jsonObj{"addresses": []string{"10.20.30.40/32"}})
	a.must(http.StatusOK, "PUT", path+"/remove_addresses", "p1", jsonObj{"addresses": []string{"10.10.10.3"}})
	got := sorted(a.must(http.StatusOK, "GET", path, "p1", nil)["address_group"].(jsonObj))
	if !equalStrings(got, []string{"10.20.30.40/32", "192.168.0.0/24", "2001:db8::/64"}) {
		t.Fatalf("after add and remove %v", got)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// test_security_groups' quota tests update quotas with "force": true.
func TestTempestQuotaForce(t *testing.T) {
	a := newTestAPI(t)
	for _, v := range []int{-1, 0, 10, 2147483647} {
		q := a.must(http.StatusOK, "PUT", "/v2.0/quotas/p1", "", jsonObj{"quota": jsonObj{"security_group_rule": v, "force": true}})["quota"].(jsonObj)
		if q["security_group_rule"] != float64(v) || q["force"] != nil {
			t.Errorf("quota %d: %v", v, q)
		}
	}
	a.wantErr(http.StatusBadRequest, "", "", "PUT", "/v2.0/quotas/p1", "", jsonObj{"quota": jsonObj{"network": 1, "force": "maybe"}})
}

// admin/test_quotas_negative: an admin creates for a project until that
// project's quota is full; the next create is a 409.
func TestTempestQuotaFull(t *testing.T) {
	a := newTestAPI(t)
	full := func(project, what string, create func() (int, jsonObj)) {
		t.Helper()
		if code, out := create(); code != http.StatusCreated {
			t.Fatalf("%s: first create %d %v", what, code, out)
		}
		if code, out := create(); code != http.StatusConflict || errType(out) != "OverQuota" {
			t.Errorf("%s beyond the quota: %d %v", what, code, out)
		}
	}
	quota := func(project string, q jsonObj) {
		a.must(http.StatusOK, "PUT", "/v2.0/quotas/"+project, "", jsonObj{"quota": q})
	}
	post := func(coll, singular string, body jsonObj) func() (int, jsonObj) {
		return func() (int, jsonObj) { return a.call("POST", "/v2.0/"+coll, "", jsonObj{singular: body}) }
	}

	quota("qn", jsonObj{"network": 1})
	full("qn", "network", post("networks", "network", jsonObj{"tenant_id": "qn"}))

	quota("qs", jsonObj{"subnet": 1})
	net := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"tenant_id": "qs"}})["network"].(jsonObj)
	cidr := 0
	full("qs", "subnet", func() (int, jsonObj) {
		cidr++
		return a.call("POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"tenant_id": "qs", "network_id": net["id"],
			"cidr": []string{"", "10.0.0.0/24", "10.1.0.0/24"}[cidr], "ip_version": "4"}})
	})

	net = a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"tenant_id": "qp"}})["network"].(jsonObj)
	a.must(http.StatusCreated, "POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"tenant_id": "qp", "network_id": net["id"],
		"enable_dhcp": false, "cidr": "10.0.0.0/24", "ip_version": "4"}})
	ports := a.must(http.StatusOK, "GET", "/v2.0/ports?tenant_id=qp", "", nil)["ports"].([]any)
	quota("qp", jsonObj{"port": len(ports) + 1})
	full("qp", "port", post("ports", "port", jsonObj{"tenant_id": "qp", "network_id": net["id"]}))

	quota("qr", jsonObj{"router": 1})
	full("qr", "router", post("routers", "router", jsonObj{"tenant_id": "qr", "name": "r", "admin_state_up": true}))

	sgs := a.must(http.StatusOK, "GET", "/v2.0/security-groups?tenant_id=qg", "", nil)["security_groups"].([]any)
	quota("qg", jsonObj{"security_group": len(sgs) + 1})
	full("qg", "security group", post("security-groups", "security_group", jsonObj{"tenant_id": "qg", "name": "g"}))

	sg := a.must(http.StatusCreated, "POST", "/v2.0/security-groups", "", jsonObj{"security_group": jsonObj{"tenant_id": "qu", "name": "g"}})["security_group"].(jsonObj)
	rules := a.must(http.StatusOK, "GET", "/v2.0/security-group-rules?tenant_id=qu", "", nil)["security_group_rules"].([]any)
	quota("qu", jsonObj{"security_group_rule": len(rules) + 1})
	dir := []string{"ingress", "egress"}
	n := 0
	full("qu", "security group rule", func() (int, jsonObj) {
		n++
		return a.call("POST", "/v2.0/security-group-rules", "", jsonObj{"security_group_rule": jsonObj{"tenant_id": "qu",
			"security_group_id": sg["id"], "direction": dir[n-1]}})
	})

	ext := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"name": "public", "router:external": true}})["network"].(jsonObj)
	a.must(http.StatusCreated, "POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"network_id": ext["id"], "cidr": "203.0.113.0/24", "ip_version": 4}})
	quota("qf", jsonObj{"floatingip": 1})
	full("qf", "floating IP", post("floatingips", "floatingip", jsonObj{"tenant_id": "qf", "floating_network_id": ext["id"]}))
}

// test_security_groups' SecGroupQuotaTest and SecGroupRulesQuotaTest: a
// member fills its quota to the brim; what the quota counts is what the
// member lists under its project.
func TestTempestSecurityGroupQuotaFill(t *testing.T) {
	a := newTestAPI(t)
	count := func(project, coll string) int {
		return len(a.must(http.StatusOK, "GET", "/v2.0/"+strings.ReplaceAll(coll, "_", "-")+"?project_id="+project, project, nil)[coll].([]any))
	}
	quota := func(project, name string, v int) {
		a.must(http.StatusOK, "PUT", "/v2.0/quotas/"+project, "", jsonObj{"quota": jsonObj{name: v, "force": true}})
	}
	quota("p1", "security_group_rule", -1)
	quota("p1", "security_group", 5)
	for i := count("p1", "security_groups"); i < 5; i++ {
		a.must(http.StatusCreated, "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "g"}})
	}
	if n := count("p1", "security_groups"); n != 5 {
		t.Fatalf("groups %d, quota 5", n)
	}
	a.wantErr(http.StatusConflict, "OverQuota", "", "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "g"}})
	quota("p1", "security_group", 2) // below what exists: allowed with force

	quota("p2", "security_group_rule", 10)
	def := a.must(http.StatusOK, "GET", "/v2.0/security-groups?name=default", "p2", nil)["security_groups"].([]any)[0].(jsonObj)
	port := 1
	for i := count("p2", "security_group_rules"); i < 10; i++ {
		port++
		a.must(http.StatusCreated, "POST", "/v2.0/security-group-rules", "p2", jsonObj{"security_group_rule": jsonObj{"project_id": "p2",
			"security_group_id": def["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": port, "port_range_max": port}})
	}
	if n := count("p2", "security_group_rules"); n != 10 {
		t.Fatalf("rules %d, quota 10", n)
	}
	a.wantErr(http.StatusConflict, "OverQuota", "", "POST", "/v2.0/security-group-rules", "p2", jsonObj{"security_group_rule": jsonObj{
		"security_group_id": def["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 999, "port_range_max": 999}})
	a.wantErr(http.StatusBadRequest, "", "already used", "PUT", "/v2.0/quotas/p2", "", jsonObj{"quota": jsonObj{"security_group_rule": 5, "check_limit": true}})
	quota("p2", "security_group_rule", 5)
}

// test_floating_ips and test_floating_ips_negative: a description update
// keeps the association and port_details; a disassociation keeps the
// description and shows port_details as null; a port takes one floating IP.
func TestTempestFloatingIPUpdates(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	port := mkPort(t, a, "p1", tp.net, map[string]any{"name": "vm"})
	f := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", jsonObj{"floatingip": jsonObj{
		"floating_network_id": tp.ext, "port_id": port["id"], "description": "d1"}}), "floatingip")
	path := "/v2.0/floatingips/" + f["id"].(string)
	details := func(f jsonObj) {
		t.Helper()
		d, ok := f["port_details"].(jsonObj)
		if !ok {
			t.Fatalf("port_details %v", f["port_details"])
		}
		for _, k := range []string{"name", "network_id", "mac_address", "admin_state_up", "status", "device_id", "device_owner"} {
			if d[k] != port[k] {
				t.Errorf("port_details %s: %v, port has %v", k, d[k], port[k])
			}
		}
	}
	details(f)
	g := obj(t, a.must(http.StatusOK, "PUT", path, "p1", jsonObj{"floatingip": jsonObj{"description": "d2"}}), "floatingip")
	if g["description"] != "d2" || g["port_id"] != port["id"] {
		t.Errorf("description update %v", g)
	}
	details(g)
	g = obj(t, a.must(http.StatusOK, "PUT", path, "p1", jsonObj{"floatingip": jsonObj{"port_id": nil}}), "floatingip")
	if v, ok := g["port_details"]; !ok || v != nil || g["description"] != "d2" || g["port_id"] != nil {
		t.Errorf("disassociated %v", g)
	}

	f1 := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", jsonObj{"floatingip": jsonObj{"floating_network_id": tp.ext}}), "floatingip")
	f2 := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", jsonObj{"floatingip": jsonObj{"floating_network_id": tp.ext}}), "floatingip")
	a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+f1["id"].(string), "p1", jsonObj{"floatingip": jsonObj{"port_id": port["id"]}})
	a.wantErr(http.StatusConflict, "", "", "PUT", "/v2.0/floatingips/"+f2["id"].(string), "p1", jsonObj{"floatingip": jsonObj{"port_id": port["id"]}})
}

// admin/test_shared_network_extension: the shared filter on networks and
// subnets for a member and an admin; a member's port on a shared network
// is the member's, and it may not carry address pairs.
func TestTempestSharedNetworks(t *testing.T) {
	a := newTestAPI(t)
	shared := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"name": "sh", "shared": true}})["network"].(jsonObj)
	reg := a.mkNetwork("p1", jsonObj{"name": "reg"})
	priv := a.mkSubnet("p1", reg, "10.30.0.0/24", jsonObj{"ip_version": 4})
	sub := a.mkSubnet("", shared["id"].(string), "10.31.0.0/24", jsonObj{"ip_version": 4})
	ids := func(project, coll, q string) map[string]bool {
		out := map[string]bool{}
		items := a.must(http.StatusOK, "GET", "/v2.0/"+coll+"?shared="+q, project, nil)[coll].([]any)
		if len(items) == 0 {
			t.Errorf("%s?shared=%s as %q: empty", coll, q, project)
		}
		for _, x := range items {
			m := x.(jsonObj)
			out[m["id"].(string)] = true
			if coll == "networks" && m["shared"] != (q == "true") {
				t.Errorf("networks?shared=%s as %q lists %v", q, project, m)
			}
		}
		return out
	}
	for _, project := range []string{"p1", ""} {
		if l := ids(project, "subnets", "true"); !l[sub["id"].(string)] || l[priv["id"].(string)] {
			t.Errorf("subnets?shared=true as %q: %v", project, l)
		}
		if l := ids(project, "subnets", "false"); l[sub["id"].(string)] || !l[priv["id"].(string)] {
			t.Errorf("subnets?shared=false as %q: %v", project, l)
		}
		ids(project, "networks", "true")
		ids(project, "networks", "false")
	}
	up := a.must(http.StatusOK, "PUT", "/v2.0/networks/"+shared["id"].(string), "", jsonObj{"network": jsonObj{"name": "New", "admin_state_up": false, "shared": false}})["network"].(jsonObj)
	if up["shared"] != false || up["admin_state_up"] != false || up["name"] != "New" {
		t.Errorf("update %v", up)
	}
	a.must(http.StatusOK, "PUT", "/v2.0/networks/"+shared["id"].(string), "", jsonObj{"network": jsonObj{"shared": true}})
	port := a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": shared["id"]}})["port"].(jsonObj)
	if port["tenant_id"] != "p1" {
		t.Errorf("member's port on a shared network: %v", port)
	}
	pairs := []any{jsonObj{"ip_address": "1.1.1.1"}}
	a.wantErr(http.StatusForbidden, "", "", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": shared["id"], "allowed_address_pairs": pairs}})
	a.wantErr(http.StatusForbidden, "", "", "PUT", "/v2.0/ports/"+port["id"].(string), "p1", jsonObj{"port": jsonObj{"allowed_address_pairs": pairs}})
	bulk := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"networks": []any{jsonObj{"name": "b1", "shared": true}, jsonObj{"name": "b2", "shared": true}}})["networks"].([]any)
	for _, n := range bulk {
		if n.(jsonObj)["shared"] != true {
			t.Errorf("bulk %v", n)
		}
	}
}

// test_security_groups_negative: names are validated on create and on the
// default group's update before its rename is refused; a group in use is
// not deleted; a quota of 0 refuses the next group; quotas are integers
// from -1 to 2^31-1.
func TestTempestSecurityGroupNegative(t *testing.T) {
	a := newTestAPI(t)
	long := strings.Repeat("x", 256)
	for _, name := range []any{long, true} {
		a.wantErr(http.StatusBadRequest, "", "", "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": name}})
	}
	a.wantErr(http.StatusConflict, "", "", "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "default"}})
	def := a.must(http.StatusOK, "GET", "/v2.0/security-groups?name=default", "p1", nil)["security_groups"].([]any)[0].(jsonObj)
	path := "/v2.0/security-groups/" + def["id"].(string)
	a.wantErr(http.StatusConflict, "", "", "PUT", path, "p1", jsonObj{"security_group": jsonObj{"name": "test"}})
	for _, name := range []any{long, true} {
		a.wantErr(http.StatusBadRequest, "", "", "PUT", path, "p1", jsonObj{"security_group": jsonObj{"name": name}})
	}
	sg := a.must(http.StatusCreated, "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "g"}})["security_group"].(jsonObj)
	net := a.mkNetwork("p1", nil)
	a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net, "security_groups": []any{sg["id"]}}})
	a.wantErr(http.StatusConflict, "SecurityGroupInUse", "", "DELETE", "/v2.0/security-groups/"+sg["id"].(string), "p1", nil)

	a.must(http.StatusOK, "PUT", "/v2.0/quotas/p1", "", jsonObj{"quota": jsonObj{"security_group": 0, "force": true}})
	a.wantErr(http.StatusConflict, "OverQuota", "", "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "g"}})
	for _, v := range []any{-2, 2147483648, "value"} {
		a.wantErr(http.StatusBadRequest, "", "", "PUT", "/v2.0/quotas/p1", "", jsonObj{"quota": jsonObj{"security_group": v}})
	}
}

// test_subnetpools: an update with prefix lengths as strings shows them as
// sent; a pool stored with numeric prefix lengths still reads.
func TestTempestSubnetPoolPrefixLengths(t *testing.T) {
	a := newTestAPI(t)
	sp := a.mkPool("p1", jsonObj{"name": "sp", "prefixes": []string{"10.11.12.0/24"}, "min_prefixlen": "29"})
	path := "/v2.0/subnetpools/" + sp["id"].(string)
	a.must(http.StatusOK, "PUT", path, "p1", jsonObj{"subnetpool": jsonObj{"name": "new", "min_prefixlen": "28", "max_prefixlen": "30"}})
	got := a.must(http.StatusOK, "GET", path, "p1", nil)["subnetpool"].(jsonObj)
	if got["name"] != "new" || got["min_prefixlen"] != "28" || got["max_prefixlen"] != "30" || got["shared"] != false {
		t.Errorf("updated %v", got)
	}
	var old subnetPool
	if err := json.Unmarshal([]byte(`{"id":"x","default_prefixlen":24,"min_prefixlen":8,"max_prefixlen":"32"}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.DefaultPrefixLen != 24 || old.MinPrefixLen != 8 || old.MaxPrefixLen != 32 || old.ID != "x" {
		t.Errorf("decoded %+v", old)
	}
}

// admin/test_quotas: a project with quotas of its own is listed until they
// are reset; a reset of a project without any is a 404
// (TenantQuotaNotFound); details count what the project holds; the
// subnet pool quota is served as gophercloud's acceptance test sets it.
func TestTempestQuotas(t *testing.T) {
	a := newTestAPI(t)
	listed := func(project string) bool {
		for _, q := range a.must(http.StatusOK, "GET", "/v2.0/quotas", "", nil)["quotas"].([]any) {
			if m := q.(jsonObj); m["tenant_id"] == project {
				if m["project_id"] != project {
					t.Errorf("listed %v", m)
				}
				return true
			}
		}
		return false
	}
	q := a.must(http.StatusOK, "PUT", "/v2.0/quotas/pt", "", jsonObj{"quota": jsonObj{"network": 0, "security_group": 0}})["quota"].(jsonObj)
	if q["network"] != float64(0) || q["security_group"] != float64(0) || q["subnetpool"] != float64(-1) {
		t.Errorf("updated %v", q)
	}
	if !listed("pt") {
		t.Error("project with quotas not listed")
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/quotas/pt", "", nil)
	if listed("pt") {
		t.Error("reset project still listed")
	}
	a.wantErr(http.StatusNotFound, "TenantQuotaNotFound", "", "DELETE", "/v2.0/quotas/pt", "", nil)
	a.wantErr(http.StatusForbidden, "", "", "DELETE", "/v2.0/quotas/pt", "p1", nil)
	a.wantErr(http.StatusForbidden, "", "", "GET", "/v2.0/quotas/pt", "p1", nil)

	net := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"tenant_id": "pd"}})["network"].(jsonObj)
	a.must(http.StatusCreated, "POST", "/v2.0/ports", "", jsonObj{"port": jsonObj{"tenant_id": "pd", "network_id": net["id"]}})
	a.must(http.StatusOK, "PUT", "/v2.0/quotas/pd", "", jsonObj{"quota": jsonObj{"network": 2, "port": 2}})
	det := a.must(http.StatusOK, "GET", "/v2.0/quotas/pd/details.json", "", nil)["quota"].(jsonObj)
	for _, k := range []string{"network", "port"} {
		d := det[k].(jsonObj)
		if d["limit"] != float64(2) || d["used"] != float64(1) || d["reserved"] != float64(0) {
			t.Errorf("details %s: %v", k, d)
		}
	}

	a.must(http.StatusOK, "PUT", "/v2.0/quotas/pp", "", jsonObj{"quota": jsonObj{"subnetpool": 1}})
	a.mkPool("pp", jsonObj{"prefixes": []string{"10.40.0.0/16"}})
	a.wantErr(http.StatusConflict, "OverQuota", "", "POST", "/v2.0/subnetpools", "pp", jsonObj{"subnetpool": jsonObj{"prefixes": []string{"10.41.0.0/16"}}})
}

// test_routers_negative: an interface by a port id that is no UUID is a
// 400 (l3_db validates interface_info); another project's router is a 404
// to a member by port and by subnet; a port already an interface is a 409;
// a member cannot ask for distributed.
func TestTempestRouterInterfaces(t *testing.T) {
	a := newTestAPI(t)
	r := a.must(http.StatusCreated, "POST", "/v2.0/routers", "p1", jsonObj{"router": jsonObj{"name": "r"}})["router"].(jsonObj)
	path := "/v2.0/routers/" + r["id"].(string)
	a.wantErr(http.StatusBadRequest, "", "not a valid UUID", "PUT", path+"/add_router_interface", "p1", jsonObj{"port_id": "port-1234"})
	a.wantErr(http.StatusBadRequest, "", "not a valid UUID", "PUT", path+"/add_router_interface", "p1", jsonObj{"subnet_id": "subnet-1234"})

	net2 := a.mkNetwork("p2", nil)
	sub2 := a.mkSubnet("p2", net2, "10.50.0.0/24", jsonObj{"ip_version": 4})
	port2 := a.must(http.StatusCreated, "POST", "/v2.0/ports", "p2", jsonObj{"port": jsonObj{"network_id": net2}})["port"].(jsonObj)
	a.wantErr(http.StatusNotFound, "", "", "PUT", path+"/add_router_interface", "p2", jsonObj{"port_id": port2["id"]})
	a.wantErr(http.StatusNotFound, "", "", "PUT", path+"/add_router_interface", "p2", jsonObj{"subnet_id": sub2["id"]})

	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.51.0.0/24", jsonObj{"ip_version": 4})
	port := a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net}})["port"].(jsonObj)
	a.must(http.StatusOK, "PUT", path+"/add_router_interface", "p1", jsonObj{"port_id": port["id"]})
	a.wantErr(http.StatusConflict, "", "", "PUT", path+"/add_router_interface", "p1", jsonObj{"port_id": port["id"]})

	a.wantErr(http.StatusForbidden, "", "", "POST", "/v2.0/routers", "p1", jsonObj{"router": jsonObj{"name": "d", "distributed": true}})
	d := a.must(http.StatusCreated, "POST", "/v2.0/routers", "", jsonObj{"router": jsonObj{"name": "d", "distributed": true}})["router"].(jsonObj)
	if d["distributed"] != true {
		t.Errorf("admin's distributed router %v", d)
	}
}

// test_networks_negative and test_ports_negative, IPv4.
func TestTempestNetworkPortNegative(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	sub := a.mkSubnet("p1", net, "10.60.0.0/24", jsonObj{"ip_version": 4})
	a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net}})
	a.wantErr(http.StatusConflict, "", "", "DELETE", "/v2.0/subnets/"+sub["id"].(string), "p1", nil)
	a.wantErr(http.StatusConflict, "", "", "DELETE", "/v2.0/networks/"+net, "p1", nil)

	a.wantErr(http.StatusBadRequest, "", "", "POST", "/v2.0/networks", "p1", jsonObj{"network": jsonObj{"mtu": 65536}})
	// Neutron takes a network MTU below IPv4's 68 and refuses an IPv4
	// subnet on it (409); Wyvern refuses the MTU itself (400).
	a.wantErr(http.StatusBadRequest, "", "", "POST", "/v2.0/networks", "p1", jsonObj{"network": jsonObj{"mtu": 67}})

	a.wantErr(http.StatusBadRequest, "", "", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net, "name": strings.Repeat("z", 256)}})
	a.wantErr(http.StatusBadRequest, "", "", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net, "description": strings.Repeat("z", 1025)}})
	a.wantErr(http.StatusBadRequest, "", "", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net, "project_id": "8d2e4f6a-0b1c-4d3e-9f5a-6b7c8d9e0f1a"}})
	a.wantErr(http.StatusNotFound, "", "", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": "8d2e4f6a-0b1c-4d3e-9f5a-6b7c8d9e0f1a"}})
	a.wantErr(http.StatusNotFound, "", "", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net, "security_groups": []string{"8d2e4f6a-0b1c-4d3e-9f5a-6b7c8d9e0f1a"}}})
}

// Another project sees a non-shared external network, but neither lists
// nor shows its subnets; a shared external network's subnets it sees.
func TestTempestExternalSubnetsHidden(t *testing.T) {
	a := newTestAPI(t)
	ext := a.mkNetwork("", jsonObj{"name": "ext", "router:external": true})
	sub := a.mkSubnet("", ext, "203.0.113.0/24", jsonObj{"ip_version": 4})
	a.wantErr(http.StatusNotFound, "SubnetNotFound", "", "GET", "/v2.0/subnets/"+sub["id"].(string), "p1", nil)
	if l := a.must(http.StatusOK, "GET", "/v2.0/subnets?network_id="+ext, "p1", nil)["subnets"].([]any); len(l) != 0 {
		t.Errorf("listed %v", l)
	}
	a.must(http.StatusOK, "GET", "/v2.0/networks/"+ext, "p1", nil)
	shared := a.mkNetwork("", jsonObj{"name": "ext2", "router:external": true, "shared": true})
	s2 := a.mkSubnet("", shared, "198.51.100.0/24", jsonObj{"ip_version": 4})
	a.must(http.StatusOK, "GET", "/v2.0/subnets/"+s2["id"].(string), "p1", nil)
}

// test_security_groups: a member's group shows and lists every rule in
// it, an admin's too; a rule of an admin's own group stays hidden.
func TestTempestSecurityGroupRuleVisibility(t *testing.T) {
	a := newTestAPI(t)
	mine := a.must(http.StatusCreated, "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "m"}})["security_group"].(jsonObj)
	rule := func(sg jsonObj) string {
		return a.must(http.StatusCreated, "POST", "/v2.0/security-group-rules", "", jsonObj{"security_group_rule": jsonObj{
			"security_group_id": sg["id"], "direction": "ingress", "protocol": "udp", "project_id": "admin-project"}})["security_group_rule"].(jsonObj)["id"].(string)
	}
	in := rule(mine)
	theirs := a.must(http.StatusCreated, "POST", "/v2.0/security-groups", "", jsonObj{"security_group": jsonObj{"name": "a"}})["security_group"].(jsonObj)
	out := rule(theirs)
	ids := map[string]bool{}
	for _, r := range a.must(http.StatusOK, "GET", "/v2.0/security-group-rules", "p1", nil)["security_group_rules"].([]any) {
		ids[r.(jsonObj)["id"].(string)] = true
	}
	if !ids[in] || ids[out] {
		t.Errorf("member lists %v: want %s and not %s", ids, in, out)
	}
	shown := map[string]bool{}
	for _, r := range a.must(http.StatusOK, "GET", "/v2.0/security-groups/"+mine["id"].(string), "p1", nil)["security_group"].(jsonObj)["security_group_rules"].([]any) {
		shown[r.(jsonObj)["id"].(string)] = true
	}
	if !shown[in] {
		t.Errorf("group shows %v, not the admin's rule %s", shown, in)
	}
}

// subnetpool-prefix-ops, as gophercloud's TestSubnetPoolsAddRemovePrefixes
// and neutron-tempest-plugin's test_subnetpool_prefix_ops use it.
func TestSubnetPoolPrefixOps(t *testing.T) {
	a := newTestAPI(t)
	sp := a.mkPool("p1", jsonObj{"name": "sp", "prefixes": []string{"10.0.0.0/8"}, "default_prefixlen": 24})
	path := "/v2.0/subnetpools/" + sp["id"].(string)
	prefixes := func(out jsonObj) []string {
		var l []string
		for _, x := range out["prefixes"].([]any) {
			l = append(l, x.(string))
		}
		sort.Strings(l)
		return l
	}
	got := prefixes(a.must(http.StatusOK, "PUT", path+"/add_prefixes", "p1", jsonObj{"prefixes": []string{"172.16.0.0/16", "192.168.0.0/16"}}))
	if !equalStrings(got, []string{"10.0.0.0/8", "172.16.0.0/16", "192.168.0.0/16"}) {
		t.Fatalf("after add %v", got)
	}
	got = prefixes(a.must(http.StatusOK, "PUT", path+"/remove_prefixes", "p1", jsonObj{"prefixes": []string{"192.168.0.0/16"}}))
	if !equalStrings(got, []string{"10.0.0.0/8", "172.16.0.0/16"}) {
		t.Fatalf("after remove %v", got)
	}
	shown := a.must(http.StatusOK, "GET", path, "p1", nil)["subnetpool"].(jsonObj)
	if !equalStrings(prefixes(shown), got) || shown["revision_number"] != float64(2) {
		t.Fatalf("shown %v", shown)
	}
	// Part of a prefix goes; a prefix holding a subnet stays.
	net := a.mkNetwork("p1", nil)
	a.must(http.StatusCreated, "POST", "/v2.0/subnets", "p1", jsonObj{"subnet": jsonObj{"network_id": net, "ip_version": 4, "subnetpool_id": sp["id"], "cidr": "172.16.5.0/24"}})
	got = prefixes(a.must(http.StatusOK, "PUT", path+"/remove_prefixes", "p1", jsonObj{"prefixes": []string{"10.128.0.0/9"}}))
	if !equalStrings(got, []string{"10.0.0.0/9", "172.16.0.0/16"}) {
		t.Fatalf("after removing half %v", got)
	}
	a.wantErr(http.StatusBadRequest, "IllegalSubnetPoolUpdate", "", "PUT", path+"/remove_prefixes", "p1", jsonObj{"prefixes": []string{"172.16.0.0/16"}})
	a.wantErr(http.StatusBadRequest, "PrefixVersionMismatch", "", "PUT", path+"/add_prefixes", "p1", jsonObj{"prefixes": []string{"2001:db8::/32"}})
	a.wantErr(http.StatusNotFound, "SubnetPoolNotFound", "", "PUT", path+"/add_prefixes", "p2", jsonObj{"prefixes": []string{"192.168.0.0/16"}})
	if got := prefixes(a.must(http.StatusOK, "GET", path, "p1", nil)["subnetpool"].(jsonObj)); !equalStrings(got, []string{"10.0.0.0/9", "172.16.0.0/16"}) {
		t.Fatalf("refused calls changed the pool: %v", got)
	}
}

// A member's network update names neither shared nor router:external,
// even with the value they have (Neutron's update_network policy); on
// create the defaults may be named.
func TestTempestNetworkAdminAttributes(t *testing.T) {
	a := newTestAPI(t)
	id := a.mkNetwork("p1", jsonObj{"name": "n", "shared": false, "router:external": false})
	for _, k := range []string{"shared", "router:external"} {
		a.wantErr(http.StatusForbidden, "", "disallowed by policy", "PUT", "/v2.0/networks/"+id, "p1", jsonObj{"network": jsonObj{"name": "x", k: false}})
	}
	if n := a.must(http.StatusOK, "GET", "/v2.0/networks/"+id, "p1", nil)["network"].(jsonObj); n["name"] != "n" {
		t.Errorf("refused updates changed the network: %v", n)
	}
	a.must(http.StatusOK, "PUT", "/v2.0/networks/"+id, "", jsonObj{"network": jsonObj{"shared": false, "router:external": false}})
}
