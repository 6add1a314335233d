package pipeline

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// nbr is the Neighbour match of an IPv4 address, as ovs-ofctl renders it.
func nbr(ip string) string { return neighbourIPMatch(netip.MustParseAddr(ip)).String() }

// findFlow returns the flows of table t whose text contains every want.
func findFlows(flows []ofp.Flow, t TableID, want ...string) []ofp.Flow {
	var out []ofp.Flow
	for _, f := range flows {
		if f.Table != t.Number() {
			continue
		}
		s := f.String()
		if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(s, w) }) {
			out = append(out, f)
		}
	}
	return out
}

// Routing happens on the source chassis: a packet from vm1 (net1) to vm4
// (net2, on ch2, and net2 has no port here) leaves in one hop through the
// tunnel to ch2 with net2's VNI, TTL decremented and MACs rewritten.
func TestRoutedOnSourceChassis(t *testing.T) {
	flows := Compile(routedTwoNetworks(), testCfg, 1)
	fs := findFlows(flows, TableL3Route, "metadata=0x1", "nw_dst=10.2.0.14 ")
	if len(fs) != 1 {
		t.Fatalf("want one host route to 10.2.0.14, got:\n%s", ofp.Text(fs))
	}
	want := "actions=dec_ttl,set_field:" + rtrMAC2 + "->dl_src,set_field:fa:16:3e:00:02:04->dl_dst," +
		"load:0x2->NXM_NX_REG6[0..31],set_field:0xc8->tun_id,set_field:192.0.2.2->tun_dst,load:0x1->NXM_NX_REG7[0..31],resubmit(,7)"
	if !strings.HasSuffix(fs[0].String(), want) {
		t.Errorf("route to vm4:\n%s\nwant actions %s", fs[0], want)
	}
	// The router's MAC on net1 leads into the router.
	if len(findFlows(flows, TableL2Lookup, "reg6=0x1,dl_dst="+rtrMAC1+" actions=set_field:0x1->metadata,goto_table:8")) != 1 {
		t.Error("no L2Lookup flow for the router MAC on net1")
	}
	// Nothing routes to the router's own interface ports, and net2 (no
	// local port) gets no switching flows here.
	for _, f := range flows {
		s := f.String()
		if strings.Contains(s, "->dl_dst") && (strings.Contains(s, rtrMAC1+"->dl_dst") || strings.Contains(s, rtrMAC2+"->dl_dst")) {
			t.Errorf("route to a router port: %s", s)
		}
		if f.Table == TableL2Lookup.Number() && hasMatch(f, NetworkKeyField.Match(2)) {
			t.Errorf("L2 flow for net2 without local port: %s", s)
		}
		if hasMatch(f, ofp.TunID(200)) {
			t.Errorf("net2 classified without local port: %s", s)
		}
	}
	// Extra route via vm4, connected subnets dropped, no default route
	// without gateway.
	if len(findFlows(flows, TableL3Route, "nw_dst=10.9.0.0/16 actions=dec_ttl", "0xc8->tun_id")) != 1 {
		t.Error("no extra route to 10.9.0.0/16 via vm4")
	}
	if len(findFlows(flows, TableL3Route, "nw_dst=10.2.0.0/24 actions=drop")) != 1 {
		t.Error("unknown addresses of net2 not dropped")
	}
	if len(findFlows(flows, TableL3Route, "priority=100,")) != 0 {
		t.Error("default route without a gateway")
	}
	// The router answers ARP and ping on net1 (its port there), not on net2.
	if len(findFlows(flows, TableNeighbour, "reg6=0x1,"+nbr("10.1.0.1")+" ", "load:0x3eff0001->NXM_NX_REG13[0..31],load:0x1fa16->NXM_NX_REG14[0..16]")) != 1 ||
		len(findFlows(flows, TableNeighbour, "reg6=0x2,")) != 0 {
		t.Error("router ARP responder not on net1 only")
	}
	if len(findFlows(flows, TableServices, "icmp_type=8", "set_field:0->icmp_type")) != 2 {
		t.Error("want ICMP echo replies for both router addresses on net1")
	}
}

// A router port on a network outside the view yields no flow.
func TestRouterNetworkOutsideView(t *testing.T) {
	v := routedTwoNetworks()
	v.Routers[0].Ports = append(v.Routers[0].Ports,
		RouterPort{NetworkID: "elsewhere", MAC: mac("fa:16:3e:ff:00:07"), Address: pfx("10.7.0.1/24")})
	if text := ofp.Text(Compile(v, testCfg, 1)); strings.Contains(text, "10.7.0") || strings.Contains(text, "fa:16:3e:ff:00:07") {
		t.Errorf("flow for a network outside the view:\n%s", text)
	}
	// A router with no port on a served network, no local gateway and no
	// local floating IP yields nothing at all.
	v = routedTwoNetworks()
	v.Routers[0].Ports = v.Routers[0].Ports[1:] // net2 only
	for _, f := range Compile(v, testCfg, 1) {
		if CookieFeature(f.Cookie) == FeatureL3 || f.Table >= TableL3DNAT.Number() && f.Table <= TableL3Out.Number() {
			t.Errorf("flow for a router not needed here: %s", f)
		}
	}
}

func TestFloatingIPAndSNAT(t *testing.T) {
	flows := Compile(floatingIP(), testCfg, 1)
	for _, w := range [][]string{
		{"table=0,", "in_port=20 actions=load:0x1->NXM_NX_REG0[0..3],load:0x32->NXM_NX_REG6[0..31],goto_table:3"},
		{"table=14,", "reg6=0x32," + nbr("203.0.113.10") + " ", "load:0x3eff0099->NXM_NX_REG13[0..31],load:0x1fa16->NXM_NX_REG14[0..16]"},
		{"table=8,", "nw_dst=203.0.113.10 actions=ct(commit,zone=61441,nat(dst=10.1.0.11),table=9)"},
		{"table=11,", "nw_src=10.1.0.11 actions=ct(commit,zone=61441,nat(src=203.0.113.10),table=12)"},
		// vm1's other traffic: not the gateway here, tunnel it unrouted to ch2 on net1.
		{"table=11,", "reg6=0x1,", "nw_src=10.1.0.0/24 actions=set_field:0x64->tun_id,set_field:192.0.2.2->tun_dst"},
		{"table=12,", "nw_src=203.0.113.10 actions=dec_ttl,set_field:" + rtrGW + "->dl_src,set_field:02:00:cb:00:71:01->dl_dst", "output:20"},
	} {
		if !slices.ContainsFunc(flows, func(f ofp.Flow) bool {
			s := "table=" + f.String()[6:]
			return !slices.ContainsFunc(w, func(x string) bool { return !strings.Contains(s, x) })
		}) {
			t.Errorf("no flow with %q", w)
		}
	}
	text := ofp.Text(flows)
	// vm3's floating IP is served by ch2, and the gateway address only by
	// the gateway.
	for _, no := range []string{"203.0.113.13", nbr("203.0.113.13"), "nat(src=203.0.113.2)", nbr("203.0.113.2")} {
		if strings.Contains(text, no) {
			t.Errorf("flows mention %s", no)
		}
	}
	// The gateway chassis SNATs and un-SNATs for the router's networks
	// although it has no VM port.
	gw := ofp.Text(Compile(snatGateway(), testCfg, 1))
	for _, w := range []string{
		"table=0,priority=100,in_port=1,tun_id=0x64 actions=",
		"table=0,priority=100,in_port=1,tun_id=0xc8 actions=",
		"table=5,priority=110,metadata=0x0,reg6=0x1,dl_dst=" + rtrMAC1 + " actions=set_field:0x1->metadata,goto_table:8",
		"nw_src=10.1.0.0/24 actions=ct(commit,zone=61441,nat(src=203.0.113.2),table=12)",
		"nw_src=10.2.0.0/24 actions=ct(commit,zone=61441,nat(src=203.0.113.2),table=12)",
		"ct_state=-trk,dl_type=0x0800,nw_dst=203.0.113.2 actions=ct(zone=61441,nat,table=8)",
		"reg6=0x32," + nbr("203.0.113.2") + " actions=load:0x3eff0099->",
		// Un-SNATed replies leave through the tunnel it has no VM on.
		"table=7,priority=100 actions=output:NXM_NX_REG7[]",
	} {
		if !strings.Contains(gw, w) {
			t.Errorf("gateway lacks %s", w)
		}
	}
	// No external port here: no floating IP nor SNAT, only forwarding.
	v := floatingIP()
	v.External[0].OFPort = 0
	text = ofp.Text(Compile(v, testCfg, 1))
	if strings.Contains(text, "203.0.113.10") || strings.Contains(text, nbr("203.0.113.10")) || strings.Contains(text, "output:20") {
		t.Errorf("floating IP compiled without the external network:\n%s", text)
	}
}

// A centralized floating IP is NATed on the router's active gateway, not
// on the chassis of its port, and on no other chassis.
func TestCentralizedFloatingIP(t *testing.T) {
	gw := ofp.Text(Compile(centralizedFIP(), testCfg, 1))
	for _, w := range []string{
		"reg6=0x32," + nbr("203.0.113.13") + " actions=load:0x3eee0013->",
		"reg6=0x32,dl_dst=fa:16:3e:ee:00:13 actions=set_field:0x1->metadata,goto_table:8",
		"nw_dst=203.0.113.13 actions=ct(commit,zone=61441,nat(dst=10.1.0.13),table=9)",
		"nw_src=10.1.0.13 actions=ct(commit,zone=61441,nat(src=203.0.113.13),table=12)",
		"nw_src=203.0.113.13 actions=dec_ttl,set_field:fa:16:3e:ee:00:13->dl_src",
	} {
		if !strings.Contains(gw, w) {
			t.Errorf("gateway lacks %s\n%s", w, gw)
		}
	}
	// Not the active gateway: nothing of it.
	v := centralizedFIP()
	v.Routers[0].Gateway.Chassis = "ch2"
	if text := ofp.Text(Compile(v, testCfg, 1)); strings.Contains(text, "203.0.113.13") || strings.Contains(text, nbr("203.0.113.13")) {
		t.Errorf("standby compiles the centralized floating IP:\n%s", text)
	}
	// The port's own chassis, even with the external network, leaves it
	// to the gateway.
	v = floatingIP()
	v.FloatingIPs[0].Centralized = true
	if text := ofp.Text(Compile(v, testCfg, 1)); strings.Contains(text, "203.0.113.10") || strings.Contains(text, nbr("203.0.113.10")) {
		t.Errorf("port chassis compiles a centralized floating IP:\n%s", text)
	}
}

// flowChanges lists the flows of after that before lacks and those of
// before that after lacks, compared as whole ovs-ofctl text: a flow whose
// actions or cookie changed is in both.
func flowChanges(before, after []ofp.Flow) (added, removed []ofp.Flow) {
	in := func(fs []ofp.Flow) map[string]bool {
		m := make(map[string]bool, len(fs))
		for _, f := range fs {
			m[f.String()] = true
		}
		return m
	}
	b, a := in(before), in(after)
	for _, f := range after {
		if !b[f.String()] {
			added = append(added, f)
		}
	}
	for _, f := range before {
		if !a[f.String()] {
			removed = append(removed, f)
		}
	}
	return added, removed
}

// Adding a member to a remote group adds one flow (one per direction and
// family the group is used in) and changes nothing else.
func TestConjunctionMembershipChange(t *testing.T) {
	before := Compile(securityGroups(), testCfgND, 1)
	v := securityGroups()
	v.SecurityGroups[0].Members = append(v.SecurityGroups[0].Members, netip.MustParsePrefix("10.0.0.99/32"))
	after := Compile(v, testCfgND, 1)
	add, del := flowChanges(before, after)
	if len(add) != 1 || len(del) != 0 {
		t.Fatalf("member join: add %d del %d, want 1 0:\n%s", len(add), len(del), ofp.Text(add))
	}
	want := "table=13,priority=90,ct_state=+new-inv+trk,dl_type=0x0800,nw_src=10.0.0.99 actions=conjunction(65538,2/2),conjunction(131074,2/2)"
	if add[0].String() != want {
		t.Errorf("added %s, want %s", add[0], want)
	}
	// Leaving is the reverse.
	if add, del := flowChanges(after, before); len(add) != 0 || len(del) != 1 {
		t.Errorf("member leave: add %d del %d, want 0 1", len(add), len(del))
	}
}

// A port whose only group is web shares web's flows: adding one adds no
// ACL flow but its address's member clause, whatever web's rules.
func TestSecurityGroupFlowsShared(t *testing.T) {
	v := securityGroups()
	before := Compile(v, testCfgND, 1)
	v.Ports = append(v.Ports, Port{ID: "vm6", NetworkID: "net1", Key: 6, MAC: mac("fa:16:3e:00:00:06"),
		IPs: addrs("10.0.0.16"), PortSecurity: true, Chassis: "ch1", OFPort: 16, SecurityGroups: []string{"web"}})
	v.SecurityGroups[0].Members = append(v.SecurityGroups[0].Members, netip.MustParsePrefix("10.0.0.16/32"))
	add, del := flowChanges(before, Compile(v, testCfgND, 1))
	var acl []ofp.Flow
	for _, f := range slices.Concat(add, del) {
		if CookieFeature(f.Cookie) == FeatureACL {
			acl = append(acl, f)
		}
	}
	want := "table=13,priority=90,ct_state=+new-inv+trk,dl_type=0x0800,nw_src=10.0.0.16 actions=conjunction(65538,2/2),conjunction(131074,2/2)"
	if len(acl) != 1 || acl[0].String() != want {
		t.Errorf("ACL flows changed by a port in web:\n%s\nwant only %s", ofp.Text(acl), want)
	}
}

func TestSecurityGroups(t *testing.T) {
	text := ofp.Text(Compile(securityGroups(), testCfgND, 1))
	for _, w := range []string{
		// An enforced port's ACL word (track bit, group web, zone 11) is
		// loaded where the port is classified and where it is delivered to.
		"table=0,priority=100,in_port=10,dl_src=fa:16:3e:00:00:01 actions=load:0x1->NXM_NX_REG0[0..3],load:0x1->NXM_NX_REG0[4..5],load:0x1->NXM_NX_REG5[0..31],load:0x1->NXM_NX_REG6[0..31],load:0x8001000b->NXM_NX_REG3[0..31],goto_table:1",
		"table=5,priority=100,reg6=0x1,dl_dst=fa:16:3e:00:00:01 actions=load:0xa->NXM_NX_REG7[0..31],load:0x8001000b->NXM_NX_REG3[0..31],goto_table:6",
		// vm2 is in two groups: tracked, no group key.
		"table=0,priority=100,in_port=11,dl_src=fa:16:3e:00:00:02 actions=load:0x1->NXM_NX_REG0[0..3],load:0x1->NXM_NX_REG0[4..5],load:0x2->NXM_NX_REG5[0..31],load:0x1->NXM_NX_REG6[0..31],load:0x8000000b->NXM_NX_REG3[0..31],goto_table:1",
		// Untracked IP of a tracked port goes to conntrack in its zone.
		"table=2,priority=100,reg3=0x80000000/0x80000000,ct_state=-trk,dl_type=0x0800 actions=ct(zone=NXM_NX_REG3[0..15],table=2)",
		"table=6,priority=100,reg3=0x80000000/0x80000000,dl_type=0x86dd actions=ct(zone=NXM_NX_REG3[0..15],table=13)",
		// Invalid dropped, replies pass, unmatched new dropped.
		"table=2,priority=200,ct_state=+inv+trk actions=drop",
		"table=13,priority=190,ct_state=-new-inv+trk actions=output:NXM_NX_REG7[]",
		"table=2,priority=10,ct_state=+trk actions=drop",
		// Ingress ssh from anywhere, committed: once for the ports whose
		// only group is web, once for vm2 (web and db).
		"table=13,priority=100,reg3=0x10000/0x7fff0000,ct_state=+new-inv+trk,dl_type=0x0800,nw_proto=6,tcp_dst=22 actions=ct(commit,zone=NXM_NX_REG3[0..15]),output:NXM_NX_REG7[]",
		"table=13,priority=100,reg7=0xb,ct_state=+new-inv+trk,dl_type=0x0800,nw_proto=6,tcp_dst=22 actions=ct(commit,zone=NXM_NX_REG3[0..15]),output:NXM_NX_REG7[]",
		// DHCP always allowed out.
		"table=2,priority=110,dl_type=0x0800,nw_proto=17,udp_src=68,udp_dst=67 actions=goto_table:3",
	} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("missing %s", w)
		}
	}
	if strings.Contains(text, "tcp_dst=23") {
		t.Error("port 23 allowed")
	}
	// Port security off: no ACL for that port.
	v := securityGroups()
	v.Ports[1].PortSecurity = false
	text = ofp.Text(Compile(v, testCfgND, 1))
	if strings.Contains(text, "reg5=0x2,ct_state") || strings.Contains(text, "reg7=0xb,") {
		t.Error("port without port security filtered")
	}
	// Its word is not loaded when it sends and is cleared (the sender's
	// may be set) when it receives.
	for _, w := range []string{
		"table=0,priority=100,in_port=11 actions=load:0x1->NXM_NX_REG0[0..3],load:0x3->NXM_NX_REG0[4..5],load:0x2->NXM_NX_REG5[0..31],load:0x1->NXM_NX_REG6[0..31],goto_table:1",
		"table=5,priority=100,reg6=0x1,dl_dst=fa:16:3e:00:00:02 actions=load:0xb->NXM_NX_REG7[0..31],load:0x0->NXM_NX_REG3[0..31],goto_table:6",
	} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("port security off: missing %s", w)
		}
	}
	// Security groups off (the zero value): the ACL tables pass everything.
	v = securityGroups()
	v.SecurityGroupsEnabled = false
	for _, f := range Compile(v, testCfgND, 1) {
		if CookieFeature(f.Cookie) == FeatureACL {
			t.Errorf("ACL flow with security groups disabled: %s", f)
		}
	}
}

func TestPortMasks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi uint16
		want   int
	}{{22, 22, 1}, {8000, 8080, 3}, {0, 65535, 2}, {1, 65535, 16}, {1024, 2047, 1}} {
		got := portMasks(tc.lo, tc.hi)
		if len(got) != tc.want {
			t.Errorf("%d-%d: %d pieces %v, want %d", tc.lo, tc.hi, len(got), got, tc.want)
		}
		// Every port in [lo, hi] is covered exactly once, none outside.
		for p := 0; p < 65536; p += 1 + p%7 {
			n := 0
			for _, vm := range got {
				m := vm[1]
				if m == 0 {
					m = 0xffff
				}
				if uint16(p)&m == vm[0] {
					n++
				}
			}
			in := p >= int(tc.lo) && p <= int(tc.hi)
			if (in && n != 1) || (!in && n != 0) {
				t.Fatalf("%d-%d: port %d covered %d times", tc.lo, tc.hi, p, n)
			}
		}
	}
}
