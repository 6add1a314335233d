package agent

import (
	"context"
	"sort"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// Inspection is a look at an agent's state taken on its loop: what it
// holds, and its view compiled from scratch (no section reused), which
// the flows on its switch must equal once it is idle. The scale harness
// (internal/sim) checks both against the topology.
type Inspection struct {
	// Synced says the first complete view was installed.
	Synced bool
	// Flows is a full compilation of the current view, under the
	// generation the agent installs with.
	Flows []ofp.Flow
	// Networks, Routers, Rules, Groups and FloatingIPs are the ids of
	// the records held: watched networks, routers, security group rules,
	// the groups whose rules are followed, floating IPs.
	Networks, Routers, Rules, Groups, FloatingIPs []string
	// Peers are the other chassis whose endpoints the view may read:
	// the hosts of the ports held and the live gateways. UnknownHosts
	// are hosts of ports held that are not peers (none, once the
	// registration of a host whose bindings carry no endpoint is read).
	Peers, UnknownHosts []string
}

// Inspect returns an Inspection, or ctx's error when the agent does not
// answer (it is not running).
func (a *Agent) Inspect(ctx context.Context) (Inspection, error) {
	reply := make(chan Inspection, 1)
	select {
	case a.events <- event{inspect: reply}:
	case <-ctx.Done():
		return Inspection{}, ctx.Err()
	}
	select {
	case in := <-reply:
		return in, nil
	case <-ctx.Done():
		return Inspection{}, ctx.Err()
	}
}

// inspect answers Inspect on the loop.
func (a *Agent) inspect() Inspection {
	in := Inspection{Synced: a.everSynced}
	geneve, vxlan := a.sw.TunnelPorts()
	if v, _, err := a.state.view(pipeline.LocalChassis{Name: a.cfg.Chassis, TunnelIP: a.cfg.TunnelIP,
		GeneveOFPort: geneve, VXLANOFPort: vxlan}); err == nil {
		in.Flows = pipeline.Flatten(pipeline.CompileSections(v, pipeline.Config{ControllerID: a.cfg.ControllerID}, a.rec.gen, nil))
	}
	in.Networks = sortedKeys(a.state.nets)
	in.Routers = sortedKeys(a.state.routers)
	in.Rules = sortedKeys(a.state.rules)
	in.FloatingIPs = sortedKeys(a.state.fips)
	in.Groups = a.state.heldGroups()
	in.Peers = sortedKeys(a.state.peers)
	unknown := map[string]bool{}
	for _, n := range a.state.nets {
		for _, p := range n.ports {
			if _, ok := a.state.peers[p.HostID]; !ok && p.HostID != "" && p.HostID != a.cfg.Chassis {
				unknown[p.HostID] = true
			}
		}
	}
	in.UnknownHosts = sortedKeys(unknown)
	return in
}

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
