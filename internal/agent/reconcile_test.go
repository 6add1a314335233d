package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"

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
	sw := newFakeSwitch()
	r := newReconciler(sw, slog.New(slog.DiscardHandler))
	if err := r.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := benchView(100)
	if err := r.apply(context.Background(), pipeline.Compile(v, pipeline.Config{}, r.gen)); err != nil {
		t.Fatal(err)
	}
	first := sw.bundles
	v.Ports = v.Ports[:99]
	add, mod, del, _ := r.diff(pipeline.Compile(v, pipeline.Config{}, r.gen))
	if len(add) != 0 || len(del) == 0 || len(del)+len(mod) > 20 {
		t.Fatalf("removing one port: add %d modify %d delete %d", len(add), len(mod), len(del))
	}
	if err := r.apply(context.Background(), pipeline.Compile(v, pipeline.Config{}, r.gen)); err != nil {
		t.Fatal(err)
	}
	if sw.bundles != first+1 {
		t.Fatalf("bundles %d, want %d", sw.bundles, first+1)
	}
	// Applying the same flows again sends nothing.
	if err := r.apply(context.Background(), pipeline.Compile(v, pipeline.Config{}, r.gen)); err != nil || sw.bundles != first+1 {
		t.Fatalf("idempotent apply sent a bundle (%d) or failed: %v", sw.bundles, err)
	}
	if got, want := len(sw.flows), len(r.installed); got != want {
		t.Fatalf("switch holds %d flows, reconciler thinks %d", got, want)
	}
}

// BenchmarkReconcile1000Ports is the agent's cost per change at 1,000
// ports: compile the view and diff it against what is installed.
func BenchmarkReconcile1000Ports(b *testing.B) {
	v := benchView(1000)
	r := newReconciler(newFakeSwitch(), slog.New(slog.DiscardHandler))
	_, _, _, r.installed = r.diff(pipeline.Compile(v, pipeline.Config{}, 1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, _, _ = r.diff(pipeline.Compile(v, pipeline.Config{}, 1))
	}
}
