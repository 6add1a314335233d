package neutron

import (
	"net/http"
	"testing"
)

// Neutron's update of an associated floating IP: a description alone or
// the same port again keeps the association; an empty body clears it.
func TestFloatingIPUpdateKeepsOrClears(t *testing.T) {
	a := newTestAPI(t)
	tp := newFIPTopology(t, a)
	vm := mkPort(t, a, "p1", tp.net, map[string]any{"device_owner": "compute:nova"})
	f := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "port_id": vm["id"]}}), "floatingip")
	path := "/v2.0/floatingips/" + f["id"].(string)
	g := obj(t, a.must(http.StatusOK, "PUT", path, "p1", map[string]any{"floatingip": map[string]any{"description": "d"}}), "floatingip")
	if g["port_id"] != vm["id"] || g["description"] != "d" {
		t.Errorf("description update: %v", g)
	}
	g = obj(t, a.must(http.StatusOK, "PUT", path, "p1", map[string]any{"floatingip": map[string]any{"port_id": vm["id"]}}), "floatingip")
	if g["port_id"] != vm["id"] {
		t.Errorf("same port again: %v", g)
	}
	g = obj(t, a.must(http.StatusOK, "PUT", path, "p1", map[string]any{"floatingip": map[string]any{}}), "floatingip")
	if g["port_id"] != nil || g["fixed_ip_address"] != nil {
		t.Errorf("empty update: %v", g)
	}
}
