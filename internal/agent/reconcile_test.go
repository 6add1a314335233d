package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// benchView is a chassis view with n ports on one network, half local.
func benchView(n int) *pipeline.View {
	v := &pipeline.View{Local: pipeline.LocalChassis{Name: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1"), GeneveOFPort: 1},
		Remote:   []pipeline.RemoteChassis{{Name: "ch2", TunnelIP: netip.MustParseAddr("192.0.2.2"), Encaps: []pipeline.Encap{pipeline.EncapGeneve}}},
		Networks: []pipeline.Network{{ID: "n", Key: 100, SegmentationID: 100, Type: "geneve", MTU: 1442}},
		Subnets:  []pipeline.Subnet{{ID: "s", NetworkID: "n", CIDR: netip.MustParsePrefix("10.0.0.0/16"), EnableDHCP: true}}}
	for i := 0; i < n; i++ {
		p := pipeline.Port{ID: fmt.Sprint("p", i), NetworkID: "n", Key: uint32(i + 10), PortSecurity: true,
			MAC: net.HardwareAddr{0xfa, 0x16, 0x3e, 0, byte(i >> 8), byte(i)},
			IPs: []netip.Addr{netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}, Chassis: "ch2"}
		if i%2 == 0 {
			p.Chassis, p.OFPort = "ch1", uint32(i+10)
		}
		v.Ports = append(v.Ports, p)
	}
	return v
}

// TestReconcilerAppliesOnlyChanges: one port more changes a handful of
// flows, not the table.
func TestReconcilerAppliesOnlyChanges(t *testing.T) {
	ctx := context.Background()
	sw := newFakeSwitch()
	r := newReconciler(sw, slog.New(slog.DiscardHandler))
	if err := r.start(ctx); err != nil {
		t.Fatal(err)
	}
	v := benchView(100)
	secs := pipeline.CompileSections(v, pipeline.Config{}, r.gen, nil)
	if err := r.apply(ctx, secs); err != nil {
		t.Fatal(err)
	}
	first := sw.bundles
	v.Ports = v.Ports[:99]
	secs = pipeline.CompileSections(v, pipeline.Config{}, r.gen, secs)
	add, mod, del, _, err := r.plan(secs)
	if err != nil {
		t.Fatal(err)
	}
	if len(add) != 0 || len(del) == 0 || len(del)+len(mod) > 20 {
		t.Fatalf("removing one port: add %d modify %d delete %d", len(add), len(mod), len(del))
	}
	if err := r.apply(ctx, secs); err != nil {
		t.Fatal(err)
	}
	if sw.bundles != first+1 {
		t.Fatalf("bundles %d, want %d", sw.bundles, first+1)
	}
	// Applying the same flows again sends nothing, whether the sections
	// are reused or compiled again.
	for _, prev := range [][]pipeline.Section{secs, nil} {
		secs = pipeline.CompileSections(v, pipeline.Config{}, r.gen, prev)
		if err := r.apply(ctx, secs); err != nil || sw.bundles != first+1 {
			t.Fatalf("idempotent apply sent a bundle (%d) or failed: %v", sw.bundles, err)
		}
	}
	checkSwitch(t, sw, r, pipeline.Compile(v, pipeline.Config{}, r.gen))
}

// checkSwitch compares the fake switch with the reconciler's index and
// with the flows wanted.
func checkSwitch(t *testing.T, sw *fakeSwitch, r *reconciler, want []ofp.Flow) {
	t.Helper()
	if got, n := len(sw.flows), len(r.installed); got != n {
		t.Fatalf("switch holds %d flows, reconciler thinks %d", got, n)
	}
	wantKeys := map[string]string{}
	for _, f := range want {
		k, text := f.KeyText()
		wantKeys[k] = text
	}
	if len(wantKeys) != len(sw.flows) {
		t.Fatalf("switch holds %d flows, want %d", len(sw.flows), len(wantKeys))
	}
	for k, text := range wantKeys {
		if got, ok := sw.flows[k]; !ok || got.String() != text {
			t.Fatalf("flow %s: switch holds %q, want %q", k, got.String(), text)
		}
	}
}

// TestReconcilerSectionsMoveFlows: a flow key passing from one section to
// another, and sections disappearing, leave exactly the wanted flows.
func TestReconcilerSectionsMoveFlows(t *testing.T) {
	ctx := context.Background()
	sw := newFakeSwitch()
	r := newReconciler(sw, slog.New(slog.DiscardHandler))
	if err := r.start(ctx); err != nil {
		t.Fatal(err)
	}
	flow := func(port uint32, out uint32) ofp.Flow {
		return ofp.Flow{Table: 7, Priority: 100, Cookie: pipeline.Cookie(pipeline.FeatureOutput, r.gen),
			Match: []ofp.Field{ofp.InPort(port)}, Actions: []ofp.Action{ofp.Output{Port: out}}}
	}
	steps := [][]pipeline.Section{
		{{ID: "a", Hash: 1, Flows: []ofp.Flow{flow(1, 1), flow(2, 2)}}, {ID: "b", Hash: 1, Flows: []ofp.Flow{flow(3, 3)}}},
		// flow 2 moves from a to b (b is later: it wins either way)
		{{ID: "a", Hash: 2, Flows: []ofp.Flow{flow(1, 1)}}, {ID: "b", Hash: 2, Flows: []ofp.Flow{flow(3, 3), flow(2, 2)}}},
		// and back, with other actions, b compiled first
		{{ID: "b", Hash: 3, Flows: []ofp.Flow{flow(3, 3)}}, {ID: "a", Hash: 3, Flows: []ofp.Flow{flow(1, 1), flow(2, 9)}}},
		// b disappears; a unchanged
		{{ID: "a", Hash: 3, Flows: []ofp.Flow{flow(1, 1), flow(2, 9)}}},
		// c takes a's flows while a is gone
		{{ID: "c", Hash: 1, Flows: []ofp.Flow{flow(1, 1), flow(2, 9), flow(4, 4)}}},
	}
	for i, secs := range steps {
		if err := r.apply(ctx, secs); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint("step", i), func(t *testing.T) { checkSwitch(t, sw, r, pipeline.Flatten(secs)) })
	}
}

// BenchmarkReconcile1000Ports is the agent's cost per change at 1,000
// ports, one port changing: compile the view from the previous sections
// and plan the changes against what is installed.
func BenchmarkReconcile1000Ports(b *testing.B) {
	v := benchView(1000)
	r := newReconciler(newFakeSwitch(), slog.New(slog.DiscardHandler))
	prev := pipeline.CompileSections(v, pipeline.Config{}, 1, nil)
	_, _, _, commit, _ := r.plan(prev)
	commit()
	r.synced = true
	v.Ports[0].IPs = append(v.Ports[0].IPs, netip.MustParseAddr("10.0.200.1"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, _, _, _ = r.plan(pipeline.CompileSections(v, pipeline.Config{}, 1, prev))
	}
}
