package pipeline

import (
	"net"
	"net/netip"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// This file holds the IPv6 services of the pipeline, as Neutron serves
// them with radvd and dnsmasq, here answered by the local agent:
//   - router solicitations from local VM ports go to the controller
//     (PacketInRS) on a network with a subnet that has an ipv6_ra_mode;
//     the agent answers with the advertisement of its subnets and sends
//     unsolicited ones itself;
//   - DHCPv6 client messages from local VM ports go to the controller
//     (PacketInDHCPv6) on a network with a subnet whose
//     ipv6_address_mode is dhcpv6-stateful or dhcpv6-stateless;
//   - the routers' IPv6 interfaces: their MAC in L2Lookup, neighbour
//     advertisements for their addresses and link-local address, echo
//     replies, and distributed routing by host route (routes6).
//
// Router advertisements from VMs are dropped by PortSecurity (base.go).

// Neutron's IPv6 modes (ipv6_ra_mode, ipv6_address_mode).
const (
	ModeSLAAC     = "slaac"
	ModeStateful  = "dhcpv6-stateful"
	ModeStateless = "dhcpv6-stateless"
)

// ICMPv6 types of the IPv6 services.
const (
	icmp6EchoRequest = 128
	icmp6EchoReply   = 129
	icmp6RS          = 133
)

// Priorities of the IPv6 services in Services.
const (
	prioRS     = 100
	prioDHCPv6 = 100
)

// v6Services is what a network's subnets ask of its IPv6 services.
type v6Services struct {
	ra    bool // a subnet has an ipv6_ra_mode: answer router solicitations
	dhcp6 bool // a subnet has a DHCPv6 address mode: answer DHCPv6
}

// add notes the IPv6 services subnet s asks for.
func (v *v6Services) add(s *Subnet) {
	if !s.CIDR.Addr().Is6() || !s.EnableDHCP {
		return
	}
	switch s.IPv6RAMode {
	case ModeSLAAC, ModeStateful, ModeStateless:
		v.ra = true
	}
	switch s.IPv6AddressMode {
	case ModeStateful, ModeStateless:
		v.dhcp6 = true
	}
}

func (v *v6Services) hash(h *hasher) {
	h.bool(v.ra)
	h.bool(v.dhcp6)
}

// ipv6Services traps router solicitations and DHCPv6 client messages
// from the network's local VM ports to the controller, one flow each for
// the whole network (the agent finds the port from InPortKeyField).
func (c *netBuilder) ipv6Services(n *netState) {
	netKey := NetworkKeyField.Match(n.Key)
	fromVM := FromVMField.Match(1)
	ip6 := ofp.EthType(ofp.EthTypeIPv6)
	if n.v6.ra {
		c.add(TableServices, prioRS, FeatureDHCP, []ofp.Field{
			fromVM, netKey, ip6, ofp.IPProto(ofp.ProtoICMPv6), ofp.ICMPv6Type(icmp6RS), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0},
		}, ofp.Controller{ID: c.cfg.ControllerID, Reason: 1, UserData: UserData(PacketInRS, n.Key)})
	}
	if n.v6.dhcp6 {
		c.add(TableServices, prioDHCPv6, FeatureDHCP, []ofp.Field{
			fromVM, netKey, ip6, ofp.IPProto(ofp.ProtoUDP), ofp.UDPSrc(546, 0), ofp.UDPDst(547, 0),
		}, ofp.Controller{ID: c.cfg.ControllerID, Reason: 1, UserData: UserData(PacketInDHCPv6, n.Key)})
	}
}

// LinkLocal is the EUI-64 link-local address of a MAC, as a router port
// uses it (the source of its advertisements, the hosts' next hop).
func LinkLocal(mac net.HardwareAddr) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	if len(mac) == 6 {
		b[8], b[9], b[10] = mac[0]^2, mac[1], mac[2]
		b[11], b[12] = 0xff, 0xfe
		b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	}
	return netip.AddrFrom16(b)
}

// hasV6 reports whether the network's ND responder answers for some
// address of its ports (and so compiled its DAD exception).
func (n *netState) hasV6() bool {
	for _, p := range n.all {
		for _, a := range p.IPs {
			if a.Is6() && !a.Is4In6() {
				return true
			}
		}
	}
	return false
}

// owns reports whether a port of the network has address a.
func (n *netState) owns(a netip.Addr) bool {
	for _, p := range n.all {
		for _, b := range p.IPs {
			if a == b {
				return true
			}
		}
	}
	return false
}

// ndAnswer answers neighbour solicitations for a on the network with mac:
// Services rewrites the solicitation into an advertisement, NDReply sets
// the target link-layer address and sends it back.
func ndAnswer(c *emitter, netKey uint32, a netip.Addr, mac net.HardwareAddr) {
	key := NetworkKeyField.Match(netKey)
	target := ofp.NDTarget(a)
	c.add(TableServices, prioNDResponder, FeatureND,
		[]ofp.Field{key, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
			ofp.ICMPv6Type(icmp6NS), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}, target, ofp.Field{Kind: ofp.FIPTTL, Value: 255}},
		arpMoves[0],
		ofp.SetField{Field: ofp.EthSrc(mac)},
		ofp.Move{Src: ofp.FieldRef{Kind: ofp.FIPv6Src}, Dst: ofp.FieldRef{Kind: ofp.FIPv6Dst}},
		ofp.SetField{Field: ofp.IPSrc(netip.PrefixFrom(a, 128))},
		ofp.SetField{Field: ofp.ICMPv6Type(icmp6NA)},
		ofp.SetField{Field: ofp.Field{Kind: ofp.FNDReserved, Value: naFlags | routerFlag}},
		ofp.SetField{Field: ofp.Field{Kind: ofp.FNDOptionsType, Value: 2}},
		gotoTable(TableNDReply))
	c.add(TableNDReply, prioNDReply, FeatureND, []ofp.Field{
		key, ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
		ofp.ICMPv6Type(icmp6NA), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}, target,
	}, ofp.SetField{Field: ofp.Field{Kind: ofp.FNDTLL, MAC: mac}}, ofp.OutputInPort{})
}

// routerFlag is the NA's Router flag: a router's advertisements set it.
const routerFlag = 0x80000000

// routerPorts6: the router's IPv6 interfaces on networks with local
// ports: its MAC in L2Lookup and, with Config.NDResponder, neighbour
// advertisements for its addresses and link-local address (with the
// Router flag) and echo replies from them.
func (c *l3Builder) routerPorts6(r *routerState) {
	for _, p := range r.ports6 {
		n := p.net
		if len(n.local) == 0 {
			continue
		}
		if c.once(n.Key, p.mac) {
			c.add(TableL2Lookup, prioL2Router, FeatureL3,
				[]ofp.Field{notRouted, NetworkKeyField.Match(n.Key), ofp.EthDst(p.mac)},
				RouterKeyLoad(r.Key), gotoTable(TableL3DNAT))
		}
		if !c.cfg.NDResponder {
			continue
		}
		if !n.hasV6() && !c.dad[n.Key] {
			c.dad[n.Key] = true
			c.add(TableServices, prioNDSkip, FeatureND, []ofp.Field{
				NetworkKeyField.Match(n.Key), ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6),
				ofp.ICMPv6Type(icmp6NS), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0}, ofp.IPSrc(prefixV6Any),
			}, NextTable(TableServices))
		}
		for _, a := range []netip.Addr{p.addr.Addr(), LinkLocal(p.mac)} {
			k := netAddr{n.Key, a}
			if c.nd6[k] {
				continue
			}
			c.nd6[k] = true
			if !n.owns(a) { // else the network's responder answers it
				ndAnswer(c.emitter, n.Key, a, p.mac)
			}
			c.add(TableServices, prioRouterICMP, FeatureL3, []ofp.Field{
				NetworkKeyField.Match(n.Key), ofp.EthDst(p.mac), ofp.EthType(ofp.EthTypeIPv6),
				ofp.IPProto(ofp.ProtoICMPv6), ofp.IPDst(netip.PrefixFrom(a, 128)),
				ofp.ICMPv6Type(icmp6EchoRequest), ofp.Field{Kind: ofp.FICMPv6Code, Value: 0},
			},
				arpMoves[0],
				ofp.SetField{Field: ofp.EthSrc(p.mac)},
				ofp.Move{Src: ofp.FieldRef{Kind: ofp.FIPv6Src}, Dst: ofp.FieldRef{Kind: ofp.FIPv6Dst}},
				ofp.SetField{Field: ofp.IPSrc(netip.PrefixFrom(a, 128))},
				ofp.SetField{Field: ofp.ICMPv6Type(icmp6EchoReply)},
				ofp.OutputInPort{})
		}
	}
}

type netAddr struct {
	net  uint32
	addr netip.Addr
}

// routes6 compiles the router's IPv6 routing in L3Route: a host route
// (/128) to every address of every port on its IPv6 subnets, delivered
// straight to the port (dec_ttl, the router's MAC as source, the port's
// MAC as destination, a local port through IngressACL, a remote one into
// the tunnel with the network's key); the rest of each subnet is dropped;
// extra routes whose nexthop is such a port. There is no NAT for IPv6;
// the way out through an external gateway is ipv6gw.go's.
func (c *l3Builder) routes6(r *routerState) {
	rk := RouterKeyMatch(r.Key)
	ip6 := ofp.EthType(ofp.EthTypeIPv6)
	seen := map[netip.Prefix]bool{}
	for _, p := range r.ports6 {
		subnet := p.addr.Masked()
		if !seen[subnet] {
			seen[subnet] = true
			c.add(TableL3Route, routePrio(subnet.Bits())+1, FeatureL3, []ofp.Field{rk, ip6, ofp.IPDst(subnet)})
		}
		for _, q := range p.net.all {
			if r.macs[string(q.mac)] {
				continue // a router interface port itself
			}
			for _, a := range q.IPs {
				host := netip.PrefixFrom(a, 128)
				if !a.Is6() || a.Is4In6() || !subnet.Contains(a) || seen[host] {
					continue
				}
				if acts := c.routeTo(p, q); acts != nil {
					seen[host] = true
					c.add(TableL3Route, routePrio(128)+1, FeatureL3, []ofp.Field{rk, ip6, ofp.IPDst(host)}, acts...)
				}
			}
		}
	}
	for _, rt := range r.Routes {
		dst := rt.Destination.Masked()
		if !dst.Addr().Is6() || !rt.NextHop.Is6() || seen[dst] {
			continue
		}
		if p, q := r.nextHop6(rt.NextHop); q != nil {
			if acts := c.routeTo(p, q); acts != nil {
				seen[dst] = true
				c.add(TableL3Route, routePrio(dst.Bits()), FeatureL3, []ofp.Field{rk, ip6, ofp.IPDst(dst)}, acts...)
			}
		}
	}
}

// nextHop6 finds the IPv6 router port and the port that own a nexthop.
func (r *routerState) nextHop6(a netip.Addr) (routerPort, *portState) {
	for _, p := range r.ports6 {
		if !p.addr.Masked().Contains(a) {
			continue
		}
		for _, q := range p.net.all {
			for _, b := range q.IPs {
				if b == a && !r.macs[string(q.mac)] {
					return p, q
				}
			}
		}
	}
	return routerPort{}, nil
}
