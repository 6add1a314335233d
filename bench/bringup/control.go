package main

import (
	"fmt"
	"strconv"
	"syscall"
	"time"
)

// controlPlug times plugs of unknown ports on every chassis, then unplugs
// them.
func (b *bench) controlPlug() error {
	r := &b.res.Control
	for i := 0; i < 2*controlPlugs; i++ {
		paused := i%2 == 1
		ch := b.chs[i%3]
		vm, err := ch.AddVMUnplugged("c"+strconv.Itoa(i), fmt.Sprintf("fa:16:3e:fe:00:%02x", i), vmMTU)
		if err != nil {
			return err
		}
		var stopped []int
		if paused {
			for _, c := range b.chs {
				if pid, ok := c.PID("wyvern-agent"); ok {
					if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
						return fmt.Errorf("pause agent of %s: %w", c.Name, err)
					}
					stopped = append(stopped, pid)
				}
			}
		}
		start := time.Now()
		_, err = ch.Vsctl("add-port", "br-int", vm.Iface, "--", "set", "Interface", vm.Iface,
			"external_ids:iface-id=control-"+strconv.Itoa(i), "external_ids:attached-mac="+vm.MAC)
		d := time.Since(start)
		for _, pid := range stopped {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		if err != nil {
			return fmt.Errorf("plug: %w", err)
		}
		if paused {
			r.Paused = append(r.Paused, d)
		} else {
			r.Running = append(r.Running, d)
		}
		if _, err := ch.Vsctl("del-port", "br-int", vm.Iface); err != nil {
			return fmt.Errorf("unplug: %w", err)
		}
		if err := vm.Close(); err != nil {
			return err
		}
	}
	return nil
}
