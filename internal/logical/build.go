package logical

import (
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// Network is what a chassis knows of one network it watches.
type Network struct {
	Network *model.Network
	Subnets map[string]*model.Subnet
	Ports   map[string]*model.Port
	// Sorted are Ports ordered by id; nil: Build sorts them.
	Sorted []*model.Port
	// Cache keeps the ports' conversions between builds; nil: none.
	Cache *PortCache
}

// External is the chassis' external side.
type External struct {
	// Gateway: the chassis may be a router's active gateway.
	Gateway bool
	// Mappings: physnet → bridge.
	Mappings map[string]string
	// Ports: physnet → br-int's patch port to the mapped bridge.
	Ports map[string]uint32
	// NextHop: physnet → MAC of the external subnet's gateway, when the
	// operator gave it (an override of Resolved).
	NextHop map[string]net.HardwareAddr
	// Resolved: the MACs of upstream routers the agent resolved by ARP,
	// by address (see Result.Resolve).
	Resolved map[netip.Addr]net.HardwareAddr
	// Edge: the chassis is in edge mode (model.FIPModeEdge): the edge
	// layer serves its ports' floating IPs; Local.EdgeEndpoint is where
	// it tunnels their outbound traffic.
	Edge bool
}

// Inputs are the records one chassis builds its view from. Build reads
// them and changes none.
type Inputs struct {
	Local pipeline.LocalChassis
	// OFPorts are the OpenFlow ports of the local interfaces, by port id
	// (iface-id).
	OFPorts map[string]uint32
	// LocalNets are the networks of the local ports.
	LocalNets map[string]bool
	// Networks are the networks watched and fully listed, by id.
	Networks map[string]*Network
	// Peers are the other chassis, by name; Alive the chassis whose agent
	// holds its heartbeat.
	Peers map[string]model.Chassis
	Alive map[string]bool
	// Routers, their interfaces' networks (RouterPortNet: port id →
	// network id), the security group rules and the floating IPs, by id.
	Routers       map[string]*model.RouterRecord
	RouterPortNet map[string]string
	Rules         map[string]*model.SecurityGroupRule
	FloatingIPs   map[string]*model.FloatingIPRecord
	// MeteringLabels and MeteringRules are every metering label and
	// rule, by id (metering.go).
	MeteringLabels map[string]*model.MeteringLabel
	MeteringRules  map[string]*model.MeteringLabelRule
	Ext            External
	// QoSPolicies are the QoS policies, by id (qos.go).
	QoSPolicies map[string]*model.QoSPolicy
}

// Announcement is an external address this chassis answers for: its MAC
// and the br-int port of its external network.
type Announcement struct {
	MAC  string
	Port uint32
}

// Result is a built view and what the chassis must do besides compiling
// it.
type Result struct {
	View *pipeline.View
	// ProgrammedFIPs are the floating IPs the view NATs here, by id.
	ProgrammedFIPs map[string]bool
	// Announce are the external addresses the view answers for here
	// (IPv4 ones by ARP, announced by BGP; IPv6 ones, a router gateway's,
	// by neighbour discovery).
	Announce map[netip.Addr]Announcement
	// Resolve are the upstream routers whose MAC the chassis needs and
	// was not given (External.NextHop): the agent resolves them by ARP
	// and feeds the answers back through External.Resolved.
	Resolve []NextHopQuery
	// Skipped says why objects were left out of the view (a network or
	// router without a conntrack zone): for the caller's log.
	Skipped []error
}

// Build turns the inputs into the chassis' view. The error is the view's
// Validate error: such a view must not be compiled. keys keeps the
// datapath keys stable from one build to the next.
func Build(in *Inputs, keys *Keys) (*Result, error) {
	res := &Result{ProgrammedFIPs: map[string]bool{}, Announce: map[netip.Addr]Announcement{}}
	v := &pipeline.View{Local: in.Local}
	res.View = v
	netIDs := make([]string, 0, len(in.Networks))
	for id, n := range in.Networks {
		// An external network is the routers' way out (View.External),
		// not a switched network, unless a local port is on it.
		if n.Network == nil || n.Network.External && !in.LocalNets[id] {
			continue
		}
		if !validZone(n.Network.CTZone) {
			res.Skipped = append(res.Skipped, fmt.Errorf("network %s: no conntrack zone (a record from before zones were allocated?): left out", id))
			continue
		}
		netIDs = append(netIDs, id)
	}
	sort.Strings(netIDs)
	total := 0
	for _, id := range netIDs {
		total += len(in.Networks[id].Ports)
	}
	v.Ports = make([]pipeline.Port, 0, total)
	usedPeers := map[string]bool{}
	seenRemote := make(map[string]bool, total)
	for _, id := range netIDs {
		n := in.Networks[id]
		v.Networks = append(v.Networks, pipeline.Network{ID: id, Key: keys.Network(n.Network),
			SegmentationID: uint32(n.Network.SegmentationID), Type: n.Network.NetworkType, MTU: n.Network.MTU,
			CTZone: uint16(n.Network.CTZone), ProviderOFPort: in.providerPort(n.Network)})
		for _, sub := range sortedValues(n.Subnets) {
			p, err := netip.ParsePrefix(sub.CIDR)
			if err != nil {
				continue
			}
			gw, _ := netip.ParseAddr(sub.GatewayIP)
			v.Subnets = append(v.Subnets, pipeline.Subnet{ID: sub.ID, NetworkID: id, CIDR: p, Gateway: gw, EnableDHCP: sub.EnableDHCP,
				IPv6RAMode: sub.IPv6RAMode, IPv6AddressMode: sub.IPv6AddressMode})
		}
		ports := n.Sorted
		if ports == nil {
			ports = sortedValues(n.Ports)
		}
		for _, p := range ports {
			var vp pipeline.Port
			var ok bool
			if n.Cache != nil {
				vp, ok = n.Cache.Convert(id, p)
			} else {
				vp, ok = ConvertPort(id, p)
			}
			if !ok {
				continue
			}
			if of, ok := in.OFPorts[p.ID]; ok {
				// Plugged here: bound here, whatever etcd says yet.
				vp.Chassis, vp.OFPort, vp.Key = in.Local.Name, of, of
				vp.QoS = PortQoS(p, n.Network, in.QoSPolicies)
			} else {
				if p.HostID != "" && p.HostID != in.Local.Name {
					vp.Chassis = p.HostID
					usedPeers[p.HostID] = true
				}
				vp.Key = keys.RemotePort(p.ID)
				seenRemote[p.ID] = true
			}
			v.Ports = append(v.Ports, vp)
		}
	}
	res.Skipped = append(res.Skipped, in.addRouters(v, keys)...)
	in.addExternal(v, keys, usedPeers, res)
	in.addMetering(v)
	in.addSecurityGroups(v, keys)
	keys.keepRemote(seenRemote)
	names := make([]string, 0, len(usedPeers))
	for n := range usedPeers {
		if _, ok := in.Peers[n]; ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		c := in.Peers[name]
		ip, err := netip.ParseAddr(c.TunnelIP)
		if err != nil {
			continue
		}
		rc := pipeline.RemoteChassis{Name: name, TunnelIP: ip}
		for _, e := range c.Encaps {
			rc.Encaps = append(rc.Encaps, pipeline.Encap(e))
		}
		v.Remote = append(v.Remote, rc)
	}
	if err := v.Validate(); err != nil {
		return res, fmt.Errorf("logical: invalid view: %w", err)
	}
	return res, nil
}

// validZone reports whether z is an allocated conntrack zone.
func validZone(z int) bool { return z >= pipeline.ZoneMin && z <= pipeline.ZoneMax }

// RoutersOn returns the routers with an interface port on one of nets,
// ordered by id; portsOf gives a network's ports (nil when unknown).
func RoutersOn(nets map[string]bool, portsOf func(netID string) map[string]*model.Port, routers map[string]*model.RouterRecord) []*model.RouterRecord {
	var out []*model.RouterRecord
	seen := map[string]bool{}
	for id := range nets {
		for _, p := range portsOf(id) {
			if p.DeviceOwner != model.OwnerRouterInterface || seen[p.DeviceID] {
				continue
			}
			if r := routers[p.DeviceID]; r != nil {
				seen[p.DeviceID] = true
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (in *Inputs) portsOf(netID string) map[string]*model.Port {
	if n := in.Networks[netID]; n != nil {
		return n.Ports
	}
	return nil
}

// addRouters adds to v the routers with an interface on one of its
// networks, with the interfaces on networks the view holds. It returns
// the routers left out for want of a conntrack zone.
func (in *Inputs) addRouters(v *pipeline.View, keys *Keys) []error {
	var skipped []error
	inView := map[string]bool{}
	for _, n := range v.Networks {
		inView[n.ID] = true
	}
	for _, r := range RoutersOn(inView, in.portsOf, in.Routers) {
		if !validZone(r.CTZone) {
			skipped = append(skipped, fmt.Errorf("router %s: no conntrack zone (a record from before zones were allocated?): left out", r.ID))
			continue
		}
		vr := pipeline.Router{ID: r.ID, Key: keys.Router(r.ID), CTZone: uint16(r.CTZone)}
		for _, pid := range r.Interfaces {
			netID := in.RouterPortNet[pid]
			n := in.Networks[netID]
			if n == nil || !inView[netID] {
				continue
			}
			p := n.Ports[pid]
			if p == nil || len(p.FixedIPs) == 0 {
				continue
			}
			mac, err := net.ParseMAC(p.MACAddress)
			if err != nil {
				continue
			}
			for _, f := range p.FixedIPs {
				sub := n.Subnets[f.SubnetID]
				a, err1 := netip.ParseAddr(f.IPAddress)
				if sub == nil || err1 != nil {
					continue // IPv4 and IPv6 interfaces alike
				}
				pfx, err := netip.ParsePrefix(sub.CIDR)
				if err != nil {
					continue
				}
				vr.Ports = append(vr.Ports, pipeline.RouterPort{NetworkID: netID, MAC: mac, Address: netip.PrefixFrom(a, pfx.Bits())})
			}
		}
		for _, rt := range r.Routes {
			dst, err1 := netip.ParsePrefix(rt.Destination)
			nh, err2 := netip.ParseAddr(rt.NextHop)
			if err1 == nil && err2 == nil {
				vr.Routes = append(vr.Routes, pipeline.Route{Destination: dst, NextHop: nh})
			}
		}
		if len(vr.Ports) > 0 {
			v.Routers = append(v.Routers, vr)
		}
	}
	return skipped
}

// addSecurityGroups turns on stateful security groups and adds every group
// the view's ports use, plus the groups their rules name as remote groups,
// with members taken from the view's ports. The view holds every port that
// can send to a local port directly (local and routed networks), so those
// are all the members that matter here.
func (in *Inputs) addSecurityGroups(v *pipeline.View, keys *Keys) {
	v.SecurityGroupsEnabled = true
	byGroup := map[string][]*model.SecurityGroupRule{}
	for _, r := range in.Rules {
		byGroup[r.SecurityGroupID] = append(byGroup[r.SecurityGroupID], r)
	}
	members := map[string][]netip.Prefix{}
	used := map[string]bool{}
	for _, p := range v.Ports {
		for _, g := range p.SecurityGroups {
			used[g] = true
			for _, a := range p.IPs {
				members[g] = append(members[g], netip.PrefixFrom(a, a.BitLen()))
			}
			for _, ap := range p.AllowedAddressPairs {
				members[g] = append(members[g], ap.Prefix)
			}
		}
	}
	for g := range used {
		for _, r := range byGroup[g] {
			if r.RemoteGroupID != "" {
				used[r.RemoteGroupID] = true
			}
		}
	}
	ids := make([]string, 0, len(used))
	for g := range used {
		ids = append(ids, g)
	}
	sort.Strings(ids)
	for _, g := range ids {
		sg := pipeline.SecurityGroup{ID: g, Key: keys.SecurityGroup(g), Members: members[g]}
		rules := byGroup[g]
		sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
		for _, r := range rules {
			if vr, ok := ConvertRule(r); ok {
				sg.Rules = append(sg.Rules, vr)
			}
		}
		v.SecurityGroups = append(v.SecurityGroups, sg)
	}
}

func sortedValues[T any](m map[string]*T) []*T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*T, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}
