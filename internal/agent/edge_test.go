package agent

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// An edge-mode chassis tunnels to the edge with the encapsulations every
// registered gateway has, learned from their registrations; it keeps the
// last it learned when none is registered, and the operator's
// --edge-encaps overrides them.
func TestEdgeEncapsLearned(t *testing.T) {
	cfg := Config{Chassis: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1"), FIPMode: model.FIPModeEdge,
		EdgeEndpoint: netip.MustParseAddr("192.0.2.250")}
	a, err := New(cfg, nil, newFakeSwitch(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.cfg.learnsEdgeEncaps() || a.edgeEncaps() != nil {
		t.Fatalf("learns %v, encaps %v before any registration", a.cfg.learnsEdgeEncaps(), a.edgeEncaps())
	}
	kv := func(name, encaps string) store.KV {
		return store.KV{Key: store.EdgeGatewayKey(name), Value: []byte(`{"name":"` + name + `","pool":"general","encaps":[` + encaps + `]}`)}
	}
	want := func(step string, changed, gotChanged bool, encaps ...pipeline.Encap) {
		t.Helper()
		if gotChanged != changed || !slices.Equal(a.edgeEncaps(), encaps) {
			t.Fatalf("%s: changed %v, encaps %v; want %v, %v", step, gotChanged, a.edgeEncaps(), changed, encaps)
		}
	}
	// The listing: one gateway with both, one with VXLAN only.
	ch := a.handleGateways(kvEvent{Tag: watchGateways, Reset: true, KVs: []store.KV{kv("gw1", `"geneve","vxlan"`), kv("gw2", `"vxlan"`)}})
	want("listing", true, ch, pipeline.EncapVXLAN)
	if !a.state.gatewaysReady {
		t.Fatal("not ready after the listing")
	}
	ch = a.handleGateways(kvEvent{Tag: watchGateways, KVs: []store.KV{kv("gw3", `"vxlan","geneve"`)}})
	want("a third gateway with both", false, ch, pipeline.EncapVXLAN)
	ch = a.handleGateways(kvEvent{Tag: watchGateways, Delete: true, KVs: []store.KV{{Key: store.EdgeGatewayKey("gw2")}}})
	want("the VXLAN-only gateway gone", true, ch, pipeline.EncapGeneve, pipeline.EncapVXLAN)
	// All gone (the edge restarting): nothing changes here.
	for _, g := range []string{"gw1", "gw3"} {
		ch = a.handleGateways(kvEvent{Tag: watchGateways, Delete: true, KVs: []store.KV{{Key: store.EdgeGatewayKey(g)}}})
	}
	want("no gateway left", false, ch, pipeline.EncapGeneve, pipeline.EncapVXLAN)
	// Gateways that share nothing: the last learned stays.
	ch = a.handleGateways(kvEvent{Tag: watchGateways, Reset: true, KVs: []store.KV{kv("gw1", `"geneve"`), kv("gw2", `"vxlan"`)}})
	want("disjoint gateways", false, ch, pipeline.EncapGeneve, pipeline.EncapVXLAN)

	// The operator's setting wins, and nothing is watched.
	cfg.EdgeEncaps = []pipeline.Encap{pipeline.EncapGeneve}
	b, err := New(cfg, nil, newFakeSwitch(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b.state.edgeEncaps = []pipeline.Encap{pipeline.EncapVXLAN}
	if b.cfg.learnsEdgeEncaps() || !slices.Equal(b.edgeEncaps(), cfg.EdgeEncaps) {
		t.Fatalf("with --edge-encaps: learns %v, encaps %v", b.cfg.learnsEdgeEncaps(), b.edgeEncaps())
	}
}
