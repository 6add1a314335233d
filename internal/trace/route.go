package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// candidate is one L3Route entry of a router that contains the
// destination; the pipeline's priorities decide between them.
type candidate struct {
	prio    int
	kind    string // host, extra, connected, gateway
	prefix  netip.Prefix
	egress  *model.Port // the router interface the packet leaves by
	port    *model.Port // the destination (host) or nexthop (extra) port
	nextHop netip.Addr
}

// routePrio is the pipeline's L3Route priority for an extra route of that
// length; connected subnets and host routes get one more.
func routePrio(bits int) int { return 100 + 2*bits }

// route handles a packet for another network: the source subnet's gateway
// must be a router interface; that router routes on the source chassis.
func (tr *tracer) route() {
	x, src, pkt := tr.x, tr.src, tr.pkt
	here := src.HostID
	sub := x.sourceSubnet(src.NetworkID, pkt)
	if sub == nil || sub.GatewayIP == "" {
		tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Drop,
			Detail: fmt.Sprintf("%s is off-network and the source subnet has no gateway", pkt.Dst)})
		tr.stop(Drop, "no gateway on the source subnet")
		return
	}
	gw, _ := netip.ParseAddr(sub.GatewayIP)
	rp := x.portWithIP(src.NetworkID, gw)
	var r *model.Router
	if rp != nil && isRouterInterface(rp) {
		r = x.routers[rp.DeviceID]
	}
	if r == nil {
		tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Drop,
			Detail: fmt.Sprintf("%s is off-network, but the gateway %s of subnet %s is not a router interface: the VM's ARP for it goes unanswered", pkt.Dst, gw, sub.CIDR)})
		tr.stop(Drop, "the source subnet's gateway is not a router")
		return
	}
	tr.res.EthDst = rp.MACAddress
	if slices.Contains(tr.routerAddrs(r), pkt.Dst) {
		tr.routerICMPOrDrop(r)
		return
	}
	route := &Route{RouterID: r.ID, RouterName: r.Name, TTL: pkt.TTL}
	tr.res.Route = route
	c, notes := tr.lookup(r, pkt.Dst)
	if c == nil {
		tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Drop, Notes: notes,
			Detail: fmt.Sprintf("router %s (via gateway %s, MAC %s) has no route to %s", x.routerLabel(r), gw, rp.MACAddress, pkt.Dst)})
		tr.stop(Drop, "no route")
		return
	}
	route.Kind, route.Prefix = c.kind, c.prefix.String()
	if c.nextHop.IsValid() {
		route.NextHop = c.nextHop.String()
	}
	if pkt.TTL <= 1 {
		tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Drop, Notes: notes,
			Detail: fmt.Sprintf("router %s: TTL %d expires (dec_ttl)", x.routerLabel(r), pkt.TTL)})
		tr.stop(Drop, "TTL expired at the router")
		return
	}
	switch c.kind {
	case "connected":
		route.EgressNetID = c.egress.NetworkID
		tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Drop, Notes: notes,
			Detail: fmt.Sprintf("router %s: %s is in connected subnet %s on %s, but no bound port holds it: dropped",
				x.routerLabel(r), pkt.Dst, c.prefix, x.netLabel(c.egress.NetworkID))})
		tr.stop(Drop, "no port holds the destination on the router's connected subnet")
		return
	case "gateway":
		tr.external(r, c, notes)
		return
	}
	ttl := pkt.TTL - 1
	route.EgressNetID, route.EthSrc, route.EthDst, route.TTL = c.egress.NetworkID, c.egress.MACAddress, c.port.MACAddress, ttl
	how := fmt.Sprintf("connected subnet %s", c.prefix)
	if c.kind == "host" {
		s, _ := x.subnetOf(c.egress.NetworkID, pkt.Dst)
		if s != nil {
			how = "connected subnet " + s.CIDR
		}
	} else {
		how = fmt.Sprintf("extra route %s via %s (port %s)", c.prefix, c.nextHop, portLabel(c.port))
	}
	tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Pass, Notes: notes,
		Detail: fmt.Sprintf("routed on %s by router %s: %s → %s, egress network %s; ttl %d→%d; eth src %s dst %s",
			here, x.routerLabel(r), pkt.Dst, how, x.netLabel(c.egress.NetworkID), pkt.TTL, ttl, c.egress.MACAddress, c.port.MACAddress)})
	tr.deliver(c.port, pkt.Src, ttl)
}

// lookup is the router's longest prefix match for dst, as the pipeline's
// L3Route table compiles it; notes name ignored routes.
func (tr *tracer) lookup(r *model.Router, dst netip.Addr) (*candidate, []string) {
	x := tr.x
	var notes []string
	macs := map[string]bool{}
	for _, p := range x.rtrPorts[r.ID] {
		macs[strings.ToLower(p.MACAddress)] = true
	}
	seen := map[netip.Prefix]bool{}
	var cands []candidate
	ifaces := slices.Clone(x.rtrPorts[r.ID])
	sort.Slice(ifaces, func(i, j int) bool { return ifaces[i].ID < ifaces[j].ID })
	type conn struct {
		rp *model.Port
		pf netip.Prefix
	}
	var conns []conn
	for _, rp := range ifaces {
		for _, f := range rp.FixedIPs {
			s := x.subnets[f.SubnetID]
			if s == nil {
				continue
			}
			pf, err := netip.ParsePrefix(s.CIDR)
			if err != nil || pf.Addr().Is4() != dst.Is4() {
				continue
			}
			pf = pf.Masked()
			conns = append(conns, conn{rp, pf})
			if !seen[pf] {
				seen[pf] = true
				cands = append(cands, candidate{prio: routePrio(pf.Bits()) + 1, kind: "connected", prefix: pf, egress: rp})
			}
			for _, q := range x.byNet[rp.NetworkID] {
				if macs[strings.ToLower(q.MACAddress)] || q.HostID == "" {
					continue
				}
				for _, a := range addrsOf(q) {
					host := netip.PrefixFrom(a, a.BitLen())
					if pf.Contains(a) && !seen[host] {
						seen[host] = true
						cands = append(cands, candidate{prio: routePrio(a.BitLen()) + 1, kind: "host", prefix: host, egress: rp, port: q})
					}
				}
			}
		}
	}
	for _, rt := range r.Routes {
		pf, err1 := netip.ParsePrefix(rt.Destination)
		nh, err2 := netip.ParseAddr(rt.NextHop)
		if err1 != nil || err2 != nil || pf.Addr().Is4() != dst.Is4() || nh.Is4() != dst.Is4() {
			continue
		}
		pf = pf.Masked()
		if seen[pf] {
			continue
		}
		var hop candidate
		for _, c := range conns {
			if !c.pf.Contains(nh) {
				continue
			}
			for _, q := range x.byNet[c.rp.NetworkID] {
				if slices.Contains(addrsOf(q), nh) && !macs[strings.ToLower(q.MACAddress)] {
					hop = candidate{prio: routePrio(pf.Bits()), kind: "extra", prefix: pf, egress: c.rp, port: q, nextHop: nh}
					break
				}
			}
			if hop.port != nil {
				break
			}
		}
		if hop.port == nil || hop.port.HostID == "" {
			if pf.Contains(dst) {
				notes = append(notes, fmt.Sprintf("extra route %s via %s ignored: the nexthop is not a bound port of the router's networks", pf, nh))
			}
			continue
		}
		seen[pf] = true
		cands = append(cands, hop)
	}
	// Out through the gateway: IPv4 (NATed), and IPv6 when the gateway
	// has an IPv6 address (routed without NAT: pipeline/ipv6gw.go).
	if gw := r.Gateway; gw != nil {
		has := false
		for _, f := range gw.ExternalFixedIPs {
			s := x.subnets[f.SubnetID]
			if s == nil {
				continue
			}
			if pf, err := netip.ParsePrefix(s.CIDR); err == nil && pf.Addr().Is4() == dst.Is4() {
				has = true
				if !seen[pf.Masked()] {
					cands = append(cands, candidate{prio: routePrio(pf.Bits()) + 1, kind: "gateway", prefix: pf.Masked()})
				}
			}
		}
		def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if dst.Is6() {
			def = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if has && !seen[def] {
			cands = append(cands, candidate{prio: routePrio(0), kind: "gateway", prefix: def})
		}
	}
	var best *candidate
	for i := range cands {
		c := &cands[i]
		if c.prefix.Contains(dst) && (best == nil || c.prio > best.prio) {
			best = c
		}
	}
	return best, notes
}

// external handles a packet routed out through the router's gateway.
func (tr *tracer) external(r *model.Router, c *candidate, notes []string) {
	x, src, pkt := tr.x, tr.src, tr.pkt
	here := src.HostID
	gw := r.Gateway
	extNet := x.nets[gw.NetworkID]
	physnet := ""
	if extNet != nil {
		physnet = extNet.PhysicalNetwork
	}
	tr.res.Route.EgressNetID = gw.NetworkID
	tr.res.Route.TTL = pkt.TTL - 1
	what := "the default route"
	if c.prefix.Bits() > 0 {
		what = "the external subnet " + c.prefix.String()
	}
	tr.step(Step{Stage: StageL3, Chassis: here, Verdict: Pass, Notes: notes,
		Detail: fmt.Sprintf("routed by router %s: %s matches %s: out through the gateway on external network %s; ttl %d→%d",
			x.routerLabel(r), pkt.Dst, what, x.netLabel(gw.NetworkID), pkt.TTL, pkt.TTL-1)})
	for i := range x.t.FloatingIPs {
		f := &x.t.FloatingIPs[i]
		if a, err := netip.ParseAddr(f.FloatingIPAddress); err == nil && a == pkt.Dst && f.PortID != "" {
			tr.res.Steps[len(tr.res.Steps)-1].Notes = append(tr.res.Steps[len(tr.res.Steps)-1].Notes,
				fmt.Sprintf("%s is the floating IP of port %s: the packet goes out and comes back in through the upstream router", pkt.Dst, f.PortID))
		}
	}
	mapped := func(ch *Chassis) bool { return ch != nil && physnet != "" && ch.BridgeMappings[physnet] != "" }
	var gateways []string
	for i := range x.t.Chassis {
		ch := &x.t.Chassis[i]
		if ch.Gateway && ch.Alive && mapped(ch) {
			gateways = append(gateways, ch.Name)
		}
	}
	sort.Strings(gateways)
	gwList := "none known"
	if len(gateways) > 0 {
		gwList = strings.Join(gateways, ", ")
	}
	// The agents' election (logical.GatewayChassis) among those chassis.
	active := logical.GatewayChassis(r.ID, gateways)
	activeText := "none (no alive gateway chassis maps " + strconv.Quote(physnet) + ")"
	if active != "" {
		activeText = active + " (elected among " + gwList + ")"
	}
	var fip *model.FloatingIP
	for i := range x.t.FloatingIPs {
		f := &x.t.FloatingIPs[i]
		if f.PortID == src.ID && f.FixedIPAddress == pkt.Src.String() {
			fip = f
		}
	}
	nat := Step{Stage: StageNAT, Chassis: here, Verdict: Pass}
	leaves := here
	switch {
	case pkt.Dst.Is6():
		// pipeline/ipv6gw.go: the active gateway chassis routes it out.
		nat.Chassis = active
		nat.Detail = fmt.Sprintf("no NAT (IPv6 is routed as it is): leaves with source %s from the router's active gateway chassis %s, "+
			"to the external IPv6 subnet's gateway", pkt.Src, activeText)
		leaves = "the router's active gateway chassis " + activeText
	case fip != nil && x.chassis[here] != nil && x.chassis[here].FIPMode == model.FIPModeEdge:
		// pipeline/edge.go: tunnelled unchanged to the edge's endpoint.
		nat.Detail = fmt.Sprintf("no NAT here: chassis %s is in edge mode, so the packet is tunnelled unchanged (source %s) "+
			"on network %s's key to the edge layer's tunnel endpoint; the gateway receiving it rewrites the source to "+
			"floating IP %s (%s), statelessly", here, pkt.Src, x.netLabel(src.NetworkID), fip.FloatingIPAddress, fip.ID)
		nat.Chassis = ""
		leaves = "a floating-IP edge gateway"
	case fip != nil:
		nat.Detail = fmt.Sprintf("SNAT %s → floating IP %s (%s), 1:1", pkt.Src, fip.FloatingIPAddress, fip.ID)
		if !mapped(x.chassis[here]) {
			nat.Chassis = active
			leaves = "the router's active gateway chassis " + activeText
			nat.Notes = append(nat.Notes, fmt.Sprintf("chassis %s has no bridge mapping for %q: the floating IP is served by the router's active gateway chassis %s", here, physnet, activeText))
		}
	case gw.EnableSNAT:
		addr := ""
		for _, f := range gw.ExternalFixedIPs {
			if a, err := netip.ParseAddr(f.IPAddress); err == nil && a.Is4() && addr == "" {
				addr = f.IPAddress
			}
		}
		nat.Chassis = active
		nat.Detail = fmt.Sprintf("SNAT %s → router gateway address %s on the router's active gateway chassis %s", pkt.Src, addr, activeText)
		leaves = "the router's active gateway chassis " + activeText
	default:
		nat.Detail = fmt.Sprintf("no NAT (enable_snat false, no floating IP): leaves with source %s", pkt.Src)
	}
	tr.step(nat)
	tr.step(Step{Stage: StageOutput, Chassis: nat.Chassis, Verdict: External,
		Detail: fmt.Sprintf("out on external network %s (physical network %q) from %s", x.netLabel(gw.NetworkID), physnet, leaves)})
	tr.res.Output = &Output{NetworkID: gw.NetworkID}
	if nat.Chassis != "" {
		tr.res.Output.Chassis = nat.Chassis
	}
	tr.stop(External, "leaves through router "+x.routerLabel(r)+"'s gateway")
}
