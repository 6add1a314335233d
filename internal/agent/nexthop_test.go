package agent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/arp"
	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// The agent asks the view's upstream router from the address it answers
// for, out of the external network's port, and takes the router's reply
// (and only a reply from it) as the network's next hop MAC.
func TestNextHopResolution(t *testing.T) {
	sw := newFakeSwitch()
	a, err := New(Config{Chassis: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1")}, nil, sw, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := netip.MustParseAddr("203.0.113.1")
	a.nextHops.want([]logical.NextHopQuery{{Physnet: "public", Port: 20, Target: target,
		SrcIP: netip.MustParseAddr("203.0.113.10"), SrcMAC: "fa:16:3e:ee:00:10"}}, time.Now())
	next := a.askNextHops(context.Background(), time.Now())
	if next.IsZero() || len(sw.outPorts) != 1 || sw.outPorts[0] != 20 {
		t.Fatalf("packet-outs on %v, next %v", sw.outPorts, next)
	}
	req := <-sw.out
	want, _ := arp.Request(net.HardwareAddr{0xfa, 0x16, 0x3e, 0xee, 0, 0x10}, netip.MustParseAddr("203.0.113.10"), target)
	if string(req) != string(want) {
		t.Fatalf("request %x, want %x", req, want)
	}
	reply := func(from netip.Addr, mac net.HardwareAddr) PacketIn {
		b := append([]byte(nil), want...)
		copy(b[0:6], want[6:12])
		copy(b[6:12], mac)
		b[21] = 2 // reply
		copy(b[22:28], mac)
		f4 := from.As4()
		copy(b[28:32], f4[:])
		copy(b[32:38], want[6:12])
		copy(b[38:42], want[28:32])
		return PacketIn{UserData: pipeline.UserData(pipeline.PacketInNextHop, 50), Data: b}
	}
	rmac := net.HardwareAddr{2, 0, 0xcb, 0, 0x71, 1}
	if !isNextHop(reply(target, rmac)) {
		t.Fatal("the router's reply is not taken as one")
	}
	if a.handleNextHop(reply(netip.MustParseAddr("203.0.113.7"), rmac)) {
		t.Fatal("a reply from another address changes the next hop")
	}
	if !a.handleNextHop(reply(target, rmac)) {
		t.Fatal("the router's reply changes nothing")
	}
	if got := a.state.ext.resolved[target]; got.String() != rmac.String() {
		t.Fatalf("resolved %v", a.state.ext.resolved)
	}
	if a.handleNextHop(reply(target, rmac)) {
		t.Fatal("the same reply again changes the next hop")
	}
	if isNextHop(PacketIn{UserData: pipeline.UserData(pipeline.PacketInDHCPv4, 1)}) {
		t.Fatal("a DHCP packet-in taken as an ARP reply")
	}

	// Without an address of its own there, the chassis probes from its
	// probe MAC.
	other := netip.MustParseAddr("198.51.100.1")
	a.nextHops.want([]logical.NextHopQuery{{Physnet: "uplink", Port: 21, Target: other}}, time.Now())
	a.askNextHops(context.Background(), time.Now())
	probe, _ := arp.Probe(ProbeMAC("ch1"), other)
	if got := <-sw.out; string(got) != string(probe) || sw.outPorts[len(sw.outPorts)-1] != 21 {
		t.Fatalf("probe %x on %v, want %x on 21", got, sw.outPorts, probe)
	}
	if m := ProbeMAC("ch1"); m[0]&3 != 2 || m.String() == ProbeMAC("ch2").String() {
		t.Fatalf("probe MACs %v %v: want locally administered unicast, distinct", m, ProbeMAC("ch2"))
	}
}

// exposeFlows steer only what the upstream router routes to the
// chassis' external address (the bridge's MAC) for announced addresses.
func TestExposeFlows(t *testing.T) {
	brMAC := net.HardwareAddr{2, 0, 0, 0, 0, 0xee}
	got := ofp.Text(exposeFlows(brMAC, 3, map[netip.Addr]net.HardwareAddr{
		netip.MustParseAddr("203.0.113.20"): {0xfa, 0x16, 0x3e, 0xee, 0, 0x20},
		netip.MustParseAddr("203.0.113.10"): {0xfa, 0x16, 0x3e, 0xee, 0, 0x10},
		netip.MustParseAddr("2001:db8::1"):  {0xfa, 0x16, 0x3e, 0xee, 0, 0x30},
	}, exposeGen(7)))
	want := "table=0,priority=200,dl_dst=02:00:00:00:00:ee,dl_type=0x0800,nw_dst=203.0.113.10 actions=set_field:fa:16:3e:ee:00:10->dl_dst,output:3\n" +
		"table=0,priority=200,dl_dst=02:00:00:00:00:ee,dl_type=0x0800,nw_dst=203.0.113.20 actions=set_field:fa:16:3e:ee:00:20->dl_dst,output:3\n"
	if got != want {
		t.Fatalf("flows:\n%s\nwant:\n%s", got, want)
	}
	// A generation's cookie is of the expose family; another's differs.
	if c := exposeGen(7); c&exposeCookieMask != exposeCookie || c == exposeGen(8) {
		t.Fatalf("cookie %#x", c)
	}
}

// Bad floating-IP settings are refused at start with a clear error.
func TestValidateFIPs(t *testing.T) {
	ep := netip.MustParseAddr("192.0.2.100")
	ext := map[string]netip.Addr{"public": netip.MustParseAddr("198.51.100.21")}
	maps := map[string]string{"public": "br-ex"}
	peer := []bgp.Peer{{Address: netip.MustParseAddr("198.51.100.1"), AS: 65000}}
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" : valid
	}{
		{"default", Config{}, ""},
		{"edge", Config{FIPMode: model.FIPModeEdge, EdgeEndpoint: ep}, ""},
		{"unknown mode", Config{FIPMode: "central"}, "want distributed or edge"},
		{"edge without endpoint", Config{FIPMode: model.FIPModeEdge}, "tunnel endpoint"},
		{"endpoint without edge", Config{EdgeEndpoint: ep}, "only used in edge mode"},
		{"bgp", Config{BridgeMappings: maps, ExternalIPs: ext, BGP: &bgp.Config{LocalAS: 65010, Peers: peer}}, ""},
		{"bgp in edge mode", Config{FIPMode: model.FIPModeEdge, EdgeEndpoint: ep, BridgeMappings: maps, ExternalIPs: ext,
			BGP: &bgp.Config{LocalAS: 65010}}, "distributed mode only"},
		{"bgp without external address", Config{BGP: &bgp.Config{LocalAS: 65010}}, "external address"},
		{"external address unmapped", Config{ExternalIPs: ext, BGP: &bgp.Config{LocalAS: 65010}}, "no bridge mapping"},
		{"external address without bgp", Config{BridgeMappings: maps, ExternalIPs: ext}, "configure BGP"},
		{"bad peer AS", Config{BridgeMappings: maps, ExternalIPs: ext,
			BGP: &bgp.Config{LocalAS: 65010, Peers: []bgp.Peer{{Address: peer[0].Address, AS: 1 << 33}}}}, "AS number"},
	} {
		err := tc.cfg.ValidateFIPs()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.err)
		}
		if tc.name == "bad peer AS" && !errors.Is(err, bgp.ErrConfig) {
			t.Errorf("%s: %v does not wrap bgp.ErrConfig", tc.name, err)
		}
		if tc.name == "bgp" && tc.cfg.BGP.RouterID != ext["public"] {
			t.Errorf("router id %v, want the external address", tc.cfg.BGP.RouterID)
		}
	}
}

// A restarted agent's first install waits until it has resolved the
// upstream routers again (its predecessor's flows forward meanwhile), at
// most nextHopHoldMax; a fresh agent, or one already synced, never waits.
func TestFirstInstallAwaitsNextHops(t *testing.T) {
	sw := newFakeSwitch()
	a, err := New(Config{Chassis: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1")}, nil, sw, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	target := netip.MustParseAddr("198.51.100.1")
	a.state.resolve = []logical.NextHopQuery{{Physnet: "public", Port: 20, Target: target}}
	now := time.Now()
	if w := a.awaitNextHops(ctx, now); w != 0 {
		t.Fatalf("a fresh agent waits %s", w)
	}
	a.rec.inherited = true
	if w := a.awaitNextHops(ctx, now); w != nextHopHoldMax {
		t.Fatalf("a restarted agent waits %s, want %s", w, nextHopHoldMax)
	}
	if len(sw.outPorts) != 1 || sw.outPorts[0] != 20 {
		t.Fatalf("no ARP request while waiting: packet-outs on %v", sw.outPorts)
	}
	probe := <-sw.out
	if w := a.awaitNextHops(ctx, now.Add(time.Second)); w != nextHopHoldMax-time.Second {
		t.Fatalf("a second later it waits %s", w)
	}
	// The router answers the probe: the install goes ahead.
	rmac := net.HardwareAddr{2, 0, 0xcb, 0, 0x71, 1}
	b := append([]byte(nil), probe...)
	copy(b[0:6], probe[6:12])
	copy(b[6:12], rmac)
	b[21] = 2
	copy(b[22:28], rmac)
	t4 := target.As4()
	copy(b[28:32], t4[:])
	copy(b[32:38], probe[6:12])
	copy(b[38:42], probe[28:32])
	if !a.handleNextHop(PacketIn{UserData: pipeline.UserData(pipeline.PacketInNextHop, 20), Data: b}) {
		t.Fatal("the router's reply is not taken")
	}
	if w := a.awaitNextHops(ctx, now.Add(time.Second)); w != 0 {
		t.Fatalf("resolved, yet it waits %s", w)
	}
	// Unanswered, the wait ends at nextHopHoldMax.
	b2, err := New(Config{Chassis: "ch2", TunnelIP: netip.MustParseAddr("192.0.2.2")}, nil, newFakeSwitch(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b2.rec.inherited = true
	b2.state.resolve = a.state.resolve
	b2.awaitNextHops(ctx, now)
	if w := b2.awaitNextHops(ctx, now.Add(nextHopHoldMax)); w != 0 {
		t.Fatalf("past the bound it still waits %s", w)
	}
	a.rec.synced = true
	a.nextHops = newNextHops("ch1", arp.Timing{})
	if w := a.awaitNextHops(ctx, now); w != 0 {
		t.Fatalf("a synced agent waits %s", w)
	}
}
