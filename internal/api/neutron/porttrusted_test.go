package neutron

import (
	"net/http"
	"testing"
)

func TestPortTrusted(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.9.0.0/24", nil)
	port := a.must(http.StatusCreated, "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net}})["port"].(jsonObj)
	id := port["id"].(string)
	if v, ok := port["trusted"]; !ok || v != nil {
		t.Fatalf("new port trusted = %v (present %v), want null", v, ok)
	}
	// Members may not set it; admins may, and it shows in binding:profile.
	a.wantErr(http.StatusForbidden, "", "trusted", "PUT", "/v2.0/ports/"+id, "p1", jsonObj{"port": jsonObj{"trusted": true}})
	up := a.must(http.StatusOK, "PUT", "/v2.0/ports/"+id, "", jsonObj{"port": jsonObj{"trusted": true}})["port"].(jsonObj)
	if up["trusted"] != true || up["binding:profile"].(jsonObj)["trusted"] != true {
		t.Fatalf("after update: %v / %v", up["trusted"], up["binding:profile"])
	}
	got := a.must(http.StatusOK, "GET", "/v2.0/ports/"+id, "p1", nil)["port"].(jsonObj)
	if got["trusted"] != true {
		t.Fatalf("show trusted %v", got["trusted"])
	}
	if l := a.must(http.StatusOK, "GET", "/v2.0/ports?trusted=true", "", nil)["ports"].([]any); len(l) != 1 {
		t.Fatalf("filter trusted=true: %d ports", len(l))
	}
	a.wantErr(http.StatusBadRequest, "", "", "PUT", "/v2.0/ports/"+id, "", jsonObj{"port": jsonObj{"trusted": "maybe"}})
	a.wantErr(http.StatusBadRequest, "", "differ", "PUT", "/v2.0/ports/"+id, "",
		jsonObj{"port": jsonObj{"trusted": false, "binding:profile": jsonObj{"trusted": true}}})
	// Null unsets it; binding:profile keeps its other keys.
	a.must(http.StatusOK, "PUT", "/v2.0/ports/"+id, "", jsonObj{"port": jsonObj{"binding:profile": jsonObj{"pci_slot": "0000:01:00.1", "trusted": true}}})
	up = a.must(http.StatusOK, "PUT", "/v2.0/ports/"+id, "", jsonObj{"port": jsonObj{"trusted": nil}})["port"].(jsonObj)
	if up["trusted"] != nil || up["binding:profile"].(jsonObj)["pci_slot"] != "0000:01:00.1" {
		t.Fatalf("after unset: %v / %v", up["trusted"], up["binding:profile"])
	}
	// Set on create.
	p2 := a.must(http.StatusCreated, "POST", "/v2.0/ports", "", jsonObj{"port": jsonObj{"network_id": net, "trusted": false}})["port"].(jsonObj)
	if p2["trusted"] != false {
		t.Fatalf("create trusted=false: %v", p2["trusted"])
	}
}
