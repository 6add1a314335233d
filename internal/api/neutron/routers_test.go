package neutron

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// obj returns body[key] as an object, failing the test otherwise.
func obj(t *testing.T, body map[string]any, key string) map[string]any {
	t.Helper()
	m, ok := body[key].(map[string]any)
	if !ok {
		t.Fatalf("no %q object in %v", key, body)
	}
	return m
}

func errMessage(body map[string]any) string {
	e, _ := body["NeutronError"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// mkNetwork creates a network as project ("" = admin) with extra attributes.
func mkNetwork(t *testing.T, a *testAPI, project string, extra map[string]any) string {
	t.Helper()
	n := map[string]any{"name": "net"}
	for k, v := range extra {
		n[k] = v
	}
	out := a.must(http.StatusCreated, "POST", "/v2.0/networks", project, map[string]any{"network": n})
	return obj(t, out, "network")["id"].(string)
}

// mkSubnet creates a subnet and returns it.
func mkSubnet(t *testing.T, a *testAPI, project, netID, cidr string, extra map[string]any) map[string]any {
	t.Helper()
	sub := map[string]any{"network_id": netID, "cidr": cidr, "ip_version": 4}
	if strings.Contains(cidr, ":") {
		sub["ip_version"] = 6
	}
	for k, v := range extra {
		sub[k] = v
	}
	out := a.must(http.StatusCreated, "POST", "/v2.0/subnets", project, map[string]any{"subnet": sub})
	return obj(t, out, "subnet")
}

// mkExternal creates an external network with one IPv4 subnet (admin).
func mkExternal(t *testing.T, a *testAPI, cidr string) (netID, subnetID string) {
	t.Helper()
	netID = mkNetwork(t, a, "", map[string]any{"router:external": true})
	sub := mkSubnet(t, a, "", netID, cidr, map[string]any{"enable_dhcp": false})
	return netID, sub["id"].(string)
}

func mkRouter(t *testing.T, a *testAPI, project string, extra map[string]any) map[string]any {
	t.Helper()
	r := map[string]any{"name": "r"}
	for k, v := range extra {
		r[k] = v
	}
	out := a.must(http.StatusCreated, "POST", "/v2.0/routers", project, map[string]any{"router": r})
	return obj(t, out, "router")
}

func portsOfDevice(t *testing.T, a *testAPI, deviceID string) []map[string]any {
	t.Helper()
	out := a.must(http.StatusOK, "GET", "/v2.0/ports?device_id="+deviceID, "", nil)
	var ports []map[string]any
	for _, p := range out["ports"].([]any) {
		ports = append(ports, p.(map[string]any))
	}
	return ports
}

func TestRouterCRUD(t *testing.T) {
	a := newTestAPI(t)
	r := mkRouter(t, a, "p1", map[string]any{"description": "d"})
	id := r["id"].(string)
	if r["status"] != "ACTIVE" || r["admin_state_up"] != true || r["external_gateway_info"] != nil ||
		r["distributed"] != true || r["ha"] != false || r["project_id"] != "p1" || r["description"] != "d" {
		t.Fatalf("router: %v", r)
	}
	if routes, ok := r["routes"].([]any); !ok || len(routes) != 0 {
		t.Fatalf("routes: %v", r["routes"])
	}
	if _, hidden := r["gw_port_id"]; hidden {
		t.Fatalf("internal attribute shown: %v", r)
	}

	// Another project sees nothing.
	code, body := a.call("GET", "/v2.0/routers/"+id, "p2", nil)
	if code != http.StatusNotFound || errType(body) != "RouterNotFound" {
		t.Fatalf("other project show: %d %v", code, body)
	}
	a.must(http.StatusNotFound, "PUT", "/v2.0/routers/"+id, "p2", map[string]any{"router": map[string]any{"name": "x"}})
	a.must(http.StatusNotFound, "PUT", "/v2.0/routers/"+id+"/add_router_interface", "p2", map[string]any{"subnet_id": "x"})
	a.must(http.StatusNotFound, "DELETE", "/v2.0/routers/"+id, "p2", nil)
	if out := a.must(http.StatusOK, "GET", "/v2.0/routers", "p2", nil); len(out["routers"].([]any)) != 0 {
		t.Fatalf("p2 lists p1's router: %v", out)
	}

	// Update and If-Match.
	code, _ = a.callIfMatch("PUT", "/v2.0/routers/"+id, "p1", 9, map[string]any{"router": map[string]any{"name": "x"}})
	if code != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d", code)
	}
	code, body = a.callIfMatch("PUT", "/v2.0/routers/"+id, "p1", 0, map[string]any{"router": map[string]any{"name": "r2", "admin_state_up": false}})
	if code != http.StatusOK {
		t.Fatalf("update: %d %v", code, body)
	}
	up := obj(t, body, "router")
	if up["name"] != "r2" || up["admin_state_up"] != false || up["revision_number"].(float64) != 1 {
		t.Fatalf("updated: %v", up)
	}
	// HA routers are refused; false is fine. (distributed: TestRouterDistributed.)
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "p1", map[string]any{"router": map[string]any{"ha": false}})
	a.must(http.StatusBadRequest, "PUT", "/v2.0/routers/"+id, "p1", map[string]any{"router": map[string]any{"ha": true}})
	a.must(http.StatusBadRequest, "POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{"routes": []any{}}})

	// Tags.
	a.must(http.StatusCreated, "PUT", "/v2.0/routers/"+id+"/tags/edge", "p1", nil)
	out := a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id+"/tags", "p1", map[string]any{"tags": []string{"a", "b"}})
	if tags := out["tags"].([]any); len(tags) != 2 {
		t.Fatalf("tags: %v", out)
	}
	out = a.must(http.StatusOK, "GET", "/v2.0/routers?tags-any=b,z", "p1", nil)
	if n := len(out["routers"].([]any)); n != 1 {
		t.Fatalf("tag filter: %d", n)
	}
	out = a.must(http.StatusOK, "GET", "/v2.0/routers/"+id, "p1", nil)
	if tags := obj(t, out, "router")["tags"].([]any); len(tags) != 2 {
		t.Fatalf("router tags: %v", tags)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/routers/"+id, "p1", nil)
	a.must(http.StatusNotFound, "GET", "/v2.0/routers/"+id, "p1", nil)
}

func TestRouterGateway(t *testing.T) {
	a := newTestAPI(t)
	ext, extSub := mkExternal(t, a, "203.0.113.0/24")
	internal := mkNetwork(t, a, "p1", nil)

	// The gateway network must be external and visible.
	code, body := a.call("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": internal}}})
	if code != http.StatusBadRequest || errType(body) != "BadRequest" || !strings.Contains(errMessage(body), "not an external network") {
		t.Fatalf("internal gateway: %d %v", code, body)
	}
	code, body = a.call("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": "nope"}}})
	if code != http.StatusNotFound || errType(body) != "NetworkNotFound" {
		t.Fatalf("missing gateway network: %d %v", code, body)
	}
	// Members may not choose SNAT or addresses.
	code, _ = a.call("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext, "enable_snat": false}}})
	if code != http.StatusForbidden {
		t.Fatalf("member enable_snat: %d", code)
	}

	r := mkRouter(t, a, "p1", map[string]any{"external_gateway_info": map[string]any{"network_id": ext}})
	id := r["id"].(string)
	gw := obj(t, r, "external_gateway_info")
	ips := gw["external_fixed_ips"].([]any)
	if gw["network_id"] != ext || gw["enable_snat"] != true || len(ips) != 1 {
		t.Fatalf("gateway: %v", gw)
	}
	ip := ips[0].(map[string]any)
	if ip["subnet_id"] != extSub || !strings.HasPrefix(ip["ip_address"].(string), "203.0.113.") {
		t.Fatalf("gateway address: %v", ip)
	}
	ports := portsOfDevice(t, a, id)
	if len(ports) != 1 || ports[0]["device_owner"] != "network:router_gateway" || ports[0]["network_id"] != ext {
		t.Fatalf("gateway port: %v", ports)
	}
	gwPort := ports[0]["id"].(string)
	// The shown address is the port's.
	if fixed := ports[0]["fixed_ips"].([]any); fixed[0].(map[string]any)["ip_address"] != ip["ip_address"] {
		t.Fatalf("port %v and gateway %v disagree", fixed, ip)
	}

	// Admin: a chosen address and SNAT off, as gophercloud's acceptance test does.
	out := a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext, "enable_snat": false,
			"external_fixed_ips": []any{map[string]any{"subnet_id": extSub, "ip_address": "203.0.113.77"}}}}})
	gw = obj(t, obj(t, out, "router"), "external_gateway_info")
	if gw["enable_snat"] != false || gw["external_fixed_ips"].([]any)[0].(map[string]any)["ip_address"] != "203.0.113.77" {
		t.Fatalf("admin gateway update: %v", gw)
	}
	// Same network, other address: the port stays and changes its
	// address, as Neutron's _update_current_gw_port.
	if ports := portsOfDevice(t, a, id); len(ports) != 1 || ports[0]["id"] != gwPort ||
		ports[0]["fixed_ips"].([]any)[0].(map[string]any)["ip_address"] != "203.0.113.77" {
		t.Fatalf("gateway port not updated in place: %v", ports)
	}
	if owner := ipHolder(t, a, extSub, ip["ip_address"].(string)); owner != "" {
		t.Fatalf("old gateway address still held by %s", owner)
	}
	// Keep that address and add {subnet_id} of the same subnet
	// (gophercloud's TestLayer3ExternalRouterCreateDelete): the sets of
	// subnets and of given addresses are unchanged, so nothing changes
	// (Neutron's _check_for_external_ip_change).
	out = a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext, "enable_snat": false,
			"external_fixed_ips": []any{map[string]any{"subnet_id": extSub, "ip_address": "203.0.113.77"}, map[string]any{"subnet_id": extSub}}}}})
	gw = obj(t, obj(t, out, "router"), "external_gateway_info")
	if ips := gw["external_fixed_ips"].([]any); len(ips) != 1 || ips[0].(map[string]any)["ip_address"] != "203.0.113.77" {
		t.Fatalf("keep + subnet: %v", gw)
	}
	// Two given addresses: a change, on the same port.
	out = a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext, "enable_snat": false,
			"external_fixed_ips": []any{map[string]any{"subnet_id": extSub, "ip_address": "203.0.113.77"},
				map[string]any{"subnet_id": extSub, "ip_address": "203.0.113.78"}}}}})
	gw = obj(t, obj(t, out, "router"), "external_gateway_info")
	if ips := gw["external_fixed_ips"].([]any); len(ips) != 2 || ips[0].(map[string]any)["ip_address"] != "203.0.113.77" ||
		ips[1].(map[string]any)["ip_address"] != "203.0.113.78" {
		t.Fatalf("two gateway addresses: %v", gw)
	}
	if ports := portsOfDevice(t, a, id); len(ports) != 1 || ports[0]["id"] != gwPort || len(ports[0]["fixed_ips"].([]any)) != 2 {
		t.Fatalf("gateway port with two addresses: %v", ports)
	}
	// Back to one: the other address is freed.
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext,
			"external_fixed_ips": []any{map[string]any{"subnet_id": extSub, "ip_address": "203.0.113.77"}}}}})
	if owner := ipHolder(t, a, extSub, "203.0.113.78"); owner != "" {
		t.Fatalf("203.0.113.78 still held by %s", owner)
	}
	// Same network, no addresses named: the port stays, SNAT back on.
	out = a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "p1", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext}}})
	gw = obj(t, obj(t, out, "router"), "external_gateway_info")
	if gw["enable_snat"] != true || gw["external_fixed_ips"].([]any)[0].(map[string]any)["ip_address"] != "203.0.113.77" {
		t.Fatalf("gateway after same-network update: %v", gw)
	}
	// An address already taken cannot be had.
	other := mkRouter(t, a, "", nil)
	code, body = a.call("PUT", "/v2.0/routers/"+other["id"].(string), "", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext,
			"external_fixed_ips": []any{map[string]any{"ip_address": "203.0.113.77"}}}}})
	if code != http.StatusConflict {
		t.Fatalf("taken gateway address: %d %v", code, body)
	}

	// Clearing removes the port ({} as gophercloud sends, or null).
	out = a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "p1", map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{}}})
	if obj(t, out, "router")["external_gateway_info"] != nil {
		t.Fatalf("gateway not cleared: %v", out)
	}
	if ports := portsOfDevice(t, a, id); len(ports) != 0 {
		t.Fatalf("gateway port left: %v", ports)
	}
	// The freed address can be used again.
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+other["id"].(string), "", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext,
			"external_fixed_ips": []any{map[string]any{"ip_address": "203.0.113.77"}}}}})
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "p1", map[string]any{"router": map[string]any{
		"external_gateway_info": map[string]any{"network_id": ext}}})
	// Deleting the router deletes its gateway port; the external network
	// can then go.
	a.must(http.StatusNoContent, "DELETE", "/v2.0/routers/"+id, "p1", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/routers/"+other["id"].(string), "", nil)
	if ports := portsOfDevice(t, a, id); len(ports) != 0 {
		t.Fatalf("gateway port left after delete: %v", ports)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+ext, "", nil)
}

func TestRouterInterfaces(t *testing.T) {
	a := newTestAPI(t)
	net1 := mkNetwork(t, a, "p1", nil)
	sub1 := mkSubnet(t, a, "p1", net1, "10.0.0.0/24", nil)
	s1 := sub1["id"].(string)
	r := mkRouter(t, a, "p1", nil)
	id := r["id"].(string)
	base := "/v2.0/routers/" + id

	code, body := a.call("PUT", base+"/add_router_interface", "p1", map[string]any{})
	if code != http.StatusBadRequest {
		t.Fatalf("empty add: %d %v", code, body)
	}
	code, body = a.call("PUT", base+"/add_router_interface", "p1", map[string]any{"subnet_id": "nope"})
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "not a valid UUID") {
		t.Fatalf("subnet id not a UUID: %d %v", code, body)
	}
	code, body = a.call("PUT", base+"/add_router_interface", "p1", map[string]any{"subnet_id": "5b2f0e4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"})
	if code != http.StatusNotFound || errType(body) != "SubnetNotFound" {
		t.Fatalf("missing subnet: %d %v", code, body)
	}
	info := a.must(http.StatusOK, "PUT", base+"/add_router_interface", "p1", map[string]any{"subnet_id": s1})
	if info["id"] != id || info["subnet_id"] != s1 || info["network_id"] != net1 || info["project_id"] != "p1" ||
		info["tenant_id"] != "p1" || len(info["subnet_ids"].([]any)) != 1 || info["port_id"] == "" {
		t.Fatalf("interface info: %v", info)
	}
	port1 := info["port_id"].(string)
	out := a.must(http.StatusOK, "GET", "/v2.0/ports/"+port1, "p1", nil)
	p := obj(t, out, "port")
	fixed := p["fixed_ips"].([]any)
	if p["device_owner"] != "network:router_interface" || p["device_id"] != id || p["status"] != "ACTIVE" ||
		len(fixed) != 1 || fixed[0].(map[string]any)["ip_address"] != sub1["gateway_ip"] {
		t.Fatalf("interface port: %v", p)
	}
	// The router's revision moved.
	if rr := obj(t, a.must(http.StatusOK, "GET", base, "p1", nil), "router"); rr["revision_number"].(float64) < 1 {
		t.Fatalf("revision not bumped: %v", rr)
	}

	// Twice on one subnet; an overlapping subnet; a subnet without gateway.
	code, body = a.call("PUT", base+"/add_router_interface", "p1", map[string]any{"subnet_id": s1})
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "Router already has a port on subnet "+s1) {
		t.Fatalf("repeat: %d %v", code, body)
	}
	net2 := mkNetwork(t, a, "p1", nil)
	over := mkSubnet(t, a, "p1", net2, "10.0.0.0/16", nil)
	code, body = a.call("PUT", base+"/add_router_interface", "p1", map[string]any{"subnet_id": over["id"]})
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "Cidr 10.0.0.0/16 of subnet "+over["id"].(string)+" overlaps with cidr 10.0.0.0/24 of subnet "+s1) {
		t.Fatalf("overlap: %d %v", code, body)
	}
	net3 := mkNetwork(t, a, "p1", nil)
	nogw := mkSubnet(t, a, "p1", net3, "10.3.0.0/24", map[string]any{"gateway_ip": nil})
	code, body = a.call("PUT", base+"/add_router_interface", "p1", map[string]any{"subnet_id": nogw["id"]})
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "must have a gateway IP") {
		t.Fatalf("no gateway: %d %v", code, body)
	}
	// Another project's subnet is not found.
	other := mkNetwork(t, a, "p2", nil)
	osub := mkSubnet(t, a, "p2", other, "10.9.0.0/24", nil)
	a.must(http.StatusNotFound, "PUT", base+"/add_router_interface", "p1", map[string]any{"subnet_id": osub["id"]})

	// By port: a port with no owner becomes the interface.
	sub4 := mkSubnet(t, a, "p1", net3, "10.4.0.0/24", nil)
	out = a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", map[string]any{"port": map[string]any{
		"network_id": net3, "fixed_ips": []any{map[string]any{"subnet_id": sub4["id"]}}}})
	port2 := obj(t, out, "port")["id"].(string)
	info = a.must(http.StatusOK, "PUT", base+"/add_router_interface", "p1", map[string]any{"port_id": port2})
	if info["port_id"] != port2 || info["subnet_id"] != sub4["id"] {
		t.Fatalf("by port: %v", info)
	}
	p = obj(t, a.must(http.StatusOK, "GET", "/v2.0/ports/"+port2, "p1", nil), "port")
	if p["device_owner"] != "network:router_interface" || p["device_id"] != id {
		t.Fatalf("port not taken over: %v", p)
	}
	// A port already in use cannot be attached.
	out = a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", map[string]any{"port": map[string]any{
		"network_id": net2, "device_id": "vm-1", "device_owner": "compute:nova"}})
	code, body = a.call("PUT", base+"/add_router_interface", "p1", map[string]any{"port_id": obj(t, out, "port")["id"]})
	if code != http.StatusConflict || errType(body) != "PortInUse" {
		t.Fatalf("used port: %d %v", code, body)
	}

	// Routes: the nexthop must be on an attached subnet.
	code, body = a.call("PUT", base, "p1", map[string]any{"router": map[string]any{"routes": []any{
		map[string]any{"destination": "192.168.11.0/30", "nexthop": "10.99.0.5"}}}})
	if code != http.StatusBadRequest || errType(body) != "InvalidRoutes" {
		t.Fatalf("unreachable nexthop: %d %v", code, body)
	}
	code, body = a.call("PUT", base, "p1", map[string]any{"router": map[string]any{"routes": []any{
		map[string]any{"destination": "192.168.11.0/30", "nexthop": sub1["gateway_ip"]}}}})
	if code != http.StatusBadRequest || errType(body) != "InvalidRoutes" {
		t.Fatalf("router's own address as nexthop: %d %v", code, body)
	}
	code, body = a.call("PUT", base, "p1", map[string]any{"router": map[string]any{"routes": []any{
		map[string]any{"destination": "192.168.11.1/30", "nexthop": "10.0.0.251"}}}})
	if code != http.StatusBadRequest {
		t.Fatalf("host bits in destination: %d %v", code, body)
	}
	out = a.must(http.StatusOK, "PUT", base, "p1", map[string]any{"router": map[string]any{"routes": []any{
		map[string]any{"destination": "192.168.11.0/30", "nexthop": "10.0.0.251"}}}})
	if routes := obj(t, out, "router")["routes"].([]any); len(routes) != 1 {
		t.Fatalf("routes: %v", routes)
	}
	// extraroute-atomic add and remove.
	out = a.must(http.StatusOK, "PUT", base+"/add_extraroutes", "p1", map[string]any{"router": map[string]any{"routes": []any{
		map[string]any{"destination": "192.168.12.0/30", "nexthop": "10.0.0.251"},
		map[string]any{"destination": "192.168.11.0/30", "nexthop": "10.0.0.251"}}}})
	if routes := obj(t, out, "router")["routes"].([]any); len(routes) != 2 {
		t.Fatalf("after add_extraroutes: %v", routes)
	}
	code, body = a.call("PUT", base+"/add_extraroutes", "p1", map[string]any{"router": map[string]any{"routes": []any{
		map[string]any{"destination": "192.168.13.0/30", "nexthop": "172.16.0.1"}}}})
	if code != http.StatusBadRequest || errType(body) != "InvalidRoutes" {
		t.Fatalf("add_extraroutes unreachable: %d %v", code, body)
	}
	// An interface that a route needs stays.
	code, body = a.call("PUT", base+"/remove_router_interface", "p1", map[string]any{"subnet_id": s1})
	if code != http.StatusConflict || errType(body) != "RouterInterfaceInUse" {
		t.Fatalf("remove interface used by route: %d %v", code, body)
	}
	out = a.must(http.StatusOK, "PUT", base+"/remove_extraroutes", "p1", map[string]any{"router": map[string]any{"routes": []any{
		map[string]any{"destination": "192.168.11.0/30", "nexthop": "10.0.0.251"}}}})
	if routes := obj(t, out, "router")["routes"].([]any); len(routes) != 1 {
		t.Fatalf("after remove_extraroutes: %v", routes)
	}
	a.must(http.StatusOK, "PUT", base, "p1", map[string]any{"router": map[string]any{"routes": nil}})

	// A router with interfaces cannot be deleted.
	code, body = a.call("DELETE", base, "p1", nil)
	if code != http.StatusConflict || errType(body) != "RouterInUse" || errMessage(body) != "Router "+id+" still has ports" {
		t.Fatalf("delete in use: %d %v", code, body)
	}

	// Remove by subnet and by port; both delete the port.
	info = a.must(http.StatusOK, "PUT", base+"/remove_router_interface", "p1", map[string]any{"subnet_id": s1})
	if info["port_id"] != port1 || info["subnet_id"] != s1 {
		t.Fatalf("remove info: %v", info)
	}
	a.must(http.StatusNotFound, "GET", "/v2.0/ports/"+port1, "p1", nil)
	code, body = a.call("PUT", base+"/remove_router_interface", "p1", map[string]any{"subnet_id": s1})
	if code != http.StatusNotFound || errType(body) != "RouterInterfaceNotFoundForSubnet" {
		t.Fatalf("remove twice: %d %v", code, body)
	}
	code, body = a.call("PUT", base+"/remove_router_interface", "p1", map[string]any{"port_id": port1})
	if code != http.StatusNotFound || errType(body) != "RouterInterfaceNotFound" {
		t.Fatalf("remove gone port: %d %v", code, body)
	}
	a.must(http.StatusOK, "PUT", base+"/remove_router_interface", "p1", map[string]any{"port_id": port2})
	a.must(http.StatusNotFound, "GET", "/v2.0/ports/"+port2, "p1", nil)
	// The gateway address is free again: the subnet can be attached anew.
	a.must(http.StatusOK, "PUT", base+"/add_router_interface", "p1", map[string]any{"subnet_id": s1})
	a.must(http.StatusOK, "PUT", base+"/remove_router_interface", "p1", map[string]any{"subnet_id": s1})
	a.must(http.StatusNoContent, "DELETE", base, "p1", nil)
}

// ipHolder returns the id of the port holding ip on subnet, "" when free.
func ipHolder(t *testing.T, a *testAPI, subnetID, ip string) string {
	t.Helper()
	holder, err := a.st.GetString(context.Background(), store.IPKey(subnetID, ip))
	if isNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return holder
}

// TestRouterDistributed: every router is distributed (the dvr extension).
// It says so on create, show and list; an admin may ask for distributed:
// true, and gets a clear 400 for false; a member may not give the
// attribute at all, as Neutron's default policy says.
func TestRouterDistributed(t *testing.T) {
	a := newTestAPI(t)
	if out := a.must(http.StatusOK, "GET", "/v2.0/extensions/dvr", "p1", nil); obj(t, out, "extension")["alias"] != "dvr" {
		t.Errorf("dvr extension: %v", out)
	}
	byAdmin := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/routers", "", map[string]any{"router": map[string]any{
		"name": "dvr", "distributed": true, "project_id": "p1"}}), "router")
	plain := mkRouter(t, a, "p1", nil)
	for _, r := range []map[string]any{byAdmin, plain} {
		id := r["id"].(string)
		if r["distributed"] != true {
			t.Errorf("created %s: distributed %v", id, r["distributed"])
		}
		if got := obj(t, a.must(http.StatusOK, "GET", "/v2.0/routers/"+id, "p1", nil), "router"); got["distributed"] != true {
			t.Errorf("show %s: distributed %v", id, got["distributed"])
		}
	}
	for _, r := range a.must(http.StatusOK, "GET", "/v2.0/routers", "p1", nil)["routers"].([]any) {
		if r.(map[string]any)["distributed"] != true {
			t.Errorf("list: %v", r)
		}
	}
	id := plain["id"].(string)
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+id, "", map[string]any{"router": map[string]any{"distributed": true}})

	for _, c := range []struct {
		method, path, project string
		distributed           any
		code                  int
		typ                   string
	}{
		{"POST", "/v2.0/routers", "", false, http.StatusBadRequest, "BadRequest"},
		{"PUT", "/v2.0/routers/" + id, "", false, http.StatusBadRequest, "BadRequest"},
		{"POST", "/v2.0/routers", "", "maybe", http.StatusBadRequest, ""},
		{"POST", "/v2.0/routers", "p1", true, http.StatusForbidden, "HTTPForbidden"},
		{"POST", "/v2.0/routers", "p1", false, http.StatusForbidden, "HTTPForbidden"},
		{"PUT", "/v2.0/routers/" + id, "p1", true, http.StatusForbidden, "HTTPForbidden"},
	} {
		code, out := a.call(c.method, c.path, c.project, map[string]any{"router": map[string]any{"distributed": c.distributed}})
		if code != c.code || (c.typ != "" && errType(out) != c.typ) {
			t.Errorf("%s %s as %q, distributed %v: %d %v, want %d %s", c.method, c.path, c.project, c.distributed, code, out, c.code, c.typ)
		}
	}
	if n := len(a.must(http.StatusOK, "GET", "/v2.0/routers", "", nil)["routers"].([]any)); n != 2 {
		t.Errorf("%d routers after the refused creates, want 2", n)
	}
}
