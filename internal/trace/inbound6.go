package trace

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Inbound IPv6 (pipeline/ipv6gw.go): a packet from an external network to
// a port's address on a router's IPv6 subnet, sent by the upstream router
// to the gateway's IPv6 address, arrives at the router's active gateway
// chassis, which answers neighbour discovery for that address, and is
// routed to the port as it is: no NAT.

// inbound6 traces pkt (IPv6) arriving from external network n.
func (tr *tracer) inbound6(n *model.Network) {
	x, pkt := tr.x, tr.pkt
	var r *model.Router
	var gw6 string
	var dst *model.Port
	for id := range x.routers {
		rt := x.routers[id]
		if rt.Gateway == nil || rt.Gateway.NetworkID != n.ID {
			continue
		}
		addr := ""
		for _, f := range rt.Gateway.ExternalFixedIPs {
			if a, err := netip.ParseAddr(f.IPAddress); err == nil && a.Is6() {
				addr = f.IPAddress
			}
		}
		if addr == "" {
			continue
		}
		if p := x.routedPort6(rt, pkt.Dst); p != nil && (r == nil || rt.ID < r.ID) {
			r, gw6, dst = rt, addr, p
		}
	}
	if r == nil {
		tr.step(Step{Stage: StageL3, Verdict: Drop,
			Detail: fmt.Sprintf("no router with an IPv6 gateway on external network %s has a port with %s on its IPv6 subnets", x.netLabel(n.ID), pkt.Dst)})
		tr.stop(Drop, "no route to the destination")
		return
	}
	here := tr.natChassis(r, nil) // the router's active gateway
	tr.step(Step{Stage: StageSource, Chassis: here, Verdict: Pass,
		Detail: fmt.Sprintf("arrives from external network %s (physical network %q), sent by the upstream router to the gateway address %s, "+
			"at chassis %s, which answers neighbour discovery for it", x.netLabel(n.ID), n.PhysicalNetwork, gw6, orUnknown(here))})
	tr.step(Step{Stage: StageNAT, Chassis: here, Verdict: Pass, Detail: "no NAT: IPv6 is routed as it is"})
	if here == "" {
		tr.stop(Drop, "no chassis routes the router's IPv6")
		return
	}
	tr.src = &model.Port{NetworkID: n.ID, HostID: here}
	tr.res.Route = &Route{RouterID: r.ID, RouterName: r.Name, Kind: "host", Prefix: netip.PrefixFrom(pkt.Dst, 128).String(), TTL: pkt.TTL - 1}
	tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Pass,
		Detail: fmt.Sprintf("routed by router %s to port %s on network %s; hop limit %d→%d", x.routerLabel(r), portLabel(dst),
			x.netLabel(dst.NetworkID), pkt.TTL, pkt.TTL-1)})
	tr.deliver(dst, pkt.Src, pkt.TTL-1)
}

// routedPort6 is the port holding a on one of r's IPv6 subnets (not a
// router port), or nil.
func (x *index) routedPort6(r *model.Router, a netip.Addr) *model.Port {
	for _, rp := range x.ports {
		if rp.DeviceOwner != model.OwnerRouterInterface || rp.DeviceID != r.ID {
			continue
		}
		for _, f := range rp.FixedIPs {
			s := x.subnets[f.SubnetID]
			if s == nil || s.IPVersion != 6 {
				continue
			}
			pf, err := netip.ParsePrefix(s.CIDR)
			if err != nil || !pf.Contains(a) {
				continue
			}
			for _, q := range x.byNet[rp.NetworkID] {
				if q.DeviceOwner != model.OwnerRouterInterface && slices.Contains(addrsOf(q), a) {
					return q
				}
			}
		}
	}
	return nil
}
