package neutron

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// fipTopology is an external network, and a tenant network of p1 routed
// to it.
type fipTopology struct {
	ext, extSub       string
	net, sub, router  string
	unrouted, unrSub  string
	unroutedGatewayIP string
}

func newFIPTopology(t *testing.T, a *testAPI) fipTopology {
	t.Helper()
	var tp fipTopology
	tp.ext, tp.extSub = mkExternal(t, a, "198.51.100.0/24")
	tp.net = mkNetwork(t, a, "p1", nil)
	tp.sub = mkSubnet(t, a, "p1", tp.net, "10.10.0.0/24", nil)["id"].(string)
	tp.router = mkRouter(t, a, "p1", map[string]any{"external_gateway_info": map[string]any{"network_id": tp.ext}})["id"].(string)
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+tp.router+"/add_router_interface", "p1", map[string]any{"subnet_id": tp.sub})
	tp.unrouted = mkNetwork(t, a, "p1", nil)
	tp.unrSub = mkSubnet(t, a, "p1", tp.unrouted, "10.20.0.0/24", nil)["id"].(string)
	return tp
}

func mkPort(t *testing.T, a *testAPI, project, netID string, extra map[string]any) map[string]any {
	t.Helper()
	p := map[string]any{"network_id": netID}
	for k, v := range extra {
		p[k] = v
	}
	out := a.must(http.StatusCreated, "POST", "/v2.0/ports", project, map[string]any{"port": p})
	return obj(t, out, "port")
}

func TestFloatingIPCreateDelete(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)

	code, body := a.call("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{"floating_network_id": tp.net}})
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "is not a valid external network") {
		t.Fatalf("internal network: %d %v", code, body)
	}
	code, body = a.call("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{"floating_network_id": "nope"}})
	if code != http.StatusNotFound || errType(body) != "NetworkNotFound" {
		t.Fatalf("missing network: %d %v", code, body)
	}
	code, _ = a.call("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{}})
	if code != http.StatusBadRequest {
		t.Fatalf("no network: %d", code)
	}
	code, _ = a.call("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "floating_ip_address": "198.51.100.50"}})
	if code != http.StatusForbidden {
		t.Fatalf("member chose an address: %d", code)
	}

	out := a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "description": "Test floating IP"}})
	f := obj(t, out, "floatingip")
	id := f["id"].(string)
	if f["status"] != "DOWN" || f["port_id"] != nil || f["router_id"] != nil || f["fixed_ip_address"] != nil ||
		f["port_details"] != nil || f["description"] != "Test floating IP" || f["project_id"] != "p1" ||
		!strings.HasPrefix(f["floating_ip_address"].(string), "198.51.100.") || f["floating_network_id"] != tp.ext {
		t.Fatalf("floating IP: %v", f)
	}
	if _, named := f["name"]; named {
		t.Fatalf("floating IPs have no name: %v", f)
	}
	if _, hidden := f["floating_port_id"]; hidden {
		t.Fatalf("internal attribute shown: %v", f)
	}
	ports := portsOfDevice(t, a, id)
	if len(ports) != 1 || ports[0]["device_owner"] != "network:floatingip" {
		t.Fatalf("floating IP port: %v", ports)
	}
	fixed := ports[0]["fixed_ips"].([]any)[0].(map[string]any)
	if fixed["ip_address"] != f["floating_ip_address"] {
		t.Fatalf("port %v holds another address than %v", fixed, f)
	}

	// Isolation, If-Match, tags.
	a.must(http.StatusNotFound, "GET", "/v2.0/floatingips/"+id, "p2", nil)
	a.must(http.StatusNotFound, "DELETE", "/v2.0/floatingips/"+id, "p2", nil)
	if out := a.must(http.StatusOK, "GET", "/v2.0/floatingips", "p2", nil); len(out["floatingips"].([]any)) != 0 {
		t.Fatalf("p2 lists p1's floating IP")
	}
	code, _ = a.callIfMatch("PUT", "/v2.0/floatingips/"+id, "p1", 5, map[string]any{"floatingip": map[string]any{"description": ""}})
	if code != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d", code)
	}
	code, body = a.callIfMatch("PUT", "/v2.0/floatingips/"+id, "p1", 0, map[string]any{"floatingip": map[string]any{"description": "new"}})
	if code != http.StatusOK || obj(t, body, "floatingip")["description"] != "new" {
		t.Fatalf("If-Match update: %d %v", code, body)
	}
	a.must(http.StatusCreated, "PUT", "/v2.0/floatingips/"+id+"/tags/x", "p1", nil)
	if out := a.must(http.StatusOK, "GET", "/v2.0/floatingips?tags=x", "p1", nil); len(out["floatingips"].([]any)) != 1 {
		t.Fatalf("tag filter: %v", out)
	}

	// By subnet and by address (admin), and the address is then taken.
	out = a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "subnet_id": tp.extSub}})
	a.must(http.StatusNoContent, "DELETE", "/v2.0/floatingips/"+obj(t, out, "floatingip")["id"].(string), "p1", nil)
	// An address no earlier (randomly placed) allocation holds.
	want := freeExternalAddress(t, a, tp.ext)
	out = a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "floating_ip_address": want, "project_id": "p1"}})
	byAddr := obj(t, out, "floatingip")
	if byAddr["floating_ip_address"] != want || byAddr["project_id"] != "p1" {
		t.Fatalf("by address: %v", byAddr)
	}
	code, body = a.call("POST", "/v2.0/floatingips", "", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "floating_ip_address": want}})
	if code != http.StatusConflict {
		t.Fatalf("taken address: %d %v", code, body)
	}
	code, body = a.call("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "subnet_id": tp.sub}})
	if code != http.StatusBadRequest {
		t.Fatalf("subnet of another network: %d %v", code, body)
	}

	// Delete frees the address and the port.
	a.must(http.StatusNoContent, "DELETE", "/v2.0/floatingips/"+byAddr["id"].(string), "p1", nil)
	if ports := portsOfDevice(t, a, byAddr["id"].(string)); len(ports) != 0 {
		t.Fatalf("port left: %v", ports)
	}
	out = a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "floating_ip_address": want}})
	a.must(http.StatusNoContent, "DELETE", "/v2.0/floatingips/"+obj(t, out, "floatingip")["id"].(string), "", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/floatingips/"+id, "p1", nil)
	a.must(http.StatusNotFound, "GET", "/v2.0/floatingips/"+id, "p1", nil)
}

func TestFloatingIPAssociation(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	vm := mkPort(t, a, "p1", tp.net, map[string]any{"name": "vm", "device_id": "vm-1", "device_owner": "compute:nova"})
	vmIP := vm["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string)

	// Associated at create: router found, status ACTIVE, port details.
	out := a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "port_id": vm["id"]}})
	f := obj(t, out, "floatingip")
	id := f["id"].(string)
	if f["port_id"] != vm["id"] || f["fixed_ip_address"] != vmIP || f["router_id"] != tp.router || f["status"] != "ACTIVE" {
		t.Fatalf("associated floating IP: %v", f)
	}
	d := obj(t, f, "port_details")
	if d["name"] != "vm" || d["network_id"] != tp.net || d["mac_address"] != vm["mac_address"] || d["device_id"] != "vm-1" ||
		d["device_owner"] != "compute:nova" || d["admin_state_up"] != true || d["status"] == nil {
		t.Fatalf("port_details: %v", d)
	}
	out = a.must(http.StatusOK, "GET", "/v2.0/floatingips?port_id="+vm["id"].(string), "p1", nil)
	if l := out["floatingips"].([]any); len(l) != 1 || l[0].(map[string]any)["port_details"] == nil {
		t.Fatalf("list by port: %v", out)
	}

	// One floating IP per fixed address.
	code, body := a.call("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "port_id": vm["id"]}})
	if code != http.StatusConflict || errType(body) != "FloatingIPPortAlreadyAssociated" {
		t.Fatalf("second floating IP on one address: %d %v", code, body)
	}
	// The failed create left no port behind.
	out = a.must(http.StatusOK, "GET", "/v2.0/ports?device_owner=network:floatingip", "", nil)
	if n := len(out["ports"].([]any)); n != 1 {
		t.Fatalf("%d floating IP ports, want 1", n)
	}

	// The interface the floating IP goes through cannot be removed, nor
	// the gateway.
	code, body = a.call("PUT", "/v2.0/routers/"+tp.router+"/remove_router_interface", "p1", map[string]any{"subnet_id": tp.sub})
	if code != http.StatusConflict || errType(body) != "RouterInterfaceInUseByFloatingIP" {
		t.Fatalf("remove interface in use: %d %v", code, body)
	}
	code, body = a.call("PUT", "/v2.0/routers/"+tp.router, "p1", map[string]any{"router": map[string]any{"external_gateway_info": nil}})
	if code != http.StatusConflict || errType(body) != "RouterExternalGatewayInUseByFloatingIp" {
		t.Fatalf("clear gateway in use: %d %v", code, body)
	}

	// Unreachable: a port on a network with no router to the external one.
	lone := mkPort(t, a, "p1", tp.unrouted, nil)
	code, body = a.call("PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"port_id": lone["id"]}})
	want := "External network " + tp.ext + " is not reachable from subnet " + tp.unrSub + ".  Therefore, cannot associate Port " + lone["id"].(string) + " with a Floating IP."
	if code != http.StatusNotFound || errType(body) != "ExternalGatewayForFloatingIPNotFound" || errMessage(body) != want {
		t.Fatalf("unreachable: %d %v", code, body)
	}
	// DHCP ports cannot have one (Neutron's is_fip_serviced).
	dhcp := mkPort(t, a, "", tp.net, map[string]any{"device_owner": "network:dhcp", "project_id": "p1"})
	code, body = a.call("PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"port_id": dhcp["id"]}})
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "unable to be assigned a floating IP") {
		t.Fatalf("DHCP port: %d %v", code, body)
	}
	// Another project's port is not found.
	other := mkNetwork(t, a, "p2", nil)
	mkSubnet(t, a, "p2", other, "10.30.0.0/24", nil)
	op := mkPort(t, a, "p2", other, nil)
	a.must(http.StatusNotFound, "PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"port_id": op["id"]}})
	// fixed_ip_address needs a port.
	a.must(http.StatusBadRequest, "PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"fixed_ip_address": vmIP}})

	// A port with two IPv4 addresses needs fixed_ip_address; then it can
	// move between them.
	two := mkPort(t, a, "p1", tp.net, map[string]any{"fixed_ips": []any{
		map[string]any{"subnet_id": tp.sub}, map[string]any{"subnet_id": tp.sub}}})
	var twoIPs []string
	for _, ip := range two["fixed_ips"].([]any) {
		twoIPs = append(twoIPs, ip.(map[string]any)["ip_address"].(string))
	}
	code, body = a.call("PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"port_id": two["id"]}})
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "multiple fixed IPv4 addresses") {
		t.Fatalf("ambiguous fixed IP: %d %v", code, body)
	}
	a.must(http.StatusBadRequest, "PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"port_id": two["id"], "fixed_ip_address": "10.10.0.250"}})
	out = a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"port_id": two["id"], "fixed_ip_address": twoIPs[0]}})
	if f := obj(t, out, "floatingip"); f["port_id"] != two["id"] || f["fixed_ip_address"] != twoIPs[0] {
		t.Fatalf("re-associated: %v", f)
	}
	out = a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"port_id": two["id"], "fixed_ip_address": twoIPs[1]}})
	if f := obj(t, out, "floatingip"); f["fixed_ip_address"] != twoIPs[1] {
		t.Fatalf("moved: %v", f)
	}
	// The first VM's address is free for a new floating IP now.
	out = a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "port_id": vm["id"]}})
	second := obj(t, out, "floatingip")["id"].(string)

	// Disassociate with "" (gophercloud) and null.
	out = a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+id, "p1", map[string]any{"floatingip": map[string]any{"port_id": ""}})
	f = obj(t, out, "floatingip")
	if f["port_id"] != nil || f["status"] != "DOWN" || f["port_details"] != nil || f["router_id"] != nil {
		t.Fatalf("disassociated: %v", f)
	}
	out = a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+second, "p1", map[string]any{"floatingip": map[string]any{"port_id": nil}})
	if f := obj(t, out, "floatingip"); f["status"] != "DOWN" {
		t.Fatalf("disassociated with null: %v", f)
	}
	// Now the interface and the gateway may go.
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+tp.router+"/remove_router_interface", "p1", map[string]any{"subnet_id": tp.sub})
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+tp.router, "p1", map[string]any{"router": map[string]any{"external_gateway_info": nil}})
	a.must(http.StatusNoContent, "DELETE", "/v2.0/floatingips/"+id, "p1", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/floatingips/"+second, "p1", nil)
}

// A router interface added by port (gophercloud's
// TestLayer3FloatingIPsExternalCreateDelete) serves floating IPs too.
func TestFloatingIPThroughPortInterface(t *testing.T) {
	a := newTestAPI(t)
	ext, _ := mkExternal(t, a, "203.0.113.0/24")
	net := mkNetwork(t, a, "", nil)
	sub := mkSubnet(t, a, "", net, "10.40.0.0/24", nil)
	router := mkRouter(t, a, "", map[string]any{"external_gateway_info": map[string]any{"network_id": ext}})["id"].(string)
	port := mkPort(t, a, "", net, map[string]any{"fixed_ips": []any{map[string]any{"subnet_id": sub["id"]}}})
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+router+"/add_router_interface", "", map[string]any{"port_id": port["id"]})
	if p := obj(t, a.must(http.StatusOK, "GET", "/v2.0/ports/"+port["id"].(string), "", nil), "port"); p["status"] != "ACTIVE" {
		t.Fatalf("interface port status: %v", p["status"])
	}
	vm := mkPort(t, a, "", net, nil)
	out := a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "", map[string]any{"floatingip": map[string]any{
		"floating_network_id": ext, "port_id": vm["id"]}})
	f := obj(t, out, "floatingip")
	if f["router_id"] != router {
		t.Fatalf("router not found through a port interface: %v", f)
	}
	// Deleting the associated port leaves the floating IP unassociated,
	// and the interface free to go.
	a.must(http.StatusNoContent, "DELETE", "/v2.0/ports/"+vm["id"].(string), "", nil)
	f = obj(t, a.must(http.StatusOK, "GET", "/v2.0/floatingips/"+f["id"].(string), "", nil), "floatingip")
	if f["port_id"] != nil || f["status"] != "DOWN" || f["port_details"] != nil {
		t.Fatalf("floating IP of a deleted port: %v", f)
	}
	// ... in the store too, not only as shown: the association and its
	// per-address key went in the port delete's transaction.
	var rec fipRecord
	if _, err := a.st.Get(context.Background(), fipKey(f["id"].(string)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.PortID != "" || rec.FixedIPAddress != "" || rec.RouterID != "" || rec.Status != "DOWN" || rec.RevisionNumber == 0 {
		t.Fatalf("stored floating IP of a deleted port: %+v", rec)
	}
	if kvs, _, err := a.st.List(context.Background(), store.IndexKey("floatingip_fixed", "")); err != nil || len(kvs) != 0 {
		t.Fatalf("per-address keys left: %v %v", kvs, err)
	}
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+router+"/remove_router_interface", "", map[string]any{"port_id": port["id"]})
	a.must(http.StatusNoContent, "DELETE", "/v2.0/floatingips/"+f["id"].(string), "", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/routers/"+router, "", nil)
}

// Concurrent associations of one fixed address: exactly one wins, because
// the per-address key is read and written in each transaction.
func TestFloatingIPConcurrentAssociation(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	vm := mkPort(t, a, "p1", tp.net, nil)
	const n = 6
	var ids []string
	for range n {
		out := a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{"floating_network_id": tp.ext}})
		ids = append(ids, obj(t, out, "floatingip")["id"].(string))
	}
	codes := concurrently(t, a, n, func(i int) (string, string, any) {
		return "PUT", "/v2.0/floatingips/" + ids[i], map[string]any{"floatingip": map[string]any{"port_id": vm["id"]}}
	})
	if codes[http.StatusOK] != 1 || codes[http.StatusConflict] != n-1 {
		t.Fatalf("status counts %v, want one 200 and %d 409", codes, n-1)
	}
	out := a.must(http.StatusOK, "GET", "/v2.0/floatingips?port_id="+vm["id"].(string), "p1", nil)
	if l := out["floatingips"].([]any); len(l) != 1 {
		t.Fatalf("%d floating IPs on one address", len(l))
	}
}

// freeExternalAddress returns an address of 198.51.100.0/24 that no port on
// the network holds.
func freeExternalAddress(t *testing.T, a *testAPI, netID string) string {
	t.Helper()
	out := a.must(http.StatusOK, "GET", "/v2.0/ports?network_id="+netID, "", nil)
	taken := map[string]bool{}
	for _, p := range out["ports"].([]any) {
		for _, f := range p.(map[string]any)["fixed_ips"].([]any) {
			taken[f.(map[string]any)["ip_address"].(string)] = true
		}
	}
	for i := 50; i < 250; i++ {
		if ip := fmt.Sprintf("198.51.100.%d", i); !taken[ip] {
			return ip
		}
	}
	t.Fatal("no free external address")
	return ""
}

// TestExternalNetworkDeleteTakesFloatingIPs: deleting an external network
// deletes its floating IPs that have no association, with their ports,
// addresses and quota ownership, in the delete's transaction, as Neutron
// does. Ports in use block the delete, and then nothing is deleted: an
// associated floating IP's port and a router's gateway port.
func TestExternalNetworkDeleteTakesFloatingIPs(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	vm := mkPort(t, a, "p1", tp.net, map[string]any{"device_id": "vm-1", "device_owner": "compute:nova"})
	mkFIP := func(project string, extra map[string]any) map[string]any {
		f := map[string]any{"floating_network_id": tp.ext}
		for k, v := range extra {
			f[k] = v
		}
		return obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", project, map[string]any{"floatingip": f}), "floatingip")
	}
	fips := []map[string]any{mkFIP("p1", nil), mkFIP("p2", nil), mkFIP("p1", map[string]any{"port_id": vm["id"]})}
	type held struct{ project, fip, portProject, port, addr string }
	var all []held
	for _, f := range fips {
		ports := portsOfDevice(t, a, f["id"].(string))
		if len(ports) != 1 {
			t.Fatalf("floating IP %v: ports %v", f["id"], ports)
		}
		all = append(all, held{f["project_id"].(string), f["id"].(string), ports[0]["project_id"].(string), ports[0]["id"].(string),
			f["floating_ip_address"].(string)})
	}
	owned := func(h held) (fip, port bool) {
		t.Helper()
		for i, key := range []string{ownerKey(h.project, "floatingips", h.fip), ownerKey(h.portProject, "ports", h.port)} {
			_, err := a.st.GetString(context.Background(), key)
			if err != nil && !isNotFound(err) {
				t.Fatal(err)
			}
			if i == 0 {
				fip = err == nil
			} else {
				port = err == nil
			}
		}
		return fip, port
	}

	inUse := func(why string) {
		t.Helper()
		code, body := a.call("DELETE", "/v2.0/networks/"+tp.ext, "", nil)
		if code != http.StatusConflict || errType(body) != "NetworkInUse" {
			t.Fatalf("%s: delete: %d %v, want 409 NetworkInUse", why, code, body)
		}
		for _, h := range all {
			a.must(http.StatusOK, "GET", "/v2.0/floatingips/"+h.fip, "", nil)
			if ipHolder(t, a, tp.extSub, h.addr) != h.port {
				t.Fatalf("%s: refused delete freed %s", why, h.addr)
			}
			if f, p := owned(h); !f || !p {
				t.Fatalf("%s: refused delete dropped ownership of %v", why, h)
			}
		}
	}
	inUse("associated floating IP and router gateway")
	a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+all[2].fip, "p1", map[string]any{"floatingip": map[string]any{"port_id": nil}})
	inUse("router gateway")
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+tp.router, "p1", map[string]any{"router": map[string]any{"external_gateway_info": nil}})

	a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+tp.ext, "", nil)
	for _, h := range all {
		a.must(http.StatusNotFound, "GET", "/v2.0/floatingips/"+h.fip, "", nil)
		a.must(http.StatusNotFound, "GET", "/v2.0/ports/"+h.port, "", nil)
		if holder := ipHolder(t, a, tp.extSub, h.addr); holder != "" {
			t.Errorf("%s still held by %s", h.addr, holder)
		}
		if f, p := owned(h); f || p {
			t.Errorf("ownership left for %v: floating IP %v, port %v", h, f, p)
		}
	}
	if out := a.must(http.StatusOK, "GET", "/v2.0/floatingips", "", nil); len(out["floatingips"].([]any)) != 0 {
		t.Errorf("floating IPs left: %v", out)
	}
}
