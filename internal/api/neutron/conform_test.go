package neutron

import "testing"

// An admin creating a network for another project gets that project.
func TestAdminCreatesNetworkForProject(t *testing.T) {
	a := newTestAPI(t)
	for _, body := range []map[string]any{
		{"name": "n1", "project_id": "p9"},
		{"name": "n2", "project_id": "p9", "tenant_id": "p9"},
		{"name": "n3", "tenant_id": "p9"},
	} {
		n := a.must(201, "POST", "/v2.0/networks", "", map[string]any{"network": body})["network"].(map[string]any)
		if n["project_id"] != "p9" || n["tenant_id"] != "p9" {
			t.Errorf("%v: got project %v tenant %v", body, n["project_id"], n["tenant_id"])
		}
	}
}

// Other projects see a non-shared external network but not its subnets.
func TestExternalNetworkSubnetsHidden(t *testing.T) {
	a := newTestAPI(t)
	n := a.must(201, "POST", "/v2.0/networks", "", map[string]any{"network": map[string]any{"name": "ext", "router:external": true}})["network"].(map[string]any)
	a.must(201, "POST", "/v2.0/subnets", "", map[string]any{"subnet": map[string]any{"network_id": n["id"], "cidr": "203.0.113.0/24", "ip_version": 4}})
	if got := a.must(200, "GET", "/v2.0/networks/"+n["id"].(string), "p1", nil); got["network"] == nil {
		t.Fatal("external network hidden")
	}
	subs := a.must(200, "GET", "/v2.0/subnets", "p1", nil)["subnets"].([]any)
	if len(subs) != 0 {
		t.Errorf("other project sees %d subnets of a non-shared external network", len(subs))
	}
}

// Neutron's shared filter on subnets.
func TestSubnetsSharedFilter(t *testing.T) {
	a := newTestAPI(t)
	sh := a.must(201, "POST", "/v2.0/networks", "", map[string]any{"network": map[string]any{"name": "sh", "shared": true}})["network"].(map[string]any)
	pr := a.must(201, "POST", "/v2.0/networks", "", map[string]any{"network": map[string]any{"name": "pr"}})["network"].(map[string]any)
	a.must(201, "POST", "/v2.0/subnets", "", map[string]any{"subnet": map[string]any{"network_id": sh["id"], "cidr": "10.1.0.0/24", "ip_version": 4}})
	a.must(201, "POST", "/v2.0/subnets", "", map[string]any{"subnet": map[string]any{"network_id": pr["id"], "cidr": "10.2.0.0/24", "ip_version": 4}})
	for q, want := range map[string]string{"true": "10.1.0.0/24", "false": "10.2.0.0/24"} {
		subs := a.must(200, "GET", "/v2.0/subnets?shared="+q, "", nil)["subnets"].([]any)
		if len(subs) != 1 || subs[0].(map[string]any)["cidr"] != want {
			t.Errorf("shared=%s: %v", q, subs)
		}
	}
}

// A non-admin cannot unshare an address scope.
func TestAddressScopeUnshare(t *testing.T) {
	a := newTestAPI(t)
	s := a.must(201, "POST", "/v2.0/address-scopes", "", map[string]any{"address_scope": map[string]any{"name": "s", "ip_version": 4, "shared": true, "project_id": "p1"}})["address_scope"].(map[string]any)
	code, out := a.call("PUT", "/v2.0/address-scopes/"+s["id"].(string), "p1", map[string]any{"address_scope": map[string]any{"shared": false}})
	if code != 400 && code != 403 {
		t.Errorf("unshare by owner: %d %v", code, out)
	}
}

// Address groups keep each address as its network, as Neutron's
// address_group_db normalises them; an invalid address is a 400.
func TestAddressGroupAddresses(t *testing.T) {
	a := newTestAPI(t)
	g := a.must(201, "POST", "/v2.0/address-groups", "p1", map[string]any{"address_group": map[string]any{"name": "g", "addresses": []string{"192.168.0.10/24", "2001:db8::f00/64"}}})["address_group"].(map[string]any)
	addrs := g["addresses"].([]any)
	if len(addrs) != 2 || addrs[0] != "192.168.0.0/24" || addrs[1] != "2001:db8::/64" {
		t.Errorf("addresses %v", addrs)
	}
	code, out := a.call("POST", "/v2.0/address-groups", "p1", map[string]any{"address_group": map[string]any{"name": "g", "addresses": []string{"10.0.0.300/24"}}})
	if code != 400 {
		t.Errorf("invalid address: %d %v", code, out)
	}
}

// On a shared network only the network's owner may set address pairs.
func TestSharedNetworkAddressPairs(t *testing.T) {
	a := newTestAPI(t)
	n := a.must(201, "POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "sh"}})["network"].(map[string]any)
	a.must(200, "PUT", "/v2.0/networks/"+n["id"].(string), "", map[string]any{"network": map[string]any{"shared": true}})
	a.must(201, "POST", "/v2.0/subnets", "p1", map[string]any{"subnet": map[string]any{"network_id": n["id"], "cidr": "10.5.0.0/24", "ip_version": 4}})
	pairs := []any{map[string]any{"ip_address": "10.5.0.0/24"}}
	if code, out := a.call("POST", "/v2.0/ports", "p2", map[string]any{"port": map[string]any{"network_id": n["id"], "allowed_address_pairs": pairs}}); code != 403 {
		t.Errorf("create: %d %v", code, out)
	}
	port := a.must(201, "POST", "/v2.0/ports", "p2", map[string]any{"port": map[string]any{"network_id": n["id"]}})["port"].(map[string]any)
	if code, out := a.call("PUT", "/v2.0/ports/"+port["id"].(string), "p2", map[string]any{"port": map[string]any{"allowed_address_pairs": pairs}}); code != 403 {
		t.Errorf("update: %d %v", code, out)
	}
	a.must(201, "POST", "/v2.0/ports", "p1", map[string]any{"port": map[string]any{"network_id": n["id"], "allowed_address_pairs": pairs}})
}

// Any "prefix:kind" service type is accepted, and a port is given an
// address from the subnet serving its device_owner.
func TestSubnetAnyServiceType(t *testing.T) {
	a := newTestAPI(t)
	n := a.must(201, "POST", "/v2.0/networks", "", map[string]any{"network": map[string]any{"name": "n"}})["network"].(map[string]any)
	a.must(201, "POST", "/v2.0/subnets", "", map[string]any{"subnet": map[string]any{"network_id": n["id"], "cidr": "10.6.1.0/24", "ip_version": 4, "service_types": []string{"test:type_1"}}})
	s2 := a.must(201, "POST", "/v2.0/subnets", "", map[string]any{"subnet": map[string]any{"network_id": n["id"], "cidr": "10.6.2.0/24", "ip_version": 4, "service_types": []string{"test:type_2"}}})["subnet"].(map[string]any)
	p := a.must(201, "POST", "/v2.0/ports", "", map[string]any{"port": map[string]any{"network_id": n["id"], "device_owner": "test:type_2"}})["port"].(map[string]any)
	ips := p["fixed_ips"].([]any)
	if len(ips) != 1 || ips[0].(map[string]any)["subnet_id"] != s2["id"] {
		t.Errorf("fixed_ips %v, want one on %v", ips, s2["id"])
	}
	if code, out := a.call("POST", "/v2.0/subnets", "", map[string]any{"subnet": map[string]any{"network_id": n["id"], "cidr": "10.6.3.0/24", "ip_version": 4, "service_types": []string{"nocolon"}}}); code != 400 {
		t.Errorf("invalid service type: %d %v", code, out)
	}
}

// add_router_interface with a port that does not exist is a 404.
func TestRouterInterfaceMissingPort(t *testing.T) {
	a := newTestAPI(t)
	for _, project := range []string{"p1", ""} {
		r := a.must(201, "POST", "/v2.0/routers", project, map[string]any{"router": map[string]any{"name": "r"}})["router"].(map[string]any)
		code, out := a.call("PUT", "/v2.0/routers/"+r["id"].(string)+"/add_router_interface", project, map[string]any{"port_id": "00000000-0000-0000-0000-000000000000"})
		if code != 404 || errType(out) != "PortNotFound" {
			t.Errorf("caller %q: %d %v", project, code, out)
		}
	}
}
