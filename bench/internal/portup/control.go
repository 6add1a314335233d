package portup

import (
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// ControlPlug measures ControlResult: 2×ControlPlugs plugs into br-int of
// ports no controller knows, round robin over chs, every second one with
// each chassis' process controller (the agent, or ovn-controller) stopped
// (SIGSTOP) around the plug; each port is unplugged again.
func ControlPlug(chs []*testbed.Chassis, controller string, r *ControlResult) error {
	for i := 0; i < 2*ControlPlugs; i++ {
		paused := i%2 == 1
		ch := chs[i%len(chs)]
		vm, err := ch.AddVMUnplugged("c"+strconv.Itoa(i), fmt.Sprintf("fa:16:3e:fe:00:%02x", i), VMMTU)
		if err != nil {
			return err
		}
		var stopped []int
		if paused {
			for _, c := range chs {
				if pid, ok := c.PID(controller); ok {
					if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
						return fmt.Errorf("pause %s of %s: %w", controller, c.Name, err)
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
