package neutron

import (
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"sync"
	"testing"
)

// mkPool creates a subnet pool as project and returns it.
func (a *testAPI) mkPool(project string, attrs jsonObj) jsonObj {
	a.t.Helper()
	return a.must(http.StatusCreated, "POST", "/v2.0/subnetpools", project, jsonObj{"subnetpool": attrs})["subnetpool"].(jsonObj)
}

func TestSubnetPoolCRUD(t *testing.T) {
	a := newTestAPI(t)
	sp := a.mkPool("p1", jsonObj{"name": "sp", "prefixes": []string{"10.1.0.0/17", "10.1.128.0/17", "10.1.4.0/24", "10.9.0.0/16"}, "default_prefixlen": 24})
	id := sp["id"].(string)
	if !reflect.DeepEqual(sp["prefixes"], []any{"10.1.0.0/16", "10.9.0.0/16"}) || sp["ip_version"].(float64) != 4 ||
		sp["min_prefixlen"] != "8" || sp["max_prefixlen"] != "32" || sp["default_prefixlen"] != "24" ||
		sp["address_scope_id"] != nil || sp["shared"] != false || sp["is_default"] != false {
		t.Fatalf("created %v", sp)
	}
	v6 := a.mkPool("p1", jsonObj{"prefixes": []string{"2001:db8::/48"}})
	if v6["ip_version"].(float64) != 6 || v6["min_prefixlen"] != "64" || v6["default_prefixlen"] != "64" {
		t.Fatalf("v6 defaults %v", v6)
	}
	a.wantErr(http.StatusBadRequest, "PrefixVersionMismatch", "", "POST", "/v2.0/subnetpools", "p1", jsonObj{"subnetpool": jsonObj{"prefixes": []string{"10.0.0.0/8", "2001:db8::/32"}}})
	a.wantErr(http.StatusBadRequest, "", "prefixes", "POST", "/v2.0/subnetpools", "p1", jsonObj{"subnetpool": jsonObj{"name": "x"}})
	a.wantErr(http.StatusBadRequest, "IllegalSubnetPoolPrefixBounds", "", "POST", "/v2.0/subnetpools", "p1", jsonObj{"subnetpool": jsonObj{"prefixes": []string{"10.0.0.0/8"}, "min_prefixlen": 24, "default_prefixlen": 16}})
	a.wantErr(http.StatusForbidden, "", "", "POST", "/v2.0/subnetpools", "p1", jsonObj{"subnetpool": jsonObj{"prefixes": []string{"10.0.0.0/8"}, "shared": true}})

	// Prefixes only grow.
	a.wantErr(http.StatusBadRequest, "IllegalSubnetPoolPrefixUpdate", "", "PUT", "/v2.0/subnetpools/"+id, "p1", jsonObj{"subnetpool": jsonObj{"prefixes": []string{"10.1.0.0/16"}}})
	up := a.must(http.StatusOK, "PUT", "/v2.0/subnetpools/"+id, "p1", jsonObj{"subnetpool": jsonObj{"name": "sp2", "prefixes": []string{"10.0.0.0/12"}}})["subnetpool"].(jsonObj)
	if up["name"] != "sp2" || !reflect.DeepEqual(up["prefixes"], []any{"10.0.0.0/12"}) {
		t.Fatalf("updated %v", up)
	}
	a.wantErr(http.StatusBadRequest, "", "read-only", "PUT", "/v2.0/subnetpools/"+id, "p1", jsonObj{"subnetpool": jsonObj{"shared": true}})

	// Address scope: same IP version, pools in it disjoint, in use until the pool leaves.
	scope := a.must(http.StatusCreated, "POST", "/v2.0/address-scopes", "p1", jsonObj{"address_scope": jsonObj{"ip_version": 4}})["address_scope"].(jsonObj)["id"].(string)
	a.wantErr(http.StatusBadRequest, "IllegalSubnetPoolIpVersionAssociationToAddressScope", "", "PUT", "/v2.0/subnetpools/"+v6["id"].(string), "p1",
		jsonObj{"subnetpool": jsonObj{"address_scope_id": scope}})
	a.must(http.StatusOK, "PUT", "/v2.0/subnetpools/"+id, "p1", jsonObj{"subnetpool": jsonObj{"address_scope_id": scope}})
	a.wantErr(http.StatusConflict, "AddressScopePrefixConflict", "", "POST", "/v2.0/subnetpools", "p1",
		jsonObj{"subnetpool": jsonObj{"prefixes": []string{"10.8.0.0/16"}, "address_scope_id": scope}})
	a.mkPool("p1", jsonObj{"prefixes": []string{"10.16.0.0/16"}, "address_scope_id": scope, "name": "other"})
	a.wantErr(http.StatusConflict, "AddressScopeInUse", "", "DELETE", "/v2.0/address-scopes/"+scope, "p1", nil)

	// Project scoping; admins share and make defaults.
	a.wantErr(http.StatusNotFound, "SubnetPoolNotFound", "", "GET", "/v2.0/subnetpools/"+id, "p2", nil)
	a.wantErr(http.StatusForbidden, "", "", "PUT", "/v2.0/subnetpools/"+id, "p1", jsonObj{"subnetpool": jsonObj{"is_default": true}})
	shared := a.mkPool("", jsonObj{"prefixes": []string{"192.168.0.0/16"}, "default_prefixlen": 24, "shared": true, "is_default": true})
	a.wantErr(http.StatusBadRequest, "", "default", "POST", "/v2.0/subnetpools", "", jsonObj{"subnetpool": jsonObj{"prefixes": []string{"172.16.0.0/12"}, "is_default": true}})
	if l := a.must(http.StatusOK, "GET", "/v2.0/subnetpools", "p2", nil)["subnetpools"].([]any); len(l) != 1 || l[0].(jsonObj)["id"] != shared["id"] {
		t.Fatalf("p2 lists %v", l)
	}
	net := a.mkNetwork("p2", nil)
	s := a.mkSubnet("p2", net, "", jsonObj{"cidr": nil, "use_default_subnetpool": true, "ip_version": 4})
	if s["cidr"] != "192.168.0.0/24" || s["subnetpool_id"] != shared["id"] {
		t.Fatalf("default pool subnet %v", s)
	}
	a.wantErr(http.StatusConflict, "SubnetPoolInUse", "", "DELETE", "/v2.0/subnetpools/"+shared["id"].(string), "", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/subnets/"+s["id"].(string), "p2", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/subnetpools/"+shared["id"].(string), "", nil)
	a.wantErr(http.StatusBadRequest, "", "No default subnetpool", "POST", "/v2.0/subnets", "p2",
		jsonObj{"subnet": jsonObj{"network_id": net, "use_default_subnetpool": true, "ip_version": 4}})
}

func TestSubnetFromPool(t *testing.T) {
	a := newTestAPI(t)
	sp := a.mkPool("p1", jsonObj{"prefixes": []string{"10.0.0.0/8"}, "default_prefixlen": 24, "max_prefixlen": 28})
	pid := sp["id"].(string)
	net := a.mkNetwork("p1", nil)
	mk := func(attrs jsonObj) jsonObj {
		t.Helper()
		attrs["subnetpool_id"] = pid
		attrs["ip_version"] = 4
		return a.mkSubnet("p1", net, "", attrs)
	}
	s1 := mk(jsonObj{"cidr": "10.0.1.0/24"})
	if s1["cidr"] != "10.0.1.0/24" || s1["subnetpool_id"] != pid || s1["gateway_ip"] != "10.0.1.1" {
		t.Fatalf("specific: %v", s1)
	}
	s2 := mk(jsonObj{"cidr": nil})
	if s2["cidr"] != "10.0.0.0/24" {
		t.Fatalf("default length: %v", s2["cidr"])
	}
	s3 := mk(jsonObj{"cidr": nil})
	if s3["cidr"] != "10.0.2.0/24" {
		t.Fatalf("next free: %v", s3["cidr"])
	}
	net2 := a.mkNetwork("p1", nil)
	s4 := a.mkSubnet("p1", net2, "", jsonObj{"cidr": nil, "subnetpool_id": pid, "prefixlen": 12})
	if s4["cidr"] != "10.16.0.0/12" {
		t.Fatalf("prefixlen 12: %v", s4["cidr"])
	}
	// Another network may not take an allocated prefix either.
	a.wantErr(http.StatusConflict, "SubnetAllocationError", "", "POST", "/v2.0/subnets", "p1",
		jsonObj{"subnet": jsonObj{"network_id": net2, "cidr": "10.0.1.0/25", "subnetpool_id": pid}})
	a.wantErr(http.StatusConflict, "SubnetAllocationError", "", "POST", "/v2.0/subnets", "p1",
		jsonObj{"subnet": jsonObj{"network_id": net2, "cidr": "11.0.0.0/24", "subnetpool_id": pid}})
	a.wantErr(http.StatusBadRequest, "MaxPrefixSubnetAllocationError", "", "POST", "/v2.0/subnets", "p1",
		jsonObj{"subnet": jsonObj{"network_id": net2, "subnetpool_id": pid, "prefixlen": 30}})
	a.wantErr(http.StatusBadRequest, "MinPrefixSubnetAllocationError", "", "POST", "/v2.0/subnets", "p1",
		jsonObj{"subnet": jsonObj{"network_id": net2, "subnetpool_id": pid, "prefixlen": 4}})
	a.wantErr(http.StatusBadRequest, "", "IPv6", "POST", "/v2.0/subnets", "p1",
		jsonObj{"subnet": jsonObj{"network_id": net2, "subnetpool_id": pid, "ip_version": 6}})
	a.wantErr(http.StatusNotFound, "SubnetPoolNotFound", "", "POST", "/v2.0/subnets", "p2",
		jsonObj{"subnet": jsonObj{"network_id": a.mkNetwork("p2", nil), "subnetpool_id": pid}})
	// subnetpool_id shows in lists and filters.
	if l := a.must(http.StatusOK, "GET", "/v2.0/subnets?subnetpool_id="+pid, "p1", nil)["subnets"].([]any); len(l) != 4 {
		t.Fatalf("filter by pool: %d subnets", len(l))
	}
	// Deleting a subnet frees its prefix; deleting the network frees the rest.
	a.must(http.StatusNoContent, "DELETE", "/v2.0/subnets/"+s2["id"].(string), "p1", nil)
	if s5 := mk(jsonObj{"cidr": nil}); s5["cidr"] != "10.0.0.0/24" {
		t.Fatalf("freed prefix not reused: %v", s5["cidr"])
	}
	a.wantErr(http.StatusConflict, "SubnetPoolInUse", "", "DELETE", "/v2.0/subnetpools/"+pid, "p1", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+net, "p1", nil)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+net2, "p1", nil)
	if n := a.countKeys(poolAllocsOf(pid)); n != 0 {
		t.Fatalf("%d allocation keys left", n)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/subnetpools/"+pid, "p1", nil)
}

// TestSubnetPoolConcurrentAllocation creates 20 subnets at once from a
// pool with room for 16: exactly 16 succeed, with disjoint prefixes, and 4
// fail with 409 PrefixPoolExhausted.
func TestSubnetPoolConcurrentAllocation(t *testing.T) {
	a := newTestAPI(t)
	pid := a.mkPool("p1", jsonObj{"prefixes": []string{"10.4.0.0/24"}, "default_prefixlen": 28, "max_prefixlen": 28})["id"].(string)
	nets := make([]string, 20)
	for i := range nets {
		nets[i] = a.mkNetwork("p1", nil)
	}
	type result struct {
		code int
		out  jsonObj
	}
	results := make([]result, len(nets))
	var wg sync.WaitGroup
	for i, net := range nets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := a.call("POST", "/v2.0/subnets", "p1", jsonObj{"subnet": jsonObj{"network_id": net, "subnetpool_id": pid, "ip_version": 4, "name": fmt.Sprint(i)}})
			results[i] = result{code, out}
		}()
	}
	wg.Wait()
	var got []netip.Prefix
	exhausted := 0
	for _, r := range results {
		switch {
		case r.code == http.StatusCreated:
			got = append(got, netip.MustParsePrefix(r.out["subnet"].(jsonObj)["cidr"].(string)))
		case r.code == http.StatusConflict && errType(r.out) == "PrefixPoolExhausted":
			exhausted++
		default:
			t.Fatalf("unexpected answer %d %v", r.code, r.out)
		}
	}
	if len(got) != 16 || exhausted != 4 {
		t.Fatalf("%d created, %d exhausted; want 16 and 4", len(got), exhausted)
	}
	for i := range got {
		if got[i].Bits() != 28 || !netip.MustParsePrefix("10.4.0.0/24").Contains(got[i].Addr()) {
			t.Fatalf("prefix %s outside the pool", got[i])
		}
		for j := range i {
			if got[i].Overlaps(got[j]) {
				t.Fatalf("%s overlaps %s", got[i], got[j])
			}
		}
	}
	if n := a.countKeys(poolAllocsOf(pid)); n != 16 {
		t.Fatalf("%d allocation keys, want 16", n)
	}
}

// TestSubnetPoolBulkCreate allocates several subnets from one pool in one
// transaction: each sees the prefixes the earlier ones took.
func TestSubnetPoolBulkCreate(t *testing.T) {
	a := newTestAPI(t)
	pid := a.mkPool("p1", jsonObj{"prefixes": []string{"10.5.0.0/16"}, "default_prefixlen": 24})["id"].(string)
	var items []any
	for range 3 {
		items = append(items, jsonObj{"network_id": a.mkNetwork("p1", nil), "subnetpool_id": pid})
	}
	items = append(items, jsonObj{"network_id": a.mkNetwork("p1", nil), "subnetpool_id": pid, "prefixlen": 23})
	out := a.must(http.StatusCreated, "POST", "/v2.0/subnets", "p1", jsonObj{"subnets": items})["subnets"].([]any)
	var got []string
	for _, s := range out {
		got = append(got, s.(jsonObj)["cidr"].(string))
	}
	if want := []string{"10.5.0.0/24", "10.5.1.0/24", "10.5.2.0/24", "10.5.4.0/23"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("bulk cidrs %v, want %v", got, want)
	}
}
