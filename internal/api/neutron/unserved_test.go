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

	ext := id(a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{
		"router:external": true, "provider:network_type": "flat", "provider:physical_network": "physnet1"}}), "network")
	a.must(http.StatusCreated, "POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"network_id": ext, "cidr": "203.0.113.0/24", "ip_version": 4}})

	// VMs on vlan and flat networks are served; on a flat external
	// network only the routers' gateways and floating IPs are.
	vlan := id(a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{
		"provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 101}}), "network")
	flat := id(a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{
		"provider:network_type": "flat", "provider:physical_network": "physnet2"}}), "network")
	vsub := id(a.must(http.StatusCreated, "POST", "/v2.0/subnets", "", jsonObj{"subnet": jsonObj{"network_id": vlan, "cidr": "10.9.0.0/24", "ip_version": 4}}), "subnet")
	vms := map[string]string{}
	for name, netID := range map[string]string{"vlan": vlan, "flat": flat} {
		vms[name] = id(a.must(http.StatusCreated, "POST", "/v2.0/ports", "", jsonObj{"port": jsonObj{"network_id": netID, "device_owner": "compute:nova"}}), "port")
	}
	st, out := a.call("POST", "/v2.0/ports", "", jsonObj{"port": jsonObj{"network_id": ext, "device_owner": "compute:nova"}})
	refused("VM port on a flat external network", st, out, "an external network only carries routers' gateways and floating IPs")
	if ports := a.must(http.StatusOK, "GET", "/v2.0/ports?network_id="+ext, "", nil)["ports"].([]any); len(ports) != 0 {
		t.Fatalf("refused port stored: %v", ports)
	}

	// Router interfaces on provider networks, however they come.
	r := id(a.must(http.StatusCreated, "POST", "/v2.0/routers", "", jsonObj{"router": jsonObj{"name": "r"}}), "router")
	st, out = a.call("PUT", "/v2.0/routers/"+r+"/add_router_interface", "", jsonObj{"subnet_id": vsub})
	refused("router interface on vlan", st, out, "Router interfaces on vlan network")
	st, out = a.call("PUT", "/v2.0/routers/"+r+"/add_router_interface", "", jsonObj{"port_id": vms["vlan"]})
	refused("router interface on vlan by port", st, out, "Router interfaces on vlan network")
	st, out = a.call("POST", "/v2.0/ports", "", jsonObj{"port": jsonObj{"network_id": flat, "device_owner": "network:router_interface"}})
	refused("router interface port on flat", st, out, "Router interfaces on flat network")
	st, out = a.call("PUT", "/v2.0/ports/"+vms["flat"], "", jsonObj{"port": jsonObj{"device_owner": "network:router_interface"}})
	refused("VM port turned router interface on flat", st, out, "Router interfaces on flat network")
	if got := a.must(http.StatusOK, "GET", "/v2.0/ports/"+vms["flat"], "", nil)["port"].(map[string]any)["device_owner"]; got != "compute:nova" {
		t.Fatalf("device_owner = %v after a refused update", got)
	}
	if ifs := a.must(http.StatusOK, "GET", "/v2.0/ports?device_id="+r, "", nil)["ports"].([]any); len(ifs) != 0 {
		t.Fatalf("refused interfaces stored: %v", ifs)
	}

	// A vlan network with a VM does not become external.
	st, out = a.call("PUT", "/v2.0/networks/"+vlan, "", jsonObj{"network": jsonObj{"router:external": true}})
	refused("vlan network with a VM made external", st, out, "cannot become external")
	if got := a.must(http.StatusOK, "GET", "/v2.0/networks/"+vlan, "", nil)["network"].(map[string]any)["router:external"]; got != false {
		t.Fatalf("router:external = %v after a refused update", got)
	}
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+r, "", jsonObj{"router": jsonObj{"external_gateway_info": jsonObj{"network_id": ext}}})
}
