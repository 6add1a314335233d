package logical

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

func TestAddMetering(t *testing.T) {
	router := func(id, project string) *model.RouterRecord {
		r := &model.RouterRecord{}
		r.ID, r.ProjectID = id, project
		return r
	}
	label := func(id, project string, key int, shared bool) *model.MeteringLabel {
		l := &model.MeteringLabel{Shared: shared, Key: key}
		l.ID, l.ProjectID = id, project
		return l
	}
	rule := func(id, label, dir, prefix string, key int, excluded bool) *model.MeteringLabelRule {
		r := &model.MeteringLabelRule{MeteringLabelID: label, Direction: dir, RemoteIPPrefix: prefix, Key: key, Excluded: excluded}
		r.ID = id
		return r
	}
	in := &Inputs{
		Routers: map[string]*model.RouterRecord{"ra": router("ra", "p1"), "rb": router("rb", "p2"), "rc": router("rc", "p1")},
		MeteringLabels: map[string]*model.MeteringLabel{
			"mine":   label("mine", "p1", 5, false),
			"all":    label("all", "p9", 6, true),
			"nokey":  label("nokey", "p1", 0, false),
			"norule": label("norule", "p1", 8, false),
			"p3":     label("p3", "p3", 9, false),
		},
		MeteringRules: map[string]*model.MeteringLabelRule{
			"m1": rule("m1", "mine", "egress", "0.0.0.0/0", 51, false),
			"m2": rule("m2", "mine", "egress", "203.0.113.7/32", 52, true),
			"a1": rule("a1", "all", "ingress", "198.51.100.0/24", 61, false),
			"k0": rule("k0", "nokey", "ingress", "198.51.100.0/24", 0, false),
			"n1": rule("n1", "nokey", "ingress", "198.51.100.0/24", 71, false),
			"p1": rule("p1", "p3", "ingress", "198.51.100.0/24", 91, false),
			"m3": {Standard: model.Standard{ID: "m3"}, MeteringLabelID: "mine", Direction: "ingress",
				SourceIPPrefix: "198.51.100.0/24", DestinationIPPrefix: "10.0.0.5", Key: 53},
		},
	}
	// rc is not in the view: no label names it.
	v := &pipeline.View{Routers: []pipeline.Router{{ID: "ra"}, {ID: "rb"}}}
	in.addMetering(v)
	want := []pipeline.MeteringLabel{
		{ID: "all", Key: 6, Routers: []string{"ra", "rb"}, Rules: []pipeline.MeteringRule{
			{ID: "a1", Key: 61, Direction: pipeline.Ingress, Prefix: netip.MustParsePrefix("198.51.100.0/24")}}},
		{ID: "mine", Key: 5, Routers: []string{"ra"}, Rules: []pipeline.MeteringRule{
			{ID: "m1", Key: 51, Direction: pipeline.Egress, Prefix: netip.MustParsePrefix("0.0.0.0/0")},
			{ID: "m2", Key: 52, Direction: pipeline.Egress, Prefix: netip.MustParsePrefix("203.0.113.7/32"), Excluded: true},
			{ID: "m3", Key: 53, Direction: pipeline.Ingress, Source: netip.MustParsePrefix("198.51.100.0/24"),
				Destination: netip.MustParsePrefix("10.0.0.5/32")}}},
	}
	if !reflect.DeepEqual(v.Metering, want) {
		t.Fatalf("metering:\n got %+v\nwant %+v", v.Metering, want)
	}
}
