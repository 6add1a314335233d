package neutron

import (
	"net/http"
	"testing"
)

func TestAddressScopeCRUD(t *testing.T) {
	a := newTestAPI(t)
	out := a.must(http.StatusCreated, "POST", "/v2.0/address-scopes", "p1", jsonObj{"address_scope": jsonObj{"name": "as1", "ip_version": 4}})
	sc := out["address_scope"].(jsonObj)
	id := sc["id"].(string)
	if sc["ip_version"].(float64) != 4 || sc["shared"] != false || sc["project_id"] != "p1" {
		t.Fatalf("created %v", sc)
	}
	a.wantErr(http.StatusBadRequest, "", "ip_version", "POST", "/v2.0/address-scopes", "p1", jsonObj{"address_scope": jsonObj{"name": "x"}})
	a.wantErr(http.StatusBadRequest, "", "", "POST", "/v2.0/address-scopes", "p1", jsonObj{"address_scope": jsonObj{"ip_version": 5}})
	a.wantErr(http.StatusForbidden, "", "", "POST", "/v2.0/address-scopes", "p1", jsonObj{"address_scope": jsonObj{"ip_version": 4, "shared": true}})

	up := a.must(http.StatusOK, "PUT", "/v2.0/address-scopes/"+id, "p1", jsonObj{"address_scope": jsonObj{"name": "renamed"}})["address_scope"].(jsonObj)
	if up["name"] != "renamed" || up["revision_number"].(float64) != 1 {
		t.Fatalf("updated %v", up)
	}
	a.wantErr(http.StatusBadRequest, "", "read-only", "PUT", "/v2.0/address-scopes/"+id, "p1", jsonObj{"address_scope": jsonObj{"ip_version": 6}})
	// Other projects see neither it nor its existence.
	a.wantErr(http.StatusNotFound, "AddressScopeNotFound", "", "GET", "/v2.0/address-scopes/"+id, "p2", nil)
	if l := a.must(http.StatusOK, "GET", "/v2.0/address-scopes", "p2", nil)["address_scopes"].([]any); len(l) != 0 {
		t.Fatalf("p2 lists %v", l)
	}
	// Shared by an admin: visible to all, but never unshared.
	a.must(http.StatusOK, "PUT", "/v2.0/address-scopes/"+id, "", jsonObj{"address_scope": jsonObj{"shared": true}})
	if l := a.must(http.StatusOK, "GET", "/v2.0/address-scopes?name=renamed", "p2", nil)["address_scopes"].([]any); len(l) != 1 {
		t.Fatalf("p2 lists %v", l)
	}
	a.wantErr(http.StatusNotFound, "", "", "DELETE", "/v2.0/address-scopes/"+id, "p2", nil)
	a.wantErr(http.StatusBadRequest, "AddressScopeUpdateError", "", "PUT", "/v2.0/address-scopes/"+id, "", jsonObj{"address_scope": jsonObj{"shared": false}})
	a.must(http.StatusNoContent, "DELETE", "/v2.0/address-scopes/"+id, "p1", nil)
	a.wantErr(http.StatusNotFound, "AddressScopeNotFound", "", "GET", "/v2.0/address-scopes/"+id, "p1", nil)
}
