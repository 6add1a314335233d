package trace

import (
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// topo6 is topo, dual stack: n1 and n2 also have an IPv6 subnet on the
// router (its own interface ports), a, b and c an IPv6 address each, an
// IPv6 rule admits tcp 22 to web, and an IPv6 extra route goes via hop.
func topo6() *Topology {
	t := topo()
	for _, s := range []struct{ id, netID, cidr, gw string }{
		{"s1v6", "n1", "2001:db8:1::/64", "2001:db8:1::1"}, {"s2v6", "n2", "2001:db8:2::/64", "2001:db8:2::1"}} {
		sub := model.Subnet{NetworkID: s.netID, CIDR: s.cidr, GatewayIP: s.gw, IPVersion: 6, EnableDHCP: true,
			IPv6RAMode: "slaac", IPv6AddressMode: "slaac"}
		sub.ID = s.id
		t.Subnets = append(t.Subnets, sub)
	}
	ri1 := port("ri1v6", "", "n1", "s1v6", "2001:db8:1::1", "fa:16:3e:00:06:01", "")
	ri1.DeviceOwner, ri1.DeviceID = model.OwnerRouterInterface, "r"
	ri2 := port("ri2v6", "", "n2", "s2v6", "2001:db8:2::1", "fa:16:3e:00:06:02", "")
	ri2.DeviceOwner, ri2.DeviceID = model.OwnerRouterInterface, "r"
	t.Ports = append(t.Ports, ri1, ri2)
	v6 := map[string]struct{ sub, ip string }{
		"a": {"s1v6", "2001:db8:1::10"}, "c": {"s1v6", "2001:db8:1::11"}, "b": {"s2v6", "2001:db8:2::10"}, "hop": {"s2v6", "2001:db8:2::20"}}
	for i := range t.Ports {
		if a, ok := v6[t.Ports[i].ID]; ok {
			t.Ports[i].FixedIPs = append(t.Ports[i].FixedIPs, model.FixedIP{SubnetID: a.sub, IPAddress: a.ip})
		}
	}
	t.Routers[0].Routes = append(t.Routers[0].Routes, model.Route{Destination: "2001:db8:99::/64", NextHop: "2001:db8:2::20"})
	r6 := rule("r-web-ssh6", "web", "ingress", "tcp", intp(22), intp(22), "::/0", "")
	r6.EtherType = "IPv6"
	def6 := rule("r-def-out6", "default", "egress", "", nil, nil, "", "")
	def6.EtherType = "IPv6"
	t.Rules = append(t.Rules, r6, def6)
	return t
}

func TestIPv6Routed(t *testing.T) {
	r := mustTrace(t, topo6(), "a", "tcp, dst [2001:db8:2::10]:22")
	if r.Verdict != Delivered || r.Dest == nil || r.Dest.ID != "b" {
		t.Fatalf("verdict %s dest %+v, want delivered to b", r.Verdict, r.Dest)
	}
	if r.Packet.Src.String() != "2001:db8:1::10" {
		t.Errorf("source %s, want a's IPv6 address", r.Packet.Src)
	}
	if rt := r.Route; rt == nil || rt.Kind != "host" || rt.Prefix != "2001:db8:2::10/128" || rt.EgressNetID != "n2" ||
		rt.EthSrc != "fa:16:3e:00:06:02" || rt.EthDst != "fa:16:3e:00:02:10" || rt.TTL != 63 {
		t.Errorf("route %+v", r.Route)
	}
	if r.EthDst != "fa:16:3e:00:06:01" {
		t.Errorf("first hop MAC %s, want the router's IPv6 interface on n1", r.EthDst)
	}
	if in := stageOf(r, StageIngressACL); in == nil || in.Rule == nil || in.Rule.ID != "r-web-ssh6" {
		t.Errorf("ingress step %+v, want rule r-web-ssh6", in)
	}
	flow, err := r.OFFlow(7)
	if err != nil {
		t.Fatal(err)
	}
	if want := "tcp6,in_port=7,dl_src=fa:16:3e:00:01:10,dl_dst=fa:16:3e:00:06:01,ipv6_src=2001:db8:1::10,ipv6_dst=2001:db8:2::10,nw_ttl=64,tp_src=40000,tp_dst=22"; flow != want {
		t.Errorf("flow\n%s\nwant\n%s", flow, want)
	}

	// The IPv4 rule on 22 does not admit IPv6 to 23, nor the IPv4 rule.
	if r := mustTrace(t, topo6(), "a", "tcp, dst [2001:db8:2::10]:23"); r.Verdict != Drop {
		t.Errorf("tcp 23: %s, want drop", r.Verdict)
	}
	// An extra route, and echo to the router's own address.
	if r := mustTrace(t, topo6(), "a", "icmp, dst 2001:db8:99::5"); r.Route == nil || r.Route.Kind != "extra" || r.Route.NextHop != "2001:db8:2::20" {
		t.Errorf("extra route: %+v", r.Route)
	}
	if r := mustTrace(t, topo6(), "a", "icmp, dst 2001:db8:1::1"); r.Verdict != Answered {
		t.Errorf("echo to the router: %s", r.Verdict)
	}
	// No way out for IPv6, whatever the router's gateway.
	if r := mustTrace(t, topo6(), "a", "icmp, dst 2001:db8:77::1"); r.Verdict != Drop {
		t.Errorf("off-router IPv6: %s, want drop (no route)", r.Verdict)
	}
}

func TestParsePacketIPv6(t *testing.T) {
	p, err := ParsePacket("icmp, dst 2001:db8::5")
	if err != nil || p.ProtoNum != 58 || p.ICMPType != 128 {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{"arp, dst 2001:db8::5", "icmp, src 10.0.0.1, dst 2001:db8::5", "icmp, dst fe80::1%eth0"} {
		if _, err := ParsePacket(bad); err == nil || !strings.Contains(err.Error(), "packet:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// With an IPv6 address on the router's gateway (an external IPv6
// subnet), IPv6 off the router's subnets leaves by the gateway, untranslated,
// from the router's active gateway chassis.
func TestIPv6Gateway(t *testing.T) {
	tp := topo6()
	sub := model.Subnet{NetworkID: "ext", CIDR: "2001:db8:ffff::/64", GatewayIP: "2001:db8:ffff::1", IPVersion: 6}
	sub.ID = "sx6"
	tp.Subnets = append(tp.Subnets, sub)
	gw := tp.Routers[0].Gateway
	gw.ExternalFixedIPs = append(gw.ExternalFixedIPs, model.ExternalFixedIP{SubnetID: "sx6", IPAddress: "2001:db8:ffff::2"})
	r := mustTrace(t, tp, "a", "icmp, dst 2001:db8:77::1")
	if r.Verdict != External || r.Route == nil || r.Route.Kind != "gateway" || r.Route.Prefix != "::/0" {
		t.Fatalf("verdict %s route %+v, want external by the default route", r.Verdict, r.Route)
	}
	nat := stageOf(r, StageNAT)
	if nat == nil || nat.Chassis != "gw1" || !strings.Contains(nat.Detail, "no NAT") || !strings.Contains(nat.Detail, "2001:db8:1::10") {
		t.Fatalf("NAT step %+v, want no NAT on gw1 with a's own address", nat)
	}
	if r := mustTrace(t, tp, "a", "icmp, dst 2001:db8:ffff::1"); r.Verdict != External || r.Route == nil || r.Route.Prefix != "2001:db8:ffff::/64" {
		t.Fatalf("to the external subnet: %s %+v", r.Verdict, r.Route)
	}
	// From outside, to c's own address: routed by the active gateway,
	// untranslated, admitted by c's IPv6 rule.
	in := mustInbound(t, tp, "ext", "tcp, dst [2001:db8:1::11]:22")
	if in.Verdict != Delivered || in.Dest == nil || in.Dest.ID != "c" || in.Packet.Src.String() != "2001:db8:ffff::1" {
		t.Fatalf("inbound: verdict %s dest %+v src %s, want delivered to c from the upstream router", in.Verdict, in.Dest, in.Packet.Src)
	}
	if src := stageOf(in, StageSource); src == nil || src.Chassis != "gw1" || !strings.Contains(src.Detail, "2001:db8:ffff::2") {
		t.Fatalf("inbound source step %+v", src)
	}
	if r := mustInbound(t, tp, "ext", "tcp, dst [2001:db8:1::99]:22"); r.Verdict != Drop {
		t.Fatalf("inbound to no port: %s", r.Verdict)
	}
	// IPv4 still leaves by SNAT to the gateway's IPv4 address.
	if nat := stageOf(mustTrace(t, tp, "c", "tcp, dst 198.51.100.7:443"), StageNAT); nat == nil || !strings.Contains(nat.Detail, "203.0.113.2") {
		t.Fatalf("IPv4 NAT step %+v", nat)
	}
}
