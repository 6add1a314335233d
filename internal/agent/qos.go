package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// QoS: the agent installs the meters the view's flows use
// (pipeline.Meters) before the flows that use them, and deletes the
// meters no longer used after the flows that used them are gone.

// MeterConn is a switch with OpenFlow meters. A FlowConn without them
// serves views without QoS only.
type MeterConn interface {
	// SetMeter installs a meter or changes the one with its id.
	SetMeter(ctx context.Context, m ofp.MeterConfig) error
	// DeleteMeter deletes a meter.
	DeleteMeter(ctx context.Context, id uint32) error
}

// SetMeter implements MeterConn.
func (s *OVSSwitch) SetMeter(ctx context.Context, m ofp.MeterConfig) error {
	return s.c().SetMeter(ctx, m)
}

// DeleteMeter implements MeterConn.
func (s *OVSSwitch) DeleteMeter(ctx context.Context, id uint32) error {
	return s.c().DeleteMeter(ctx, id)
}

// meterSet keeps the meters installed on br-int. After the flow
// reconciler lost track of the bridge (a restart, a refused bundle, a
// reconnect) every desired meter is set again: setting is idempotent.
// Meters a previous agent left and this one never used stay: a meter no
// flow uses costs nothing.
type meterSet struct {
	installed map[uint32]ofp.MeterConfig
}

// add installs or changes the desired meters; full forgets what was
// installed first.
func (m *meterSet) add(ctx context.Context, sw FlowConn, want []ofp.MeterConfig, full bool) error {
	if full || m.installed == nil {
		m.installed = map[uint32]ofp.MeterConfig{}
	}
	if len(want) == 0 {
		return nil
	}
	mc, ok := sw.(MeterConn)
	if !ok {
		return errors.New("agent: the switch has no meters: QoS is not served")
	}
	for _, w := range want {
		if cur, ok := m.installed[w.ID]; ok && cur == w {
			continue
		}
		if err := mc.SetMeter(ctx, w); err != nil {
			delete(m.installed, w.ID)
			return fmt.Errorf("agent: %w", err)
		}
		m.installed[w.ID] = w
	}
	return nil
}

// drop deletes the installed meters not wanted any more.
func (m *meterSet) drop(ctx context.Context, sw FlowConn, want []ofp.MeterConfig) error {
	keep := make(map[uint32]bool, len(want))
	for _, w := range want {
		keep[w.ID] = true
	}
	mc, _ := sw.(MeterConn)
	for id := range m.installed {
		if keep[id] || mc == nil {
			continue
		}
		if err := mc.DeleteMeter(ctx, id); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		delete(m.installed, id)
	}
	return nil
}
