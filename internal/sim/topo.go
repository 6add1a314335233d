package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
)

// Params shape a generated cloud.
type Params struct {
	Projects       int
	NetsPerProject int
	PortsPerNet    int
	// RoutersPerProject routers each join NetsPerRouter of the project's
	// networks; the networks left over are isolated.
	RoutersPerProject int
	NetsPerRouter     int
	// SGsPerProject security groups per project, each admitting SSH and
	// ICMP from anywhere and everything from the next group of the
	// project (a remote group); a port is in one of them.
	SGsPerProject int
	// FIPs floating IPs on ports of routed networks (their routers get a
	// gateway on one external network).
	FIPs int
	// Workers is how many API calls run at once while building.
	Workers int
	Seed    uint64
}

// Net is a generated network.
type Net struct {
	ID, Project, Subnet, CIDR string
	Routers                   []string
}

// Port is a generated port and where the scheduler put it.
type Port struct {
	ID, Net, MAC, IP, Chassis string
	Groups                    []string
}

// Router is a generated router.
type Router struct {
	ID, Project string
	Nets        []string
}

// Topology is what the generator made, as the harness tracks it.
type Topology struct {
	mu      sync.Mutex
	Nets    map[string]*Net
	Ports   map[string]*Port
	Routers map[string]*Router
	// Groups maps a security group to its remote group.
	Groups map[string]string
	// ProjectGroups are each project's custom groups.
	ProjectGroups map[string][]string
	ExtNet        string
	FIPs          map[string]string // fip id → port id
	nextCIDR      int
}

// NewTopology returns an empty topology.
func NewTopology() *Topology {
	return &Topology{Nets: map[string]*Net{}, Ports: map[string]*Port{}, Routers: map[string]*Router{},
		Groups: map[string]string{}, ProjectGroups: map[string][]string{}, FIPs: map[string]string{}}
}

// Scheduler places ports on chassis as a spreading scheduler does: each
// round visits every chassis once, in a fresh random order.
type Scheduler struct {
	mu    sync.Mutex
	names []string
	perm  []int
	i     int
	rnd   *rand.Rand
}

// NewScheduler spreads over names.
func NewScheduler(names []string, seed uint64) *Scheduler {
	return &Scheduler{names: names, rnd: rand.New(rand.NewPCG(seed, 7))}
}

// Next is the chassis of the next port.
func (s *Scheduler) Next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.i%len(s.names) == 0 {
		s.perm = s.rnd.Perm(len(s.names))
	}
	n := s.names[s.perm[s.i%len(s.names)]]
	s.i++
	return n
}

// ProjectID is the id of generated project i.
func ProjectID(i int) string { return fmt.Sprintf("%032x", 0xabc0000+i) }

func (t *Topology) cidr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.nextCIDR
	t.nextCIDR++
	return fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256)
}

// CreateNetwork creates a network with one IPv4 subnet.
func (t *Topology) CreateNetwork(ctx context.Context, c *Client, project, name string) (*Net, error) {
	var n struct {
		Network struct{ ID string } `json:"network"`
	}
	if err := c.Do(ctx, "POST", "/v2.0/networks", project, map[string]any{"network": map[string]any{"name": name}}, &n); err != nil {
		return nil, err
	}
	cidr := t.cidr()
	var s struct {
		Subnet struct{ ID string } `json:"subnet"`
	}
	err := c.Do(ctx, "POST", "/v2.0/subnets", project, map[string]any{"subnet": map[string]any{
		"network_id": n.Network.ID, "cidr": cidr, "ip_version": 4, "name": name}}, &s)
	if err != nil {
		return nil, err
	}
	nt := &Net{ID: n.Network.ID, Project: project, Subnet: s.Subnet.ID, CIDR: cidr}
	t.mu.Lock()
	t.Nets[nt.ID] = nt
	t.mu.Unlock()
	return nt, nil
}

// CreatePort creates a port on a network in groups and records it on
// chassis (the caller plugs it).
func (t *Topology) CreatePort(ctx context.Context, c *Client, n *Net, groups []string, chassis string) (*Port, error) {
	return t.CreatePortMAC(ctx, c, n, groups, chassis, "")
}

// CreatePortMAC is CreatePort with the port's MAC chosen ("" lets the API
// choose).
func (t *Topology) CreatePortMAC(ctx context.Context, c *Client, n *Net, groups []string, chassis, mac string) (*Port, error) {
	body := map[string]any{"network_id": n.ID}
	if mac != "" {
		body["mac_address"] = mac
	}
	if groups != nil {
		body["security_groups"] = groups
	}
	var p struct {
		Port struct {
			ID       string   `json:"id"`
			MAC      string   `json:"mac_address"`
			Groups   []string `json:"security_groups"`
			FixedIPs []struct {
				IP string `json:"ip_address"`
			} `json:"fixed_ips"`
		} `json:"port"`
	}
	if err := c.Do(ctx, "POST", "/v2.0/ports", n.Project, map[string]any{"port": body}, &p); err != nil {
		return nil, err
	}
	pt := &Port{ID: p.Port.ID, Net: n.ID, MAC: p.Port.MAC, Chassis: chassis, Groups: p.Port.Groups}
	if len(p.Port.FixedIPs) > 0 {
		pt.IP = p.Port.FixedIPs[0].IP
	}
	t.mu.Lock()
	for _, g := range pt.Groups {
		if _, ok := t.Groups[g]; !ok {
			t.Groups[g] = g // a project's default group admits its own members
		}
	}
	t.Ports[pt.ID] = pt
	t.mu.Unlock()
	return pt, nil
}

// DeletePort deletes a port.
func (t *Topology) DeletePort(ctx context.Context, c *Client, p *Port) error {
	if err := c.Do(ctx, "DELETE", "/v2.0/ports/"+p.ID, t.Nets[p.Net].Project, nil, nil); err != nil {
		return err
	}
	t.mu.Lock()
	delete(t.Ports, p.ID)
	t.mu.Unlock()
	return nil
}

// AddRule adds a TCP rule admitting port from a prefix to group g.
func (t *Topology) AddRule(ctx context.Context, c *Client, project, g string, port int) (string, error) {
	var r struct {
		Rule struct{ ID string } `json:"security_group_rule"`
	}
	err := c.Do(ctx, "POST", "/v2.0/security-group-rules", project, map[string]any{"security_group_rule": map[string]any{
		"security_group_id": g, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
		"port_range_min": port, "port_range_max": port, "remote_ip_prefix": "198.51.100.0/24"}}, &r)
	return r.Rule.ID, err
}

// AddInterface joins network n to router r.
func (t *Topology) AddInterface(ctx context.Context, c *Client, r *Router, n *Net) error {
	err := c.Do(ctx, "PUT", "/v2.0/routers/"+r.ID+"/add_router_interface", r.Project,
		map[string]any{"subnet_id": n.Subnet}, nil)
	if err != nil {
		return err
	}
	t.mu.Lock()
	r.Nets = append(r.Nets, n.ID)
	n.Routers = append(n.Routers, r.ID)
	t.mu.Unlock()
	return nil
}

func (t *Topology) createGroup(ctx context.Context, c *Client, project, name string) (string, error) {
	var g struct {
		Group struct{ ID string } `json:"security_group"`
	}
	err := c.Do(ctx, "POST", "/v2.0/security-groups", project, map[string]any{"security_group": map[string]any{"name": name}}, &g)
	return g.Group.ID, err
}

func (t *Topology) groupRules(ctx context.Context, c *Client, project, g, remote string) error {
	for _, r := range []map[string]any{
		{"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"},
		{"protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"},
		{"remote_group_id": remote},
	} {
		r["security_group_id"] = g
		r["direction"] = "ingress"
		r["ethertype"] = "IPv4"
		if err := c.Do(ctx, "POST", "/v2.0/security-group-rules", project, map[string]any{"security_group_rule": r}, nil); err != nil {
			return err
		}
	}
	return nil
}

// Project creates project i of p: its groups, networks, routers and
// ports, placing each port with sched.
func (t *Topology) Project(ctx context.Context, c *Client, p Params, i int, sched *Scheduler) error {
	project := ProjectID(i)
	var groups []string
	for g := 0; g < p.SGsPerProject; g++ {
		id, err := t.createGroup(ctx, c, project, fmt.Sprintf("sim-sg-%d-%d", i, g))
		if err != nil {
			return err
		}
		groups = append(groups, id)
	}
	for g, id := range groups {
		remote := groups[(g+1)%len(groups)]
		if err := t.groupRules(ctx, c, project, id, remote); err != nil {
			return err
		}
		t.mu.Lock()
		t.Groups[id] = remote
		t.mu.Unlock()
	}
	t.mu.Lock()
	t.ProjectGroups[project] = groups
	t.mu.Unlock()
	nets := make([]*Net, 0, p.NetsPerProject)
	for n := 0; n < p.NetsPerProject; n++ {
		nt, err := t.CreateNetwork(ctx, c, project, fmt.Sprintf("sim-net-%d-%d", i, n))
		if err != nil {
			return err
		}
		nets = append(nets, nt)
	}
	for r := 0; r < p.RoutersPerProject; r++ {
		var rr struct {
			Router struct{ ID string } `json:"router"`
		}
		body := map[string]any{"name": fmt.Sprintf("sim-router-%d-%d", i, r)}
		if t.ExtNet != "" {
			body["external_gateway_info"] = map[string]any{"network_id": t.ExtNet}
		}
		if err := c.Do(ctx, "POST", "/v2.0/routers", project, map[string]any{"router": body}, &rr); err != nil {
			return err
		}
		rt := &Router{ID: rr.Router.ID, Project: project}
		t.mu.Lock()
		t.Routers[rt.ID] = rt
		t.mu.Unlock()
		for k := 0; k < p.NetsPerRouter; k++ {
			idx := r*p.NetsPerRouter + k
			if idx >= len(nets) {
				break
			}
			if err := t.AddInterface(ctx, c, rt, nets[idx]); err != nil {
				return err
			}
		}
	}
	k := 0
	for _, nt := range nets {
		for j := 0; j < p.PortsPerNet; j++ {
			var gs []string
			if len(groups) > 0 {
				gs = []string{groups[k%len(groups)]}
			}
			k++
			if _, err := t.CreatePort(ctx, c, nt, gs, sched.Next()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Build creates the whole cloud of p through the API.
func (t *Topology) Build(ctx context.Context, c *Client, p Params, sched *Scheduler) error {
	if p.FIPs > 0 && p.RoutersPerProject > 0 {
		if err := t.external(ctx, c); err != nil {
			return err
		}
	}
	err := parallel(ctx, p.Workers, p.Projects, func(ctx context.Context, i int) error {
		return t.Project(ctx, c, p, i, sched)
	})
	if err != nil {
		return err
	}
	return t.floatingIPs(ctx, c, p)
}

// external creates the external network the routers' gateways are on.
func (t *Topology) external(ctx context.Context, c *Client) error {
	var n struct {
		Network struct{ ID string } `json:"network"`
	}
	err := c.Do(ctx, "POST", "/v2.0/networks", "", map[string]any{"network": map[string]any{"name": "sim-public",
		"router:external": true, "provider:network_type": "flat", "provider:physical_network": "public"}}, &n)
	if err != nil {
		return err
	}
	// Two documentation /24s: a thousand chassis' routers and their
	// floating IPs outgrow one.
	for _, sub := range [][2]string{{"203.0.113.0/24", "203.0.113.1"}, {"198.51.100.0/24", "198.51.100.1"}} {
		err = c.Do(ctx, "POST", "/v2.0/subnets", "", map[string]any{"subnet": map[string]any{
			"network_id": n.Network.ID, "cidr": sub[0], "ip_version": 4, "gateway_ip": sub[1],
			"enable_dhcp": false}}, nil)
		if err != nil {
			return err
		}
	}
	t.ExtNet = n.Network.ID
	t.Nets[t.ExtNet] = &Net{ID: t.ExtNet, CIDR: "203.0.113.0/24"}
	return nil
}

func (t *Topology) floatingIPs(ctx context.Context, c *Client, p Params) error {
	if t.ExtNet == "" {
		return nil
	}
	rnd := rand.New(rand.NewPCG(p.Seed, 11))
	var routed []*Port
	for _, pt := range t.Ports {
		if len(t.Nets[pt.Net].Routers) > 0 {
			routed = append(routed, pt)
		}
	}
	// Map order is random: sort for a reproducible choice.
	sortPorts(routed)
	rnd.Shuffle(len(routed), func(i, j int) { routed[i], routed[j] = routed[j], routed[i] })
	for i := 0; i < p.FIPs && i < len(routed); i++ {
		pt := routed[i]
		var f struct {
			FIP struct{ ID string } `json:"floatingip"`
		}
		err := c.Do(ctx, "POST", "/v2.0/floatingips", t.Nets[pt.Net].Project, map[string]any{"floatingip": map[string]any{
			"floating_network_id": t.ExtNet, "port_id": pt.ID}}, &f)
		if err != nil {
			return err
		}
		t.FIPs[f.FIP.ID] = pt.ID
	}
	return nil
}

func sortPorts(ps []*Port) { sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID }) }

// parallel runs fn(0..n-1) on up to workers goroutines and returns the
// first error; after an error the remaining calls are not started.
func parallel(ctx context.Context, workers, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return first
}
