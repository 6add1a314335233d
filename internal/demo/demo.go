// Package demo is Wyvern's guided tour: a server on the embedded etcd, two
// simulated hypervisors with their agents, two projects each with a network
// on the same CIDR, VMs that get their addresses from the agents' DHCP and
// ping across hypervisors — all real: Open vSwitch in network namespaces,
// real packets. It is what `make demo` runs.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// Options control the demo.
type Options struct {
	// Bin is the wyvern binary; empty builds it from the module.
	Bin string
	// Stay keeps everything up until interrupted, for poking around.
	Stay bool
	Out  io.Writer
}

type vmInfo struct {
	vm      *testbed.VM
	project string
	ip      string
}

// Run runs the demo and tears everything down before returning.
func Run(ctx context.Context, o Options) (err error) {
	out := o.Out
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	if err := testbed.Require(); err != nil {
		return fmt.Errorf("demo needs root and Open vSwitch (run scripts/deps.sh): %w", err)
	}
	if o.Bin == "" {
		root, err := lab.ModuleRoot()
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "wyvern-demo-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		say("• building wyvern ...")
		if o.Bin, err = lab.Build(root, dir); err != nil {
			return err
		}
	}
	bed, err := testbed.New(testbed.Options{Name: "demo"})
	if err != nil {
		return err
	}
	stop := bed.CloseOnSignal()
	defer func() {
		stop()
		say("• tearing down: processes, namespaces, OVS instances ...")
		if cerr := bed.Close(); cerr != nil && err == nil {
			err = cerr
		}
		say("• done: nothing left behind.")
	}()

	start := time.Now()
	say("• starting wyvern server (Neutron API + Keystone on an embedded etcd) ...")
	l, err := lab.Start(bed, o.Bin, lab.Options{})
	if err != nil {
		return err
	}
	say("  API %s   etcd %s", l.APIURL, l.EtcdURL)
	var chs []*testbed.Chassis
	for _, name := range []string{"hv1", "hv2"} {
		ch, err := l.AddChassis(name)
		if err != nil {
			return err
		}
		chs = append(chs, ch)
		say("• hypervisor %s up: Open vSwitch in netns %s, underlay %s, agent registered", name, ch.Netns, ch.TunnelIP)
	}

	// Two projects, the same CIDR: overlapping tenant networks.
	var vms []vmInfo
	for _, project := range []string{"blue", "red"} {
		n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: project, Name: project + "-net", CIDR: "10.0.0.0/24"})
		if err != nil {
			return err
		}
		say("• project %-4s network %s (%s, VNI %d) subnet %s", project, n.Name, n.NetworkType, n.SegmentationID, sub.CIDR)
		for i, ch := range chs {
			name := fmt.Sprintf("%s%d", project, i+1)
			vm, p, err := l.Boot(ch, name, project, n.ID, nil)
			if err != nil {
				return err
			}
			if _, err := l.WaitPort(p.ID, 10*time.Second, func(p model.Port) bool { return p.Status == model.StatusActive }); err != nil {
				return err
			}
			dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			lease, err := vm.DHCP(dctx)
			cancel()
			if err != nil {
				return fmt.Errorf("%s DHCP: %w", name, err)
			}
			say("  VM %-6s on %s: port %s ACTIVE, DHCP gave %s (router %s, MTU %d) from the local agent", name, ch.Name, p.ID[:8], lease.Addr, lease.Router, lease.MTU)
			vms = append(vms, vmInfo{vm: vm, project: project, ip: lease.Addr.Addr().String()})
		}
	}
	say("• pings across hypervisors, over Geneve:")
	for _, a := range vms {
		for _, b := range vms {
			if a.vm == b.vm || a.project != b.project {
				continue
			}
			got, err := a.vm.Ping(b.ip, 3, 10*time.Second)
			status := "ok"
			if err != nil {
				status = "FAILED: " + err.Error()
			}
			say("  %-6s (%s) → %-6s (%s): %d/3 replies  %s", a.vm.Name, a.vm.Chassis.Name, b.vm.Name, b.vm.Chassis.Name, got, status)
			if err != nil {
				return fmt.Errorf("ping %s → %s failed", a.vm.Name, b.vm.Name)
			}
		}
	}
	say("• both projects use 10.0.0.0/24: overlapping networks, each its own world.")
	say("• everything above took %s.", time.Since(start).Round(time.Millisecond))
	if !o.Stay {
		return nil
	}
	say("")
	say("Poke at it (in another shell, as root):")
	say("  %s --noauth --url %s network list", "go run ./cmd/wyvernctl", l.APIURL)
	say("  %s --noauth --url %s port list", "go run ./cmd/wyvernctl", l.APIURL)
	say("  ip netns exec %s ping %s", vms[0].vm.Netns, vms[1].ip)
	say("  ovs-ofctl -O OpenFlow13 dump-flows unix:%s", chs[0].MgmtSock("br-int"))
	say("  tail -f %s/wyvern-agent.log", chs[0].RunDir)
	say("Press Ctrl-C to tear everything down.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-ctx.Done():
	}
	return nil
}
