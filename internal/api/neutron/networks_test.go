package neutron

import (
	"net/http"
	"testing"
)

func TestNetworkCRUD(t *testing.T) {
	a := newTestAPI(t)
	out := a.must(http.StatusCreated, "POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "n1"}})
	n := out["network"].(map[string]any)
	id := n["id"].(string)
	if n["provider:network_type"] != "geneve" || n["mtu"].(float64) != 1442 || n["project_id"] != "p1" || n["tenant_id"] != "p1" {
		t.Fatalf("unexpected network %v", n)
	}
	if seg := n["provider:segmentation_id"].(float64); seg < 1 || seg > 65535 {
		t.Fatalf("segmentation id %v out of range", seg)
	}
	// Another project gets 404, not 403.
	code, out := a.call("GET", "/v2.0/networks/"+id, "p2", nil)
	if code != http.StatusNotFound || errType(out) != "NetworkNotFound" {
		t.Fatalf("other project: %d %v", code, out)
	}
	// If-Match on a stale revision fails and changes nothing.
	code, _ = a.callIfMatch("PUT", "/v2.0/networks/"+id, "p1", 7, map[string]any{"network": map[string]any{"name": "x"}})
	if code != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d", code)
	}
	out = a.must(http.StatusOK, "PUT", "/v2.0/networks/"+id, "p1", map[string]any{"network": map[string]any{"name": "n2"}})
	if out["network"].(map[string]any)["revision_number"].(float64) != 1 {
		t.Fatalf("revision not bumped: %v", out)
	}
	// Unknown attributes are refused.
	code, out = a.call("POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"bogus": 1}})
	if code != http.StatusBadRequest {
		t.Fatalf("bogus attribute: %d %v", code, out)
	}
	// Tags.
	a.must(http.StatusCreated, "PUT", "/v2.0/networks/"+id+"/tags/red", "p1", nil)
	out = a.must(http.StatusOK, "GET", "/v2.0/networks?tags=red", "p1", nil)
	if len(out["networks"].([]any)) != 1 {
		t.Fatalf("tag filter: %v", out)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+id, "p1", nil)
	a.must(http.StatusNotFound, "GET", "/v2.0/networks/"+id, "p1", nil)
}

func TestNetworkListPagination(t *testing.T) {
	a := newTestAPI(t)
	for i := 0; i < 5; i++ {
		a.must(http.StatusCreated, "POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "n"}})
	}
	out := a.must(http.StatusOK, "GET", "/v2.0/networks?limit=2", "p1", nil)
	if len(out["networks"].([]any)) != 2 || out["networks_links"] == nil {
		t.Fatalf("page 1: %v", out)
	}
	seen := 0
	path := "/v2.0/networks?limit=2"
	for path != "" && seen < 10 {
		out = a.must(http.StatusOK, "GET", path, "p1", nil)
		seen += len(out["networks"].([]any))
		path = ""
		links, _ := out["networks_links"].([]any)
		for _, l := range links {
			m := l.(map[string]any)
			if m["rel"] == "next" {
				path = m["href"].(string)[len(a.srv.URL):]
			}
		}
	}
	if seen != 5 {
		t.Fatalf("paged through %d networks, want 5", seen)
	}
}

// TestNullAttributes checks the attributes Neutron shows as null (not "")
// when unset, in show, list and fields answers.
func TestNullAttributes(t *testing.T) {
	a := newTestAPI(t)
	isNull := func(what string, m map[string]any, k string) {
		t.Helper()
		v, ok := m[k]
		if !ok || v != nil {
			t.Fatalf("%s: %s = %#v (present %v), want null", what, k, v, ok)
		}
	}
	isEmpty := func(what string, m map[string]any, k string) {
		t.Helper()
		if v, ok := m[k]; !ok || v != "" {
			t.Fatalf("%s: %s = %#v (present %v), want \"\"", what, k, v, ok)
		}
	}
	for _, typ := range []string{"geneve", "vxlan"} {
		n := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"provider:network_type": typ}})["network"].(jsonObj)
		isNull(typ, n, "provider:physical_network")
		if _, ok := n["provider:segmentation_id"].(float64); !ok {
			t.Fatalf("%s: segmentation id %v", typ, n["provider:segmentation_id"])
		}
		id := n["id"].(string)
		isNull(typ+" show", a.must(http.StatusOK, "GET", "/v2.0/networks/"+id, "", nil)["network"].(jsonObj), "provider:physical_network")
		f := a.must(http.StatusOK, "GET", "/v2.0/networks/"+id+"?fields=provider:physical_network", "", nil)["network"].(jsonObj)
		isNull(typ+" fields", f, "provider:physical_network")
	}
	flat := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{
		"provider:network_type": "flat", "provider:physical_network": "physnet1"}})["network"].(jsonObj)
	isNull("flat", flat, "provider:segmentation_id")
	if flat["provider:physical_network"] != "physnet1" {
		t.Fatalf("flat: %v", flat)
	}
	for _, n := range a.must(http.StatusOK, "GET", "/v2.0/networks", "", nil)["networks"].([]any) {
		m := n.(jsonObj)
		if m["provider:network_type"] != "flat" {
			isNull("list", m, "provider:physical_network")
		}
	}

	// Ports: empty strings where Neutron has them, lists never null.
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.20.0.0/24", nil)
	port := a.mkPort("p1", net, nil)
	for _, k := range []string{"device_owner", "device_id", "binding:host_id", "name", "description"} {
		isEmpty("port", port, k)
	}
	for _, k := range []string{"security_groups", "allowed_address_pairs", "extra_dhcp_opts", "fixed_ips", "tags"} {
		if _, ok := port[k].([]any); !ok {
			t.Fatalf("port %s = %#v, want a list", k, port[k])
		}
	}
	// A server-made port with port security off has no groups: [].
	ext := a.mkNetwork("", jsonObj{"router:external": true})
	a.mkSubnet("", ext, "203.0.113.0/24", nil)
	r := mkRouter(t, a, "", jsonObj{"external_gateway_info": jsonObj{"network_id": ext}})
	for _, gw := range portsOfDevice(t, a, r["id"].(string)) {
		if sgs, ok := gw["security_groups"].([]any); !ok || len(sgs) != 0 {
			t.Fatalf("gateway port security_groups = %#v", gw["security_groups"])
		}
	}
	// Routers without a gateway, unassociated floating IPs, rules
	// without ports or remote, subnets without gateway.
	isNull("router", mkRouter(t, a, "p1", nil), "external_gateway_info")
	fip := a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", jsonObj{"floatingip": jsonObj{"floating_network_id": ext}})["floatingip"].(jsonObj)
	for _, k := range []string{"port_id", "fixed_ip_address", "router_id", "port_details"} {
		isNull("floating IP", fip, k)
	}
	sg := a.must(http.StatusCreated, "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "g"}})["security_group"].(jsonObj)
	rule := a.must(http.StatusCreated, "POST", "/v2.0/security-group-rules", "p1", jsonObj{"security_group_rule": jsonObj{
		"security_group_id": sg["id"], "direction": "ingress"}})["security_group_rule"].(jsonObj)
	for _, k := range []string{"protocol", "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "normalized_cidr"} {
		isNull("rule", rule, k)
	}
	sub := a.mkSubnet("p1", net, "10.21.0.0/24", jsonObj{"gateway_ip": nil})
	for _, k := range []string{"gateway_ip", "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id"} {
		isNull("subnet", sub, k)
	}
}

// TestPortPagesMatchTheFullList: an admin's plain paginated listing (served
// page by page from the id index) returns exactly the full list, in order.
func TestPortPagesMatchTheFullList(t *testing.T) {
	a := newTestAPI(t)
	out := a.must(http.StatusCreated, "POST", "/v2.0/networks", "p1", map[string]any{"network": map[string]any{"name": "n"}})
	netID := out["network"].(map[string]any)["id"].(string)
	a.must(http.StatusCreated, "POST", "/v2.0/subnets", "p1", map[string]any{"subnet": map[string]any{
		"network_id": netID, "cidr": "10.0.0.0/24", "ip_version": 4}})
	var bulk []any
	for i := 0; i < 23; i++ {
		bulk = append(bulk, map[string]any{"network_id": netID})
	}
	a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", map[string]any{"ports": bulk})
	full := a.must(http.StatusOK, "GET", "/v2.0/ports", "", nil)["ports"].([]any)
	var paged []any
	path := "/v2.0/ports?limit=5"
	for path != "" {
		out := a.must(http.StatusOK, "GET", path, "", nil)
		paged = append(paged, out["ports"].([]any)...)
		path = ""
		for _, l := range out["ports_links"].([]any) {
			if m := l.(map[string]any); m["rel"] == "next" {
				path = m["href"].(string)[len(a.srv.URL):]
			}
		}
	}
	if len(paged) != len(full) || len(full) != 23 {
		t.Fatalf("paged %d ports, full list %d, want 23", len(paged), len(full))
	}
	for i := range full {
		if full[i].(map[string]any)["id"] != paged[i].(map[string]any)["id"] {
			t.Fatalf("page order differs at %d", i)
		}
	}
	a.must(http.StatusNotFound, "GET", "/v2.0/ports?limit=5&marker=00000000-0000-0000-0000-000000000000", "", nil)
}
