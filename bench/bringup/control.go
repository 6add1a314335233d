package main

import "github.com/wyvern-sdn/wyvern/bench/internal/portup"

// controlPlug times plugs of unknown ports on every chassis, then unplugs
// them.
func (b *bench) controlPlug() error {
	return portup.ControlPlug(b.chs, "wyvern-agent", &b.res.Control)
}
