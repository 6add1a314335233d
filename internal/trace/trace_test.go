package trace

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

func intp(i int) *int { return &i }

func port(id, name, netID, sub, ip, mac, host string, groups ...string) model.Port {
	p := model.Port{NetworkID: netID, MACAddress: mac, HostID: host, AdminStateUp: true,
		PortSecurityEnabled: true, SecurityGroups: groups,
		FixedIPs: []model.FixedIP{{SubnetID: sub, IPAddress: ip}}}
	p.ID, p.Name = id, name
	return p
}

func rule(id, group, dir, proto string, lo, hi *int, prefix, remote string) model.SecurityGroupRule {
	r := model.SecurityGroupRule{SecurityGroupID: group, Direction: dir, EtherType: "IPv4", Protocol: proto,
		PortRangeMin: lo, PortRangeMax: hi, RemoteIPPrefix: prefix, RemoteGroupID: remote}
	r.ID = id
	return r
}

// topo: router r joins n1 (10.1.0.0/24, VNI 101) and n2 (10.2.0.0/24,
// VNI 102), with an extra route 192.168.0.0/16 via hop and a gateway on
// ext (flat, physnet public). a and c are on ch1, b and hop on ch2.
func topo() *Topology {
	t := &Topology{}
	net := func(id, typ string, seg int, ext bool, phys string) {
		n := model.Network{AdminStateUp: true, NetworkType: typ, SegmentationID: seg, External: ext, PhysicalNetwork: phys}
		n.ID, n.Name = id, id
		t.Networks = append(t.Networks, n)
	}
	net("n1", "geneve", 101, false, "")
	net("n2", "geneve", 102, false, "")
	net("ext", "flat", 0, true, "public")
	sub := func(id, netID, cidr, gw string) {
		s := model.Subnet{NetworkID: netID, CIDR: cidr, GatewayIP: gw, IPVersion: 4, EnableDHCP: true}
		s.ID = id
		t.Subnets = append(t.Subnets, s)
	}
	sub("s1", "n1", "10.1.0.0/24", "10.1.0.1")
	sub("s2", "n2", "10.2.0.0/24", "10.2.0.1")
	sub("sx", "ext", "203.0.113.0/24", "203.0.113.1")
	ri1 := port("ri1", "", "n1", "s1", "10.1.0.1", "fa:16:3e:00:00:01", "")
	ri1.DeviceOwner, ri1.DeviceID = model.OwnerRouterInterface, "r"
	ri2 := port("ri2", "", "n2", "s2", "10.2.0.1", "fa:16:3e:00:00:02", "")
	ri2.DeviceOwner, ri2.DeviceID = model.OwnerRouterInterface, "r"
	hop := port("hop", "hop", "n2", "s2", "10.2.0.20", "fa:16:3e:00:02:20", "ch2")
	hop.PortSecurityEnabled = false
	t.Ports = []model.Port{ri1, ri2, hop,
		port("a", "a", "n1", "s1", "10.1.0.10", "fa:16:3e:00:01:10", "ch1", "default"),
		port("c", "c", "n1", "s1", "10.1.0.11", "fa:16:3e:00:01:11", "ch1", "web"),
		port("d", "d", "n1", "s1", "10.1.0.12", "fa:16:3e:00:01:12", "ch1", "mute"),
		port("b", "b", "n2", "s2", "10.2.0.10", "fa:16:3e:00:02:10", "ch2", "web"),
		port("u", "u", "n2", "s2", "10.2.0.30", "fa:16:3e:00:02:30", "")}
	t.Ports[3].AllowedAddressPairs = []model.AddressPair{{IPAddress: "10.1.0.128/25", MACAddress: "fa:16:3e:00:99:99"}}
	r := model.Router{Routes: []model.Route{{Destination: "192.168.0.0/16", NextHop: "10.2.0.20"}},
		Gateway: &model.GatewayInfo{NetworkID: "ext", EnableSNAT: true,
			ExternalFixedIPs: []model.ExternalFixedIP{{SubnetID: "sx", IPAddress: "203.0.113.2"}}}}
	r.ID, r.Name = "r", "r1"
	t.Routers = []model.Router{r}
	fip := model.FloatingIP{FloatingIPAddress: "203.0.113.10", PortID: "a", FixedIPAddress: "10.1.0.10", RouterID: "r", FloatingNetworkID: "ext"}
	fip.ID = "fip1"
	t.FloatingIPs = []model.FloatingIP{fip}
	for _, g := range []string{"default", "web", "mute"} {
		sg := model.SecurityGroup{}
		sg.ID, sg.Name = g, g
		t.SecurityGroups = append(t.SecurityGroups, sg)
	}
	t.Rules = []model.SecurityGroupRule{
		rule("r-def-out", "default", "egress", "", nil, nil, "", ""),
		rule("r-def-in", "default", "ingress", "", nil, nil, "", "default"),
		rule("r-web-ssh", "web", "ingress", "tcp", intp(22), intp(22), "0.0.0.0/0", ""),
		rule("r-web-ping", "web", "ingress", "icmp", nil, nil, "", "default"),
		rule("r-web-out", "web", "egress", "", nil, nil, "", ""),
		rule("r-mute-in", "mute", "ingress", "tcp", intp(80), intp(80), "", ""),
	}
	t.Chassis = []Chassis{
		{Name: "ch1", TunnelIP: "192.0.2.1", Encaps: []string{"geneve", "vxlan"}, Alive: true, BridgeMappings: map[string]string{"public": "br-ex"}},
		{Name: "ch2", TunnelIP: "192.0.2.2", Encaps: []string{"geneve", "vxlan"}, Alive: true},
		{Name: "gw1", TunnelIP: "192.0.2.9", Encaps: []string{"geneve"}, Alive: true, Gateway: true, BridgeMappings: map[string]string{"public": "br-ex"}},
	}
	return t
}

func mustTrace(t *testing.T, tp *Topology, src, desc string) *Result {
	t.Helper()
	pkt, err := ParsePacket(desc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(tp, src, pkt)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s:\n%s", src, desc, b.String())
	return r
}

func stageOf(r *Result, stage string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Stage == stage {
			return &r.Steps[i]
		}
	}
	return nil
}

func TestRoutedAllowed(t *testing.T) {
	r := mustTrace(t, topo(), "a", "tcp, dst 10.2.0.10:22")
	if r.Verdict != Delivered || r.Dest == nil || r.Dest.ID != "b" {
		t.Fatalf("verdict %s dest %+v, want delivered to b", r.Verdict, r.Dest)
	}
	if e := stageOf(r, StageEgressACL); e == nil || e.Rule == nil || e.Rule.ID != "r-def-out" {
		t.Errorf("egress step %+v, want rule r-def-out", e)
	}
	if rt := r.Route; rt == nil || rt.RouterID != "r" || rt.Kind != "host" || rt.EgressNetID != "n2" ||
		rt.EthSrc != "fa:16:3e:00:00:02" || rt.EthDst != "fa:16:3e:00:02:10" || rt.TTL != 63 {
		t.Errorf("route %+v", rt)
	}
	if r.EthDst != "fa:16:3e:00:00:01" {
		t.Errorf("first hop MAC %s, want the router's on n1", r.EthDst)
	}
	if o := r.Output; o == nil || !o.Tunnelled || o.VNI != 102 || o.Chassis != "ch2" || o.TunnelIP != "192.0.2.2" {
		t.Errorf("output %+v, want geneve VNI 102 to ch2", o)
	}
	in := stageOf(r, StageIngressACL)
	if in == nil || in.Rule == nil || in.Rule.ID != "r-web-ssh" || in.Chassis != "ch2" ||
		in.Rule.Text != "ingress IPv4 tcp 22 from 0.0.0.0/0" {
		t.Errorf("ingress step %+v, want rule r-web-ssh on ch2", in)
	}
	flow, err := r.OFFlow(7)
	if err != nil {
		t.Fatal(err)
	}
	if want := "tcp,in_port=7,dl_src=fa:16:3e:00:01:10,dl_dst=fa:16:3e:00:00:01,nw_src=10.1.0.10,nw_dst=10.2.0.10,nw_ttl=64,tp_src=40000,tp_dst=22"; flow != want {
		t.Errorf("flow\n%s\nwant\n%s", flow, want)
	}
}

func TestDenied(t *testing.T) {
	tp := topo()
	for _, tc := range []struct {
		src, desc, stage, reason string
	}{
		{"a", "tcp, dst 10.2.0.10:23", StageIngressACL, "no ingress rule of web (web) admits it"},
		{"a", "tcp, dst 10.1.0.11:23", StageIngressACL, "no ingress rule"},
		{"a", "tcp, src 10.1.0.99:1000, dst 10.1.0.11:22", StagePortSecurity, "spoofed"},
		{"d", "tcp, dst 10.1.0.11:22", StageEgressACL, "no egress rule of mute (mute) admits it"},
		{"a", "tcp, dst 10.2.0.99:22", StageL3, "no bound port holds it"},
		{"a", "tcp, dst 10.2.0.30:22", StageL3, "no bound port holds it"},
		{"a", "tcp, dst 10.1.0.77:22", StageL2, "unanswered"},
		{"a", "tcp, dst 10.2.0.1:22", StageL3, "answers ICMP echo only"},
		{"a", "icmp, dst 10.2.0.10, ttl 1", StageL3, "TTL 1 expires"},
		{"b", "icmp, dst 10.1.0.11", StageIngressACL, "no ingress rule"}, // b is not in "default"
	} {
		r := mustTrace(t, tp, tc.src, tc.desc)
		last := r.Steps[len(r.Steps)-1]
		if r.Verdict != Drop || last.Stage != tc.stage || last.Verdict != Drop || !strings.Contains(last.Detail, tc.reason) {
			t.Errorf("%s %s: verdict %s, last step %+v; want drop at %s saying %q", tc.src, tc.desc, r.Verdict, last, tc.stage, tc.reason)
		}
	}
}

func TestPaths(t *testing.T) {
	tp := topo()
	// Same network, same chassis: no tunnel, ingress rule of c.
	r := mustTrace(t, tp, "a", "tcp, dst 10.1.0.11:22")
	if r.Verdict != Delivered || r.Output.Tunnelled || r.Route != nil || r.Dest.ID != "c" {
		t.Errorf("a→c: %+v", r)
	}
	// Allowed address pair with its own MAC.
	r = mustTrace(t, tp, "a", "icmp, src 10.1.0.200, dst 10.1.0.11")
	if r.EthSrc != "fa:16:3e:00:99:99" || stageOf(r, StagePortSecurity).Verdict != Pass {
		t.Errorf("allowed pair: %+v", r)
	}
	// Remote group: a is in default, web admits ICMP from default.
	r = mustTrace(t, tp, "a", "icmp, dst 10.2.0.10")
	if r.Verdict != Delivered || stageOf(r, StageIngressACL).Rule.ID != "r-web-ping" {
		t.Errorf("remote group ping: %+v", r)
	}
	// Extra route via a port without port security.
	r = mustTrace(t, tp, "a", "udp, dst 192.168.5.5:53")
	if r.Verdict != Delivered || r.Route.Kind != "extra" || r.Route.NextHop != "10.2.0.20" || r.Dest.ID != "hop" ||
		!strings.Contains(stageOf(r, StageIngressACL).Detail, "port security disabled") {
		t.Errorf("extra route: %+v", r)
	}
	// Outside through the gateway: a has a floating IP, mapped locally.
	r = mustTrace(t, tp, "a", "tcp, dst 198.51.100.7:443")
	if r.Verdict != External || r.Route.Kind != "gateway" || r.Route.Prefix != "0.0.0.0/0" ||
		!strings.Contains(stageOf(r, StageNAT).Detail, "floating IP 203.0.113.10") || stageOf(r, StageNAT).Chassis != "ch1" {
		t.Errorf("fip out: %+v", r)
	}
	// c has none: SNAT on a gateway chassis.
	r = mustTrace(t, tp, "c", "tcp, dst 198.51.100.7:443")
	if r.Verdict != External || !strings.Contains(stageOf(r, StageNAT).Detail, "203.0.113.2") ||
		!strings.Contains(stageOf(r, StageNAT).Detail, "gw1") {
		t.Errorf("snat out: %+v", stageOf(r, StageNAT))
	}
	// Services.
	r = mustTrace(t, tp, "a", "arp, dst 10.1.0.1")
	if r.Verdict != Answered || !strings.Contains(r.Steps[len(r.Steps)-1].Detail, "fa:16:3e:00:00:01") {
		t.Errorf("arp: %+v", r)
	}
	r = mustTrace(t, tp, "a", "arp, dst 10.1.0.77")
	if r.Verdict != Flooded {
		t.Errorf("arp unknown: %+v", r)
	}
	r = mustTrace(t, tp, "a", "icmp, dst 10.2.0.1")
	if r.Verdict != Answered {
		t.Errorf("router ping: %+v", r)
	}
	r = mustTrace(t, tp, "a", "udp, src 0.0.0.0:68, dst 255.255.255.255:67")
	if r.Verdict != Local {
		t.Errorf("dhcp: %+v", r)
	}
	// By name, and unknown ports.
	if _, err := Run(tp, "nope", Packet{Proto: "icmp", Dst: r.Packet.Dst}); err == nil {
		t.Error("unknown port: no error")
	}
	r = mustTrace(t, tp, "u", "icmp, dst 10.2.0.10")
	if r.Verdict != Drop || r.Steps[0].Stage != StageSource {
		t.Errorf("unbound source: %+v", r)
	}
}

func TestParsePacket(t *testing.T) {
	for _, bad := range []string{"", "tcp", "tcp, dst 10.0.0.1", "sctp, dst 10.0.0.1", "icmp, dst 10.0.0.1:3",
		"tcp, dst ::1:22", "udp, dst 10.0.0.1:53, type 3", "tcp, dst 10.0.0.1:22, foo 1", "tcp dst 10.0.0.1:22"} {
		if p, err := ParsePacket(bad); err == nil {
			t.Errorf("ParsePacket(%q) = %+v, want an error", bad, p)
		}
	}
	p, err := ParsePacket("udp, src 10.0.1.4:5000, dst 10.0.2.5:53, ttl 9")
	if err != nil || p.Proto != "udp" || p.ProtoNum != 17 || p.SrcPort != 5000 || p.DstPort != 53 || p.TTL != 9 || p.Src.String() != "10.0.1.4" {
		t.Errorf("udp: %+v %v", p, err)
	}
	p, err = ParsePacket("ip proto 47, dst 10.0.2.5")
	if err != nil || p.Proto != "ip" || p.ProtoNum != 47 {
		t.Errorf("gre: %+v %v", p, err)
	}
	p, err = ParsePacket("ICMP, dst 10.0.2.5, type 0, code 0")
	if err != nil || p.ICMPType != 0 {
		t.Errorf("icmp: %+v %v", p, err)
	}
}

// TestAnnotate parses a real ofproto/trace of a routed packet (OVS 3.1,
// recorded by test/e2e's TestTrace): egress conntrack, recirculation,
// routing and the tunnel push, then br-phy's NORMAL.
func TestAnnotate(t *testing.T) {
	raw, err := os.ReadFile("testdata/routed.trace")
	if err != nil {
		t.Fatal(err)
	}
	tr := Annotate(string(raw))
	if tr.Bridge != "br-int" || len(tr.Passes) != 2 || !strings.HasPrefix(tr.Flow, "tcp,in_port=3,") {
		t.Fatalf("bridge %q, %d passes, flow %q", tr.Bridge, len(tr.Passes), tr.Flow)
	}
	var got []string
	for _, p := range tr.Passes {
		for _, s := range p.Steps {
			got = append(got, fmt.Sprintf("%s:%d:%s:%s:%d:%d", s.Bridge, s.Table, s.Name, s.Feature, s.Priority, s.Depth))
		}
	}
	want := []string{
		"br-int:0:Classify:classify:100:0", "br-int:1:PortSecurity:port-security:200:0", "br-int:2:EgressACL:acl:100:0",
		"br-int:2:EgressACL:acl:100:0", "br-int:3:Services:default:0:0", "br-int:5:L2Lookup:l3:110:0",
		"br-int:8:L3DNAT:default:0:0", "br-int:9:L3Route:l3:165:0", "br-int:7:Output:output:100:0",
		"br-phy:0:::0:0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	route := tr.Passes[1].Steps[4]
	if route.Match != "ip,metadata=0x1,nw_dst=10.5.2.10" || !slices.Contains(route.Actions, "dec_ttl") || !slices.Contains(route.Actions, "resubmit(,7)") {
		t.Errorf("L3Route step %+v", route)
	}
	if tr.Passes[0].DatapathActions != "ct(zone=28970),recirc(0x2)" || tr.Dropped {
		t.Errorf("first pass actions %q, dropped %v", tr.Passes[0].DatapathActions, tr.Dropped)
	}
	if vni, ok := tr.TunnelVNI(); !ok || vni != 0x677c || !strings.Contains(tr.Final, "tnl_push") {
		t.Errorf("VNI %#x %v, final %q", vni, ok, tr.Final)
	}
	tunnelled := &Result{Verdict: Delivered, Source: PortInfo{Chassis: "ch1"}, Steps: []Step{{Chassis: "ch2"}},
		Output: &Output{Tunnelled: true, VNI: 0x677c, Chassis: "ch2"}}
	if a := Compare(tunnelled, &tr); !a.Checked || !a.Agree {
		t.Errorf("delivered through the tunnel: %+v", a)
	}
	// Dropped by the remote chassis' ingress ACL: still tunnelled here.
	tunnelled.Verdict = Drop
	if a := Compare(tunnelled, &tr); !a.Agree {
		t.Errorf("dropped at the remote ingress ACL: %+v", a)
	}
	tunnelled.Output.VNI = 7
	if a := Compare(tunnelled, &tr); a.Agree || !strings.Contains(a.Detail, "DISAGREE") {
		t.Errorf("wrong VNI: %+v", a)
	}
	dropped := &Result{Verdict: Drop, Source: PortInfo{Chassis: "ch1"}, Steps: []Step{{Chassis: "ch1"}}}
	if a := Compare(dropped, &tr); a.Agree {
		t.Errorf("logical drop, bridge tunnels: %+v", a)
	}
	var b bytes.Buffer
	if err := tr.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"  9 L3Route          l3             prio 165  ip,metadata=0x1,nw_dst=10.5.2.10", "[br-phy]", "-- recirc(0x2) - resume conntrack"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, b.String())
		}
	}
}

// A rule of any protocol the API accepts is traced, not skipped: VRRP
// (IP protocol 112) from a to c passes with an ingress vrrp rule on web
// and is dropped without it.
func TestNeutronProtocolNames(t *testing.T) {
	for _, proto := range []string{"vrrp", "VRRP", "112"} {
		tp := topo()
		tp.Rules = append(tp.Rules, rule("r-web-vrrp", "web", "ingress", proto, nil, nil, "10.1.0.0/24", ""))
		r := mustTrace(t, tp, "a", "ip proto 112, dst 10.1.0.11")
		if in := stageOf(r, StageIngressACL); r.Verdict != Delivered || in == nil || in.Rule == nil || in.Rule.ID != "r-web-vrrp" {
			t.Errorf("protocol %q: verdict %s, ingress step %+v; want delivered by r-web-vrrp", proto, r.Verdict, in)
		}
	}
	r := mustTrace(t, topo(), "a", "ip proto 112, dst 10.1.0.11")
	if r.Verdict != Drop {
		t.Errorf("without the vrrp rule: verdict %s, want drop", r.Verdict)
	}
}

// The tracer names the router's active gateway chassis the agents elect
// (logical.GatewayChassis), and follows it when it dies.
func TestActiveGatewayChassis(t *testing.T) {
	tp := topo()
	tp.Chassis = append(tp.Chassis, Chassis{Name: "gw2", TunnelIP: "192.0.2.10", Encaps: []string{"geneve"}, Alive: true,
		Gateway: true, BridgeMappings: map[string]string{"public": "br-ex"}})
	want := logical.GatewayChassis("r", []string{"gw1", "gw2"})
	r := mustTrace(t, tp, "c", "tcp, dst 198.51.100.7:443")
	if nat := stageOf(r, StageNAT); nat == nil || nat.Chassis != want || !strings.Contains(nat.Detail, "active gateway chassis "+want) {
		t.Fatalf("NAT step %+v, want on %s", nat, want)
	}
	other := map[string]string{"gw1": "gw2", "gw2": "gw1"}[want]
	for i := range tp.Chassis {
		if tp.Chassis[i].Name == want {
			tp.Chassis[i].Alive = false
		}
	}
	r = mustTrace(t, tp, "c", "tcp, dst 198.51.100.7:443")
	if nat := stageOf(r, StageNAT); nat == nil || nat.Chassis != other {
		t.Fatalf("after %s died: NAT step %+v, want on %s", want, nat, other)
	}
}

// On an edge-mode chassis the floating IP's outbound traffic is not
// NATed: the trace says it is tunnelled to the edge, which translates it.
func TestEdgeModeFloatingIP(t *testing.T) {
	tp := topo()
	tp.Chassis[0].FIPMode = model.FIPModeEdge
	r := mustTrace(t, tp, "a", "tcp, dst 198.51.100.7:443")
	nat := stageOf(r, StageNAT)
	if r.Verdict != External || nat.Chassis != "" || !strings.Contains(nat.Detail, "edge mode") ||
		!strings.Contains(nat.Detail, "203.0.113.10") || !strings.Contains(r.Steps[len(r.Steps)-1].Detail, "edge gateway") {
		t.Errorf("edge fip out: %+v", r)
	}
	// c has no floating IP: SNAT on the gateway chassis, as before.
	if r := mustTrace(t, tp, "c", "tcp, dst 198.51.100.7:443"); !strings.Contains(stageOf(r, StageNAT).Detail, "gw1") {
		t.Errorf("snat out on an edge chassis: %+v", stageOf(r, StageNAT))
	}
}
