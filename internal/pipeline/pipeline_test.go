package pipeline

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestGolden(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			v := sc.view()
			if err := v.Validate(); err != nil {
				t.Fatalf("scenario view invalid: %v", err)
			}
			got := ofp.Text(Compile(v, sc.cfg, 1))
			path := filepath.Join("testdata", sc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("flows differ from %s (run with -update to accept):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := lineSet(want), lineSet(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if l != "" && !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if l != "" && !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

func lineSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		m[l] = true
	}
	return m
}

// TestOVSParses feeds every scenario's flows to ovs-ofctl, which must accept
// them for OpenFlow 1.3 without dropping any match field for unmet
// prerequisites.
func TestOVSParses(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ovs-ofctl")
	}
	ofctl, err := exec.LookPath("ovs-ofctl")
	if err != nil {
		t.Fatal("ovs-ofctl not found: install openvswitch-switch (scripts/deps.sh)")
	}
	var all []ofp.Flow
	for _, sc := range scenarios() {
		all = append(all, Compile(sc.view(), sc.cfg, 1)...)
	}
	path := filepath.Join(t.TempDir(), "flows.txt")
	if err := os.WriteFile(path, []byte(ofp.Text(all)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ofctl, "-O", "OpenFlow13", "parse-flows", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ovs-ofctl parse-flows: %v\n%s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "normalization") || strings.Contains(s, "WARN") || strings.Contains(s, "ERR") {
		t.Errorf("ovs-ofctl changed or rejected flows:\n%s", s)
	}
	if n := strings.Count(stdout.String(), "OFPT_FLOW_MOD"); n != len(all) {
		t.Errorf("ovs-ofctl parsed %d flows, want %d", n, len(all))
	}
}

func TestTableDeclarations(t *testing.T) {
	names := map[string]bool{}
	ids := map[TableID]bool{}
	lastBase := -1
	for i, tb := range Tables() {
		if tb.ID >= numTables || ids[tb.ID] || tb.ID.Stage() != i {
			t.Errorf("table %d: id %d declared twice or out of range", i, tb.ID)
		}
		ids[tb.ID] = true
		if tb.ID < numBaseTables {
			// The base tables keep their relative order.
			if int(tb.ID) != lastBase+1 {
				t.Errorf("base table %s out of order", tb.Name)
			}
			lastBase = int(tb.ID)
		}
		if tb.Name == "" || tb.Doc == "" || len(tb.Features) == 0 {
			t.Errorf("table %d: incomplete declaration %+v", i, tb)
		}
		if names[tb.Name] {
			t.Errorf("table name %s declared twice", tb.Name)
		}
		names[tb.Name] = true
	}
	if got := TableL2Lookup.String(); got != "L2Lookup(5)" {
		t.Errorf("TableL2Lookup.String() = %q", got)
	}
	if got := TableIngressACLEval.String(); got != "IngressACLEval(13)" {
		t.Errorf("TableIngressACLEval.String() = %q", got)
	}
	if TableIngressACLEval.Stage() <= TableIngressACL.Stage() || TableIngressACLEval.Stage() >= TableOutput.Stage() {
		t.Error("IngressACLEval is not between IngressACL and Output")
	}
}

// allFlows compiles every scenario.
func allFlows(t *testing.T) map[string][]ofp.Flow {
	t.Helper()
	out := map[string][]ofp.Flow{}
	for _, sc := range scenarios() {
		out[sc.name] = Compile(sc.view(), sc.cfg, 42)
	}
	out["big"] = Compile(bigView(50), testCfg, 42)
	return out
}

func TestFlowInvariants(t *testing.T) {
	for name, flows := range allFlows(t) {
		keys := map[string]bool{}
		for _, f := range flows {
			if keys[f.Key()] {
				t.Errorf("%s: duplicate flow key %s", name, f.Key())
			}
			keys[f.Key()] = true
			if !IsOwnCookie(f.Cookie) || CookieGeneration(f.Cookie) != 42 {
				t.Errorf("%s: bad cookie %#x on %s", name, f.Cookie, f)
			}
			feat := CookieFeature(f.Cookie)
			if f.Table >= uint8(numTables) {
				t.Fatalf("%s: undeclared table in %s", name, f)
			}
			from := TableID(f.Table)
			tb := Tables()[from.Stage()]
			if feat != FeatureDefault && !containsFeature(tb.Features, feat) {
				t.Errorf("%s: feature %s not declared by table %s: %s", name, feat, tb.Name, f)
			}
			// Packets only move forward in pipeline order (ct may
			// recirculate to the same table): no loop is possible. The
			// one way back, L3Route to L2Lookup, carries a router key,
			// and L2Lookup only lets packets without one into a router.
			if from == TableL2Lookup && entersRouter(f) && !hasMatch(f, ofp.Metadata(0, 0)) {
				t.Errorf("%s: a routed packet could be routed again by %s", name, f)
			}
			// Neighbour only loads registers and returns.
			if from == TableNeighbour && slices.ContainsFunc(f.Actions, func(a ofp.Action) bool {
				_, load := a.(ofp.Load)
				return !load
			}) {
				t.Errorf("%s: Neighbour flow does more than a lookup: %s", name, f)
			}
			for i, a := range f.Actions {
				switch a := a.(type) {
				case ofp.Goto:
					if a.Table <= f.Table || i != len(f.Actions)-1 || TableID(a.Table).Stage() <= from.Stage() {
						t.Errorf("%s: bad goto in %s", name, f)
					}
				case ofp.Resubmit:
					if TableID(a.Table).Stage() <= from.Stage() && !routedBack(f, a) {
						t.Errorf("%s: backward resubmit in %s", name, f)
					}
				case ofp.CT:
					if a.Table >= 0 && TableID(a.Table).Stage() < from.Stage() {
						t.Errorf("%s: backward ct recirculation in %s", name, f)
					}
				}
			}
		}
	}
}

// routedBack reports whether a resubmit is L3Route handing a routed packet
// (a non-zero router key in metadata) back to L2Lookup.
func routedBack(f ofp.Flow, a ofp.Resubmit) bool {
	if f.Table != TableL3Route.Number() || a.Table != TableL2Lookup.Number() {
		return false
	}
	return slices.ContainsFunc(f.Match, func(m ofp.Field) bool {
		return m.Kind == ofp.FMetadata && m.Mask == 0 && m.Value != 0
	})
}

// entersRouter reports whether a flow sends packets into an L3 table.
func entersRouter(f ofp.Flow) bool {
	l3 := func(t int) bool { return t >= int(TableL3DNAT) && t <= int(TableL3Out) }
	return slices.ContainsFunc(f.Actions, func(a ofp.Action) bool {
		switch a := a.(type) {
		case ofp.Goto:
			return l3(int(a.Table))
		case ofp.Resubmit:
			return l3(int(a.Table))
		case ofp.CT:
			return l3(a.Table)
		case ofp.SetField:
			return a.Field.Kind == ofp.FMetadata
		}
		return false
	})
}

func containsFeature(fs []Feature, f Feature) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

// tunnelPorts are the scenario's tunnel ofports.
func isTunnelOutput(a ofp.Action) bool {
	switch a := a.(type) {
	case ofp.Load:
		return a.Reg == OutPortField.Reg && (a.Value == ofGeneve || a.Value == ofVXLAN)
	case ofp.Output:
		return a.Port == ofGeneve || a.Port == ofVXLAN
	case ofp.SetField:
		return a.Field.Kind == ofp.FTunIPv4Dst
	}
	return false
}

func hasMatch(f ofp.Flow, want ofp.Field) bool {
	for _, m := range f.Match {
		if m.String() == want.String() {
			return true
		}
	}
	return false
}

func TestNoARPBroadcastToTunnel(t *testing.T) {
	for name, flows := range allFlows(t) {
		arpFloods := 0
		for _, f := range flows {
			if !hasMatch(f, ofp.EthType(ofp.EthTypeARP)) {
				continue
			}
			if f.Table == TableL2Lookup.Number() {
				arpFloods++
			}
			for _, a := range f.Actions {
				if isTunnelOutput(a) {
					t.Errorf("%s: ARP flow reaches a tunnel: %s", name, f)
				}
			}
		}
		if arpFloods == 0 && name != "snat_gateway" && name != "centralized_fip" && name != "port_forwarding_centralized" { // the scenarios without a local port
			t.Errorf("%s: no ARP broadcast flow in L2Lookup", name)
		}
	}
	// And the flood flows that do reach tunnels are outranked by the ARP
	// broadcast flow.
	if prioL2ARPBroadcast <= prioL2Flood {
		t.Error("ARP broadcast flow must outrank the flood flow")
	}
}

func TestTunnelTrafficNotReflooded(t *testing.T) {
	for name, flows := range allFlows(t) {
		for _, f := range flows {
			if !hasMatch(f, PktSourceField.Match(PktSourceTunnel)) {
				continue
			}
			for _, a := range f.Actions {
				if isTunnelOutput(a) {
					t.Errorf("%s: tunnel traffic sent back to a tunnel: %s", name, f)
				}
			}
		}
	}
}

// networkKeys returns the reg6 values a flow matches or loads.
func networkKeys(f ofp.Flow) []uint32 {
	var ks []uint32
	for _, m := range f.Match {
		if m.Kind == ofp.FReg && m.Index == NetworkKeyField.Reg {
			ks = append(ks, uint32(m.Value))
		}
	}
	for _, a := range f.Actions {
		if l, ok := a.(ofp.Load); ok && l.Reg == NetworkKeyField.Reg {
			ks = append(ks, uint32(l.Value))
		}
	}
	return ks
}

func TestOnlyViewNetworks(t *testing.T) {
	for _, sc := range scenarios() {
		v := sc.view()
		known := map[uint32]bool{}
		for _, n := range v.Networks {
			known[n.Key] = true
		}
		for _, n := range v.External {
			known[n.Key] = true
		}
		for _, f := range Compile(v, sc.cfg, 1) {
			for _, k := range networkKeys(f) {
				if !known[k] {
					t.Errorf("%s: flow mentions network key %d not in view: %s", sc.name, k, f)
				}
			}
		}
	}
}

func TestNoPortsNoFlows(t *testing.T) {
	v := twoChassisTwoNetworks() // net3 (key 3, seg 300) only on ch3
	for _, f := range Compile(v, testCfg, 1) {
		for _, k := range networkKeys(f) {
			if k == 3 {
				t.Errorf("flow for network without local ports: %s", f)
			}
		}
		if hasMatch(f, ofp.TunID(300)) {
			t.Errorf("tunnel classification for network without local ports: %s", f)
		}
		if strings.Contains(f.String(), "192.0.2.3") || strings.Contains(f.String(), "10.3.0.16") {
			t.Errorf("flow mentions ch3 or its port: %s", f)
		}
	}
	// Removing the last local port removes every flow of its network.
	v = oneChassisOneNetwork()
	v.Ports[0].Chassis, v.Ports[1].Chassis = "elsewhere", "elsewhere"
	flows := Compile(v, testCfg, 1)
	for _, f := range flows {
		if len(networkKeys(f)) > 0 {
			t.Errorf("flow for network without local ports: %s", f)
		}
	}
	if len(flows) != int(numBaseTables) {
		t.Errorf("got %d flows, want only the %d table-miss flows:\n%s", len(flows), numBaseTables, ofp.Text(flows))
	}
}

func TestDeterministic(t *testing.T) {
	for _, sc := range scenarios() {
		v := sc.view()
		want := Compile(v, sc.cfg, 3)
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 5; i++ {
			w := sc.view()
			r.Shuffle(len(w.Ports), func(i, j int) { w.Ports[i], w.Ports[j] = w.Ports[j], w.Ports[i] })
			r.Shuffle(len(w.Networks), func(i, j int) { w.Networks[i], w.Networks[j] = w.Networks[j], w.Networks[i] })
			r.Shuffle(len(w.Remote), func(i, j int) { w.Remote[i], w.Remote[j] = w.Remote[j], w.Remote[i] })
			got := Compile(w, sc.cfg, 3)
			if len(got) != len(want) {
				t.Fatalf("%s: %d flows, then %d", sc.name, len(want), len(got))
			}
			for j := range got {
				if !got[j].Equal(want[j]) {
					t.Fatalf("%s: flow %d differs after shuffling input:\n%s\n%s", sc.name, j, want[j], got[j])
				}
			}
		}
	}
}

// A view with duplicate keys, MACs and addresses still compiles the same
// whatever the order of its slices.
func TestDeterministicWithDuplicates(t *testing.T) {
	broken := func() *View {
		v := twoChassisTwoNetworks()
		v.Ports[1].Key = v.Ports[0].Key          // duplicate port key
		v.Ports[3].MAC = v.Ports[2].MAC          // duplicate MAC (different networks)
		v.Ports[4].IPs = v.Ports[0].IPs          // duplicate address
		v.Networks[2].Key = v.Networks[1].Key    // duplicate network key
		v.Remote = append(v.Remote, v.Remote[0]) // duplicate chassis
		v.Remote[2].TunnelIP = netip.MustParseAddr("192.0.2.9")
		return v
	}
	want := ofp.Text(Compile(broken(), testCfg, 1))
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20; i++ {
		w := broken()
		r.Shuffle(len(w.Ports), func(i, j int) { w.Ports[i], w.Ports[j] = w.Ports[j], w.Ports[i] })
		r.Shuffle(len(w.Networks), func(i, j int) { w.Networks[i], w.Networks[j] = w.Networks[j], w.Networks[i] })
		r.Shuffle(len(w.Remote), func(i, j int) { w.Remote[i], w.Remote[j] = w.Remote[j], w.Remote[i] })
		if got := ofp.Text(Compile(w, testCfg, 1)); got != want {
			t.Fatalf("output depends on input order:\n%s", lineDiff(want, got))
		}
	}
}

func TestCompileDoesNotAliasView(t *testing.T) {
	v := oneChassisOneNetwork()
	before := ofp.Text(Compile(v, testCfg, 1))
	flows := Compile(v, testCfg, 1)
	v.Ports[0].MAC[5] = 0xee
	if got := ofp.Text(flows); got != before {
		t.Error("mutating the view changed compiled flows")
	}
}

func TestPortSecurity(t *testing.T) {
	flows := Compile(oneChassisOneNetwork(), testCfg, 1)
	text := ofp.Text(flows)
	for _, want := range []string{
		// Stage 1: a port with port security is classified from its MAC only.
		"table=0,priority=100,in_port=10,dl_src=fa:16:3e:00:00:01 actions=load:0x1->NXM_NX_REG0[0..3],load:0x1->NXM_NX_REG0[4..5],load:0x1->NXM_NX_REG5[0..31],load:0x1->NXM_NX_REG6[0..31],goto_table:1",
		// IPv4 from own MAC and IP only.
		"table=1,priority=200,reg5=0x1,dl_src=fa:16:3e:00:00:01,dl_type=0x0800,nw_src=10.0.0.11 actions=goto_table:2",
		// ARP sha and spa.
		"table=1,priority=200,reg5=0x1,dl_src=fa:16:3e:00:00:01,dl_type=0x0806,arp_spa=10.0.0.11,arp_sha=fa:16:3e:00:00:01 actions=goto_table:2",
		// DHCP discover, shared by every port whose MAC Classify verified.
		"table=1,priority=210,reg0=0x10/0x30,dl_type=0x0800,nw_proto=17,nw_src=0.0.0.0,nw_dst=255.255.255.255,udp_src=68,udp_dst=67 actions=goto_table:2",
		// Link-local IPv6, shared.
		"table=1,priority=200,reg0=0x10/0x30,dl_type=0x86dd,ipv6_src=fe80::/10 actions=goto_table:2",
		// ND advertising the own MAC only.
		"table=1,priority=310,reg5=0x1,dl_src=fa:16:3e:00:00:01,dl_type=0x86dd,nw_proto=58,ipv6_src=fe80::/10,icmpv6_type=135,icmpv6_code=0,nd_sll=fa:16:3e:00:00:01 actions=goto_table:2",
		"table=1,priority=310,reg5=0x1,dl_src=fa:16:3e:00:00:01,dl_type=0x86dd,nw_proto=58,ipv6_src=fe80::/10,icmpv6_type=136,icmpv6_code=0,nd_target=fe80::/10,nd_tll=fa:16:3e:00:00:01 actions=goto_table:2",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing flow %s", want)
		}
	}
	// No other classification of the port: any other source MAC is
	// dropped by Classify's miss.
	if strings.Contains(text, "in_port=10 actions") {
		t.Error("port with port security classified whatever its source MAC")
	}
	// The defaults of Classify and PortSecurity drop.
	for _, f := range flows {
		if (f.Table == TableClassify.Number() || f.Table == TablePortSecurity.Number()) && f.Priority == 0 && len(f.Actions) != 0 {
			t.Errorf("miss does not drop: %s", f)
		}
	}
	// The per-port cost of port security: the flows naming vm1.
	perPort := 0
	for _, f := range flows {
		if f.Table == TablePortSecurity.Number() && hasMatch(f, InPortKeyField.Match(1)) {
			perPort++
		}
	}
	if perPort != 5 {
		t.Errorf("%d PortSecurity flows for an IPv4-only port, want 5", perPort)
	}
	off := ofp.Text(Compile(portSecurityOff(), testCfg, 1))
	for _, want := range []string{
		"table=0,priority=100,in_port=11 actions=load:0x1->NXM_NX_REG0[0..3],load:0x3->NXM_NX_REG0[4..5],load:0x2->NXM_NX_REG5[0..31],load:0x1->NXM_NX_REG6[0..31],goto_table:1",
		"table=1,priority=400,reg0=0x30/0x30 actions=goto_table:2",
	} {
		if !strings.Contains(off, want+"\n") {
			t.Errorf("port with port security off is not passed: missing %s", want)
		}
	}
	if strings.Contains(off, "reg5=0x2,dl_src") || strings.Contains(off, "in_port=11,dl_src") {
		t.Error("port with port security off still checked")
	}
	// Rogue DHCP servers and routers are dropped, ahead of the allow flows.
	for _, want := range []string{
		"table=1,priority=300,dl_type=0x0800,nw_proto=17,udp_src=67,udp_dst=68 actions=drop",
		"table=1,priority=300,dl_type=0x86dd,nw_proto=17,udp_src=547,udp_dst=546 actions=drop",
		"table=1,priority=300,dl_type=0x86dd,nw_proto=58,icmpv6_type=134 actions=drop",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing flow %s", want)
		}
	}
	// An allowed address pair's MAC is classified too, and its prefix is
	// allowed from that MAC only.
	aap := ofp.Text(Compile(twoChassisTwoNetworks(), testCfg, 1))
	for _, want := range []string{
		"table=0,priority=100,in_port=10,dl_src=fa:16:3e:00:01:ff actions=",
		"table=1,priority=200,reg5=0x1,dl_src=fa:16:3e:00:01:ff,dl_type=0x0800,nw_src=10.1.0.128/25 actions=goto_table:2",
		"table=1,priority=200,reg5=0x1,dl_src=fa:16:3e:00:01:01,dl_type=0x0800,nw_src=10.1.0.100 actions=goto_table:2",
	} {
		if !strings.Contains(aap, want) {
			t.Errorf("allowed address pairs: missing %s", want)
		}
	}
	if strings.Contains(aap, "dl_src=fa:16:3e:00:01:01,dl_type=0x0800,nw_src=10.1.0.128/25") {
		t.Error("an address pair's prefix is allowed from the port's own MAC")
	}
}

func TestDHCP(t *testing.T) {
	// count returns the controller flows and the skip flows.
	count := func(v *View) (trap, skip int) {
		for _, f := range Compile(v, testCfg, 1) {
			if f.Table == TableServices.Number() && f.Priority == prioDHCPSkip && hasMatch(f, ofp.UDPDst(67, 0)) {
				skip++
			}
			for _, a := range f.Actions {
				if c, ok := a.(ofp.Controller); ok {
					trap++
					kind, key, err := ParseUserData(c.UserData)
					if err != nil || kind != PacketInDHCPv4 || c.ID != testCfg.ControllerID ||
						!hasMatch(f, NetworkKeyField.Match(key)) || !hasMatch(f, FromVMField.Match(1)) {
						t.Errorf("bad controller action in %s (%v)", f, err)
					}
				}
			}
		}
		return trap, skip
	}
	// One flow per network, whatever its number of ports.
	if n, s := count(oneChassisOneNetwork()); n != 1 || s != 0 {
		t.Errorf("DHCP enabled: %d controller flows, %d skips, want 1, 0", n, s)
	}
	if n, _ := count(bigView(50)); n != 1 {
		t.Errorf("50 ports: %d controller flows, want 1", n)
	}
	if n, _ := count(dhcpDisabled()); n != 0 {
		t.Errorf("DHCP disabled: %d controller flows, want 0", n)
	}
	// Two chassis: only the networks with local ports.
	if n, _ := count(twoChassisTwoNetworks()); n != 2 {
		t.Errorf("two chassis: %d controller flows, want 2", n)
	}
	// A local port without an address on a DHCP subnet is not trapped.
	v := oneChassisOneNetwork()
	v.Ports[1].IPs = addrs("10.9.0.12")
	text := ofp.Text(Compile(v, testCfg, 1))
	want := "table=3,priority=110,reg5=0x2,reg6=0x1,dl_type=0x0800,nw_proto=17,udp_src=68,udp_dst=67 actions=goto_table:5\n"
	if !strings.Contains(text, want) {
		t.Errorf("missing %s", want)
	}
	if n, s := count(v); n != 1 || s != 1 {
		t.Errorf("port without DHCP address: %d controller flows, %d skips, want 1, 1", n, s)
	}
}

func TestARPResponderAnswersRemoteAndUnbound(t *testing.T) {
	text := ofp.Text(Compile(twoChassisTwoNetworks(), testCfg, 1))
	// Every ARP request is looked up in Neighbour, then answered by ARPReply.
	for _, w := range []string{
		"table=3,priority=100,dl_type=0x0806,arp_op=1 actions=move:NXM_OF_ARP_TPA[]->NXM_NX_REG12[],resubmit(,14),goto_table:15",
		"table=15,priority=100,reg14=0x10000/0x10000,dl_type=0x0806,arp_op=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
		"table=15,priority=0 actions=resubmit(,5)",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("no ARP responder flow %s", w)
		}
	}
	for _, e := range []struct{ net, ip, mac string }{
		{"0x1", "10.1.0.11", "0x3e000101"}, {"0x1", "10.1.0.13", "0x3e000103"}, {"0x1", "10.1.0.15", "0x3e000105"},
		{"0x2", "10.2.0.12", "0x3e000202"}, {"0x2", "10.2.0.14", "0x3e000204"},
	} {
		w := "table=14,priority=100,reg6=" + e.net + "," + nbr(e.ip) + " actions=load:" + e.mac +
			"->NXM_NX_REG13[0..31],load:0x1fa16->NXM_NX_REG14[0..16]\n"
		if !strings.Contains(text, w) {
			t.Errorf("no Neighbour entry for %s: %s", e.ip, w)
		}
	}
	// net3 has no port here: none of its addresses.
	if strings.Contains(text, nbr("10.3.0.16")) {
		t.Error("Neighbour entry of net3")
	}
}

func TestRemoteUnicastEncap(t *testing.T) {
	text := ofp.Text(Compile(vxlanNetwork(), testCfg, 1))
	want := "table=5,priority=100,reg0=0x1/0xf,reg6=0x4,dl_dst=fa:16:3e:00:04:02 actions=set_field:0x1388->tun_id,set_field:192.0.2.2->tun_dst,load:0x2->NXM_NX_REG7[0..31],goto_table:7\n"
	if !strings.Contains(text, want) {
		t.Errorf("missing VXLAN unicast flow %s", want)
	}
	if !strings.Contains(text, "table=0,priority=100,in_port=2,tun_id=0x1388 actions=") {
		t.Error("missing VXLAN classification")
	}
	// A remote chassis without the network's encapsulation gets nothing.
	v := vxlanNetwork()
	v.Remote[0].Encaps = []Encap{EncapGeneve}
	if text := ofp.Text(Compile(v, testCfg, 1)); strings.Contains(text, "192.0.2.2") {
		t.Errorf("tunnel to a chassis without vxlan:\n%s", text)
	}
}

func TestValidate(t *testing.T) {
	for _, sc := range scenarios() {
		if err := sc.view().Validate(); err != nil {
			t.Errorf("%s: %v", sc.name, err)
		}
	}
	v := oneChassisOneNetwork()
	v.Ports[1].Key = 1
	v.Ports[1].MAC = v.Ports[0].MAC
	v.Ports[1].IPs = v.Ports[0].IPs
	v.Ports = append(v.Ports, Port{ID: "x", NetworkID: "nope", Key: 9, MAC: mac("fa:16:3e:00:00:09"), Chassis: "ch1"})
	err := v.Validate()
	if err == nil {
		t.Fatal("no error for a broken view")
	}
	for _, want := range []string{"key 1 already used", "MAC fa:16:3e:00:00:01 already used", "address 10.0.0.11 already used", "unknown network nope", "without an OpenFlow port"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Compile still yields unique keys for it.
	keys := map[string]bool{}
	for _, f := range Compile(v, testCfg, 1) {
		if keys[f.Key()] {
			t.Errorf("duplicate key %s", f.Key())
		}
		keys[f.Key()] = true
	}
}

func TestNDResponder(t *testing.T) {
	text := ofp.Text(Compile(ipv6Subnet(), testCfgND, 1))
	for _, want := range []string{
		// Services rewrites the solicitation for vm2's address...
		"table=3,priority=100,reg6=0x1,dl_type=0x86dd,nw_proto=58,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8::12 actions=" +
			"move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:fa:16:3e:00:00:02->dl_src," +
			"move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:2001:db8::12->ipv6_src," +
			"set_field:136->icmpv6_type,set_field:0x60000000->nd_reserved,set_field:2->nd_options_type,goto_table:4",
		// ...and NDReply completes and returns it.
		"table=4,priority=100,reg6=0x1,dl_type=0x86dd,nw_proto=58,icmpv6_type=136,icmpv6_code=0,nd_target=2001:db8::12 actions=" +
			"set_field:fa:16:3e:00:00:02->nd_tll,IN_PORT",
		// DAD and the owner are not answered.
		"table=3,priority=110,reg6=0x1,dl_type=0x86dd,nw_proto=58,ipv6_src=::,icmpv6_type=135,icmpv6_code=0 actions=goto_table:5",
		"table=3,priority=110,reg5=0x2,reg6=0x1,dl_type=0x86dd,nw_proto=58,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8::12 actions=goto_table:5",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing flow %s", want)
		}
	}
	for _, f := range Compile(ipv6Subnet(), testCfg, 1) {
		if CookieFeature(f.Cookie) == FeatureND {
			t.Errorf("ND flow without Config.NDResponder: %s", f)
		}
	}
}

func TestCookie(t *testing.T) {
	c := Cookie(FeatureDHCP, 0xdeadbeef)
	if !IsOwnCookie(c) || CookieFeature(c) != FeatureDHCP || CookieGeneration(c) != 0xdeadbeef {
		t.Errorf("cookie %#x does not round-trip", c)
	}
	if IsStale(c, 0xdeadbeef) || !IsStale(c, 1) || IsStale(0x1234, 1) {
		t.Error("IsStale wrong")
	}
	if c&(CookieOwnerMask|CookieGenerationMask) != CookieOwner|0xdeadbeef {
		t.Error("masks do not select owner and generation")
	}
}

func TestUserData(t *testing.T) {
	b := UserData(PacketInDHCPv4, 0x01020304)
	k, p, err := ParseUserData(b)
	if err != nil || k != PacketInDHCPv4 || p != 0x01020304 {
		t.Errorf("round trip: %v %v %v", k, p, err)
	}
	if _, _, err := ParseUserData(b[:7]); err == nil {
		t.Error("short userdata accepted")
	}
}

func BenchmarkCompile1000Ports(b *testing.B) {
	v := bigView(1000)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(Compile(v, testCfg, 1))
	}
	b.ReportMetric(float64(n), "flows")
}

// TestMainPath pins the main path the declarations give: where each
// table's Next (its miss, and the flows passing a packet on) leads.
func TestMainPath(t *testing.T) {
	var path []string
	for id := TableClassify; ; {
		path = append(path, id.Name())
		next, ok := id.Next()
		if !ok {
			break
		}
		id = next
	}
	want := "Classify PortSecurity EgressACL Services L2Lookup L3DNAT L3Route L3SNAT L3SNATCommit L3Out IngressACL Output"
	if got := strings.Join(path, " "); got != want {
		t.Errorf("main path %s, want %s", got, want)
	}
	if next, _ := TableARPReply.Next(); next != TableL2Lookup {
		t.Errorf("ARPReply's next is %s, want L2Lookup", next)
	}
	for _, tb := range Tables() {
		if _, ok := tb.ID.Next(); tb.Miss == MissNext && !ok {
			t.Errorf("%s: its miss continues to a next table, but it has none", tb.Name)
		}
	}
}

// TestMissFlows checks that every table a scenario uses has exactly one
// table-miss flow, the one its declaration gives.
func TestMissFlows(t *testing.T) {
	for name, flows := range allFlows(t) {
		used := map[TableID]bool{}
		misses := map[TableID][]ofp.Flow{}
		for _, f := range flows {
			used[TableID(f.Table)] = true
			if f.Priority == prioMiss {
				misses[TableID(f.Table)] = append(misses[TableID(f.Table)], f)
			}
		}
		for _, tb := range Tables() {
			m := misses[tb.ID]
			if !used[tb.ID] {
				continue
			}
			if len(m) != 1 {
				t.Errorf("%s: table %s has %d miss flows, want 1", name, tb.Name, len(m))
				continue
			}
			var want []ofp.Action
			switch tb.Miss {
			case MissNext:
				want = []ofp.Action{NextTable(tb.ID)}
			case MissNeighbourClear:
				clear := NeighbourClear()
				want = clear[:]
			}
			f := ofp.Flow{Table: tb.ID.Number(), Priority: prioMiss, Cookie: Cookie(FeatureDefault, 42), Actions: want}
			if m[0].String() != f.String() {
				t.Errorf("%s: table %s: miss %s, want %s", name, tb.Name, m[0], f)
			}
		}
	}
}
