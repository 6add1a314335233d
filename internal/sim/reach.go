package sim

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Reach is what one chassis can reach in a topology: the networks of its
// ports and the networks routed to them (one router hop, distributed
// routing), the external network of those routers, the routers on the
// networks it reaches, the security groups of the ports there with their
// remote groups, and the floating IPs of those ports.
type Reach struct {
	Local, Nets, Routers, Groups, FIPs map[string]bool
	// Hosts are the chassis hosting a port on Nets, this one aside: the
	// peers it may tunnel to.
	Hosts map[string]bool
	Ports int
}

// Reach computes chassis name's reach in t.
func (t *Topology) Reach(name string) Reach {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := Reach{Local: map[string]bool{}, Nets: map[string]bool{}, Routers: map[string]bool{}, Groups: map[string]bool{},
		FIPs: map[string]bool{}, Hosts: map[string]bool{}}
	for _, p := range t.Ports {
		if p.Chassis == name {
			r.Local[p.Net] = true
			r.Nets[p.Net] = true
		}
	}
	for n := range r.Local {
		for _, rid := range t.Nets[n].Routers {
			for _, m := range t.Routers[rid].Nets {
				r.Nets[m] = true
			}
			if t.ExtNet != "" {
				r.Nets[t.ExtNet] = true
			}
		}
	}
	for id, rt := range t.Routers {
		for _, m := range rt.Nets {
			if r.Nets[m] {
				r.Routers[id] = true
			}
		}
	}
	for _, p := range t.Ports {
		if !r.Nets[p.Net] {
			continue
		}
		r.Ports++
		if p.Chassis != "" && p.Chassis != name {
			r.Hosts[p.Chassis] = true
		}
		for _, g := range p.Groups {
			r.Groups[g] = true
		}
	}
	for g := range r.Groups {
		if rg := t.Groups[g]; rg != "" {
			r.Groups[rg] = true
		}
	}
	for f, pid := range t.FIPs {
		if p := t.Ports[pid]; p != nil && r.Nets[p.Net] {
			r.FIPs[f] = true
		}
	}
	return r
}

// Interested returns the chassis with a network of nets local, or
// holding one of nets in their reach (reach true).
func (t *Topology) Interested(names []string, nets map[string]bool, reach bool) []string {
	var out []string
	for _, n := range names {
		r := t.Reach(n)
		set := r.Local
		if reach {
			set = r.Nets
		}
		for id := range nets {
			if set[id] {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// GroupMembers returns the chassis with a port in group g.
func (t *Topology) GroupMembers(g string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[string]bool{}
	for _, p := range t.Ports {
		for _, pg := range p.Groups {
			if pg == g {
				seen[p.Chassis] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Check compares every running chassis with the topology: its switch's
// flows must equal a full compilation of its view, and it must hold no
// network, router, rule group or floating IP outside its reach.
func (s *Sim) Check(ctx context.Context, t *Topology) error {
	var errs []string
	for _, c := range s.Chassis {
		a := c.Agent()
		if a == nil {
			continue
		}
		in, err := a.Inspect(ctx)
		if err != nil {
			return fmt.Errorf("sim: inspect %s: %w", c.Name, err)
		}
		if !in.Synced {
			errs = append(errs, c.Name+": not synced")
			continue
		}
		if d := diffFlows(c.Switch.Flows(), FlowMap(in.Flows)); d != "" {
			errs = append(errs, c.Name+": switch differs from a full compile: "+d)
		}
		r := t.Reach(c.Name)
		// Every host the chassis sees a held port bound to is a peer
		// (its tunnel endpoint known), whichever way its binding came.
		if len(in.UnknownHosts) > 0 {
			errs = append(errs, fmt.Sprintf("%s: holds ports bound to %v, which are not its peers", c.Name, in.UnknownHosts))
		}
		for _, x := range []struct {
			what  string
			held  []string
			reach map[string]bool
		}{{"network", in.Networks, r.Nets}, {"router", in.Routers, r.Routers}, {"group", in.Groups, r.Groups},
			{"floating IP", in.FloatingIPs, r.FIPs}, {"peer", in.Peers, r.Hosts}} {
			for _, id := range x.held {
				if !x.reach[id] {
					errs = append(errs, fmt.Sprintf("%s: holds %s %s out of its reach", c.Name, x.what, id))
					break
				}
			}
		}
	}
	if len(errs) > 0 {
		if len(errs) > 10 {
			errs = append(errs[:10], fmt.Sprintf("... and %d more", len(errs)-10))
		}
		return fmt.Errorf("sim: %s", strings.Join(errs, "\n"))
	}
	return nil
}

func diffFlows(have, want map[string]uint64) string {
	var missing, extra, changed int
	var example string
	for k, h := range want {
		g, ok := have[k]
		switch {
		case !ok:
			missing++
			example = "missing " + k
		case g != h:
			changed++
			example = "changed " + k
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			extra++
			example = "extra " + k
		}
	}
	if missing+extra+changed == 0 {
		return ""
	}
	return fmt.Sprintf("%d missing, %d extra, %d changed (e.g. %s)", missing, extra, changed, example)
}
