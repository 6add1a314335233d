package trace

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Inbound traces: a packet arriving from an external network to a
// floating IP (IPv6: to a port's own address, inbound6.go), as pipeline's L3DNAT handles it — a floating IP's 1:1
// DNAT, or a port forwarding's DNAT of a protocol and port (any other new
// connection to a forwarded floating IP is dropped) — then routed to the
// port and delivered through its ingress security groups, from the chassis
// that NATs it: the port's, when it maps the external network (and is not
// in edge mode), else the router's active gateway.

// RunInbound traces pkt arriving from the external network extNet (id or
// unique name). pkt.Src defaults to the external subnet's gateway (the
// upstream router).
func RunInbound(t *Topology, extNet string, pkt Packet) (*Result, error) {
	x := newIndex(t)
	n := x.nets[extNet]
	if n == nil {
		for i := range t.Networks {
			if t.Networks[i].Name == extNet {
				if n != nil {
					return nil, fmt.Errorf("trace: several networks are named %q; give an id", extNet)
				}
				n = &t.Networks[i]
			}
		}
	}
	if n == nil {
		return nil, fmt.Errorf("trace: no network %q", extNet)
	}
	if !n.External {
		return nil, fmt.Errorf("trace: network %s is not external (router:external)", x.netLabel(n.ID))
	}
	if !pkt.Src.IsValid() {
		for _, s := range x.netSubs[n.ID] {
			if gw, err := netip.ParseAddr(s.GatewayIP); err == nil && gw.Is4() == pkt.Dst.Is4() {
				pkt.Src = gw
				break
			}
		}
		if !pkt.Src.IsValid() {
			return nil, fmt.Errorf("trace: network %s has no gateway of the destination's family; give src ADDR", x.netLabel(n.ID))
		}
	}
	res := &Result{Packet: pkt, Source: PortInfo{Name: "external", NetworkID: n.ID, NetworkName: n.Name,
		IPs: []string{pkt.Src.String()}, SecurityGroups: []string{}}}
	tr := &tracer{x: x, pkt: pkt, res: res, src: &model.Port{NetworkID: n.ID}}
	if pkt.Dst.Is6() {
		tr.inbound6(n) // no floating IP: routed (inbound6.go)
	} else {
		tr.inbound(n)
	}
	return res, nil
}

func (tr *tracer) inbound(n *model.Network) {
	x, pkt := tr.x, tr.pkt
	var fip *model.FloatingIP
	for i := range x.t.FloatingIPs {
		f := &x.t.FloatingIPs[i]
		if a, err := netip.ParseAddr(f.FloatingIPAddress); err == nil && a == pkt.Dst && f.FloatingNetworkID == n.ID {
			fip = f
		}
	}
	if fip == nil {
		tr.step(Step{Stage: StageNAT, Verdict: Drop,
			Detail: fmt.Sprintf("no floating IP %s on external network %s: no chassis answers for it (a router's gateway address only takes replies of its SNAT)", pkt.Dst, x.netLabel(n.ID))})
		tr.stop(Drop, "no floating IP holds the destination")
		return
	}
	r := x.routers[fip.RouterID]
	if r == nil || r.Gateway == nil || r.Gateway.NetworkID != n.ID {
		tr.step(Step{Stage: StageNAT, Verdict: Drop,
			Detail: fmt.Sprintf("floating IP %s (%s) is neither associated nor forwarded: nothing NATs it", fip.FloatingIPAddress, fip.ID)})
		tr.stop(Drop, "the floating IP serves nothing")
		return
	}
	var dst *model.Port
	var to netip.Addr
	var nat Step
	nat.Stage, nat.Verdict = StageNAT, Pass
	if fip.PortID != "" {
		dst = x.ports[fip.PortID]
		to, _ = netip.ParseAddr(fip.FixedIPAddress)
		nat.Detail = fmt.Sprintf("DNAT floating IP %s → %s (port %s), 1:1", fip.FloatingIPAddress, to, fip.PortID)
	} else {
		pf := x.forwardingOf(fip, pkt)
		if pf == nil {
			tr.step(Step{Stage: StageNAT, Chassis: tr.natChassis(r, x.forwardedPorts(fip)), Verdict: Drop,
				Detail: fmt.Sprintf("floating IP %s (%s) forwards no %s port %d: a new connection to it is dropped (%s)",
					fip.FloatingIPAddress, fip.ID, pkt.Proto, pkt.DstPort, x.forwardingList(fip))})
			tr.stop(Drop, "port not forwarded")
			return
		}
		dst = x.ports[pf.InternalPortID]
		to, _ = netip.ParseAddr(pf.InternalIPAddress)
		elo, ehi := pf.ExternalRange()
		ilo, _ := pf.InternalRange()
		port := pf.InternalPort
		if port == 0 { // a range onto the same ports
			port = ilo + int(pkt.DstPort) - elo
		}
		nat.Detail = fmt.Sprintf("DNAT %s:%d → %s:%d by port forwarding %s (%s %s of floating IP %s to port %s)",
			pkt.Dst, pkt.DstPort, to, port, pf.ID, pf.Protocol, model.FormatPortRange(elo, ehi), fip.ID, pf.InternalPortID)
		tr.pkt.DstPort = uint16(port) // res.Packet keeps the packet as it arrives
	}
	if dst == nil {
		tr.step(Step{Stage: StageNAT, Verdict: Drop, Detail: "the floating IP's port is gone"})
		tr.stop(Drop, "no destination port")
		return
	}
	ports := []*model.Port{dst}
	if fip.PortID == "" {
		ports = x.forwardedPorts(fip)
	}
	here := tr.natChassis(r, ports)
	if c := x.chassis[dst.HostID]; fip.PortID != "" && c != nil && c.FIPMode == model.FIPModeEdge {
		// pipeline/edge.go: the edge layer, not a chassis, translates it.
		tr.step(Step{Stage: StageNAT, Verdict: Pass, Detail: nat.Detail + ", statelessly, on a floating-IP edge gateway " +
			"(chassis " + dst.HostID + " is in edge mode), which tunnels it to chassis " + dst.HostID})
		tr.src = &model.Port{NetworkID: n.ID}
		tr.pkt.Dst = to
		tr.deliver(dst, pkt.Src, pkt.TTL-1)
		return
	}
	nat.Chassis = here
	tr.step(Step{Stage: StageSource, Chassis: here, Verdict: Pass,
		Detail: fmt.Sprintf("arrives from external network %s (physical network %q) at chassis %s, which answers ARP for %s",
			x.netLabel(n.ID), n.PhysicalNetwork, orUnknown(here), pkt.Dst)})
	tr.step(nat)
	if here == "" {
		tr.stop(Drop, "no chassis NATs the floating IP")
		return
	}
	tr.src = &model.Port{NetworkID: n.ID, HostID: here}
	tr.pkt.Dst = to
	tr.res.Route = &Route{RouterID: r.ID, RouterName: r.Name, Kind: "host", Prefix: netip.PrefixFrom(to, 32).String(), TTL: pkt.TTL - 1}
	tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Pass,
		Detail: fmt.Sprintf("routed by router %s to port %s on network %s; ttl %d→%d", x.routerLabel(r), portLabel(dst),
			x.netLabel(dst.NetworkID), pkt.TTL, pkt.TTL-1)})
	tr.deliver(dst, pkt.Src, pkt.TTL-1)
}

// forwardingOf is the forwarding of fip that takes pkt, or nil.
func (x *index) forwardingOf(fip *model.FloatingIP, pkt Packet) *model.PortForwarding {
	for i := range x.t.PortForwardings[fip.ID] {
		pf := &x.t.PortForwardings[fip.ID][i]
		lo, hi := pf.ExternalRange()
		if pf.Protocol == pkt.Proto && int(pkt.DstPort) >= lo && int(pkt.DstPort) <= hi {
			return pf
		}
	}
	return nil
}

// forwardingList describes fip's forwardings in one line.
func (x *index) forwardingList(fip *model.FloatingIP) string {
	pfs := x.t.PortForwardings[fip.ID]
	if len(pfs) == 0 {
		return "it has no port forwarding"
	}
	s := "forwarded:"
	for _, pf := range pfs {
		lo, hi := pf.ExternalRange()
		s += " " + pf.Protocol + " " + model.FormatPortRange(lo, hi)
	}
	return s
}

// forwardedPorts are the ports fip's forwardings go to.
func (x *index) forwardedPorts(fip *model.FloatingIP) []*model.Port {
	var out []*model.Port
	for _, pf := range x.t.PortForwardings[fip.ID] {
		if p := x.ports[pf.InternalPortID]; p != nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// natChassis is the chassis that NATs a floating IP of router r for
// ports, as logical decides: their one chassis when it maps the external
// network and is not in edge mode, else the router's active gateway ("":
// none).
func (tr *tracer) natChassis(r *model.Router, ports []*model.Port) string {
	x := tr.x
	physnet := ""
	if n := x.nets[r.Gateway.NetworkID]; n != nil {
		physnet = n.PhysicalNetwork
	}
	var hosts []string
	for _, p := range ports {
		if p.HostID != "" && !slices.Contains(hosts, p.HostID) {
			hosts = append(hosts, p.HostID)
		}
	}
	if len(hosts) == 1 {
		if c := x.chassis[hosts[0]]; c != nil && c.FIPMode != model.FIPModeEdge && physnet != "" && c.BridgeMappings[physnet] != "" {
			return hosts[0]
		}
	}
	var gateways []string
	for i := range x.t.Chassis {
		c := &x.t.Chassis[i]
		if c.Gateway && c.Alive && physnet != "" && c.BridgeMappings[physnet] != "" {
			gateways = append(gateways, c.Name)
		}
	}
	return logical.GatewayChassis(r.ID, gateways)
}

func orUnknown(s string) string {
	if s == "" {
		return "none (no chassis maps the network or none is an alive gateway)"
	}
	return s
}
