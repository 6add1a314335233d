package agent

import (
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// state is the agent's local view of the world. Only the loop goroutine
// touches it.
type state struct {
	chassis string
	// ifaces are br-int's interfaces with an iface-id, by interface name.
	ifaces map[string]ovs.Interface
	// portNet maps the iface-ids seen on br-int to their network, once
	// resolved through the store's index ("" while unresolved or unknown).
	portNet map[string]string
	// nets are the networks watched because a local port is on them.
	nets map[string]*netData
	// peers are the other chassis the view may read, by name: the hosts
	// of the ports held and the live gateways (refreshPeers).
	peers map[string]model.Chassis
	// gwChassis are the live gateway chassis (their leased
	// registrations, store.GatewayChassisKey), itself included when a
	// gateway; gwChassisReady is set once they were listed.
	gwChassis      map[string]model.Chassis
	gwChassisReady bool
	// peerWatches follow the registration of a host whose bindings carry
	// no endpoint (written by an older agent, or a port record naming
	// its host): one key each (peers.go).
	peerWatches map[string]*peerWatch
	// keys keeps the view's datapath keys stable from one view to the
	// next.
	keys *logical.Keys

	// scoped: the routers and floating IPs held are those of the watched
	// networks (their scoped copies, store.ScopedOf), so a change reaches
	// only the chassis that hold one of the router's or the fixed port's
	// networks; false on a gateway chassis, which follows every router
	// and floating IP (global watches).
	scoped bool
	// routers are the routers held (with scoped, the union of the watched
	// networks'); only what concerns the view's ports is compiled.
	routers      map[string]*model.RouterRecord
	routersReady bool
	// rules are the rules of the security groups followed (groups), the
	// union of theirs: the groups of the ports held and their remote
	// groups (wantedGroups).
	rules      map[string]*model.SecurityGroupRule
	rulesReady bool
	groups     map[string]*groupData
	// routerPortNet maps router interface ports to their network, once
	// resolved ("" while unknown).
	routerPortNet map[string]string

	// ext is this chassis' external side (bridge mappings, gateway).
	ext extConfig
	// meter holds the metering labels and rules (metering.go).
	meter meterRecords
	// fips (global watch, small) are every floating IP; alive the live
	// gateways (the only liveness a view reads: gateway elections).
	fips      map[string]*model.FloatingIPRecord
	fipsReady bool
	alive     map[string]bool
	// programmedFIPs are the floating IPs the last view NATs here;
	// announce the external addresses it answers for.
	programmedFIPs map[string]bool
	announce       map[netip.Addr]announcement
	// qos are the QoS policies (a global watch: policies are few and
	// small), by id.
	qos      map[string]*model.QoSPolicy
	qosReady bool
	// edgeGateways are the edge gateways' registrations, by name, and
	// edgeEncaps what this chassis learned from them (edge.go).
	edgeGateways  map[string]*model.EdgeGateway
	gatewaysReady bool
	edgeEncaps    []pipeline.Encap
	// resolve are the upstream routers the last view needs resolved.
	resolve []logical.NextHopQuery
	// skipped are the reasons objects were left out of the last view
	// (logged when they first appear).
	skipped map[string]bool
}

// netData is what is known of one watched network.
type netData struct {
	tag     uint64
	cancel  func()
	network *model.Network
	subnets map[string]*model.Subnet
	// ports are the ports as reported: their records (records) with
	// their bindings (bindings, the mirrors of store.BindingMirrorKey)
	// overlaid.
	ports    map[string]*model.Port
	records  map[string]*model.Port
	bindings map[string]*model.PortBinding
	// resets counts the prefixes (network, subnets, ports) listed so far.
	resets map[string]bool
	// cache keeps each port's conversion for the view; sorted is nil
	// when ports changed.
	cache  logical.PortCache
	sorted []*model.Port
	// routers and fips are the scoped copies of the routers with an
	// interface on the network and of the floating IPs of its ports.
	routers map[string]*model.RouterRecord
	fips    map[string]*model.FloatingIPRecord
}

// groupData is one followed security group: its rules.
type groupData struct {
	tag    uint64
	cancel func()
	rules  map[string]*model.SecurityGroupRule
	ready  bool
}

// sortedPorts returns the network's ports ordered by id.
func (n *netData) sortedPorts() []*model.Port {
	if n.sorted == nil {
		n.sorted = sortedValues(n.ports)
	}
	return n.sorted
}

// netPrefixes is how many prefixes a network's watch lists: the network,
// its subnets, its ports and its scoped copies.
const netPrefixes = 4

func (n *netData) ready() bool { return len(n.resets) == netPrefixes }

func newState(chassis string) *state {
	return &state{chassis: chassis, ifaces: map[string]ovs.Interface{}, portNet: map[string]string{},
		nets: map[string]*netData{}, peers: map[string]model.Chassis{}, gwChassis: map[string]model.Chassis{},
		peerWatches: map[string]*peerWatch{},
		keys:        logical.NewKeys(),
		routers:     map[string]*model.RouterRecord{}, rules: map[string]*model.SecurityGroupRule{},
		routerPortNet: map[string]string{}, groups: map[string]*groupData{}, rulesReady: true,
		fips: map[string]*model.FloatingIPRecord{}, alive: map[string]bool{}, programmedFIPs: map[string]bool{}}
}

// localNets returns the networks local ports are on.
func (s *state) localNets() map[string]bool {
	out := map[string]bool{}
	for _, i := range s.ifaces {
		if n := s.portNet[i.IfaceID()]; n != "" {
			out[n] = true
		}
	}
	return out
}

// localRouters returns the routers with an interface on a local network.
func (s *state) localRouters(local map[string]bool) []*model.RouterRecord {
	return logical.RoutersOn(local, func(id string) map[string]*model.Port {
		if n := s.nets[id]; n != nil {
			return n.ports
		}
		return nil
	}, s.routers)
}

// wantedNets is what this chassis must hold: the networks of its ports and
// the networks routed to them (one router hop: distributed routing sends a
// packet straight from the source chassis to the destination port). The
// second result lists router interface ports whose network is unknown.
func (s *state) wantedNets() (map[string]bool, []string) {
	local := s.localNets()
	want := map[string]bool{}
	for id := range local {
		want[id] = true
	}
	var unresolved []string
	for _, r := range s.localRouters(local) {
		for _, pid := range r.Interfaces {
			netID, known := s.routerPortNet[pid]
			switch {
			case !known:
				unresolved = append(unresolved, pid)
			case netID != "":
				want[netID] = true
			}
		}
		if r.Gateway != nil && r.Gateway.NetworkID != "" {
			want[r.Gateway.NetworkID] = true
		}
	}
	s.gatewayNets(want, &unresolved)
	return want, unresolved
}

// apply folds a watch event of one network into its data. It reports
// whether the view may have changed: false for port updates that change
// nothing the view reads on chassis (the agent's own binding coming back,
// a status, name or revision change).
func (n *netData) apply(e kvEvent, chassis string) bool {
	changed := true
	if n.records == nil {
		n.records, n.bindings = map[string]*model.Port{}, map[string]*model.PortBinding{}
	}
	switch {
	case strings.HasPrefix(e.Prefix, store.Prefix+store.KindNetworks+"/"):
		if e.Reset {
			n.network = nil
		}
		for _, kv := range e.KVs {
			if e.Delete {
				n.network = nil
				continue
			}
			var v model.Network
			if json.Unmarshal(kv.Value, &v) == nil {
				n.network = &v
			}
		}
	case strings.HasPrefix(e.Prefix, store.Prefix+store.KindSubnets+"/"):
		if e.Reset {
			n.subnets = map[string]*model.Subnet{}
		}
		for _, kv := range e.KVs {
			id := kv.Key[strings.LastIndexByte(kv.Key, '/')+1:]
			if e.Delete {
				delete(n.subnets, id)
				continue
			}
			var v model.Subnet
			if json.Unmarshal(kv.Value, &v) == nil {
				n.subnets[id] = &v
			}
		}
	case strings.HasPrefix(e.Prefix, store.ScopedPrefix):
		if e.Reset {
			n.routers = map[string]*model.RouterRecord{}
			n.fips = map[string]*model.FloatingIPRecord{}
		}
		if e.Reset {
			n.bindings = map[string]*model.PortBinding{}
			for id := range n.records {
				n.overlay(id)
			}
		}
		for _, kv := range e.KVs {
			kind, id, _ := strings.Cut(strings.TrimPrefix(kv.Key, e.Prefix), "/")
			switch kind {
			case store.KindRouters:
				foldOne(n.routers, id, kv.Value, e.Delete)
			case store.KindFloatingIPs:
				foldOne(n.fips, id, kv.Value, e.Delete)
			}
			if _, pid, ok := store.ParseBindingMirror(kv.Key); ok {
				// A peer's endpoint is read by the view; this
				// chassis' own is not.
				endpoint := func() *model.Endpoint {
					if b := n.bindings[pid]; b != nil && b.Chassis != chassis {
						return b.Endpoint
					}
					return nil
				}
				was := endpoint()
				foldOne(n.bindings, pid, kv.Value, e.Delete)
				now := endpoint()
				old := n.ports[pid]
				if n.overlay(pid) && len(e.KVs) == 1 && !e.Reset && (old == nil || samePortView(old, n.ports[pid], chassis)) && was.Equal(now) {
					changed = false
				}
			}
		}
	case strings.HasPrefix(e.Prefix, store.Prefix+store.KindPorts+"/"):
		n.sorted = nil
		if e.Reset {
			n.cache.Reset()
			n.ports = map[string]*model.Port{}
			n.records = map[string]*model.Port{}
		}
		for _, kv := range e.KVs {
			id := kv.Key[strings.LastIndexByte(kv.Key, '/')+1:]
			if e.Delete {
				delete(n.ports, id)
				delete(n.records, id)
				n.cache.Forget(id)
				continue
			}
			var v model.Port
			if json.Unmarshal(kv.Value, &v) == nil {
				old := n.ports[id]
				n.records[id] = &v
				n.overlay(id)
				if old != nil && len(e.KVs) == 1 && !e.Reset && samePortView(old, n.ports[id], chassis) {
					changed = false
				}
			}
		}
	}
	if e.Reset {
		n.resets[e.Prefix] = true
	}
	return changed
}

// overlay sets the reported port id from its record and binding; it
// reports false when the port has no record (yet).
func (n *netData) overlay(id string) bool {
	rec := n.records[id]
	if rec == nil {
		return false
	}
	p := rec
	if b := n.bindings[id]; b != nil {
		c := *rec
		b.Apply(&c)
		p = &c
	}
	n.ports[id] = p
	n.sorted = nil
	return true
}

// samePortView reports whether two versions of a port compile the same on
// chassis: same addresses, MACs, security, QoS policy, router role and binding (a
// port bound to this chassis counts as unbound: the view binds it here
// from its interface's ofport, whatever etcd says).
func samePortView(a, b *model.Port, chassis string) bool {
	host := func(h string) string {
		if h == chassis {
			return ""
		}
		return h
	}
	return a.MACAddress == b.MACAddress && a.PortSecurityEnabled == b.PortSecurityEnabled &&
		host(a.HostID) == host(b.HostID) && a.DeviceOwner == b.DeviceOwner && a.DeviceID == b.DeviceID &&
		slices.Equal(a.FixedIPs, b.FixedIPs) && slices.Equal(a.SecurityGroups, b.SecurityGroups) &&
		slices.Equal(a.AllowedAddressPairs, b.AllowedAddressPairs) && qosID(a.QoSPolicyID) == qosID(b.QoSPolicyID)
}

// qosID is a QoS policy id, "" for none.
func qosID(id *string) string {
	if id == nil {
		return ""
	}
	return *id
}

// view builds the pipeline's input from the state (logical.Build) and
// keeps what the agent does besides compiling it: the floating IPs it
// NATs and the addresses it announces. skipped are the objects left out
// of the view. A view that fails validation comes with its error and
// must not be compiled.
func (s *state) view(local pipeline.LocalChassis) (v *pipeline.View, skipped []error, err error) {
	res, err := logical.Build(s.inputs(local), s.keys)
	if err != nil {
		return nil, res.Skipped, err
	}
	s.programmedFIPs = res.ProgrammedFIPs
	s.resolve = res.Resolve
	s.announce = make(map[netip.Addr]announcement, len(res.Announce))
	for a, an := range res.Announce {
		s.announce[a] = announcement{mac: an.MAC, port: an.Port}
	}
	return res.View, res.Skipped, nil
}

// buildView is state.view with its errors logged: each object left out
// once while it stays out, and an invalid view every time (it is not
// compiled: false).
func (a *Agent) buildView(local pipeline.LocalChassis) (*pipeline.View, bool) {
	v, skipped, err := a.state.view(local)
	was := a.state.skipped
	a.state.skipped = make(map[string]bool, len(skipped))
	for _, e := range skipped {
		if !was[e.Error()] {
			a.log.Error("left out of the view", "err", e)
		}
		a.state.skipped[e.Error()] = true
	}
	if err != nil {
		a.log.Error("view not compiled", "err", err)
		return nil, false
	}
	return v, true
}

// inputs are the records the view is built from: the networks fully
// listed, and everything else as it is.
func (s *state) inputs(local pipeline.LocalChassis) *logical.Inputs {
	in := &logical.Inputs{Local: local, OFPorts: map[string]uint32{}, LocalNets: s.localNets(),
		Networks: make(map[string]*logical.Network, len(s.nets)), Peers: s.peers, Alive: s.alive,
		Routers: s.routers, RouterPortNet: s.routerPortNet, Rules: s.rules, FloatingIPs: s.fips, QoSPolicies: s.qos,
		MeteringLabels: s.meter.labels, MeteringRules: s.meter.rules,
		Ext: logical.External{Gateway: s.ext.gateway, Mappings: s.ext.mappings, Ports: s.ext.ports, NextHop: s.ext.nextHop,
			Resolved: s.ext.resolved, Edge: s.ext.edge}}
	for _, i := range s.ifaces {
		if i.OFPort > 0 {
			in.OFPorts[i.IfaceID()] = uint32(i.OFPort)
		}
	}
	for id, n := range s.nets {
		if n.network != nil && n.ready() {
			in.Networks[id] = &logical.Network{Network: n.network, Subnets: n.subnets, Ports: n.ports,
				Sorted: n.sortedPorts(), Cache: &n.cache}
		}
	}
	return in
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

// heldGroups are the security groups whose rules the agent follows.
func (s *state) heldGroups() []string { return sortedKeys(s.groups) }

// foldOne sets m[id] to the record decoded from val, or removes it (del,
// or a value that does not decode).
func foldOne[T any](m map[string]*T, id string, val []byte, del bool) {
	var v T
	if del || json.Unmarshal(val, &v) != nil {
		delete(m, id)
		return
	}
	m[id] = &v
}

// unionScoped makes the routers and floating IPs held those of the
// watched networks (on a scoped chassis).
func (s *state) unionScoped() {
	if !s.scoped {
		return
	}
	s.routers = map[string]*model.RouterRecord{}
	s.fips = map[string]*model.FloatingIPRecord{}
	for _, n := range s.nets {
		for id, r := range n.routers {
			s.routers[id] = r
		}
		for id, f := range n.fips {
			s.fips[id] = f
		}
	}
}

// unionRules makes the rules held those of the groups followed.
func (s *state) unionRules() {
	s.rules = map[string]*model.SecurityGroupRule{}
	for _, g := range s.groups {
		for id, r := range g.rules {
			s.rules[id] = r
		}
	}
}

// wantedGroups are the security groups whose rules the view may use: the
// groups of the ports held, and the remote groups of their rules.
func (s *state) wantedGroups() map[string]bool {
	want := map[string]bool{}
	for _, n := range s.nets {
		for _, p := range n.ports {
			for _, g := range p.SecurityGroups {
				want[g] = true
			}
		}
	}
	for g := range maps.Clone(want) {
		if gd := s.groups[g]; gd != nil {
			for _, r := range gd.rules {
				if r.RemoteGroupID != "" {
					want[r.RemoteGroupID] = true
				}
			}
		}
	}
	return want
}
