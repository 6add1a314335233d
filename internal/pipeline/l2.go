package pipeline

import (
	"cmp"
	"net"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// l2Unit compiles a section per network with local ports
// ("net/<network id>"): its classification, port security, ARP and ND
// responders, DHCP trap and switching. Its fingerprint is the index's
// netHash (hashNetwork, below): what a network's port event changes.
type l2Unit struct{}

func (l2Unit) sections(x *index, s *sectionList) {
	for _, n := range x.nets {
		if e := s.next("net/"+n.ID, x.netHash[n], 4+len(n.local)*16+len(n.all)*2); e != nil {
			b := netBuilder{x, e}
			b.network(n)
		}
	}
}

// netBuilder compiles one network's section.
type netBuilder struct {
	*index
	*emitter
}

// hashNetwork fingerprints everything a network's section reads: the
// network, its tunnel port and DHCP subnets, every port on it with what
// the index derived from it (local, remote chassis), and aclWords (the
// inputs of its local ports' ACL words besides the ports: hashACLWords).
func (x *index) hashNetwork(n *netState, aclWords uint64) uint64 {
	h := x.hasher("net")
	h.str(n.ID)
	h.u64(uint64(n.Key))
	h.u64(uint64(n.SegmentationID))
	h.str(n.Type)
	h.u64(uint64(n.MTU))
	h.u64(uint64(n.CTZone))
	h.u64(uint64(n.tunPort))
	n.prov.hash(h)
	h.u64(uint64(len(n.dhcp4)))
	for _, s := range n.dhcp4 {
		h.prefix(s)
	}
	n.v6.hash(h)
	h.u64(aclWords) // the ACL words loaded for its local ports
	h.u64(uint64(len(n.all)))
	for _, p := range n.all {
		h.port(p)
	}
	return h.Sum64()
}

// port hashes every field of a port (View's Port and what index derived).
func (h *hasher) port(p *portState) {
	h.str(p.ID)
	h.str(p.NetworkID)
	h.u64(uint64(p.Key))
	h.bytes(p.MAC)
	h.u64(uint64(len(p.IPs)))
	for _, a := range p.IPs {
		h.addr(a)
	}
	h.u64(uint64(len(p.AllowedAddressPairs)))
	for _, ap := range p.AllowedAddressPairs {
		h.prefix(ap.Prefix)
		h.bytes(ap.MAC)
	}
	h.bool(p.PortSecurity)
	h.u64(uint64(len(p.SecurityGroups)))
	for _, g := range p.SecurityGroups {
		h.str(g)
	}
	h.str(p.Chassis)
	h.u64(uint64(p.OFPort))
	h.bool(p.local)
	h.remote(p.remote)
	h.qos(p.QoS)
}

// network compiles everything of one network with local ports.
func (c *netBuilder) network(n *netState) {
	c.classify(n)
	for _, p := range n.local {
		c.portSecurity(p)
	}
	c.arpResponder(n)
	if c.cfg.NDResponder {
		c.ndResponder(n)
	}
	c.dhcp(n)
	c.ipv6Services(n)
	c.l2(n)
}

// classify maps each local port's ofport to its keys. A port with port
// security is classified only from its own MACs (its MAC and those of its
// allowed address pairs), marked VMPortSecured: this is the first stage of
// port security, so that PortSecurity's shared flows need only that mark,
// and a frame from any other MAC is dropped here.
func (c *netBuilder) classify(n *netState) {
	for _, p := range n.local {
		if !p.PortSecurity {
			acts := []ofp.Action{loadLocal, VMPortField.Load(VMPortUnsecured), InPortKeyField.Load(p.Key), NetworkKeyField.Load(n.Key)}
			c.add(TableClassify, prioClassify, FeatureClassify,
				[]ofp.Field{ofp.InPort(p.OFPort)},
				append(qosClassify(c.aclClassify(acts, p), p), NextTable(TableClassify))...)
			continue
		}
		for _, id := range p.identities() {
			acts := []ofp.Action{loadLocal, VMPortField.Load(VMPortSecured), InPortKeyField.Load(p.Key), NetworkKeyField.Load(n.Key)}
			c.add(TableClassify, prioClassify, FeatureClassify,
				[]ofp.Field{ofp.InPort(p.OFPort), ofp.EthSrc(id.mac)},
				append(qosClassify(c.aclClassify(acts, p), p), NextTable(TableClassify))...)
		}
	}
	classifyTunnel(c.emitter, n)
	classifyProvider(c.emitter, n)
}

// classifyTunnel maps the network's tunnel key to the network. Each network
// is classified once: by its own section when it has local ports, else by
// the L3 section (l3Builder.classifyOnce).
func classifyTunnel(c *emitter, n *netState) {
	if n.tunPort != 0 {
		c.add(TableClassify, prioClassify, FeatureClassify,
			[]ofp.Field{ofp.InPort(n.tunPort), ofp.TunID(uint64(n.SegmentationID))},
			loadTunnel,
			NetworkKeyField.Load(n.Key),
			gotoTable(TableL2Lookup))
	}
}

// identity is a MAC and the sources it may use.
type identity struct {
	mac    net.HardwareAddr
	v4, v6 []netip.Prefix
}

// identities returns the MACs a port with port security may send from,
// its own first, each with its addresses and allowed address pairs.
func (p *portState) identities() []identity {
	if p.ids != nil {
		return p.ids
	}
	ids := []identity{{mac: p.mac}}
	for _, a := range p.IPs {
		ids[0].addPrefix(netip.PrefixFrom(a, a.BitLen()))
	}
	for _, ap := range p.AllowedAddressPairs {
		if !ap.Prefix.IsValid() {
			continue
		}
		i := 0
		if len(ap.MAC) == 6 && !macEqual(ap.MAC, p.mac) {
			i = slices.IndexFunc(ids, func(id identity) bool { return macEqual(id.mac, ap.MAC) })
			if i < 0 {
				ids = append(ids, identity{mac: slices.Clone(ap.MAC)})
				i = len(ids) - 1
			}
		}
		ids[i].addPrefix(ap.Prefix.Masked())
	}
	p.ids = ids
	return ids
}

// portSecurity installs the flows of a port with port security that name
// its addresses. Classify already verified the source MAC is one of the
// port's; every flow here still names the MAC it allows, so that an
// address pair's prefixes are allowed only from its own MAC.
func (c *netBuilder) portSecurity(p *portState) {
	if !p.PortSecurity {
		return // passed by portSecurityShared
	}
	key := InPortKeyField.Match(p.Key)
	next := NextTable(TablePortSecurity)
	ids := p.identities()

	// Matches are built in a stack buffer; add copies them.
	var buf [12]ofp.Field
	nd := func(t uint8, src ofp.Field) []ofp.Field {
		return append(buf[:0], key, src, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
			ofp.ICMPv6Type(t), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0})
	}
	own := ids[0].mac
	// ARP probes (RFC 5227) carry spa 0.0.0.0.
	c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity, []ofp.Field{
		key, ofp.EthSrc(own), ofp.EthType(ofp.EthTypeARP), ofp.ARPSHA(own), ofp.ARPSPA(prefixV4Any),
	}, next)

	for _, id := range ids {
		src := ofp.EthSrc(id.mac)
		for _, pf := range id.v4 {
			c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity,
				[]ofp.Field{key, src, ofp.EthType(ofp.EthTypeIPv4), ofp.IPSrc(pf)}, next)
			c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity,
				[]ofp.Field{key, src, ofp.EthType(ofp.EthTypeARP), ofp.ARPSHA(id.mac), ofp.ARPSPA(pf)}, next)
		}
		// Link-local IPv6 is shared; the port's own sources are not.
		for _, pf := range id.v6 {
			c.add(TablePortSecurity, prioPortSecAllow, FeaturePortSecurity,
				[]ofp.Field{key, src, ofp.EthType(ofp.EthTypeIPv6), ofp.IPSrc(pf)}, next)
		}
		v6 := append([]netip.Prefix{prefixLLA}, id.v6...)
		lla := []net.HardwareAddr{id.mac, macZero}
		// Neighbour solicitations from an own address, advertising its own
		// MAC (or no link-layer option, shared for link-local sources).
		for _, pf := range v6 {
			for _, ll := range lla {
				if pf == prefixLLA && macEqual(ll, macZero) {
					continue
				}
				c.add(TablePortSecurity, prioPortSecNDAllow, FeaturePortSecurity,
					append(nd(icmp6NS, src), ofp.IPSrc(pf), ofp.Field{Kind: ofp.FNDSLL, MAC: ll}), next)
			}
		}
		// Neighbour advertisements: from and for an own address, with its
		// own MAC as target link-layer address (or none, shared for
		// link-local to link-local).
		for _, from := range v6 {
			for _, target := range v6 {
				for _, ll := range lla {
					if from == prefixLLA && target == prefixLLA && macEqual(ll, macZero) {
						continue
					}
					c.add(TablePortSecurity, prioPortSecNDAllow, FeaturePortSecurity,
						append(nd(icmp6NA, src), ofp.IPSrc(from),
							ofp.Field{Kind: ofp.FNDTarget, Prefix: target},
							ofp.Field{Kind: ofp.FNDTLL, MAC: ll}), next)
				}
			}
		}
	}
}

func (id *identity) addPrefix(p netip.Prefix) {
	if !p.IsValid() {
		return
	}
	if p.Addr().Is4() {
		if !slices.Contains(id.v4, p) {
			id.v4 = append(id.v4, p)
		}
	} else if !slices.Contains(id.v6, p) && p != prefixLLA {
		id.v6 = append(id.v6, p)
	}
}

// arpResponder answers ARP requests for every IPv4 address of the network,
// wherever its port is bound: no ARP broadcast ever crosses a tunnel. The
// addresses go into Neighbour, which routing to the network shares.
func (c *netBuilder) arpResponder(n *netState) {
	netKey := NetworkKeyField.Match(n.Key)
	seen := make(map[netip.Addr]bool, len(n.all))
	for _, p := range n.all {
		for _, a := range p.IPs {
			if !a.Is4() || seen[a] {
				continue
			}
			seen[a] = true
			if p.local {
				// The owner probing or announcing its own address must not
				// get an answer (it would see a conflict): switch it.
				c.add(TableServices, prioARPOwner, FeatureARPResponder, []ofp.Field{
					InPortKeyField.Match(p.Key), netKey, ofp.EthType(ofp.EthTypeARP), ofp.ARPOp(1),
					ofp.ARPTPA(netip.PrefixFrom(a, 32)),
				}, NextTable(TableServices))
			}
			neighbour(c.emitter, n.Key, a, p.mac)
		}
	}
}

// naFlags are the NA flags Solicited and Override in nd_reserved.
const naFlags = 0x60000000

// ndResponder answers neighbour solicitations for every IPv6 address of the
// network in two steps: Services rewrites the solicitation into an
// advertisement, NDReply (matching the advertisement, as OVS requires to
// write nd_tll) sets the target link-layer address and sends it back.
func (c *netBuilder) ndResponder(n *netState) {
	netKey := NetworkKeyField.Match(n.Key)
	ns := func(extra ...ofp.Field) []ofp.Field {
		var buf [10]ofp.Field
		return append(append(buf[:0], netKey, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
			ofp.ICMPv6Type(icmp6NS), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}), extra...)
	}
	seen := make(map[netip.Addr]bool)
	for _, p := range n.all {
		for _, a := range p.IPs {
			if !a.Is6() || a.Is4In6() || seen[a] {
				continue
			}
			if len(seen) == 0 {
				// Duplicate address detection (from ::) is never answered.
				c.add(TableServices, prioNDSkip, FeatureND, ns(ofp.IPSrc(prefixV6Any)), NextTable(TableServices))
			}
			seen[a] = true
			target := ofp.NDTarget(a)
			if p.local {
				c.add(TableServices, prioNDSkip, FeatureND,
					ns(InPortKeyField.Match(p.Key), target), NextTable(TableServices))
			}
			c.add(TableServices, prioNDResponder, FeatureND,
				ns(target, ofp.Field{Kind: ofp.FIPTTL, Value: 255}),
				arpMoves[0],
				ofp.SetField{Field: ofp.EthSrc(p.mac)},
				ofp.Move{Src: ofp.FieldRef{Kind: ofp.FIPv6Src}, Dst: ofp.FieldRef{Kind: ofp.FIPv6Dst}},
				ofp.SetField{Field: ofp.IPSrc(netip.PrefixFrom(a, 128))},
				ofp.SetField{Field: ofp.ICMPv6Type(icmp6NA)},
				ofp.SetField{Field: ofp.Field{Kind: ofp.FNDReserved, Value: naFlags}},
				ofp.SetField{Field: ofp.Field{Kind: ofp.FNDOptionsType, Value: 2}},
				gotoTable(TableNDReply))
			c.add(TableNDReply, prioNDReply, FeatureND, []ofp.Field{
				netKey, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
				ofp.ICMPv6Type(icmp6NA), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}, target,
			}, ofp.SetField{Field: ofp.Field{Kind: ofp.FNDTLL, MAC: p.mac}}, ofp.OutputInPort{})
		}
	}
}

// dhcp sends DHCPv4 client traffic from the network's local VM ports to
// the controller, with one flow for the whole network: the controller
// finds the port from InPortKeyField in the packet-in's metadata. A local
// port without an address on a DHCP-enabled subnet is not trapped (its
// requests go on to L2Lookup, as on a network without DHCP).
func (c *netBuilder) dhcp(n *netState) {
	if len(n.dhcp4) == 0 {
		return
	}
	netKey := NetworkKeyField.Match(n.Key)
	for _, p := range n.local {
		if slices.ContainsFunc(p.IPs, func(a netip.Addr) bool {
			return slices.ContainsFunc(n.dhcp4, func(s netip.Prefix) bool { return s.Contains(a) })
		}) {
			continue
		}
		c.add(TableServices, prioDHCPSkip, FeatureDHCP, []ofp.Field{
			InPortKeyField.Match(p.Key), netKey, ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP),
			ofp.UDPSrc(68, 0), ofp.UDPDst(67, 0),
		}, NextTable(TableServices))
	}
	c.add(TableServices, prioDHCP, FeatureDHCP, []ofp.Field{
		FromVMField.Match(1), netKey, ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP),
		ofp.UDPSrc(68, 0), ofp.UDPDst(67, 0),
	}, ofp.Controller{ID: c.cfg.ControllerID, Reason: 1, UserData: UserData(PacketInDHCPv4, n.Key)})
}

func (c *netBuilder) l2(n *netState) {
	netKey := NetworkKeyField.Match(n.Key)
	fromLocal := PktSourceField.Match(PktSourceLocal)
	seen := make(map[string]bool, len(n.all))
	for _, p := range n.local {
		seen[string(p.mac)] = true
		acts := c.aclDeliver(qosDeliver(p, OutPortField.Load(p.OFPort)), p)
		c.add(TableL2Lookup, prioL2Known, FeatureL2,
			[]ofp.Field{netKey, ofp.EthDst(p.mac)},
			append(acts, gotoTable(TableIngressACL))...)
	}
	if n.prov.port != 0 {
		c.providerL2(n, seen)
		return
	}
	for _, p := range n.all {
		if p.remote == nil || seen[string(p.mac)] {
			continue
		}
		seen[string(p.mac)] = true
		// Only locally sourced traffic is tunnelled: a tunnel packet is
		// never sent back into the overlay.
		c.add(TableL2Lookup, prioL2Known, FeatureL2,
			[]ofp.Field{fromLocal, netKey, ofp.EthDst(p.mac)},
			encap(n, p.remote, gotoTable(TableOutput))...)
	}

	local := c.floodLocal(n.local)
	multicast := ofp.EthDstMasked(macMulticast, macMulticast)
	// ARP broadcasts are answered by the responder or stay on this chassis.
	c.add(TableL2Lookup, prioL2ARPBroadcast, FeatureL2,
		[]ofp.Field{netKey, multicast, ofp.EthType(ofp.EthTypeARP)}, local...)
	// Broadcast and multicast: to every port of the network. Output to
	// the input port is dropped by OpenFlow itself, so the sender is
	// excluded.
	c.add(TableL2Lookup, prioL2Flood, FeatureL2, []ofp.Field{fromLocal, netKey, multicast},
		c.floodRemote(n, local, n.remotes)...)
	if n.tunPort != 0 {
		c.add(TableL2Lookup, prioL2Flood, FeatureL2,
			[]ofp.Field{PktSourceField.Match(PktSourceTunnel), netKey, multicast}, local...)
	}
	// Unknown unicast: only to ports without port security, which may
	// own MACs the model does not know (Neutron's and OVN's "unknown"
	// addresses); with none, it is dropped (the table's miss). Every
	// other MAC of the network is known and has its own flow above.
	var open []*portState
	for _, p := range n.local {
		if !p.PortSecurity {
			open = append(open, p)
		}
	}
	var openRemotes []*RemoteChassis
	for _, p := range n.all {
		if p.remote != nil && !p.PortSecurity && !slices.Contains(openRemotes, p.remote) {
			openRemotes = append(openRemotes, p.remote)
		}
	}
	slices.SortFunc(openRemotes, func(a, b *RemoteChassis) int { return cmp.Compare(a.Name, b.Name) })
	openLocal := c.floodLocal(open)
	if len(open)+len(openRemotes) > 0 {
		c.add(TableL2Lookup, prioL2Unknown, FeatureL2, []ofp.Field{fromLocal, netKey},
			c.floodRemote(n, openLocal, openRemotes)...)
	}
	if n.tunPort != 0 && len(open) > 0 {
		c.add(TableL2Lookup, prioL2Unknown, FeatureL2,
			[]ofp.Field{PktSourceField.Match(PktSourceTunnel), netKey}, openLocal...)
	}
}

// floodLocal is the actions delivering a flood to local ports, each
// through IngressACL.
func (c *netBuilder) floodLocal(ports []*portState) []ofp.Action {
	local := make([]ofp.Action, 0, 3*len(ports))
	flood := aclFlood{x: c.index}
	for _, p := range ports {
		local = append(flood.deliver(append(local, OutPortField.Load(p.OFPort)), p), ofp.Resubmit{Table: TableIngressACL.Number()})
	}
	return slices.Clip(local)
}

// floodRemote appends to a local flood the tunnels to remote chassis.
func (c *netBuilder) floodRemote(n *netState, local []ofp.Action, remotes []*RemoteChassis) []ofp.Action {
	all := slices.Clip(local)
	for _, r := range remotes {
		all = append(all, encap(n, r, ofp.Resubmit{Table: TableOutput.Number()})...)
	}
	return all
}
