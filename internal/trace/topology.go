package trace

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Topology is the logical model a trace reads: the Neutron resources as
// the API returns them, and the chassis (Neutron agents). It is plain
// data; the caller loads it (wyvernctl reads it through the API).
type Topology struct {
	Networks       []model.Network           `json:"networks"`
	Subnets        []model.Subnet            `json:"subnets"`
	Ports          []model.Port              `json:"ports"`
	Routers        []model.Router            `json:"routers"`
	FloatingIPs    []model.FloatingIP        `json:"floatingips"`
	SecurityGroups []model.SecurityGroup     `json:"security_groups"`
	Rules          []model.SecurityGroupRule `json:"security_group_rules"`
	Chassis        []Chassis                 `json:"chassis"`
	// PortForwardings are the floating IPs' port forwardings, by
	// floating IP id (inbound.go).
	PortForwardings map[string][]model.PortForwarding `json:"port_forwardings,omitempty"`
}

// Chassis is a hypervisor as the agents API shows it. An empty list (a
// non-admin caller sees no agent) only loses tunnel addresses in the trace.
type Chassis struct {
	Name           string            `json:"name"`
	TunnelIP       string            `json:"tunnel_ip"`
	Encaps         []string          `json:"encaps"`
	BridgeMappings map[string]string `json:"bridge_mappings,omitempty"`
	Gateway        bool              `json:"gateway"`
	Alive          bool              `json:"alive"`
	// FIPMode is the agent's floating-IP mode (model.FIPModeEdge: the
	// edge layer serves its ports' floating IPs).
	FIPMode string `json:"fip_mode,omitempty"`
}

// index is a Topology with lookups.
type index struct {
	t        *Topology
	nets     map[string]*model.Network
	subnets  map[string]*model.Subnet
	ports    map[string]*model.Port
	routers  map[string]*model.Router
	groups   map[string]*model.SecurityGroup
	rules    map[string][]*model.SecurityGroupRule // by group, sorted by id
	chassis  map[string]*Chassis
	byNet    map[string][]*model.Port   // ports by network
	netSubs  map[string][]*model.Subnet // subnets by network, IPv4 and IPv6
	rtrPorts map[string][]*model.Port   // router interface ports by router
}

func newIndex(t *Topology) *index {
	x := &index{t: t, nets: map[string]*model.Network{}, subnets: map[string]*model.Subnet{},
		ports: map[string]*model.Port{}, routers: map[string]*model.Router{},
		groups: map[string]*model.SecurityGroup{}, rules: map[string][]*model.SecurityGroupRule{},
		chassis: map[string]*Chassis{}, byNet: map[string][]*model.Port{},
		netSubs: map[string][]*model.Subnet{}, rtrPorts: map[string][]*model.Port{}}
	for i := range t.Networks {
		x.nets[t.Networks[i].ID] = &t.Networks[i]
	}
	for i := range t.Subnets {
		s := &t.Subnets[i]
		x.subnets[s.ID] = s
		if _, err := netip.ParsePrefix(s.CIDR); err == nil {
			x.netSubs[s.NetworkID] = append(x.netSubs[s.NetworkID], s)
		}
	}
	for i := range t.Ports {
		p := &t.Ports[i]
		x.ports[p.ID] = p
		x.byNet[p.NetworkID] = append(x.byNet[p.NetworkID], p)
		if isRouterInterface(p) {
			x.rtrPorts[p.DeviceID] = append(x.rtrPorts[p.DeviceID], p)
		}
	}
	for _, ps := range x.byNet {
		slices.SortFunc(ps, func(a, b *model.Port) int { return strings.Compare(a.ID, b.ID) })
	}
	for i := range t.Routers {
		x.routers[t.Routers[i].ID] = &t.Routers[i]
	}
	for i := range t.SecurityGroups {
		x.groups[t.SecurityGroups[i].ID] = &t.SecurityGroups[i]
	}
	for i := range t.Rules {
		r := &t.Rules[i]
		x.rules[r.SecurityGroupID] = append(x.rules[r.SecurityGroupID], r)
	}
	for _, rs := range x.rules {
		slices.SortFunc(rs, func(a, b *model.SecurityGroupRule) int { return strings.Compare(a.ID, b.ID) })
	}
	for i := range t.Chassis {
		x.chassis[t.Chassis[i].Name] = &t.Chassis[i]
	}
	return x
}

func isRouterInterface(p *model.Port) bool {
	return strings.HasPrefix(p.DeviceOwner, "network:router_interface")
}

// addrsOf are a port's fixed addresses, IPv4 and IPv6 (a packet's
// address matches those of its family only).
func addrsOf(p *model.Port) []netip.Addr {
	var out []netip.Addr
	for _, f := range p.FixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// portWithIP finds the port of a network holding a fixed address.
func (x *index) portWithIP(netID string, a netip.Addr) *model.Port {
	for _, p := range x.byNet[netID] {
		if slices.Contains(addrsOf(p), a) {
			return p
		}
	}
	return nil
}

// subnetOf is the IPv4 subnet of a network containing a.
func (x *index) subnetOf(netID string, a netip.Addr) (*model.Subnet, netip.Prefix) {
	var best *model.Subnet
	var bestPf netip.Prefix
	for _, s := range x.netSubs[netID] {
		pf, _ := netip.ParsePrefix(s.CIDR)
		pf = pf.Masked()
		if pf.Contains(a) && (best == nil || pf.Bits() > bestPf.Bits()) {
			best, bestPf = s, pf
		}
	}
	return best, bestPf
}

// members are the addresses a remote group rule admits: the fixed IPs and
// allowed address pairs of every port in the group.
func (x *index) members(group string) []netip.Prefix {
	var out []netip.Prefix
	for i := range x.t.Ports {
		p := &x.t.Ports[i]
		if !slices.Contains(p.SecurityGroups, group) {
			continue
		}
		for _, a := range addrsOf(p) {
			out = append(out, netip.PrefixFrom(a, 32))
		}
		for _, ap := range p.AllowedAddressPairs {
			if pf, ok := parsePrefixOrAddr(ap.IPAddress); ok {
				out = append(out, pf)
			}
		}
	}
	return out
}

func parsePrefixOrAddr(s string) (netip.Prefix, bool) {
	if pf, err := netip.ParsePrefix(s); err == nil {
		return pf.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// portLabel names a port for the trace: its name and id.
func portLabel(p *model.Port) string {
	if p.Name != "" {
		return p.Name + " (" + p.ID + ")"
	}
	return p.ID
}

func (x *index) netLabel(id string) string {
	if n := x.nets[id]; n != nil && n.Name != "" {
		return n.Name + " (" + id + ")"
	}
	return id
}

func (x *index) routerLabel(r *model.Router) string {
	if r.Name != "" {
		return r.Name + " (" + r.ID + ")"
	}
	return r.ID
}

func (x *index) groupLabel(id string) string {
	if g := x.groups[id]; g != nil && g.Name != "" {
		return g.Name + " (" + id + ")"
	}
	return id
}

// sourceSubnet is the subnet of the source network the packet leaves
// from: the one holding its source address, else the network's first of
// the packet's family.
func (x *index) sourceSubnet(netID string, pkt Packet) *model.Subnet {
	if s, _ := x.subnetOf(netID, pkt.Src); s != nil {
		return s
	}
	for _, s := range x.netSubs[netID] {
		if pf, err := netip.ParsePrefix(s.CIDR); err == nil && pf.Addr().Is4() == pkt.Dst.Is4() {
			return s
		}
	}
	return nil
}

// Lister reads one collection of the Neutron API, as the caller sees it,
// into a slice: path is the URL's collection ("security-groups"), key the
// answer's ("security_groups").
type Lister func(path, key string, into any) error

// LoadTopology reads the logical model through the API with list: every
// network, subnet, port, router, floating IP, security group and rule the
// caller may see, and the chassis (the agents: admin only, empty
// otherwise). wyvernctl and the console trace through it alike.
func LoadTopology(list Lister) (*Topology, error) {
	t := &Topology{}
	for _, l := range []struct {
		path, key string
		into      any
	}{
		{"networks", "networks", &t.Networks},
		{"subnets", "subnets", &t.Subnets},
		{"ports", "ports", &t.Ports},
		{"routers", "routers", &t.Routers},
		{"floatingips", "floatingips", &t.FloatingIPs},
		{"security-groups", "security_groups", &t.SecurityGroups},
		{"security-group-rules", "security_group_rules", &t.Rules},
	} {
		if err := list(l.path, l.key, l.into); err != nil {
			return nil, err
		}
	}
	// A floating IP with a router and no port holds port forwardings.
	for _, f := range t.FloatingIPs {
		if f.PortID != "" || f.RouterID == "" {
			continue
		}
		var pfs []model.PortForwarding
		if err := list("floatingips/"+f.ID+"/port_forwardings", "port_forwardings", &pfs); err != nil {
			return nil, err
		}
		if t.PortForwardings == nil {
			t.PortForwardings = map[string][]model.PortForwarding{}
		}
		t.PortForwardings[f.ID] = pfs
	}
	var agents []struct {
		Host           string `json:"host"`
		Alive          bool   `json:"alive"`
		Configurations struct {
			TunnelIP       string            `json:"tunnel_ip"`
			Encaps         []string          `json:"encaps"`
			BridgeMappings map[string]string `json:"bridge_mappings"`
			Gateway        bool              `json:"gateway"`
			FIPMode        string            `json:"fip_mode"`
		} `json:"configurations"`
	}
	if err := list("agents", "agents", &agents); err != nil {
		return nil, err
	}
	for _, ag := range agents {
		cf := ag.Configurations
		t.Chassis = append(t.Chassis, Chassis{Name: ag.Host, Alive: ag.Alive, TunnelIP: cf.TunnelIP,
			Encaps: cf.Encaps, BridgeMappings: cf.BridgeMappings, Gateway: cf.Gateway, FIPMode: cf.FIPMode})
	}
	return t, nil
}
