package agent

import (
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

func TestMeterTotals(t *testing.T) {
	cookie := func(key uint16, gen uint32) uint64 {
		return pipeline.Cookie(pipeline.FeatureMetering, gen) | uint64(key)<<32
	}
	keys := map[uint16]meterRule{
		5: {id: "r5", label: "l1", direction: "egress"},
		6: {id: "r6", label: "l1", direction: "ingress"},
	}
	tt := &meterTotals{totals: map[string]model.MeteringCounter{}}
	read := func(stats ...ovs.FlowStat) map[meterRule]meterCounter { return tt.add(stats, keys) }
	grew := read(ovs.FlowStat{Cookie: cookie(5, 1), Packets: 10, Bytes: 1000},
		ovs.FlowStat{Cookie: cookie(6, 1)},
		ovs.FlowStat{Cookie: cookie(9, 1), Packets: 3, Bytes: 3},                           // no such rule
		ovs.FlowStat{Cookie: pipeline.Cookie(pipeline.FeatureL3, 1), Packets: 7, Bytes: 7}) // not a counting flow
	if len(grew) != 1 || grew[keys[5]] != (meterCounter{10, 1000}) {
		t.Fatalf("first reading grew %v", grew)
	}
	// Counters go on: the difference is added.
	read(ovs.FlowStat{Cookie: cookie(5, 1), Packets: 15, Bytes: 1500}, ovs.FlowStat{Cookie: cookie(6, 1), Packets: 1, Bytes: 60})
	// The flow was replaced (its counters restarted): its new count adds.
	grew = read(ovs.FlowStat{Cookie: cookie(5, 1), Packets: 2, Bytes: 200}, ovs.FlowStat{Cookie: cookie(6, 1), Packets: 1, Bytes: 60})
	if len(grew) != 1 || grew[keys[5]] != (meterCounter{2, 200}) {
		t.Fatalf("after a restart grew %v", grew)
	}
	if got := tt.totals["r5"]; got.Packets != 17 || got.Bytes != 1700 || got.LabelID != "l1" {
		t.Fatalf("r5 total %+v", got)
	}
	if got := tt.totals["r6"]; got.Packets != 1 || got.Bytes != 60 {
		t.Fatalf("r6 total %+v", got)
	}
	// Rule 6 deleted: its totals go.
	delete(keys, 6)
	if gone := tt.prune(keys); len(gone) != 1 || gone[0] != (meterRule{id: "r6", label: "l1", direction: "ingress"}) {
		t.Fatalf("pruned %v", gone)
	}
	if _, ok := tt.totals["r6"]; ok || len(tt.totals) != 1 {
		t.Fatalf("totals after prune: %v", tt.totals)
	}
}
