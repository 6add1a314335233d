package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Op is one measured change: the API call's latency and, for each
// interested chassis, the time from the call to its switch receiving the
// bundle that carries the change.
type Op struct {
	Kind       string
	API        time.Duration
	Chassis    []time.Duration // per interested chassis that saw it
	Interested int
	Missed     int // interested chassis that did not see it in time
}

// All is the time until every interested chassis had it (the slowest).
func (o Op) All() time.Duration {
	if len(o.Chassis) == 0 {
		return 0
	}
	return slices.Max(o.Chassis)
}

type awaited struct {
	done <-chan struct{}
	at   func() time.Time
}

// await registers probes for token on the named chassis.
func (s *Sim) await(names []string, token string, del bool) []awaited {
	out := make([]awaited, 0, len(names))
	for _, n := range names {
		d, at := s.byName[n].Switch.Await(token, del)
		out = append(out, awaited{d, at})
	}
	return out
}

// collect waits for the probes until timeout after t0 and fills op.
func (s *Sim) collect(ctx context.Context, op *Op, ws []awaited, t0 time.Time, timeout time.Duration) {
	op.Interested = len(ws)
	deadline := time.NewTimer(time.Until(t0.Add(timeout)))
	defer deadline.Stop()
	for _, w := range ws {
		select {
		case <-w.done:
			op.Chassis = append(op.Chassis, w.at().Sub(t0))
		case <-deadline.C:
			op.Missed++
			deadline.Reset(0)
		case <-ctx.Done():
			op.Missed++
		}
	}
	for _, c := range s.Chassis {
		c.Switch.Cancel()
	}
}

// Workload runs measured changes one at a time against a built topology.
type Workload struct {
	Sim     *Sim
	Topo    *Topology
	Client  *Client
	Sched   *Scheduler
	Rnd     *rand.Rand
	Timeout time.Duration
	nextTCP int
	macs    int
	created []*Port
}

func (w *Workload) pickNet(routed bool) *Net {
	nets := w.Topo.sortedNets()
	for {
		n := nets[w.Rnd.IntN(len(nets))]
		if n.Project != "" && (len(n.Routers) > 0) == routed {
			return n
		}
	}
}

func (t *Topology) sortedNets() []*Net {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Net, 0, len(t.Nets))
	for _, n := range t.Nets {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PortCreate creates a port on a random network, then plugs it on the
// chassis the scheduler picks, and waits for its MAC to reach every
// chassis that holds the network.
func (w *Workload) PortCreate(ctx context.Context) (Op, error) {
	n := w.pickNet(w.Rnd.IntN(2) == 0)
	chassis := w.Sched.Next()
	w.macs++
	mac := fmt.Sprintf("fa:16:3f:%02x:%02x:%02x", w.macs>>16&0xff, w.macs>>8&0xff, w.macs&0xff)
	names := w.Topo.Interested(w.Sim.Names(), map[string]bool{n.ID: true}, true)
	if !slices.Contains(names, chassis) {
		names = append(names, chassis)
	}
	groups := w.Topo.ProjectGroups[n.Project]
	var gs []string
	if len(groups) > 0 {
		gs = []string{groups[w.Rnd.IntN(len(groups))]}
	}
	ws := w.Sim.await(names, mac, false)
	t0 := time.Now()
	p, err := w.Topo.CreatePortMAC(ctx, w.Client, n, gs, chassis, mac)
	op := Op{Kind: "port create+bind", API: time.Since(t0)}
	if err != nil {
		w.Sim.collect(ctx, &op, nil, t0, 0)
		return op, err
	}
	w.Sim.Get(chassis).Switch.Plug(p.ID, p.MAC)
	w.created = append(w.created, p)
	w.Sim.collect(ctx, &op, ws, t0, w.Timeout)
	return op, nil
}

// PortDelete deletes a port PortCreate made and waits for its MAC to
// leave every chassis that held it.
func (w *Workload) PortDelete(ctx context.Context) (Op, error) {
	if len(w.created) == 0 {
		return Op{}, fmt.Errorf("sim: no port to delete")
	}
	p := w.created[0]
	w.created = w.created[1:]
	names := w.Topo.Interested(w.Sim.Names(), map[string]bool{p.Net: true}, true)
	ws := w.Sim.await(names, p.MAC, true)
	t0 := time.Now()
	err := w.Topo.DeletePort(ctx, w.Client, p)
	op := Op{Kind: "port delete", API: time.Since(t0)}
	w.Sim.Get(p.Chassis).Switch.Unplug(p.ID)
	if err != nil {
		w.Sim.collect(ctx, &op, nil, t0, 0)
		return op, err
	}
	w.Sim.collect(ctx, &op, ws, t0, w.Timeout)
	return op, nil
}

// RuleCreate adds a rule to a random group and waits for it on every
// chassis with a port in the group.
func (w *Workload) RuleCreate(ctx context.Context) (Op, error) {
	var groups []string
	for g := range w.Topo.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var g string
	var names []string
	for len(names) == 0 {
		g = groups[w.Rnd.IntN(len(groups))]
		names = w.Topo.GroupMembers(g)
	}
	w.nextTCP++
	port := 20000 + w.nextTCP
	project := ""
	for pr, gs := range w.Topo.ProjectGroups {
		if slices.Contains(gs, g) {
			project = pr
		}
	}
	ws := w.Sim.await(names, fmt.Sprintf("tcp_dst=%d", port), false)
	t0 := time.Now()
	_, err := w.Topo.AddRule(ctx, w.Client, project, g, port)
	op := Op{Kind: "security group rule create", API: time.Since(t0)}
	if err != nil {
		w.Sim.collect(ctx, &op, nil, t0, 0)
		return op, err
	}
	w.Sim.collect(ctx, &op, ws, t0, w.Timeout)
	return op, nil
}

// RouterInterface joins an isolated network with local ports to a router
// of its project, and waits for the route to it on every chassis local to
// the router's networks, and for the route to the router's first network
// on the chassis local to it.
func (w *Workload) RouterInterface(ctx context.Context) (Op, error) {
	var x *Net
	var r *Router
	for tries := 0; tries < 1000 && r == nil; tries++ {
		x = w.pickNet(false)
		for _, rt := range w.Topo.sortedRouters() {
			if rt.Project == x.Project && len(rt.Nets) > 0 {
				r = rt
				break
			}
		}
	}
	if r == nil {
		return Op{}, fmt.Errorf("sim: no isolated network beside a router")
	}
	names := w.Sim.Names()
	rnets := map[string]bool{}
	for _, n := range r.Nets {
		rnets[n] = true
	}
	onRouter := w.Topo.Interested(names, rnets, false)
	onX := w.Topo.Interested(names, map[string]bool{x.ID: true}, false)
	var onXOnly []string
	for _, n := range onX {
		if !slices.Contains(onRouter, n) {
			onXOnly = append(onXOnly, n)
		}
	}
	ws := w.Sim.await(onRouter, "nw_dst="+x.CIDR, false)
	ws = append(ws, w.Sim.await(onXOnly, "nw_dst="+w.Topo.Nets[r.Nets[0]].CIDR, false)...)
	t0 := time.Now()
	err := w.Topo.AddInterface(ctx, w.Client, r, x)
	op := Op{Kind: "router interface add", API: time.Since(t0)}
	if err != nil {
		w.Sim.collect(ctx, &op, nil, t0, 0)
		return op, err
	}
	w.Sim.collect(ctx, &op, ws, t0, w.Timeout)
	return op, nil
}

func (t *Topology) sortedRouters() []*Router {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Router, 0, len(t.Routers))
	for _, r := range t.Routers {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Burst creates ports new ports on nets new networks of a new project,
// placed on the chassis of on, workers calls at a time, plugs them, and
// returns when every port is bound (its chassis installed its MAC).
func (w *Workload) Burst(ctx context.Context, project int, nets, ports, workers int, on []string) (time.Duration, error) {
	pid := ProjectID(project)
	err := w.Client.Do(ctx, "PUT", "/v2.0/quotas/"+pid, "", map[string]any{"quota": map[string]any{
		"port": ports + 100, "network": nets + 10, "subnet": nets + 10}}, nil)
	if err != nil {
		return 0, err
	}
	var created []*Net
	for i := 0; i < nets; i++ {
		n, err := w.Topo.CreateNetwork(ctx, w.Client, pid, fmt.Sprintf("sim-burst-%d", i))
		if err != nil {
			return 0, err
		}
		created = append(created, n)
	}
	sched := NewScheduler(on, 99)
	t0 := time.Now()
	err = parallel(ctx, workers, ports, func(ctx context.Context, i int) error {
		ch := sched.Next()
		n := created[i%len(created)]
		mac := fmt.Sprintf("fa:16:3d:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)
		d, _ := w.Sim.Get(ch).Switch.Await(mac, false)
		p, err := w.Topo.CreatePortMAC(ctx, w.Client, n, nil, ch, mac)
		if err != nil {
			return err
		}
		w.Sim.Get(ch).Switch.Plug(p.ID, p.MAC)
		select {
		case <-d:
			return nil
		case <-time.After(w.Timeout * 10):
			return fmt.Errorf("sim: burst port %s never installed on %s", p.ID, ch)
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	return time.Since(t0), err
}

// Percentile returns the p-th percentile (0..100) of ds, nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
