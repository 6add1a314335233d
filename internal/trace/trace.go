// Package trace follows a packet through Wyvern's logical pipeline, the
// way ovn-trace follows one through OVN's logical flows: from a source port
// and a packet description it computes, from the Neutron model alone, what
// the distributed pipeline does with it — port security, the egress
// security groups with the rule that admits the packet, the L2 or L3
// decision (router, route, TTL, MACs), NAT, the ingress security groups of
// the destination port and the chassis that delivers it (and the tunnel
// that carries it there).
//
// The logical trace mirrors what the agent compiles (internal/pipeline);
// it reads no flow. OFTrace and Annotate are the other half, like
// ovn-detrace: the concrete flow for `ovs-appctl ofproto/trace` on the
// source chassis' br-int, and the trace's table steps named after
// Wyvern's tables and the features of their cookies.
package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Stages of a logical trace.
const (
	StageSource       = "source"
	StagePortSecurity = "port-security"
	StageEgressACL    = "egress-acl"
	StageServices     = "services"
	StageL2           = "l2"
	StageL3           = "l3"
	StageNAT          = "nat"
	StageTunnel       = "tunnel"
	StageProvider     = "provider" // out to, and in from, a vlan or flat network's physical network
	StageIngressACL   = "ingress-acl"
	StageOutput       = "output"
)

// Verdicts of a step and of a trace.
const (
	Pass      = "pass"      // the step lets the packet go on
	Drop      = "drop"      // the packet stops here
	Answered  = "answered"  // answered on the source chassis (ARP, router ICMP)
	Flooded   = "flooded"   // flooded to the network's local ports
	Delivered = "delivered" // output to the destination port
	External  = "external"  // leaves through a router's external network
	Local     = "controller"
)

// Step is one stage of the logical path.
type Step struct {
	Stage string `json:"stage"`
	// Chassis is where the stage runs (empty when unknown).
	Chassis string `json:"chassis,omitempty"`
	Verdict string `json:"verdict"`
	Detail  string `json:"detail"`
	// Rule is the security group rule that decided (ACL stages).
	Rule *Rule `json:"rule,omitempty"`
	// Notes are secondary facts (more matching rules, ignored rules).
	Notes []string `json:"notes,omitempty"`
}

// PortInfo describes a port in a trace.
type PortInfo struct {
	ID             string   `json:"id"`
	Name           string   `json:"name,omitempty"`
	MAC            string   `json:"mac"`
	IPs            []string `json:"fixed_ips"`
	NetworkID      string   `json:"network_id"`
	NetworkName    string   `json:"network_name,omitempty"`
	Chassis        string   `json:"chassis,omitempty"`
	PortSecurity   bool     `json:"port_security_enabled"`
	SecurityGroups []string `json:"security_groups"`
}

// Route is the routing decision of a routed packet.
type Route struct {
	RouterID   string `json:"router_id"`
	RouterName string `json:"router_name,omitempty"`
	// Kind is "host" (a port of a connected subnet), "extra" (an extra
	// route via a nexthop port), "connected" (a connected subnet address no
	// port holds: dropped) or "gateway" (out through the external network).
	Kind        string `json:"kind"`
	Prefix      string `json:"prefix"`
	NextHop     string `json:"nexthop,omitempty"`
	EgressNetID string `json:"egress_network_id,omitempty"`
	EthSrc      string `json:"eth_src,omitempty"`
	EthDst      string `json:"eth_dst,omitempty"`
	TTL         uint8  `json:"ttl"`
}

// Output is where the packet leaves the overlay.
type Output struct {
	// Chassis delivering the packet (the destination port's binding).
	Chassis string `json:"chassis,omitempty"`
	// Tunnelled is true when the source chassis tunnels the packet to
	// Chassis: Encap with key VNI, to TunnelIP.
	Tunnelled bool   `json:"tunnelled"`
	Encap     string `json:"encap,omitempty"`
	VNI       int    `json:"vni,omitempty"`
	TunnelIP  string `json:"tunnel_ip,omitempty"`
	// PhysicalNetwork is set when the packet crosses a vlan or flat
	// network's physical network to Chassis instead (provider.go), tagged
	// with VLAN (0: untagged, a flat network).
	PhysicalNetwork string `json:"physical_network,omitempty"`
	VLAN            int    `json:"vlan,omitempty"`
	PortID          string `json:"port_id,omitempty"`
	NetworkID       string `json:"network_id,omitempty"`
}

// Result is a logical trace.
type Result struct {
	Packet Packet   `json:"packet"`
	Source PortInfo `json:"source"`
	// EthSrc and EthDst are the packet's MACs as the source VM sends it
	// (the destination port's, or the router's on the source network).
	EthSrc string    `json:"eth_src"`
	EthDst string    `json:"eth_dst"`
	Steps  []Step    `json:"steps"`
	Route  *Route    `json:"route,omitempty"`
	Dest   *PortInfo `json:"destination,omitempty"`
	Output *Output   `json:"output,omitempty"`
	// Verdict is the outcome: delivered, drop, answered, flooded,
	// external or controller; Reason says why in one line.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
}

// Run traces pkt sent by the port with id (or unique name) srcPort.
func Run(t *Topology, srcPort string, pkt Packet) (*Result, error) {
	x := newIndex(t)
	src := x.ports[srcPort]
	if src == nil {
		for i := range t.Ports {
			if t.Ports[i].Name == srcPort {
				if src != nil {
					return nil, fmt.Errorf("trace: several ports are named %q; give an id", srcPort)
				}
				src = &t.Ports[i]
			}
		}
	}
	if src == nil {
		return nil, fmt.Errorf("trace: no port %q", srcPort)
	}
	if !pkt.Src.IsValid() {
		for _, a := range addrsOf(src) {
			if a.Is4() == pkt.Dst.Is4() {
				pkt.Src = a
				break
			}
		}
		if !pkt.Src.IsValid() {
			return nil, fmt.Errorf("trace: port %s has no %s fixed IP; give src ADDR", portLabel(src), family(pkt.Dst))
		}
	}
	tr := &tracer{x: x, src: src, pkt: pkt, res: &Result{Packet: pkt, Source: x.portInfo(src),
		EthSrc: src.MACAddress}}
	tr.run()
	return tr.res, nil
}

func (x *index) portInfo(p *model.Port) PortInfo {
	pi := PortInfo{ID: p.ID, Name: p.Name, MAC: p.MACAddress, NetworkID: p.NetworkID, Chassis: p.HostID,
		PortSecurity: p.PortSecurityEnabled, SecurityGroups: slices.Clone(p.SecurityGroups), IPs: []string{}}
	if pi.SecurityGroups == nil {
		pi.SecurityGroups = []string{}
	}
	for _, f := range p.FixedIPs {
		pi.IPs = append(pi.IPs, f.IPAddress)
	}
	if n := x.nets[p.NetworkID]; n != nil {
		pi.NetworkName = n.Name
	}
	return pi
}

// tracer holds one trace in progress.
type tracer struct {
	x   *index
	src *model.Port
	pkt Packet
	res *Result
}

func (tr *tracer) step(s Step) {
	tr.res.Steps = append(tr.res.Steps, s)
}

// stop ends the trace with a verdict.
func (tr *tracer) stop(verdict, reason string) {
	tr.res.Verdict, tr.res.Reason = verdict, reason
}

func (tr *tracer) run() {
	x, src, pkt := tr.x, tr.src, tr.pkt
	here := src.HostID
	if here == "" {
		tr.step(Step{Stage: StageSource, Verdict: Drop,
			Detail: "port " + portLabel(src) + " is not bound to a chassis: no br-int has flows for it"})
		tr.stop(Drop, "source port is not bound")
		return
	}
	if n := x.nets[src.NetworkID]; n != nil && !n.AdminStateUp || !src.AdminStateUp {
		tr.step(Step{Stage: StageSource, Chassis: here, Verdict: Pass,
			Detail: "note: the port or its network is administratively down (admin_state_up false)"})
	}
	tr.res.EthDst = tr.firstHop()
	if !tr.portSecurity() || !tr.egressACL() {
		return
	}
	tr.qosEgress()
	if pkt.Proto == "arp" {
		tr.arp()
		return
	}
	if tr.dhcp() {
		return
	}
	if pkt.Dst.IsMulticast() || pkt.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		tr.step(Step{Stage: StageL2, Chassis: here, Verdict: Flooded,
			Detail: "broadcast/multicast: flooded to the local ports of the network and to every chassis with a port on it",
			Notes:  tr.providerFlood(src.NetworkID)})
		tr.stop(Flooded, "broadcast or multicast destination")
		return
	}
	if dst := x.portWithIP(src.NetworkID, pkt.Dst); dst != nil {
		if isRouterInterface(dst) {
			tr.toRouterAddress(dst)
			return
		}
		tr.res.EthDst = dst.MACAddress
		tr.step(Step{Stage: StageL2, Chassis: here, Verdict: Pass,
			Detail: fmt.Sprintf("%s is port %s, MAC %s, on the same network %s", pkt.Dst, portLabel(dst), dst.MACAddress, x.netLabel(src.NetworkID))})
		tr.deliver(dst, pkt.Src, pkt.TTL)
		return
	}
	if s, _ := x.subnetOf(src.NetworkID, pkt.Dst); s != nil {
		tr.step(Step{Stage: StageL2, Chassis: here, Verdict: Drop,
			Detail: fmt.Sprintf("no port of network %s holds %s (subnet %s): the VM's ARP for it goes unanswered", x.netLabel(src.NetworkID), pkt.Dst, s.CIDR)})
		tr.stop(Drop, "no port holds the destination address on the source network")
		return
	}
	tr.route()
}

// portSecurity checks the source MAC and address; false: dropped.
func (tr *tracer) portSecurity() bool {
	src, pkt := tr.src, tr.pkt
	if !src.PortSecurityEnabled {
		tr.step(Step{Stage: StagePortSecurity, Chassis: src.HostID, Verdict: Pass,
			Detail: "port security disabled: source not checked, security groups not applied"})
		return true
	}
	if slices.Contains(addrsOf(src), pkt.Src) {
		tr.step(Step{Stage: StagePortSecurity, Chassis: src.HostID, Verdict: Pass,
			Detail: fmt.Sprintf("%s with MAC %s is the port's own (fixed IP)", pkt.Src, src.MACAddress)})
		return true
	}
	if pkt.Src.IsUnspecified() && pkt.Proto == "udp" && pkt.SrcPort == 68 && pkt.DstPort == 67 {
		tr.step(Step{Stage: StagePortSecurity, Chassis: src.HostID, Verdict: Pass,
			Detail: "DHCP from 0.0.0.0 with the port's MAC is allowed"})
		return true
	}
	for _, ap := range src.AllowedAddressPairs {
		pf, ok := parsePrefixOrAddr(ap.IPAddress)
		if !ok || !pf.Contains(pkt.Src) {
			continue
		}
		mac := src.MACAddress
		if ap.MACAddress != "" {
			mac = ap.MACAddress
		}
		tr.res.EthSrc = mac
		tr.step(Step{Stage: StagePortSecurity, Chassis: src.HostID, Verdict: Pass,
			Detail: fmt.Sprintf("%s with MAC %s is an allowed address pair (%s)", pkt.Src, mac, ap.IPAddress)})
		return true
	}
	tr.step(Step{Stage: StagePortSecurity, Chassis: src.HostID, Verdict: Drop,
		Detail: fmt.Sprintf("%s is neither a fixed IP of the port nor in one of its allowed address pairs: spoofed source dropped", pkt.Src)})
	tr.stop(Drop, "port security: the source address is not the port's")
	return false
}

// egressACL applies the source port's security groups; false: dropped.
func (tr *tracer) egressACL() bool {
	src, pkt := tr.src, tr.pkt
	s := Step{Stage: StageEgressACL, Chassis: src.HostID, Verdict: Pass}
	switch {
	case !src.PortSecurityEnabled:
		s.Detail = "not applied (port security disabled)"
	case pkt.Proto == "arp":
		s.Detail = "ARP is not filtered by security groups"
	case pkt.Proto == "udp" && pkt.SrcPort == 68 && pkt.DstPort == 67:
		s.Detail = "DHCP requests always pass"
	default:
		return tr.acl(src, "egress", pkt.Dst)
	}
	tr.step(s)
	return true
}

// acl evaluates one direction of a port's security groups for a new
// connection and records the step; false: dropped.
func (tr *tracer) acl(p *model.Port, dir string, peer netip.Addr) bool {
	x := tr.x
	stage := StageEgressACL
	if dir == "ingress" {
		stage = StageIngressACL
	}
	s := Step{Stage: stage, Chassis: p.HostID}
	if !p.PortSecurityEnabled {
		s.Verdict, s.Detail = Pass, "not applied (port security disabled on "+portLabel(p)+")"
		tr.step(s)
		return true
	}
	r := x.evalACL(p, dir, tr.pkt, peer)
	s.Notes = r.skipped
	groups := make([]string, len(p.SecurityGroups))
	for i, g := range p.SecurityGroups {
		groups[i] = x.groupLabel(g)
	}
	if r.match != nil {
		s.Verdict, s.Rule = Pass, x.ruleRef(r.match)
		s.Detail = fmt.Sprintf("new connection allowed by group %s; committed to conntrack",
			x.groupLabel(r.match.SecurityGroupID))
		if r.more > 0 {
			s.Notes = append(s.Notes, fmt.Sprintf("%d more rule(s) also admit it", r.more))
		}
		tr.step(s)
		return true
	}
	s.Verdict = Drop
	if len(groups) == 0 {
		s.Detail = fmt.Sprintf("port %s has no security group: only replies to its own connections pass; this new connection is dropped", portLabel(p))
	} else {
		s.Detail = fmt.Sprintf("no %s rule of %s admits it: dropped", dir, strings.Join(groups, ", "))
	}
	tr.step(s)
	tr.stop(Drop, fmt.Sprintf("%s security groups of %s: no rule admits it", dir, portLabel(p)))
	return false
}

// arp answers or floods an ARP request.
func (tr *tracer) arp() {
	x, src, pkt := tr.x, tr.src, tr.pkt
	tr.res.EthDst = "ff:ff:ff:ff:ff:ff"
	if slices.Contains(addrsOf(src), pkt.Dst) {
		tr.step(Step{Stage: StageServices, Chassis: src.HostID, Verdict: Flooded,
			Detail: "the port asks for its own address (probe): not answered, flooded to the local ports"})
		tr.stop(Flooded, "ARP probe for the port's own address")
		return
	}
	if p := x.portWithIP(src.NetworkID, pkt.Dst); p != nil {
		what := "port " + portLabel(p)
		if isRouterInterface(p) {
			if r := x.routers[p.DeviceID]; r != nil {
				what = "router " + x.routerLabel(r) + " interface"
			}
		}
		tr.step(Step{Stage: StageServices, Chassis: src.HostID, Verdict: Answered,
			Detail: fmt.Sprintf("ARP responder: %s is at %s (%s); the reply goes back out of the source port", pkt.Dst, p.MACAddress, what)})
		tr.stop(Answered, "answered by the ARP responder on the source chassis")
		return
	}
	tr.step(Step{Stage: StageServices, Chassis: src.HostID, Verdict: Flooded,
		Detail: fmt.Sprintf("no port of %s holds %s: the request is flooded to the local ports only (no ARP crosses a tunnel)", x.netLabel(src.NetworkID), pkt.Dst),
		Notes:  tr.providerFlood(src.NetworkID)})
	tr.stop(Flooded, "unknown address: ARP request flooded locally")
}

// dhcp sends DHCP requests to the local agent; true when it applied.
func (tr *tracer) dhcp() bool {
	src, pkt := tr.src, tr.pkt
	if pkt.Proto != "udp" || pkt.SrcPort != 68 || pkt.DstPort != 67 {
		return false
	}
	for _, a := range addrsOf(src) {
		if s, _ := tr.x.subnetOf(src.NetworkID, a); s != nil && s.EnableDHCP {
			tr.step(Step{Stage: StageServices, Chassis: src.HostID, Verdict: Local,
				Detail: "DHCP request: sent to the local agent's DHCP responder (subnet " + s.CIDR + ")"})
			tr.stop(Local, "answered by the agent's DHCP responder")
			return true
		}
	}
	return false
}

// routerAddrs are every address of a router: its interfaces and its
// gateway.
func (tr *tracer) routerAddrs(r *model.Router) []netip.Addr {
	var out []netip.Addr
	for _, p := range tr.x.rtrPorts[r.ID] {
		out = append(out, addrsOf(p)...)
	}
	if gw := r.Gateway; gw != nil {
		for _, f := range gw.ExternalFixedIPs {
			if a, err := netip.ParseAddr(f.IPAddress); err == nil {
				out = append(out, a)
			}
		}
	}
	return out
}

// toRouterAddress handles a packet to a router interface address on the
// source network.
func (tr *tracer) toRouterAddress(rp *model.Port) {
	tr.res.EthDst = rp.MACAddress
	r := tr.x.routers[rp.DeviceID]
	if r == nil {
		tr.step(Step{Stage: StageL2, Chassis: tr.src.HostID, Verdict: Drop,
			Detail: fmt.Sprintf("%s is a router interface of unknown router %s", tr.pkt.Dst, rp.DeviceID)})
		tr.stop(Drop, "router interface of an unknown router")
		return
	}
	tr.routerICMPOrDrop(r)
}

// routerICMPOrDrop: a packet to one of the router's own addresses.
func (tr *tracer) routerICMPOrDrop(r *model.Router) {
	if tr.pkt.isEcho() {
		tr.step(Step{Stage: StageServices, Chassis: tr.src.HostID, Verdict: Answered,
			Detail: fmt.Sprintf("ICMP echo to router %s's address %s: answered on the source chassis", tr.x.routerLabel(r), tr.pkt.Dst)})
		tr.stop(Answered, "router ICMP echo reply from the source chassis")
		return
	}
	tr.step(Step{Stage: StageL3, Chassis: tr.src.HostID, Verdict: Drop,
		Detail: fmt.Sprintf("%s is router %s's own address: it answers ICMP echo only", tr.pkt.Dst, tr.x.routerLabel(r))})
	tr.stop(Drop, "router address: only ICMP echo is answered")
}

// deliver takes the packet, now on dst's network with source address
// from and TTL ttl, to the destination port: tunnel, ingress security
// groups, output.
func (tr *tracer) deliver(dst *model.Port, from netip.Addr, ttl uint8) {
	x := tr.x
	here := tr.src.HostID
	info := x.portInfo(dst)
	tr.res.Dest = &info
	out := &Output{Chassis: dst.HostID, PortID: dst.ID, NetworkID: dst.NetworkID}
	if dst.HostID == "" {
		tr.step(Step{Stage: StageOutput, Chassis: here, Verdict: Drop,
			Detail: "destination port " + portLabel(dst) + " is not bound to a chassis: nothing delivers to it"})
		tr.stop(Drop, "destination port is not bound")
		return
	}
	if n := x.nets[dst.NetworkID]; dst.HostID != here && n != nil && isProvider(n) {
		if !tr.provider(n, dst, out) {
			return
		}
	} else if dst.HostID != here {
		n := x.nets[dst.NetworkID]
		if n == nil || (n.NetworkType != "geneve" && n.NetworkType != "vxlan") {
			typ := "unknown"
			if n != nil {
				typ = n.NetworkType
			}
			tr.step(Step{Stage: StageTunnel, Chassis: here, Verdict: Drop,
				Detail: fmt.Sprintf("network %s is of type %s, not tunnelled: ports on other chassis are unreachable", x.netLabel(dst.NetworkID), typ)})
			tr.stop(Drop, "destination on another chassis of a network that is not tunnelled")
			return
		}
		out.Tunnelled, out.Encap, out.VNI = true, n.NetworkType, n.SegmentationID
		s := Step{Stage: StageTunnel, Chassis: here, Verdict: Pass}
		if c := x.chassis[dst.HostID]; c != nil {
			out.TunnelIP = c.TunnelIP
			if len(c.Encaps) > 0 && !slices.Contains(c.Encaps, n.NetworkType) {
				s.Verdict = Drop
				s.Detail = fmt.Sprintf("chassis %s does not terminate %s tunnels (it has %s)", dst.HostID, n.NetworkType, strings.Join(c.Encaps, ", "))
				tr.step(s)
				tr.res.Output = out
				tr.stop(Drop, "destination chassis lacks the network's encapsulation")
				return
			}
			if !c.Alive {
				s.Notes = append(s.Notes, "the agent of "+dst.HostID+" is not alive")
			}
		} else {
			s.Notes = append(s.Notes, "chassis "+dst.HostID+" is not in the agents list (tunnel IP unknown; listing agents needs admin)")
		}
		dstIP := out.TunnelIP
		if dstIP == "" {
			dstIP = "?"
		}
		s.Detail = fmt.Sprintf("%s tunnel to chassis %s (tun_dst %s), VNI %d of network %s", n.NetworkType, dst.HostID, dstIP, n.SegmentationID, x.netLabel(dst.NetworkID))
		tr.step(s)
	}
	tr.res.Output = out
	if !tr.acl(dst, "ingress", from) {
		return
	}
	tr.qosIngress(dst)
	where := "locally on chassis " + dst.HostID
	if out.Tunnelled || out.PhysicalNetwork != "" {
		where = "on chassis " + dst.HostID
	}
	tr.step(Step{Stage: StageOutput, Chassis: dst.HostID, Verdict: Delivered,
		Detail: fmt.Sprintf("output to port %s %s (ttl %d)", portLabel(dst), where, ttl)})
	tr.stop(Delivered, "delivered to "+portLabel(dst)+" on "+dst.HostID)
}

// firstHop is the destination MAC the source VM puts on the packet: the
// destination port's on the same network, else its subnet's gateway's
// (the router interface); broadcast for ARP and broadcast addresses; ""
// when the VM could not resolve it.
func (tr *tracer) firstHop() string {
	x, src, pkt := tr.x, tr.src, tr.pkt
	if pkt.Proto == "arp" || pkt.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "ff:ff:ff:ff:ff:ff"
	}
	if p := x.portWithIP(src.NetworkID, pkt.Dst); p != nil {
		return p.MACAddress
	}
	if s, _ := x.subnetOf(src.NetworkID, pkt.Dst); s != nil {
		return ""
	}
	sub := x.sourceSubnet(src.NetworkID, pkt)
	if sub == nil {
		return ""
	}
	if gw, err := netip.ParseAddr(sub.GatewayIP); err == nil {
		if p := x.portWithIP(src.NetworkID, gw); p != nil {
			return p.MACAddress
		}
	}
	return ""
}
