package neutron

import (
	"net/http"
	"reflect"
	"testing"
)

func groupAddrs(t *testing.T, g jsonObj) []string {
	t.Helper()
	var out []string
	for _, x := range g["addresses"].([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestAddressGroupCRUD(t *testing.T) {
	a := newTestAPI(t)
	g := a.must(http.StatusCreated, "POST", "/v2.0/address-groups", "p1",
		jsonObj{"address_group": jsonObj{"name": "ag", "description": "d", "addresses": []string{"192.0.2.1/32", "198.51.100.0/24", "192.0.2.1/32"}}})["address_group"].(jsonObj)
	id := g["id"].(string)
	if got := groupAddrs(t, g); !reflect.DeepEqual(got, []string{"192.0.2.1/32", "198.51.100.0/24"}) {
		t.Fatalf("addresses %v", got)
	}
	a.wantErr(http.StatusBadRequest, "", "not a valid IP subnet", "POST", "/v2.0/address-groups", "p1",
		jsonObj{"address_group": jsonObj{"addresses": []string{"nope"}}})
	a.wantErr(http.StatusBadRequest, "", "read-only", "PUT", "/v2.0/address-groups/"+id, "p1",
		jsonObj{"address_group": jsonObj{"addresses": []string{}}})
	up := a.must(http.StatusOK, "PUT", "/v2.0/address-groups/"+id, "p1", jsonObj{"address_group": jsonObj{"name": "n2", "description": ""}})["address_group"].(jsonObj)
	if up["name"] != "n2" || up["description"] != "" {
		t.Fatalf("update %v", up)
	}

	add := a.must(http.StatusOK, "PUT", "/v2.0/address-groups/"+id+"/add_addresses", "p1", jsonObj{"addresses": []string{"2001:db8::/64"}})["address_group"].(jsonObj)
	if got := groupAddrs(t, add); !reflect.DeepEqual(got, []string{"192.0.2.1/32", "198.51.100.0/24", "2001:db8::/64"}) {
		t.Fatalf("after add %v", got)
	}
	a.wantErr(http.StatusBadRequest, "AddressesAlreadyExist", "192.0.2.1/32", "PUT", "/v2.0/address-groups/"+id+"/add_addresses", "p1",
		jsonObj{"addresses": []string{"203.0.113.0/24", "192.0.2.1"}})
	a.wantErr(http.StatusNotFound, "AddressesNotFound", "203.0.113.0/24", "PUT", "/v2.0/address-groups/"+id+"/remove_addresses", "p1",
		jsonObj{"addresses": []string{"203.0.113.0/24"}})
	a.wantErr(http.StatusNotFound, "AddressGroupNotFound", "", "PUT", "/v2.0/address-groups/"+id+"/add_addresses", "p2",
		jsonObj{"addresses": []string{"203.0.113.0/24"}})
	a.wantErr(http.StatusBadRequest, "", "addresses", "PUT", "/v2.0/address-groups/"+id+"/add_addresses", "p1", jsonObj{})
	rm := a.must(http.StatusOK, "PUT", "/v2.0/address-groups/"+id+"/remove_addresses", "p1", jsonObj{"addresses": []string{"198.51.100.0/24"}})["address_group"].(jsonObj)
	if got := groupAddrs(t, rm); !reflect.DeepEqual(got, []string{"192.0.2.1/32", "2001:db8::/64"}) {
		t.Fatalf("after remove %v", got)
	}
	// The failed calls changed nothing; the list agrees with the show.
	shown := a.must(http.StatusOK, "GET", "/v2.0/address-groups/"+id, "p1", nil)["address_group"].(jsonObj)
	if !reflect.DeepEqual(groupAddrs(t, shown), groupAddrs(t, rm)) || shown["revision_number"].(float64) != 3 {
		t.Fatalf("shown %v", shown)
	}
	if l := a.must(http.StatusOK, "GET", "/v2.0/address-groups", "p2", nil)["address_groups"].([]any); len(l) != 0 {
		t.Fatalf("p2 lists %v", l)
	}
	a.wantErr(http.StatusNotFound, "", "", "DELETE", "/v2.0/address-groups/"+id, "p2", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/address-groups/"+id, "p1", nil)
	a.wantErr(http.StatusNotFound, "AddressGroupNotFound", "", "GET", "/v2.0/address-groups/"+id, "p1", nil)
}
