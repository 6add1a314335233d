package pipeline

import (
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

func TestDiff(t *testing.T) {
	flow := func(prio uint16, port uint32, out uint32, cookie uint64) ofp.Flow {
		return ofp.Flow{Table: 6, Priority: prio, Cookie: cookie,
			Match: []ofp.Field{OutPortField.Match(port)}, Actions: []ofp.Action{ofp.Output{Port: out}}}
	}
	c1, c2 := Cookie(FeatureOutput, 1), Cookie(FeatureOutput, 2)
	installed := []ofp.Flow{
		flow(100, 1, 1, c1), // kept
		flow(100, 2, 2, c1), // new cookie
		flow(100, 3, 3, c1), // new actions
		flow(100, 4, 4, c1), // deleted
		flow(90, 5, 5, c1),  // deleted: priority is part of the key
	}
	desired := []ofp.Flow{
		flow(100, 5, 5, c1), // added
		flow(100, 3, 30, c1),
		flow(100, 2, 2, c2),
		flow(100, 1, 1, c1),
	}
	add, modify, del := Diff(installed, desired)
	check := func(name string, got []ofp.Flow, want ...ofp.Flow) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: got %d flows, want %d:\n%s", name, len(got), len(want), ofp.Text(got))
			return
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Errorf("%s[%d]: got %s (cookie %#x), want %s (cookie %#x)", name, i, got[i], got[i].Cookie, want[i], want[i].Cookie)
			}
		}
	}
	check("add", add, flow(100, 5, 5, c1))
	check("modify", modify, flow(100, 2, 2, c2), flow(100, 3, 30, c1))
	check("del", del, flow(100, 4, 4, c1), flow(90, 5, 5, c1))

	// Match order does not matter for the key.
	a := ofp.Flow{Table: 1, Priority: 5, Match: []ofp.Field{ofp.Reg(5, 1), ofp.EthType(ofp.EthTypeARP)}}
	b := ofp.Flow{Table: 1, Priority: 5, Match: []ofp.Field{ofp.EthType(ofp.EthTypeARP), ofp.Reg(5, 1)}}
	if add, modify, del := Diff([]ofp.Flow{a}, []ofp.Flow{b}); len(add)+len(modify)+len(del) != 0 {
		t.Errorf("reordered match seen as a change: %v %v %v", add, modify, del)
	}
}

func TestDiffConverges(t *testing.T) {
	old := Compile(oneChassisOneNetwork(), testCfg, 1)
	newer := Compile(twoChassisTwoNetworks(), testCfg, 2)
	add, modify, del := Diff(old, newer)
	// Apply the diff to a key-indexed table and compare with desired.
	table := map[string]ofp.Flow{}
	for _, f := range old {
		table[f.Key()] = f
	}
	for _, f := range del {
		delete(table, f.Key())
	}
	for _, f := range append(add, modify...) {
		table[f.Key()] = f
	}
	if len(table) != len(newer) {
		t.Fatalf("after applying the diff: %d flows, want %d", len(table), len(newer))
	}
	for _, f := range newer {
		if g, ok := table[f.Key()]; !ok || !g.Equal(f) {
			t.Errorf("flow %s not converged", f)
		}
	}
	// Same generation, same view: nothing to do; new generation: every flow
	// is a modify (cookie), none added or deleted.
	if a, m, d := Diff(newer, Compile(twoChassisTwoNetworks(), testCfg, 2)); len(a)+len(m)+len(d) != 0 {
		t.Errorf("identical compile gives a diff: %d %d %d", len(a), len(m), len(d))
	}
	a, m, d := Diff(newer, Compile(twoChassisTwoNetworks(), testCfg, 3))
	if len(a) != 0 || len(d) != 0 || len(m) != len(newer) {
		t.Errorf("generation bump: add %d modify %d del %d, want 0 %d 0", len(a), len(m), len(d), len(newer))
	}
}

func BenchmarkDiff1000Ports(b *testing.B) {
	old := Compile(bigView(1000), testCfg, 1)
	v := bigView(1000)
	v.Ports = v.Ports[1:]
	desired := Compile(v, testCfg, 1)
	b.ReportAllocs()
	for b.Loop() {
		Diff(old, desired)
	}
}
