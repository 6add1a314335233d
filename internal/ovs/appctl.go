package ovs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Appctl runs ovs-appctl commands against one ovs-vswitchd, e.g.
// tnl/neigh/set for static tunnel neighbours or ofproto/trace.
type Appctl struct {
	// Target is the daemon's control socket path (ovs-appctl -t), e.g.
	// $RUNDIR/ovs-vswitchd.<pid>.ctl; empty uses ovs-appctl's default.
	Target string
	// Binary is the ovs-appctl program; empty means "ovs-appctl".
	Binary string
}

// Run runs one command and returns its output.
func (a Appctl) Run(ctx context.Context, args ...string) (string, error) {
	bin := a.Binary
	if bin == "" {
		bin = "ovs-appctl"
	}
	if a.Target != "" {
		args = append([]string{"-t", a.Target}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("ovs-appctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// TunnelNeighSet sets a static tunnel neighbour: packets tunnelled to ip
// out of bridge go to Ethernet address mac, with no ARP.
func (a Appctl) TunnelNeighSet(ctx context.Context, bridge, ip, mac string) error {
	_, err := a.Run(ctx, "tnl/neigh/set", bridge, ip, mac)
	return err
}

// Trace runs ofproto/trace on bridge for a flow description (ovs-ofctl
// flow syntax) and returns the trace; extra arguments (e.g. "-generate")
// follow the flow.
func (a Appctl) Trace(ctx context.Context, bridge, flow string, extra ...string) (string, error) {
	return a.Run(ctx, append([]string{"ofproto/trace", bridge, flow}, extra...)...)
}
