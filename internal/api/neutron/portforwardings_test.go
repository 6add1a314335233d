package neutron

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

func pfPath(fip string) string { return "/v2.0/floatingips/" + fip + "/port_forwardings" }

func pfBodyOf(attrs map[string]any) map[string]any { return map[string]any{"port_forwarding": attrs} }

// Port forwardings: CRUD with Neutron's validation and errors, the
// floating IP's body, project scoping, and the rules tying forwardings
// and associations.
func TestPortForwardings(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	vm := mkPort(t, a, "p1", tp.net, nil)
	vmIP := vm["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string)
	fip := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1",
		map[string]any{"floatingip": map[string]any{"floating_network_id": tp.ext}}), "floatingip")
	fipID := fip["id"].(string)
	if pfs, ok := fip["port_forwardings"].([]any); !ok || len(pfs) != 0 {
		t.Fatalf("a new floating IP lists port_forwardings %v", fip["port_forwardings"])
	}

	ssh := map[string]any{"protocol": "tcp", "external_port": 2222, "internal_port": 22,
		"internal_port_id": vm["id"], "description": "ssh"}
	out := obj(t, a.must(http.StatusCreated, "POST", pfPath(fipID), "p1", pfBodyOf(ssh)), "port_forwarding")
	pfID := out["id"].(string)
	if out["internal_ip_address"] != vmIP || out["protocol"] != "tcp" || out["external_port"] != 2222.0 ||
		out["internal_port"] != 22.0 || out["internal_port_id"] != vm["id"] || out["description"] != "ssh" {
		t.Fatalf("created: %v", out)
	}
	if out["external_port_range"] != "2222:2222" || out["internal_port_range"] != "22:22" {
		t.Fatalf("a single port's ranges: %v", out)
	}
	// The floating IP now lists it and has the router.
	f := obj(t, a.must(http.StatusOK, "GET", "/v2.0/floatingips/"+fipID, "p1", nil), "floatingip")
	pfs := f["port_forwardings"].([]any)
	if len(pfs) != 1 || pfs[0].(map[string]any)["id"] != pfID || pfs[0].(map[string]any)["external_port"] != 2222.0 ||
		f["router_id"] != tp.router || f["port_id"] != nil {
		t.Fatalf("floating IP: %v", f)
	}
	if _, ok := pfs[0].(map[string]any)["description"]; ok {
		t.Fatalf("the floating IP's list shows Neutron's fields only: %v", pfs[0])
	}
	got := obj(t, a.must(http.StatusOK, "GET", pfPath(fipID)+"/"+pfID, "p1", nil), "port_forwarding")
	if got["id"] != pfID || got["internal_port"] != 22.0 {
		t.Fatalf("show: %v", got)
	}
	list := a.must(http.StatusOK, "GET", pfPath(fipID)+"?protocol=tcp&fields=id&fields=external_port", "p1", nil)["port_forwardings"].([]any)
	if len(list) != 1 || len(list[0].(map[string]any)) != 2 {
		t.Fatalf("list with filter and fields: %v", list)
	}
	if list := a.must(http.StatusOK, "GET", pfPath(fipID)+"?protocol=udp", "p1", nil)["port_forwardings"].([]any); len(list) != 0 {
		t.Fatalf("udp filter: %v", list)
	}
	code, body := a.call("GET", pfPath(fipID)+"?internal_port=22", "p1", nil)
	if code != http.StatusBadRequest || errType(body) != "PortForwardingNotSupportFilterField" {
		t.Fatalf("filter Neutron refuses: %d %v", code, body)
	}

	// The same external port and protocol again: Neutron's collision 400;
	// another protocol is fine.
	dup := map[string]any{"protocol": "tcp", "external_port": 2222, "internal_port": 80, "internal_port_id": vm["id"]}
	code, body = a.call("POST", pfPath(fipID), "p1", pfBodyOf(dup))
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "port collision with the external_port_range") {
		t.Fatalf("duplicate external port: %d %v", code, body)
	}
	// The same internal socket, even through another floating IP.
	fip2 := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1",
		map[string]any{"floatingip": map[string]any{"floating_network_id": tp.ext}}), "floatingip")["id"].(string)
	code, body = a.call("POST", pfPath(fip2), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 22, "internal_port": 22, "internal_port_id": vm["id"]}))
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "internal_port_range") {
		t.Fatalf("duplicate internal socket: %d %v", code, body)
	}
	udp := obj(t, a.must(http.StatusCreated, "POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{
		"protocol": "udp", "external_port": 2222, "internal_port": 53, "internal_port_id": vm["id"], "internal_ip_address": vmIP})), "port_forwarding")

	// Bad input: a clear 400, nothing stored.
	for name, tc := range map[string]struct {
		attrs map[string]any
		want  string
	}{
		"no protocol":      {map[string]any{"external_port": 1, "internal_port": 1, "internal_port_id": vm["id"]}, "'protocol' not specified"},
		"bad protocol":     {map[string]any{"protocol": "nope", "external_port": 1, "internal_port": 1, "internal_port_id": vm["id"]}, "Invalid input for protocol"},
		"icmp not served":  {map[string]any{"protocol": "icmp", "external_port": 1, "internal_port": 1, "internal_port_id": vm["id"]}, "not served"},
		"port 0":           {map[string]any{"protocol": "tcp", "external_port": 0, "internal_port": 1, "internal_port_id": vm["id"]}, "Invalid input for external_port"},
		"port 65536":       {map[string]any{"protocol": "tcp", "external_port": 1, "internal_port": 65536, "internal_port_id": vm["id"]}, "Invalid input for internal_port"},
		"port not int":     {map[string]any{"protocol": "tcp", "external_port": "x", "internal_port": 1, "internal_port_id": vm["id"]}, "Invalid input for external_port"},
		"range sizes":      {map[string]any{"protocol": "tcp", "external_port_range": "100:110", "internal_port_range": "100:105", "internal_port_id": vm["id"]}, "N-N or 1-N"},
		"range to one":     {map[string]any{"protocol": "tcp", "external_port": 100, "internal_port_range": "100:105", "internal_port_id": vm["id"]}, "N-N or 1-N"},
		"shifted range":    {map[string]any{"protocol": "tcp", "external_port_range": "100:110", "internal_port_range": "200:210", "internal_port_id": vm["id"]}, "not served"},
		"bad range":        {map[string]any{"protocol": "tcp", "external_port_range": "110:100", "internal_port": 1, "internal_port_id": vm["id"]}, "Invalid input for external_port_range"},
		"port and range":   {map[string]any{"protocol": "tcp", "external_port": 3, "external_port_range": "3:4", "internal_port": 3, "internal_port_id": vm["id"]}, "cannot be given together"},
		"no external port": {map[string]any{"protocol": "tcp", "internal_port": 3, "internal_port_id": vm["id"]}, "external_port or external_port_range"},
		"unknown attr":     {map[string]any{"protocol": "tcp", "external_port": 3, "internal_port": 3, "internal_port_id": vm["id"], "x": 1}, "Unrecognized attribute"},
		"bad port id":      {map[string]any{"protocol": "tcp", "external_port": 3, "internal_port": 3, "internal_port_id": "nope"}, "not a valid UUID"},
		"not its address":  {map[string]any{"protocol": "tcp", "external_port": 3, "internal_port": 3, "internal_port_id": vm["id"], "internal_ip_address": "10.10.0.250"}, "is not suitable for internal neutron port"},
		"not an IPv4":      {map[string]any{"protocol": "tcp", "external_port": 3, "internal_port": 3, "internal_port_id": vm["id"], "internal_ip_address": "2001:db8::1"}, "not a valid IPv4"},
	} {
		code, body := a.call("POST", pfPath(fipID), "p1", pfBodyOf(tc.attrs))
		if code != http.StatusBadRequest || !strings.Contains(errMessage(body), tc.want) {
			t.Errorf("%s: %d %v, want 400 with %q", name, code, body, tc.want)
		}
	}
	// An unrouted port: Neutron's 400.
	lone := mkPort(t, a, "p1", tp.unrouted, nil)
	code, body = a.call("POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 3, "internal_port": 3, "internal_port_id": lone["id"]}))
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "is not reachable from subnet") {
		t.Fatalf("unrouted port: %d %v", code, body)
	}
	// A port that does not exist: 404.
	code, body = a.call("POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 3, "internal_port": 3, "internal_port_id": newID()}))
	if code != http.StatusNotFound || errType(body) != "PortNotFound" {
		t.Fatalf("missing port: %d %v", code, body)
	}
	// Ranges: onto the same ports, and onto one port; an overlap collides.
	rng := obj(t, a.must(http.StatusCreated, "POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{"protocol": "tcp",
		"external_port_range": "1200:1299", "internal_port_range": "1200:1299", "internal_port_id": vm["id"]})), "port_forwarding")
	if rng["external_port"] != nil || rng["internal_port"] != nil || rng["external_port_range"] != "1200:1299" || rng["internal_port_range"] != "1200:1299" {
		t.Fatalf("range created: %v", rng)
	}
	code, body = a.call("POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{"protocol": "tcp",
		"external_port_range": "1250:1400", "internal_port": 80, "internal_port_id": vm["id"]}))
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "1200:1299 and 1250:1400") {
		t.Fatalf("overlapping range: %d %v", code, body)
	}
	one := obj(t, a.must(http.StatusCreated, "POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{"protocol": "udp",
		"external_port_range": "6000:6009", "internal_port": 6000, "internal_port_id": vm["id"]})), "port_forwarding")
	if one["internal_port"] != 6000.0 || one["external_port"] != nil || one["internal_port_range"] != "6000:6000" {
		t.Fatalf("1-N range created: %v", one)
	}
	a.must(http.StatusNoContent, "DELETE", pfPath(fipID)+"/"+rng["id"].(string), "p1", nil)
	a.must(http.StatusNoContent, "DELETE", pfPath(fipID)+"/"+one["id"].(string), "p1", nil)
	if n := len(pfsOf(t, a, fipID)); n != 2 {
		t.Fatalf("refused requests stored something: %d forwardings", n)
	}

	// Another project: 404 on everything.
	for _, c := range []struct{ method, path string }{
		{"GET", pfPath(fipID)}, {"GET", pfPath(fipID) + "/" + pfID}, {"DELETE", pfPath(fipID) + "/" + pfID},
	} {
		if code, body := a.call(c.method, c.path, "p2", nil); code != http.StatusNotFound || errType(body) != "FloatingIPNotFound" {
			t.Errorf("p2 %s %s: %d %v", c.method, c.path, code, body)
		}
	}
	if code, _ := a.call("POST", pfPath(fipID), "p2", pfBodyOf(ssh)); code != http.StatusNotFound {
		t.Errorf("p2 create: %d", code)
	}
	if code, _ := a.call("PUT", pfPath(fipID)+"/"+pfID, "p2", pfBodyOf(map[string]any{"description": "x"})); code != http.StatusNotFound {
		t.Errorf("p2 update: %d", code)
	}
	if code, body := a.call("GET", pfPath(fipID)+"/"+newID(), "p1", nil); code != http.StatusNotFound || errType(body) != "PortForwardingNotFound" {
		t.Errorf("missing forwarding: %d %v", code, body)
	}

	// Forwardings and associations exclude each other.
	code, body = a.call("PUT", "/v2.0/floatingips/"+fipID, "p1", map[string]any{"floatingip": map[string]any{"port_id": vm["id"]}})
	if code != http.StatusConflict || errType(body) != "FipInUseByPortForwarding" {
		t.Fatalf("associating a floating IP with forwardings: %d %v", code, body)
	}
	code, body = a.call("PUT", "/v2.0/floatingips/"+fip2, "p1", map[string]any{"floatingip": map[string]any{"port_id": vm["id"]}})
	if code != http.StatusBadRequest || errType(body) != "PortHasPortForwarding" {
		t.Fatalf("associating a forwarded port: %d %v", code, body)
	}
	other := mkPort(t, a, "p1", tp.net, nil)
	a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+fip2, "p1", map[string]any{"floatingip": map[string]any{"port_id": other["id"]}})
	code, body = a.call("POST", pfPath(fip2), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 80, "internal_port": 80, "internal_port_id": other["id"]}))
	if code != http.StatusConflict || errType(body) != "FloatingIPPortAlreadyAssociated" {
		t.Fatalf("forwarding on an associated floating IP: %d %v", code, body)
	}
	fip3 := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1",
		map[string]any{"floatingip": map[string]any{"floating_network_id": tp.ext}}), "floatingip")["id"].(string)
	code, body = a.call("POST", pfPath(fip3), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 80, "internal_port": 80, "internal_port_id": other["id"]}))
	if code != http.StatusConflict || errType(body) != "PortHasBindingFloatingIP" {
		t.Fatalf("forwarding to a port with a floating IP: %d %v", code, body)
	}
	// An empty update (Neutron's disassociation) keeps the forwardings'
	// router; deleting the floating IP is refused while they exist.
	f = obj(t, a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+fipID, "p1", map[string]any{"floatingip": map[string]any{}}), "floatingip")
	if f["router_id"] != tp.router || len(f["port_forwardings"].([]any)) != 2 {
		t.Fatalf("empty update: %v", f)
	}
	code, body = a.call("DELETE", "/v2.0/floatingips/"+fipID, "p1", nil)
	if code != http.StatusConflict || errType(body) != "FipInUseByPortForwarding" {
		t.Fatalf("deleting a floating IP with forwardings: %d %v", code, body)
	}
	// The router's interface carries them: its removal is refused.
	code, body = a.call("PUT", "/v2.0/routers/"+tp.router+"/remove_router_interface", "p1", map[string]any{"subnet_id": tp.sub})
	if code != http.StatusConflict {
		t.Fatalf("removing the interface under a forwarding: %d %v", code, body)
	}

	// Update: the external port, then a collision refused.
	up := obj(t, a.must(http.StatusOK, "PUT", pfPath(fipID)+"/"+pfID, "p1", pfBodyOf(map[string]any{"external_port": 2200, "description": "new"})), "port_forwarding")
	if up["external_port"] != 2200.0 || up["internal_port"] != 22.0 || up["description"] != "new" || up["internal_ip_address"] != vmIP {
		t.Fatalf("updated: %v", up)
	}
	code, body = a.call("PUT", pfPath(fipID)+"/"+udp["id"].(string), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 2200}))
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "collision") {
		t.Fatalf("update into a collision: %d %v", code, body)
	}
	code, _ = a.call("PUT", pfPath(fipID)+"/"+pfID, "p1", pfBodyOf(map[string]any{"id": "x"}))
	if code != http.StatusBadRequest {
		t.Fatalf("update of id: %d", code)
	}

	// The store: the floating IP is copied to the forwarded port's network.
	ctx := context.Background()
	if v, err := a.st.GetString(ctx, store.ScopedOf(tp.net)+"floatingips/"+fipID); err != nil || !strings.Contains(v, `"port_forwardings"`) {
		t.Fatalf("scoped copy: %q %v", v, err)
	}

	// Delete: the last one clears the router; the floating IP can go.
	a.must(http.StatusNoContent, "DELETE", pfPath(fipID)+"/"+pfID, "p1", nil)
	a.must(http.StatusNotFound, "DELETE", pfPath(fipID)+"/"+pfID, "p1", nil)
	a.must(http.StatusNoContent, "DELETE", pfPath(fipID)+"/"+udp["id"].(string), "p1", nil)
	f = obj(t, a.must(http.StatusOK, "GET", "/v2.0/floatingips/"+fipID, "p1", nil), "floatingip")
	if f["router_id"] != nil || len(f["port_forwardings"].([]any)) != 0 {
		t.Fatalf("after the last delete: %v", f)
	}
	if _, err := a.st.GetString(ctx, store.ScopedOf(tp.net)+"floatingips/"+fipID); !isNotFound(err) {
		t.Fatalf("scoped copy left: %v", err)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/floatingips/"+fipID, "p1", nil)
}

// Deleting the forwarded port deletes its forwardings, as Neutron does,
// and so does taking the forwarded address from it.
func TestPortForwardingsGoWithTheirPort(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	vm := mkPort(t, a, "p1", tp.net, map[string]any{"fixed_ips": []any{
		map[string]any{"subnet_id": tp.sub, "ip_address": "10.10.0.50"}, map[string]any{"subnet_id": tp.sub, "ip_address": "10.10.0.51"}}})
	fipID := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1",
		map[string]any{"floatingip": map[string]any{"floating_network_id": tp.ext}}), "floatingip")["id"].(string)
	a.must(http.StatusCreated, "POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 80, "internal_port": 8080, "internal_port_id": vm["id"], "internal_ip_address": "10.10.0.50"}))
	a.must(http.StatusCreated, "POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 81, "internal_port": 8080, "internal_port_id": vm["id"], "internal_ip_address": "10.10.0.51"}))
	a.must(http.StatusOK, "PUT", "/v2.0/ports/"+vm["id"].(string), "p1", map[string]any{"port": map[string]any{"fixed_ips": []any{
		map[string]any{"subnet_id": tp.sub, "ip_address": "10.10.0.50"}}}})
	if pfs := pfsOf(t, a, fipID); len(pfs) != 1 || pfs[0].(map[string]any)["internal_ip_address"] != "10.10.0.50" {
		t.Fatalf("after the port lost 10.10.0.51: %v", pfs)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/ports/"+vm["id"].(string), "p1", nil)
	if n := len(pfsOf(t, a, fipID)); n != 0 {
		t.Fatalf("%d forwardings left after their port went", n)
	}
	f := obj(t, a.must(http.StatusOK, "GET", "/v2.0/floatingips/"+fipID, "p1", nil), "floatingip")
	if f["router_id"] != nil {
		t.Fatalf("router kept: %v", f)
	}
}

// A port bound on a chassis in edge mode cannot be forwarded to: the
// stateless edge serves its floating IPs.
func TestPortForwardingRefusedOnEdgeChassis(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	ctx := context.Background()
	if err := a.st.Txn(ctx, func(tx *store.Tx) error {
		return tx.Put(store.ChassisKey("edge-hv"), &model.Chassis{Name: "edge-hv", FIPMode: model.FIPModeEdge})
	}); err != nil {
		t.Fatal(err)
	}
	vm := mkPort(t, a, "p1", tp.net, nil)
	a.must(http.StatusOK, "PUT", "/v2.0/ports/"+vm["id"].(string), "", map[string]any{"port": map[string]any{"binding:host_id": "edge-hv"}})
	fipID := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1",
		map[string]any{"floatingip": map[string]any{"floating_network_id": tp.ext}}), "floatingip")["id"].(string)
	code, body := a.call("POST", pfPath(fipID), "p1", pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 80, "internal_port": 80, "internal_port_id": vm["id"]}))
	if code != http.StatusBadRequest || !strings.Contains(errMessage(body), "edge") {
		t.Fatalf("edge chassis: %d %v", code, body)
	}
}

// The extensions are advertised, port ranges included.
func TestPortForwardingExtensions(t *testing.T) {
	a := newTestAPI(t)
	var aliases []string
	for _, e := range a.must(http.StatusOK, "GET", "/v2.0/extensions", "p1", nil)["extensions"].([]any) {
		aliases = append(aliases, e.(map[string]any)["alias"].(string))
	}
	for _, want := range []string{"floating-ip-port-forwarding", "expose-port-forwarding-in-fip", "floating-ip-port-forwarding-description"} {
		if !slices.Contains(aliases, want) {
			t.Errorf("%s not advertised", want)
		}
	}
	if !slices.Contains(aliases, "floating-ip-port-forwarding-port-ranges") {
		t.Errorf("port ranges served but not advertised")
	}
}

func pfsOf(t *testing.T, a *testAPI, fipID string) []any {
	t.Helper()
	return a.must(http.StatusOK, "GET", pfPath(fipID), "p1", nil)["port_forwardings"].([]any)
}

// The index of the floating IPs forwarding to a port follows the
// forwardings through create, move to another port, delete and the
// port's deletion, and the start-up migration rebuilds it for forwardings
// stored without it: an association with a forwarded port is refused
// either way.
func TestPortForwardingIndex(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	ctx := context.Background()
	vm1, vm2 := mkPort(t, a, "p1", tp.net, nil), mkPort(t, a, "p1", tp.net, nil)
	id1, id2 := vm1["id"].(string), vm2["id"].(string)
	mkFIP := func() string {
		return obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1",
			map[string]any{"floatingip": map[string]any{"floating_network_id": tp.ext}}), "floatingip")["id"].(string)
	}
	fipA, fipB, spare := mkFIP(), mkFIP(), mkFIP()
	index := func(port string) []string {
		t.Helper()
		var ids []string
		if _, err := a.st.Get(ctx, pfPortKey(port), &ids); err != nil && !isNotFound(err) {
			t.Fatal(err)
		}
		return ids
	}
	want := func(port string, ids ...string) {
		t.Helper()
		slices.Sort(ids)
		if got := index(port); !slices.Equal(got, ids) {
			t.Fatalf("index of port %s: %v, want %v", port, got, ids)
		}
	}
	mkPF := func(fip, port string, ext int) string {
		return obj(t, a.must(http.StatusCreated, "POST", pfPath(fip), "p1", pfBodyOf(map[string]any{
			"protocol": "tcp", "external_port": ext, "internal_port": ext, "internal_port_id": port})), "port_forwarding")["id"].(string)
	}
	pa1 := mkPF(fipA, id1, 80)
	pa2 := mkPF(fipA, id1, 81)
	pb := mkPF(fipB, id1, 82)
	want(id1, fipA, fipB)
	want(id2)
	assoc := func(port string) (int, map[string]any) {
		return a.call("PUT", "/v2.0/floatingips/"+spare, "p1", map[string]any{"floatingip": map[string]any{"port_id": port}})
	}
	if code, body := assoc(id1); code != http.StatusBadRequest || errType(body) != "PortHasPortForwarding" {
		t.Fatalf("associating a forwarded port: %d %v", code, body)
	}
	// One of fipA's two forwardings goes: fipA still forwards to vm1.
	a.must(http.StatusNoContent, "DELETE", pfPath(fipA)+"/"+pa1, "p1", nil)
	want(id1, fipA, fipB)
	// The other moves to vm2.
	a.must(http.StatusOK, "PUT", pfPath(fipA)+"/"+pa2, "p1", pfBodyOf(map[string]any{"internal_port_id": id2}))
	want(id1, fipB)
	want(id2, fipA)
	a.must(http.StatusNoContent, "DELETE", pfPath(fipB)+"/"+pb, "p1", nil)
	want(id1)
	a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+spare, "p1", map[string]any{"floatingip": map[string]any{"port_id": id1}})
	a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+spare, "p1", map[string]any{"floatingip": map[string]any{"port_id": nil}})
	// Deleting vm2 deletes fipA's forwarding to it, and its index.
	a.must(http.StatusNoContent, "DELETE", "/v2.0/ports/"+id2, "p1", nil)
	want(id2)
	if n := len(pfsOf(t, a, fipA)); n != 0 {
		t.Fatalf("%d forwardings left on fipA", n)
	}

	// A forwarding and an association stored by a server without the
	// indexes.
	mkPF(fipB, id1, 83)
	vm3 := mkPort(t, a, "p1", tp.net, nil)["id"].(string)
	a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+spare, "p1", map[string]any{"floatingip": map[string]any{"port_id": vm3}})
	var held []string
	if _, err := a.st.Get(ctx, fipPortKey(vm3), &held); err != nil || !slices.Equal(held, []string{spare}) {
		t.Fatalf("floating IPs of port %s: %v, %v", vm3, held, err)
	}
	for _, k := range []string{pfPortKey(id1), fipPortKey(vm3)} {
		if err := a.st.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.api.MigrateFloatingIPIndexes(ctx); err != nil || n != 2 {
		t.Fatalf("migration: %d, %v", n, err)
	}
	want(id1, fipB)
	if code, body := a.call("POST", pfPath(fipA), "p1", pfBodyOf(map[string]any{
		"protocol": "tcp", "external_port": 90, "internal_port": 90, "internal_port_id": vm3})); code != http.StatusConflict || errType(body) != "PortHasBindingFloatingIP" {
		t.Fatalf("forwarding to an associated port after the migration: %d %v", code, body)
	}
	// Deleting the port disassociates its floating IP, found by the index.
	a.must(http.StatusNoContent, "DELETE", "/v2.0/ports/"+vm3, "p1", nil)
	if f := obj(t, a.must(http.StatusOK, "GET", "/v2.0/floatingips/"+spare, "p1", nil), "floatingip"); f["port_id"] != nil {
		t.Fatalf("floating IP of a deleted port: %v", f)
	}
	if _, err := a.st.Get(ctx, fipPortKey(vm3), nil); !isNotFound(err) {
		t.Fatalf("index of a deleted port left: %v", err)
	}
	if n, err := a.api.MigrateFloatingIPIndexes(ctx); err != nil || n != 0 {
		t.Fatalf("second migration: %d, %v", n, err)
	}
	if code, body := assoc(id1); code != http.StatusBadRequest || errType(body) != "PortHasPortForwarding" {
		t.Fatalf("associating a forwarded port after the migration: %d %v", code, body)
	}
}

// An association and a forwarding to the same port, at once: exactly one
// wins, each reading the index the other writes.
func TestPortForwardingRacesAssociation(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	for round := range 8 {
		vm := mkPort(t, a, "p1", tp.net, nil)["id"].(string)
		var fips [2]string
		for i := range fips {
			fips[i] = obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1",
				map[string]any{"floatingip": map[string]any{"floating_network_id": tp.ext}}), "floatingip")["id"].(string)
		}
		codes := concurrently(t, a, 2, func(i int) (string, string, any) {
			if i == 0 {
				return "PUT", "/v2.0/floatingips/" + fips[0], map[string]any{"floatingip": map[string]any{"port_id": vm}}
			}
			return "POST", pfPath(fips[1]), pfBodyOf(map[string]any{"protocol": "tcp", "external_port": 80, "internal_port": 80, "internal_port_id": vm})
		})
		if codes[http.StatusOK]+codes[http.StatusCreated] != 1 {
			t.Fatalf("round %d: status counts %v, want exactly one success", round, codes)
		}
	}
}
