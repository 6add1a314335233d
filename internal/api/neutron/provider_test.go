package neutron

import (
	"net/http"
	"testing"
)

// TestVLANRanges: with network_vlan_ranges configured, a vlan network
// without an id gets one of its physical network's ranges (of the first
// physical network with a free id when none is named), an id outside the
// ranges or on an unknown physical network is a 400, a taken one a 409, a
// full range a 409, and nothing is stored by a refused create. A flat
// physical network takes one network.
func TestVLANRanges(t *testing.T) {
	a := newTestAPI(t)
	var err error
	if a.api.cfg.VLANRanges, err = ParseVLANRanges("physnet1:100:102,physnet2,physnet3:7:7"); err != nil {
		t.Fatal(err)
	}
	create := func(body jsonObj) (int, jsonObj) {
		t.Helper()
		body["provider:network_type"] = "vlan"
		return a.call("POST", "/v2.0/networks", "", jsonObj{"network": body})
	}
	count := func() int {
		return len(a.must(http.StatusOK, "GET", "/v2.0/networks", "", nil)["networks"].([]any))
	}
	seen := map[float64]bool{}
	for range 3 {
		st, out := create(jsonObj{"provider:physical_network": "physnet1"})
		if st != http.StatusCreated {
			t.Fatalf("allocate on physnet1: %d %v", st, out)
		}
		n := out["network"].(jsonObj)
		seg := n["provider:segmentation_id"].(float64)
		if seg < 100 || seg > 102 || seen[seg] || n["provider:physical_network"] != "physnet1" {
			t.Fatalf("allocated %v on %v (seen %v)", seg, n["provider:physical_network"], seen)
		}
		seen[seg] = true
	}
	before := count()
	for _, c := range []struct {
		name   string
		body   jsonObj
		status int
		errTyp string
	}{
		{"physnet1 full", jsonObj{"provider:physical_network": "physnet1"}, http.StatusConflict, "NoNetworkAvailable"},
		{"taken id", jsonObj{"provider:physical_network": "physnet1", "provider:segmentation_id": 101}, http.StatusConflict, "VlanIdInUse"},
		{"outside the range", jsonObj{"provider:physical_network": "physnet1", "provider:segmentation_id": 250}, http.StatusBadRequest, "InvalidInput"},
		{"not a VLAN id", jsonObj{"provider:physical_network": "physnet2", "provider:segmentation_id": 4095}, http.StatusBadRequest, "InvalidInput"},
		{"unknown physnet", jsonObj{"provider:physical_network": "physnet9", "provider:segmentation_id": 5}, http.StatusBadRequest, "InvalidInput"},
		{"physnet without a range, no id", jsonObj{"provider:physical_network": "physnet2"}, http.StatusBadRequest, "InvalidInput"},
	} {
		st, out := create(c.body)
		if st != c.status || errType(out) != c.errTyp {
			t.Errorf("%s: %d %v, want %d %s", c.name, st, out, c.status, c.errTyp)
		}
	}
	if n := count(); n != before {
		t.Fatalf("refused creates stored networks: %d, want %d", n, before)
	}
	// Any id on a physical network listed without a range; no physical
	// network: the first with a free id of its ranges (physnet3's 7).
	if st, out := create(jsonObj{"provider:physical_network": "physnet2", "provider:segmentation_id": 4000}); st != http.StatusCreated {
		t.Fatalf("explicit id on physnet2: %d %v", st, out)
	}
	st, out := create(jsonObj{})
	if st != http.StatusCreated {
		t.Fatalf("no physical network: %d %v", st, out)
	}
	if n := out["network"].(jsonObj); n["provider:physical_network"] != "physnet3" || n["provider:segmentation_id"] != float64(7) {
		t.Fatalf("no physical network: got %v %v, want physnet3 7", n["provider:physical_network"], n["provider:segmentation_id"])
	}
	// Deleting a network frees its VLAN.
	id := out["network"].(jsonObj)["id"].(string)
	a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+id, "", nil)
	if st, out := create(jsonObj{"provider:physical_network": "physnet3", "provider:segmentation_id": 7}); st != http.StatusCreated {
		t.Fatalf("VLAN 7 after its network's delete: %d %v", st, out)
	}

	// One flat network per physical network, free again once deleted.
	flat := func() (int, jsonObj) {
		return a.call("POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{
			"provider:network_type": "flat", "provider:physical_network": "physnet5"}})
	}
	st, out = flat()
	if st != http.StatusCreated {
		t.Fatalf("flat: %d %v", st, out)
	}
	if st, out2 := flat(); st != http.StatusConflict || errType(out2) != "FlatNetworkInUse" {
		t.Fatalf("second flat on physnet5: %d %v, want 409 FlatNetworkInUse", st, out2)
	}
	a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+out["network"].(jsonObj)["id"].(string), "", nil)
	if st, out := flat(); st != http.StatusCreated {
		t.Fatalf("flat after delete: %d %v", st, out)
	}
}

func TestParseVLANRanges(t *testing.T) {
	r, err := ParseVLANRanges("physnet1:100:199, physnet2,physnet1:300:309")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.String(), "physnet1:100:199,physnet1:300:309,physnet2"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	for _, bad := range []string{"physnet1:0:10", "physnet1:10:4095", "physnet1:20:10", "physnet1:10", ":1:2", "p:a:b"} {
		if _, err := ParseVLANRanges(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
