package pipeline

import (
	"cmp"
	"net"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Provider networks: vlan and flat networks on a physical network.
//
// A vlan or flat network whose physical network this chassis maps
// (Network.ProviderOFPort: br-int's patch port to the bridge of the
// chassis' bridge mapping) is switched over that physical network, never
// through a tunnel. Its local ports go through the same stages as on an
// overlay network (Classify, PortSecurity, EgressACL, Services with the
// ARP and ND responders and DHCP, L2Lookup, IngressACL); only where a
// frame leaves or enters the chassis differs:
//
//   - Classify: a frame from the bridge port with the network's VLAN id (a
//     vlan network; the tag is popped) or without a tag (a flat network)
//     is the network's, marked PktSourceProvider, and goes straight to
//     L2Lookup: the sending chassis applied port security, ACLs and
//     services, and a frame from a host outside Wyvern still meets the
//     destination port's ingress ACL. A tagged frame of a VLAN no network
//     here has is dropped (one flow per bridge port, in the section of its
//     network with the lowest key), so that it cannot pass for the
//     untagged flat external network sharing the physical network.
//   - L2Lookup: locally sourced unicast to a port bound elsewhere, every
//     broadcast and multicast (the ARP requests the responder did not
//     answer included: the physical network may hold hosts Wyvern does
//     not know, a physical router for one) and unknown unicast go out of
//     the bridge port, with the VLAN id pushed on a vlan network. From
//     the bridge, broadcast and multicast go to the local ports, unknown
//     unicast to the local ports without port security, never back out.
//
// Routers are served on provider networks the way OVN serves them with
// ovn-chassis-mac-mappings (provroute.go): every chassis routes its own
// ports' traffic, answering ARP and ND for the router's addresses itself,
// so a VM's frames to its gateway never leave the chassis; what a router
// routes onto a physical network leaves with the chassis' own MAC on it
// (Network.ChassisMAC) as source, never the router's MAC, which every
// chassis holds at once.

// prioProviderClassify is above an external network's in_port flow
// (prioClassify), which shares the bridge port of its physical network;
// prioProviderGuard between the two.
const (
	prioProviderClassify = prioClassify + 10
	prioProviderGuard    = prioClassify + 5
)

// providerState is how a network reaches its physical network here.
type providerState struct {
	// port is br-int's port to the physical network's bridge; 0: none.
	port uint32
	// vlan is the 802.1Q VLAN id of a vlan network; 0: untagged (flat).
	vlan uint16
	// guard says this network's section holds the bridge port's flow
	// dropping tagged frames of unknown VLANs.
	guard bool
	// chassisMAC is the source of routed packets sent there (a copy of
	// Network.ChassisMAC when it is a unicast MAC; nil: routed packets
	// are not sent there).
	chassisMAC net.HardwareAddr
}

func (p providerState) hash(h *hasher) {
	h.u64(uint64(p.port))
	h.u64(uint64(p.vlan))
	h.bool(p.guard)
	h.bytes(p.chassisMAC)
}

// IsProvider reports whether a network type is switched over a physical
// network (vlan, flat) rather than tunnelled.
func IsProvider(networkType string) bool { return networkType == "vlan" || networkType == "flat" }

// isProviderPort reports whether of is a provider network's bridge port:
// never a VM port.
func isProviderPort(v *View, of uint32) bool {
	for i := range v.Networks {
		if n := &v.Networks[i]; n.ProviderOFPort == of && IsProvider(n.Type) {
			return true
		}
	}
	return false
}

// indexProviders sets the provider state of the usable vlan and flat
// networks, in key order: the first network on a (bridge port, VLAN id)
// wins; a vlan network's id must be a VLAN id (1..4094). Then it gives
// each bridge port's tag guard to its network with local ports of the
// lowest key.
func (x *index) indexProviders() {
	v := x.v
	all := make([]*netState, 0, len(x.netsByID))
	for _, ns := range x.netsByID {
		all = append(all, ns)
	}
	slices.SortFunc(all, func(a, b *netState) int { return cmp.Compare(a.Key, b.Key) })
	taken := map[[2]uint32]bool{}
	for _, ns := range all {
		port := ns.ProviderOFPort
		if !IsProvider(ns.Type) || port == 0 || port == v.Local.GeneveOFPort || port == v.Local.VXLANOFPort {
			continue
		}
		var vlan uint16
		if ns.Type == "vlan" {
			if ns.SegmentationID < 1 || ns.SegmentationID > 4094 {
				continue
			}
			vlan = uint16(ns.SegmentationID)
		}
		k := [2]uint32{port, uint32(vlan)}
		if taken[k] {
			continue
		}
		taken[k] = true
		ns.prov = providerState{port: port, vlan: vlan}
		if m := ns.ChassisMAC; len(m) == 6 && m[0]&1 == 0 {
			ns.prov.chassisMAC = slices.Clone(m)
		}
	}
	guarded := map[uint32]bool{}
	for _, ns := range x.nets { // by key, local ports only
		if p := ns.prov.port; p != 0 && !guarded[p] {
			guarded[p] = true
			ns.prov.guard = true
		}
	}
}

// classifyProvider maps frames from the physical network to the network.
func classifyProvider(c *emitter, n *netState) {
	pr := n.prov
	if pr.port == 0 {
		return
	}
	if pr.guard {
		c.add(TableClassify, prioProviderGuard, FeatureClassify,
			[]ofp.Field{ofp.InPort(pr.port), vlanTagged})
	}
	if pr.vlan != 0 {
		c.add(TableClassify, prioProviderClassify, FeatureClassify,
			[]ofp.Field{ofp.InPort(pr.port), vlanVID(pr.vlan)},
			ofp.PopVLAN{}, loadProvider, NetworkKeyField.Load(n.Key), gotoTable(TableL2Lookup))
		return
	}
	c.add(TableClassify, prioProviderClassify, FeatureClassify,
		[]ofp.Field{ofp.InPort(pr.port), vlanNone},
		loadProvider, NetworkKeyField.Load(n.Key), gotoTable(TableL2Lookup))
}

var (
	loadProvider = PktSourceField.Load(PktSourceProvider)
	vlanTagged   = ofp.Field{Kind: ofp.FVLANVID, Value: ofp.VLANPresent, Mask: ofp.VLANPresent}
	vlanNone     = ofp.Field{Kind: ofp.FVLANVID} // exact 0: no tag
)

func vlanVID(id uint16) ofp.Field {
	return ofp.Field{Kind: ofp.FVLANVID, Value: uint64(ofp.VLANPresent | id)}
}

// toProvider is the actions sending a frame out to the network's physical
// network (then Output), tagged on a vlan network.
func toProvider(n *netState) []ofp.Action {
	if n.prov.vlan == 0 {
		return []ofp.Action{OutPortField.Load(n.prov.port)}
	}
	return []ofp.Action{ofp.PushVLAN{}, ofp.SetField{Field: vlanVID(n.prov.vlan)}, OutPortField.Load(n.prov.port)}
}

// providerL2 is L2Lookup of a provider network past its local ports'
// MACs (seen, whose flows l2 compiled).
func (c *netBuilder) providerL2(n *netState, seen map[string]bool) {
	netKey := NetworkKeyField.Match(n.Key)
	fromLocal := PktSourceField.Match(PktSourceLocal)
	fromProvider := PktSourceField.Match(PktSourceProvider)
	out := toProvider(n)
	for _, p := range n.all {
		if p.local || p.Chassis == "" || seen[string(p.mac)] {
			continue
		}
		seen[string(p.mac)] = true
		c.add(TableL2Lookup, prioL2Known, FeatureL2,
			[]ofp.Field{fromLocal, netKey, ofp.EthDst(p.mac)},
			append(slices.Clip(out), gotoTable(TableOutput))...)
	}
	multicast := ofp.EthDstMasked(macMulticast, macMulticast)
	local := c.floodLocal(n.local)
	c.add(TableL2Lookup, prioL2Flood, FeatureL2, []ofp.Field{fromLocal, netKey, multicast},
		append(append(local, out...), ofp.Resubmit{Table: TableOutput.Number()})...)
	c.add(TableL2Lookup, prioL2Flood, FeatureL2, []ofp.Field{fromProvider, netKey, multicast}, local...)
	var open []*portState
	for _, p := range n.local {
		if !p.PortSecurity {
			open = append(open, p)
		}
	}
	openLocal := c.floodLocal(open)
	c.add(TableL2Lookup, prioL2Unknown, FeatureL2, []ofp.Field{fromLocal, netKey},
		append(append(openLocal, out...), ofp.Resubmit{Table: TableOutput.Number()})...)
	if len(open) > 0 {
		c.add(TableL2Lookup, prioL2Unknown, FeatureL2, []ofp.Field{fromProvider, netKey}, openLocal...)
	}
}
