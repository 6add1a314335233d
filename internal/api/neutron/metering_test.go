package neutron

import (
	"context"
	"net/http"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

func TestMeteringLabelsAndRules(t *testing.T) {
	a := newTestAPI(t)
	const labels, rules = "/v2.0/metering/metering-labels", "/v2.0/metering/metering-label-rules"

	// Neutron's policy: metering is an admin's.
	a.wantErr(http.StatusForbidden, "", "create_metering_label", "POST", labels, "p1", jsonObj{"metering_label": jsonObj{"name": "x"}})
	l := a.must(http.StatusCreated, "POST", labels, "", jsonObj{"metering_label": jsonObj{
		"name": "web", "description": "out", "project_id": "p1"}})["metering_label"].(jsonObj)
	id := l["id"].(string)
	if l["shared"] != false || l["project_id"] != "p1" || l["tenant_id"] != "p1" || l["name"] != "web" || l["description"] != "out" {
		t.Fatalf("created %v", l)
	}
	for _, k := range []string{"wyvern:key", "revision_number", "tags"} {
		if _, ok := l[k]; ok {
			t.Fatalf("label shows %s: %v", k, l)
		}
	}
	// Not even the label's own project sees it.
	a.wantErr(http.StatusNotFound, "MeteringLabelNotFound", "", "GET", labels+"/"+id, "p1", nil)
	a.wantErr(http.StatusNotFound, "MeteringLabelNotFound", "", "DELETE", labels+"/"+id, "p1", nil)
	if ls := a.must(http.StatusOK, "GET", labels, "p1", nil)["metering_labels"].([]any); len(ls) != 0 {
		t.Fatalf("member lists %v", ls)
	}
	a.wantErr(http.StatusBadRequest, "", "read-only", "PUT", labels+"/"+id, "", jsonObj{"metering_label": jsonObj{"name": "y"}})
	a.wantErr(http.StatusBadRequest, "", "Unrecognized", "POST", labels, "", jsonObj{"metering_label": jsonObj{"colour": "red"}})
	shared := a.must(http.StatusCreated, "POST", labels, "", jsonObj{"metering_label": jsonObj{"name": "all", "shared": true}})["metering_label"].(jsonObj)
	if shared["shared"] != true {
		t.Fatalf("shared %v", shared)
	}

	rule := func(body jsonObj) jsonObj { return jsonObj{"metering_label_rule": body} }
	a.wantErr(http.StatusForbidden, "", "create_metering_label_rule", "POST", rules, "p1",
		rule(jsonObj{"metering_label_id": id, "direction": "egress", "remote_ip_prefix": "0.0.0.0/0"}))
	r1 := a.must(http.StatusCreated, "POST", rules, "", rule(jsonObj{
		"metering_label_id": id, "direction": "egress", "remote_ip_prefix": "203.0.113.0/24"}))["metering_label_rule"].(jsonObj)
	if r1["excluded"] != false || r1["direction"] != "egress" || r1["remote_ip_prefix"] != "203.0.113.0/24" || r1["metering_label_id"] != id {
		t.Fatalf("rule %v", r1)
	}
	// Overlaps within a label, direction and excluded are refused; an
	// excluded rule, another direction or another label may overlap.
	a.wantErr(http.StatusConflict, "MeteringLabelRuleOverlaps", "overlaps", "POST", rules, "",
		rule(jsonObj{"metering_label_id": id, "direction": "egress", "remote_ip_prefix": "203.0.113.128/25"}))
	a.must(http.StatusCreated, "POST", rules, "", rule(jsonObj{"metering_label_id": id, "direction": "egress", "remote_ip_prefix": "203.0.113.7/32", "excluded": true}))
	a.must(http.StatusCreated, "POST", rules, "", rule(jsonObj{"metering_label_id": id, "direction": "ingress", "remote_ip_prefix": "203.0.113.0/24"}))
	a.must(http.StatusCreated, "POST", rules, "", rule(jsonObj{"metering_label_id": shared["id"], "direction": "egress", "remote_ip_prefix": "0.0.0.0/0"}))

	for _, c := range []struct {
		body      jsonObj
		status    int
		typ, text string
	}{
		{jsonObj{"direction": "egress", "remote_ip_prefix": "10.0.0.0/8"}, http.StatusBadRequest, "", "metering_label_id"},
		{jsonObj{"metering_label_id": "nope", "direction": "egress", "remote_ip_prefix": "10.0.0.0/8"}, http.StatusBadRequest, "", "UUID"},
		{jsonObj{"metering_label_id": "6f0c4b2e-7a43-4a55-9d1c-0b5a4a1d2c3e", "direction": "egress", "remote_ip_prefix": "10.0.0.0/8"}, http.StatusNotFound, "MeteringLabelNotFound", "does not exist"},
		{jsonObj{"metering_label_id": id, "remote_ip_prefix": "10.0.0.0/8"}, http.StatusBadRequest, "", "direction"},
		{jsonObj{"metering_label_id": id, "direction": "sideways", "remote_ip_prefix": "10.0.0.0/8"}, http.StatusBadRequest, "", "sideways"},
		{jsonObj{"metering_label_id": id, "direction": "egress"}, http.StatusBadRequest, "Invalid", "at least one"},
		{jsonObj{"metering_label_id": id, "direction": "egress", "remote_ip_prefix": ""}, http.StatusBadRequest, "Invalid", "at least one"},
		{jsonObj{"metering_label_id": id, "direction": "egress", "remote_ip_prefix": "10.0.0.1"}, http.StatusBadRequest, "", "10.0.0.1/32"},
		{jsonObj{"metering_label_id": id, "direction": "egress", "remote_ip_prefix": "banana"}, http.StatusBadRequest, "", "not a valid IP subnet"},
		{jsonObj{"metering_label_id": id, "direction": "egress", "remote_ip_prefix": "10.0.0.0/8", "excluded": "maybe"}, http.StatusBadRequest, "", "boolean"},
		{jsonObj{"metering_label_id": id, "direction": "egress", "remote_ip_prefix": "10.0.0.0/8", "source_ip_prefix": "10.0.0.0/8"}, http.StatusBadRequest, "Invalid", "in conjunction"},
		{jsonObj{"metering_label_id": id, "direction": "egress", "destination_ip_prefix": "10.0.0.300"}, http.StatusBadRequest, "Invalid", "destination_ip_prefix: 10.0.0.300 is invalid"},
		{jsonObj{"metering_label_id": id, "direction": "egress", "colour": "red", "source_ip_prefix": "10.0.0.0/8"}, http.StatusBadRequest, "", "Unrecognized"},
	} {
		a.wantErr(c.status, c.typ, c.text, "POST", rules, "", rule(c.body))
	}
	// Source and destination (metering_source_and_destination_fields):
	// no overlap check, as in Neutron; an address is a host prefix.
	sd := a.must(http.StatusCreated, "POST", rules, "", rule(jsonObj{"metering_label_id": id, "direction": "egress",
		"source_ip_prefix": "10.1.0.0/24", "destination_ip_prefix": "203.0.113.9"}))["metering_label_rule"].(jsonObj)
	if sd["remote_ip_prefix"] != nil || sd["source_ip_prefix"] != "10.1.0.0/24" || sd["destination_ip_prefix"] != "203.0.113.9" {
		t.Fatalf("source/destination rule %v", sd)
	}
	a.must(http.StatusCreated, "POST", rules, "", rule(jsonObj{"metering_label_id": id, "direction": "egress", "source_ip_prefix": "10.1.0.0/25"}))
	// IPv6, as tempest's IPv6 metering tests create it (it counts the IPv6
	// routed through a gateway).
	a.must(http.StatusCreated, "POST", rules, "", rule(jsonObj{"metering_label_id": id, "direction": "ingress", "remote_ip_prefix": "fd02::/64"}))
	if r1["source_ip_prefix"] != nil || r1["destination_ip_prefix"] != nil {
		t.Fatalf("remote rule shows %v", r1)
	}
	if rs := a.must(http.StatusOK, "GET", rules+"?metering_label_id="+id, "", nil)["metering_label_rules"].([]any); len(rs) != 6 {
		t.Fatalf("label's rules: %v", rs)
	}
	if rs := a.must(http.StatusOK, "GET", rules+"?direction=egress&excluded=true", "", nil)["metering_label_rules"].([]any); len(rs) != 1 {
		t.Fatalf("excluded egress rules: %v", rs)
	}
	if rs := a.must(http.StatusOK, "GET", rules, "p1", nil)["metering_label_rules"].([]any); len(rs) != 0 {
		t.Fatalf("member lists %v", rs)
	}
	a.wantErr(http.StatusNotFound, "MeteringLabelRuleNotFound", "", "GET", rules+"/"+r1["id"].(string), "p1", nil)
	a.wantErr(http.StatusBadRequest, "", "read-only", "PUT", rules+"/"+r1["id"].(string), "", rule(jsonObj{"excluded": true}))
	a.must(http.StatusOK, "GET", rules+"/"+r1["id"].(string), "", nil)
	a.must(http.StatusNoContent, "DELETE", rules+"/"+r1["id"].(string), "", nil)
	a.wantErr(http.StatusNotFound, "MeteringLabelRuleNotFound", "", "GET", rules+"/"+r1["id"].(string), "", nil)

	// Stored with datapath keys, one claim each; deleting the label takes
	// its rules and their keys with it.
	ctx := context.Background()
	kvs, _, err := a.st.List(ctx, store.Prefix+"metering_keys/")
	if err != nil || len(kvs) != 2+6 {
		t.Fatalf("metering keys: %d, %v", len(kvs), err)
	}
	a.must(http.StatusNoContent, "DELETE", labels+"/"+id, "", nil)
	left, _, err := store.ListOf[model.MeteringLabelRule](ctx, a.st, store.KindPrefix(store.KindMeteringRules))
	if err != nil || len(left) != 1 || left[0].MeteringLabelID != shared["id"] || left[0].Key == 0 {
		t.Fatalf("rules left: %+v, %v", left, err)
	}
	if kvs, _, _ := a.st.List(ctx, store.Prefix+"metering_keys/"); len(kvs) != 2 {
		t.Fatalf("metering keys after delete: %d", len(kvs))
	}
	a.wantErr(http.StatusNotFound, "MeteringLabelNotFound", "", "GET", labels+"/"+id, "", nil)
	exts := a.must(http.StatusOK, "GET", "/v2.0/extensions/metering", "", nil)
	if exts["extension"].(jsonObj)["alias"] != "metering" {
		t.Fatalf("extension %v", exts)
	}
}

func TestMeteringCounters(t *testing.T) {
	a := newTestAPI(t)
	l := a.must(http.StatusCreated, "POST", "/v2.0/metering/metering-labels", "", jsonObj{"metering_label": jsonObj{"name": "out"}})["metering_label"].(jsonObj)
	r := a.must(http.StatusCreated, "POST", "/v2.0/metering/metering-label-rules", "", jsonObj{"metering_label_rule": jsonObj{
		"metering_label_id": l["id"], "direction": "egress", "remote_ip_prefix": "0.0.0.0/0"}})["metering_label_rule"].(jsonObj)
	ctx := context.Background()
	for ch, n := range map[string]uint64{"ch1": 3, "ch2": 4} {
		c := model.MeteringCounters{Rules: map[string]model.MeteringCounter{
			r["id"].(string): {LabelID: l["id"].(string), Packets: n, Bytes: 100 * n},
			"gone":           {LabelID: "gone", Packets: 1, Bytes: 1}}}
		if err := a.st.Txn(ctx, func(tx *store.Tx) error { return tx.Put(store.MeteringCountersKey(ch), c) }); err != nil {
			t.Fatal(err)
		}
	}
	a.wantErr(http.StatusForbidden, "", "", "GET", "/v2.0/metering/counters", "p1", nil)
	cs := a.must(http.StatusOK, "GET", "/v2.0/metering/counters", "", nil)["metering_counters"].([]any)
	if len(cs) != 1 {
		t.Fatalf("counters %v", cs)
	}
	c := cs[0].(jsonObj)
	if c["packets"].(float64) != 7 || c["bytes"].(float64) != 700 || c["metering_label_name"] != "out" ||
		c["chassis"].(jsonObj)["ch2"].(jsonObj)["packets"].(float64) != 4 {
		t.Fatalf("counter %v", c)
	}
}

// tempest's MeteringTestJSON and MeteringIpV6TestJSON, call for call.
func TestTempestMetering(t *testing.T) {
	a := newTestAPI(t)
	const labels, rules = "/v2.0/metering/metering-labels", "/v2.0/metering/metering-label-rules"
	for _, prefixes := range [][2]string{{"10.0.0.0/24", "10.0.1.0/24"}, {"fd02::/64", "fd03::/64"}} {
		l := a.must(http.StatusCreated, "POST", labels, "", jsonObj{"metering_label": jsonObj{
			"name": "metering-label", "description": "metering label created by tempest"}})["metering_label"].(jsonObj)
		r := a.must(http.StatusCreated, "POST", rules, "", jsonObj{"metering_label_rule": jsonObj{
			"remote_ip_prefix": prefixes[0], "direction": "ingress", "metering_label_id": l["id"]}})["metering_label_rule"].(jsonObj)
		if ls := a.must(http.StatusOK, "GET", labels+"?id=33", "", nil)["metering_labels"].([]any); len(ls) != 0 {
			t.Fatalf("labels with id 33: %v", ls)
		}
		if ls := a.must(http.StatusOK, "GET", labels+"?id="+l["id"].(string), "", nil)["metering_labels"].([]any); len(ls) != 1 {
			t.Fatalf("labels by id: %v", ls)
		}
		got := a.must(http.StatusOK, "GET", labels+"/"+l["id"].(string), "", nil)["metering_label"].(jsonObj)
		for _, k := range []string{"id", "tenant_id", "name", "description"} {
			if got[k] != l[k] {
				t.Errorf("label show %s: %v, created %v", k, got[k], l[k])
			}
		}
		if rs := a.must(http.StatusOK, "GET", rules+"?id=33", "", nil)["metering_label_rules"].([]any); len(rs) != 0 {
			t.Fatalf("rules with id 33: %v", rs)
		}
		r2 := a.must(http.StatusCreated, "POST", rules, "", jsonObj{"metering_label_rule": jsonObj{
			"remote_ip_prefix": prefixes[1], "direction": "ingress", "metering_label_id": l["id"]}})["metering_label_rule"].(jsonObj)
		if rs := a.must(http.StatusOK, "GET", rules+"?id="+r2["id"].(string), "", nil)["metering_label_rules"].([]any); len(rs) != 1 {
			t.Fatalf("rules by id: %v", rs)
		}
		a.must(http.StatusNoContent, "DELETE", rules+"/"+r2["id"].(string), "", nil)
		if rs := a.must(http.StatusOK, "GET", rules+"?id="+r2["id"].(string), "", nil)["metering_label_rules"].([]any); len(rs) != 0 {
			t.Fatalf("deleted rule listed: %v", rs)
		}
		gr := a.must(http.StatusOK, "GET", rules+"/"+r["id"].(string), "", nil)["metering_label_rule"].(jsonObj)
		for _, k := range []string{"id", "remote_ip_prefix", "direction", "metering_label_id"} {
			if gr[k] != r[k] {
				t.Errorf("rule show %s: %v, created %v", k, gr[k], r[k])
			}
		}
		if gr["excluded"] != false {
			t.Errorf("rule excluded: %v", gr["excluded"])
		}
		a.must(http.StatusNoContent, "DELETE", labels+"/"+l["id"].(string), "", nil)
		if ls := a.must(http.StatusOK, "GET", labels+"?id="+l["id"].(string), "", nil)["metering_labels"].([]any); len(ls) != 0 {
			t.Fatalf("deleted label listed: %v", ls)
		}
	}
}
