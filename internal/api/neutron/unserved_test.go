package neutron

import (
	"net/http"
	"strings"
	"testing"
)

// TestRefuseUnserved: what the data plane does not serve is refused with
// a Neutron error and changes nothing.
func TestRefuseUnserved(t *testing.T) {
	a := newTestAPI(t)
	id := func(m map[string]any, kind string) string { return m[kind].(map[string]any)["id"].(string) }
	refused := func(what string, status int, out map[string]any, want string) {
		t.Helper()
		if status != http.StatusBadRequest || errType(out) != "HTTPBadRequest" {
			t.Fatalf("%s: %d %v, want 400 HTTPBadRequest", what, status, out)
		}
		msg, _ := out["NeutronError"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, want) {
			t.Fatalf("%s: message %q lacks %q", what, msg, want)
		}
	}

	// IPv6 on an external network.
	ext := id(a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{
		"router:external": true, "provider:network_type": "flat", "provider:physical_network": "physnet1"}}), "network")
	st, out := a.call("POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"network_id": ext, "cidr": "2001:db8:ff::/64", "ip_version": 6}})
	refused("IPv6 subnet on an external network", st, out, "IPv6 subnets on external networks are not supported")
	if subs := a.must(http.StatusOK, "GET", "/v2.0/subnets?network_id="+ext, "", nil)["subnets"].([]any); len(subs) != 0 {
		t.Fatalf("refused subnet stored: %v", subs)
	}
	a.must(http.StatusCreated, "POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"network_id": ext, "cidr": "203.0.113.0/24", "ip_version": 4}})

	// A network with an IPv6 subnet does not become external.
	n6 := id(a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"name": "n6"}}), "network")
	a.must(http.StatusCreated, "POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"network_id": n6, "cidr": "2001:db8:6::/64", "ip_version": 6,
		"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}})
	st, out = a.call("PUT", "/v2.0/networks/"+n6, "", jsonObj{"network": jsonObj{"router:external": true}})
	refused("external network with IPv6", st, out, "IPv6 on external networks is not supported")
	if got := a.must(http.StatusOK, "GET", "/v2.0/networks/"+n6, "", nil)["network"].(map[string]any)["router:external"]; got != false {
		t.Fatalf("router:external = %v after a refused update", got)
	}

	// VM ports on vlan and flat networks; the gateway of a flat external
	// network is served.
	vlan := id(a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{
		"provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 101}}), "network")
	flat := id(a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{
		"provider:network_type": "flat", "provider:physical_network": "physnet2"}}), "network")
	for name, netID := range map[string]string{"vlan": vlan, "flat": flat, "flat external": ext} {
		st, out := a.call("POST", "/v2.0/ports", "", jsonObj{"port": jsonObj{"network_id": netID, "device_owner": "compute:nova"}})
		refused("VM port on "+name, st, out, "are not supported")
		if ports := a.must(http.StatusOK, "GET", "/v2.0/ports?network_id="+netID, "", nil)["ports"].([]any); len(ports) != 0 {
			t.Fatalf("%s: refused port stored: %v", name, ports)
		}
	}
	vsub := id(a.must(http.StatusCreated, "POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"network_id": vlan, "cidr": "10.9.0.0/24", "ip_version": 4}}), "subnet")
	r := id(a.must(http.StatusCreated, "POST", "/v2.0/routers", "", jsonObj{"router": jsonObj{"name": "r"}}), "router")
	st, out = a.call("PUT", "/v2.0/routers/"+r+"/add_router_interface", "", jsonObj{"subnet_id": vsub})
	refused("router interface on vlan", st, out, "are not supported")
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+r, "", jsonObj{"router": jsonObj{"external_gateway_info": jsonObj{"network_id": ext}}})
}
