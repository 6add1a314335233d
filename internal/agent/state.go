package agent

import (
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

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
	// peers are the other chassis, by name.
	peers map[string]model.Chassis
	// peersReady is set once the chassis listing arrived.
	peersReady bool
	// remoteKeys gives ports bound elsewhere a stable key while we know them.
	remoteKeys map[string]uint32
	nextRemote uint32
	flatKeys   map[string]uint32
	nextFlat   uint32

	// routers and rules come from global watches (they are small); only
	// what concerns the view's ports is compiled.
	routers      map[string]*model.RouterRecord
	routersReady bool
	rules        map[string]*model.SecurityGroupRule
	rulesReady   bool
	// routerPortNet maps router interface ports to their network, once
	// resolved ("" while unknown).
	routerPortNet map[string]string
	sgKeys        map[string]uint16
	routerKeys    map[string]uint32

	// ext is this chassis' external side (bridge mappings, gateway).
	ext extConfig
	// fips (global watch, small) are every floating IP; alive the chassis
	// whose agent holds its heartbeat.
	fips       map[string]*fipRecord
	fipsReady  bool
	alive      map[string]bool
	aliveReady bool
	// programmedFIPs are the floating IPs the last view NATs here;
	// announce the external addresses it answers for.
	programmedFIPs map[string]bool
	announce       map[netip.Addr]announcement
}

// netData is what is known of one watched network.
type netData struct {
	tag     uint64
	cancel  func()
	network *model.Network
	subnets map[string]*model.Subnet
	ports   map[string]*model.Port
	// resets counts the prefixes (network, subnets, ports) listed so far.
	resets map[string]bool
	// parsed caches each port's conversion for the view, by port id; an
	// entry is good while its model pointer is the port's (an update
	// replaces the pointer). sorted is nil when ports changed.
	parsed map[string]parsedPort
	sorted []*model.Port
}

// parsedPort is a port's address part of the view, parsed once per
// version of the port.
type parsedPort struct {
	src  *model.Port
	ok   bool // the MAC parsed
	port pipeline.Port
}

// sortedPorts returns the network's ports ordered by id.
func (n *netData) sortedPorts() []*model.Port {
	if n.sorted == nil {
		n.sorted = sortedValues(n.ports)
	}
	return n.sorted
}

// parse returns p converted for the view (without chassis, ofport and
// key, which depend on the chassis' state); false if its MAC is bad.
func (n *netData) parse(netID string, p *model.Port) (pipeline.Port, bool) {
	if c, ok := n.parsed[p.ID]; ok && c.src == p {
		return c.port, c.ok
	}
	vp, ok := convertPort(netID, p)
	if n.parsed == nil {
		n.parsed = map[string]parsedPort{}
	}
	n.parsed[p.ID] = parsedPort{src: p, ok: ok, port: vp}
	return vp, ok
}

func convertPort(netID string, p *model.Port) (pipeline.Port, bool) {
	mac, err := net.ParseMAC(p.MACAddress)
	if err != nil {
		return pipeline.Port{}, false
	}
	vp := pipeline.Port{ID: p.ID, NetworkID: netID, MAC: mac, PortSecurity: p.PortSecurityEnabled,
		SecurityGroups: p.SecurityGroups}
	for _, f := range p.FixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil {
			vp.IPs = append(vp.IPs, a)
		}
	}
	for _, ap := range p.AllowedAddressPairs {
		pr, err := netip.ParsePrefix(ap.IPAddress)
		if err != nil {
			a, err := netip.ParseAddr(ap.IPAddress)
			if err != nil {
				continue
			}
			pr = netip.PrefixFrom(a, a.BitLen())
		}
		var m net.HardwareAddr
		if ap.MACAddress != "" {
			m, _ = net.ParseMAC(ap.MACAddress)
		}
		vp.AllowedAddressPairs = append(vp.AllowedAddressPairs, pipeline.AddressPair{Prefix: pr, MAC: m})
	}
	return vp, true
}

func (n *netData) ready() bool { return len(n.resets) == 3 }

func newState(chassis string) *state {
	return &state{chassis: chassis, ifaces: map[string]ovs.Interface{}, portNet: map[string]string{},
		nets: map[string]*netData{}, peers: map[string]model.Chassis{},
		remoteKeys: map[string]uint32{}, nextRemote: 1 << 20, flatKeys: map[string]uint32{}, nextFlat: 3 << 24,
		routers: map[string]*model.RouterRecord{}, rules: map[string]*model.SecurityGroupRule{},
		routerPortNet: map[string]string{}, sgKeys: map[string]uint16{}, routerKeys: map[string]uint32{},
		fips: map[string]*fipRecord{}, alive: map[string]bool{}, programmedFIPs: map[string]bool{}}
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
	var out []*model.RouterRecord
	seen := map[string]bool{}
	for id := range local {
		n := s.nets[id]
		if n == nil {
			continue
		}
		for _, p := range n.ports {
			if p.DeviceOwner != model.OwnerRouterInterface || seen[p.DeviceID] {
				continue
			}
			if r := s.routers[p.DeviceID]; r != nil {
				seen[p.DeviceID] = true
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
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
	case strings.HasPrefix(e.Prefix, store.Prefix+store.KindPorts+"/"):
		n.sorted = nil
		if e.Reset {
			n.parsed = nil
			n.ports = map[string]*model.Port{}
		}
		for _, kv := range e.KVs {
			id := kv.Key[strings.LastIndexByte(kv.Key, '/')+1:]
			if e.Delete {
				delete(n.ports, id)
				delete(n.parsed, id)
				continue
			}
			var v model.Port
			if json.Unmarshal(kv.Value, &v) == nil {
				if old := n.ports[id]; old != nil && len(e.KVs) == 1 && !e.Reset && samePortView(old, &v, chassis) {
					changed = false
				}
				n.ports[id] = &v
			}
		}
	}
	if e.Reset {
		n.resets[e.Prefix] = true
	}
	return changed
}

// samePortView reports whether two versions of a port compile the same on
// chassis: same addresses, MACs, security, router role and binding (a
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
		slices.Equal(a.AllowedAddressPairs, b.AllowedAddressPairs)
}

// networkKey gives each network a stable datapath key: its segmentation id
// tagged with its type, so keys survive restarts.
func (s *state) networkKey(n *model.Network) uint32 {
	switch n.NetworkType {
	case "geneve":
		return uint32(n.SegmentationID)
	case "vxlan":
		return 1<<24 | uint32(n.SegmentationID)
	case "vlan":
		return 2<<24 | uint32(n.SegmentationID)
	}
	k, ok := s.flatKeys[n.ID]
	if !ok {
		s.nextFlat++
		k = s.nextFlat
		s.flatKeys[n.ID] = k
	}
	return k
}

// view builds the pipeline's input from the state.
func (s *state) view(local pipeline.LocalChassis) *pipeline.View {
	v := &pipeline.View{Local: local}
	ofports := map[string]uint32{}
	for _, i := range s.ifaces {
		if i.OFPort > 0 {
			ofports[i.IfaceID()] = uint32(i.OFPort)
		}
	}
	netIDs := make([]string, 0, len(s.nets))
	localNets := s.localNets()
	for id, n := range s.nets {
		// An external network is the routers' way out (View.External),
		// not a switched network, unless a local port is on it.
		if n.network != nil && n.ready() && (!n.network.External || localNets[id]) {
			netIDs = append(netIDs, id)
		}
	}
	sort.Strings(netIDs)
	total := 0
	for _, id := range netIDs {
		total += len(s.nets[id].ports)
	}
	v.Ports = make([]pipeline.Port, 0, total)
	usedPeers := map[string]bool{}
	seenRemote := make(map[string]bool, total)
	for _, id := range netIDs {
		n := s.nets[id]
		v.Networks = append(v.Networks, pipeline.Network{ID: id, Key: s.networkKey(n.network),
			SegmentationID: uint32(n.network.SegmentationID), Type: n.network.NetworkType, MTU: n.network.MTU,
			CTZone: ctZone(n.network)})
		for _, sub := range sortedValues(n.subnets) {
			p, err := netip.ParsePrefix(sub.CIDR)
			if err != nil {
				continue
			}
			gw, _ := netip.ParseAddr(sub.GatewayIP)
			v.Subnets = append(v.Subnets, pipeline.Subnet{ID: sub.ID, NetworkID: id, CIDR: p, Gateway: gw, EnableDHCP: sub.EnableDHCP})
		}
		for _, p := range n.sortedPorts() {
			vp, ok := n.parse(id, p)
			if !ok {
				continue
			}
			if of, ok := ofports[p.ID]; ok {
				// Plugged here: bound here, whatever etcd says yet.
				vp.Chassis, vp.OFPort, vp.Key = s.chassis, of, of
			} else {
				if p.HostID != "" && p.HostID != s.chassis {
					vp.Chassis = p.HostID
					usedPeers[p.HostID] = true
				}
				vp.Key = s.remoteKey(p.ID)
				seenRemote[p.ID] = true
			}
			v.Ports = append(v.Ports, vp)
		}
	}
	s.addRouters(v)
	s.addExternal(v, usedPeers)
	s.addSecurityGroups(v)
	for id := range s.remoteKeys {
		if !seenRemote[id] {
			delete(s.remoteKeys, id)
		}
	}
	names := make([]string, 0, len(usedPeers))
	for n := range usedPeers {
		if _, ok := s.peers[n]; ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		c := s.peers[name]
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
	return v
}

// ctZone is a network's conntrack zone for security groups: its
// segmentation id, which the API allocates below 2^16 and disjoint between
// geneve and vxlan by default (see neutron.DefaultConfig).
func ctZone(n *model.Network) uint16 {
	if n.SegmentationID > 0 && n.SegmentationID <= 0xffff {
		return uint16(n.SegmentationID)
	}
	return uint16(0xf000 | n.SegmentationID&0xfff)
}

func (s *state) remoteKey(portID string) uint32 {
	k, ok := s.remoteKeys[portID]
	if !ok {
		s.nextRemote++
		k = s.nextRemote
		s.remoteKeys[portID] = k
	}
	return k
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
