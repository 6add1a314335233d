package neutron

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Networks of every type, with segmentation ids at both ends of their
// ranges and equal across types (geneve 100, vxlan 100, vlan 100; vxlan
// ids above 61440, where the old derivation hit the router NAT zones),
// and routers, all get distinct conntrack zones in the pool. The zones
// are not shown by the API and are freed on delete.
func TestConntrackZonesUnique(t *testing.T) {
	a := newTestAPI(t)
	type netReq struct {
		typ, phys string
		seg       int
	}
	reqs := []netReq{
		{"geneve", "", 1}, {"geneve", "", 100}, {"geneve", "", 1<<24 - 1}, {"geneve", "", 61441},
		{"vxlan", "", 1}, {"vxlan", "", 100}, {"vxlan", "", 61440}, {"vxlan", "", 61441}, {"vxlan", "", 65535}, {"vxlan", "", 1<<24 - 1},
		{"vlan", "physnet1", 1}, {"vlan", "physnet1", 100}, {"vlan", "physnet1", 4094}, {"vlan", "physnet2", 100},
		{"flat", "physnet3", 0}, {"flat", "physnet4", 0},
	}
	zones := map[int]string{}
	use := func(what string, z int) {
		t.Helper()
		if z < pipeline.ZoneMin || z > pipeline.ZoneMax {
			t.Fatalf("%s: zone %d outside %d..%d", what, z, pipeline.ZoneMin, pipeline.ZoneMax)
		}
		if other, ok := zones[z]; ok {
			t.Fatalf("%s: zone %d already held by %s", what, z, other)
		}
		zones[z] = what
	}
	var netIDs []string
	for _, r := range reqs {
		body := jsonObj{"provider:network_type": r.typ}
		if r.phys != "" {
			body["provider:physical_network"] = r.phys
		}
		if r.seg != 0 {
			body["provider:segmentation_id"] = r.seg
		}
		n := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": body})["network"].(jsonObj)
		if _, shown := n["wyvern:ct_zone"]; shown {
			t.Errorf("%s %d: the API shows the conntrack zone", r.typ, r.seg)
		}
		id := n["id"].(string)
		netIDs = append(netIDs, id)
		var rec model.Network
		if _, err := a.st.Get(context.Background(), store.NetworkKey(id), &rec); err != nil {
			t.Fatalf("network %s: %v", id, err)
		}
		use(r.typ+" "+id, rec.CTZone)
	}
	var routerIDs []string
	for range 3 {
		r := a.must(http.StatusCreated, "POST", "/v2.0/routers", "", jsonObj{"router": jsonObj{"name": "r"}})["router"].(jsonObj)
		id := r["id"].(string)
		routerIDs = append(routerIDs, id)
		var rec model.RouterRecord
		if _, err := a.st.Get(context.Background(), store.ObjectKey(store.KindRouters, id), &rec); err != nil {
			t.Fatalf("router %s: %v", id, err)
		}
		use("router "+id, rec.CTZone)
	}
	// Updates keep the zone.
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+routerIDs[0], "", jsonObj{"router": jsonObj{"name": "r2"}})
	var rec model.RouterRecord
	if _, err := a.st.Get(context.Background(), store.ObjectKey(store.KindRouters, routerIDs[0]), &rec); err != nil || zones[rec.CTZone] != "router "+routerIDs[0] {
		t.Errorf("router zone after update: %d (%v)", rec.CTZone, err)
	}
	for _, id := range netIDs {
		a.must(http.StatusNoContent, "DELETE", "/v2.0/networks/"+id, "", nil)
	}
	for _, id := range routerIDs {
		a.must(http.StatusNoContent, "DELETE", "/v2.0/routers/"+id, "", nil)
	}
	for z, owner := range zones {
		if _, err := a.st.Get(context.Background(), ctZoneKey(z), nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("zone %d of %s not freed (%v)", z, owner, err)
		}
	}
}

// Records stored before zones were allocated get one when a server
// starts (AllocateMissingCTZones), distinct from those already held, once.
func TestAllocateMissingCTZones(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	n := a.must(http.StatusCreated, "POST", "/v2.0/networks", "", jsonObj{"network": jsonObj{"name": "new"}})["network"].(jsonObj)
	var fresh model.Network
	if _, err := a.st.Get(ctx, store.NetworkKey(n["id"].(string)), &fresh); err != nil {
		t.Fatal(err)
	}
	err := a.st.Txn(ctx, func(tx *store.Tx) error {
		old := model.Network{Standard: model.Standard{ID: "old-net"}, NetworkType: "geneve", SegmentationID: 7}
		if err := tx.Put(store.NetworkKey(old.ID), old); err != nil {
			return err
		}
		r := model.RouterRecord{Router: model.Router{Standard: model.Standard{ID: "old-router"}}}
		return tx.Put(routerKey(r.ID), r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.api.AllocateMissingCTZones(ctx); err != nil || got != 2 {
		t.Fatalf("allocated %d (%v), want 2", got, err)
	}
	var net model.Network
	var r model.RouterRecord
	if _, err := a.st.Get(ctx, store.NetworkKey("old-net"), &net); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.Get(ctx, routerKey("old-router"), &r); err != nil {
		t.Fatal(err)
	}
	zones := map[int]bool{fresh.CTZone: true, net.CTZone: true, r.CTZone: true}
	if len(zones) != 3 || zones[0] || net.SegmentationID != 7 {
		t.Errorf("zones %d, %d, %d: want three distinct non-zero ones; network %+v", fresh.CTZone, net.CTZone, r.CTZone, net)
	}
	if got, err := a.api.AllocateMissingCTZones(ctx); err != nil || got != 0 {
		t.Errorf("second run allocated %d (%v), want 0", got, err)
	}
}
