package agent

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// meterSwitch is a fake switch with meters.
type meterSwitch struct {
	*fakeSwitch
	meters map[uint32]ofp.MeterConfig
	sets   int
}

func (m *meterSwitch) SetMeter(ctx context.Context, c ofp.MeterConfig) error {
	m.meters[c.ID] = c
	m.sets++
	return nil
}

func (m *meterSwitch) DeleteMeter(ctx context.Context, id uint32) error {
	delete(m.meters, id)
	return nil
}

// TestMeterSet: meters are set once while unchanged, changed in place,
// deleted when no longer wanted, all set again after a full resync; a
// switch without meters serves views without QoS only.
func TestMeterSet(t *testing.T) {
	ctx := context.Background()
	sw := &meterSwitch{fakeSwitch: newFakeSwitch(), meters: map[uint32]ofp.MeterConfig{}}
	var ms meterSet
	a := ofp.MeterConfig{ID: 20, RateKbps: 10000, BurstKbits: 8000}
	b := ofp.MeterConfig{ID: 21, RateKbps: 5000, BurstKbits: 4000}
	if err := ms.add(ctx, sw, []ofp.MeterConfig{a, b}, true); err != nil || sw.sets != 2 {
		t.Fatalf("add: %v, %d sets", err, sw.sets)
	}
	if err := ms.add(ctx, sw, []ofp.MeterConfig{a, b}, false); err != nil || sw.sets != 2 {
		t.Fatalf("unchanged: %v, %d sets", err, sw.sets)
	}
	b.RateKbps = 6000
	if err := ms.add(ctx, sw, []ofp.MeterConfig{a, b}, false); err != nil || sw.sets != 3 || sw.meters[21] != b {
		t.Fatalf("changed: %v, %d sets, %v", err, sw.sets, sw.meters[21])
	}
	if err := ms.drop(ctx, sw, []ofp.MeterConfig{b}); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(sw.meters)); !slices.Equal(got, []uint32{21}) {
		t.Fatalf("after drop: meters %v", got)
	}
	if err := ms.add(ctx, sw, []ofp.MeterConfig{b}, true); err != nil || sw.sets != 4 {
		t.Fatalf("full: %v, %d sets", err, sw.sets)
	}
	plain := newFakeSwitch()
	var none meterSet
	if err := none.add(ctx, plain, nil, true); err != nil {
		t.Fatalf("no meters wanted: %v", err)
	}
	if err := none.add(ctx, plain, []ofp.MeterConfig{a}, false); err == nil {
		t.Fatal("a switch without meters took one")
	}
}
