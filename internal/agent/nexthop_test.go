package agent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

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

// advertisement is the neighbour advertisement a router at (mac, ip)
// sends to dst in answer to a solicitation, with a target link-layer
// option unless noOption.
func advertisement(t testing.TB, mac net.HardwareAddr, ip netip.Addr, dstMAC net.HardwareAddr, dst netip.Addr, hopLimit uint8, noOption bool) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: hopLimit, NextHeader: layers.IPProtocolICMPv6, SrcIP: ip.AsSlice(), DstIP: dst.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	na := &layers.ICMPv6NeighborAdvertisement{Flags: 0xe0, TargetAddress: ip.AsSlice()}
	if !noOption {
		na.Options = layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: mac}}
	}
	if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip6, icmp, na); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The agent resolves an upstream IPv6 router by Neighbour Discovery: a
// solicitation to the target's solicited-node address from the gateway
// address it answers for (with its MAC as source link-layer option), or
// from :: without option when it answers for none; the router's
// advertisement (and only one for the target, valid) gives its MAC.
func TestNextHopResolutionIPv6(t *testing.T) {
	sw := newFakeSwitch()
	a, err := New(Config{Chassis: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1")}, nil, sw, nil)
	if err != nil {
		t.Fatal(err)
	}
	target, src := netip.MustParseAddr("2001:db8:ffff::1"), netip.MustParseAddr("2001:db8:ffff::2")
	gwMAC := net.HardwareAddr{0xfa, 0x16, 0x3e, 0xee, 0, 0x02}
	a.nextHops.want([]logical.NextHopQuery{{Physnet: "public", Port: 20, Target: target, SrcIP: src, SrcMAC: gwMAC.String()}}, time.Now())
	if next := a.askNextHops(context.Background(), time.Now()); next.IsZero() || len(sw.outPorts) != 1 || sw.outPorts[0] != 20 {
		t.Fatalf("packet-outs on %v, next %v", sw.outPorts, next)
	}
	checkNS := func(frame []byte, mac net.HardwareAddr, src netip.Addr, withOption bool) {
		t.Helper()
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip6, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		icmp, _ := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		ns, _ := p.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
		if eth == nil || ip6 == nil || icmp == nil || ns == nil || p.ErrorLayer() != nil {
			t.Fatalf("not a neighbour solicitation: %v", p)
		}
		if eth.SrcMAC.String() != mac.String() || eth.DstMAC.String() != "33:33:ff:00:00:01" ||
			ip6.SrcIP.String() != src.String() || ip6.DstIP.String() != "ff02::1:ff00:1" || ip6.HopLimit != 255 ||
			ns.TargetAddress.String() != target.String() {
			t.Fatalf("solicitation %v", p)
		}
		// The checksum is right: serialized again, the same bytes.
		again := gopacket.NewSerializeBuffer()
		if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
			t.Fatal(err)
		}
		if err := gopacket.SerializeLayers(again, gopacket.SerializeOptions{ComputeChecksums: true}, icmp, ns); err != nil {
			t.Fatal(err)
		}
		if string(again.Bytes()) != string(frame[54:]) {
			t.Fatalf("ICMPv6 checksum: %x, recomputed %x", frame[54:], again.Bytes())
		}
		if got := len(ns.Options) == 1 && ns.Options[0].Type == layers.ICMPv6OptSourceAddress &&
			net.HardwareAddr(ns.Options[0].Data).String() == mac.String(); got != withOption {
			t.Fatalf("source link-layer option %v, want %v", ns.Options, withOption)
		}
	}
	checkNS(<-sw.out, gwMAC, src, true)

	rmac := net.HardwareAddr{2, 0, 0xcb, 0, 0x71, 6}
	na := func(from netip.Addr, hop uint8, noOption bool) PacketIn {
		return PacketIn{UserData: pipeline.UserData(pipeline.PacketInNextHop, 50), Data: advertisement(t, rmac, from, gwMAC, src, hop, noOption)}
	}
	if !isNextHop(na(target, 255, false)) {
		t.Fatal("the router's advertisement is not taken as one")
	}
	if a.handleNextHop(na(netip.MustParseAddr("2001:db8:ffff::7"), 255, false)) {
		t.Fatal("an advertisement for another address changes the next hop")
	}
	if a.handleNextHop(na(target, 64, false)) {
		t.Fatal("an advertisement with hop limit 64 (not from the link) changes the next hop")
	}
	if !a.handleNextHop(na(target, 255, true)) {
		t.Fatal("the router's advertisement (no option: its source MAC) changes nothing")
	}
	if got := a.state.ext.resolved[target]; got.String() != rmac.String() {
		t.Fatalf("resolved %v", a.state.ext.resolved)
	}
	if a.handleNextHop(na(target, 255, false)) {
		t.Fatal("the same advertisement again changes the next hop")
	}

	// Answering for no address there: from :: without option, from the
	// chassis' probe MAC.
	other := netip.MustParseAddr("2001:db8:eeee::1")
	target = other
	a.nextHops.want([]logical.NextHopQuery{{Physnet: "uplink", Port: 21, Target: other}}, time.Now())
	a.askNextHops(context.Background(), time.Now())
	if sw.outPorts[len(sw.outPorts)-1] != 21 {
		t.Fatalf("probe on %v, want 21", sw.outPorts)
	}
	checkNS(<-sw.out, ProbeMAC("ch1"), netip.IPv6Unspecified(), false)
}

// parseAdvertisement refuses what is not a neighbour advertisement
// without panicking, whatever the bytes.
func FuzzParseAdvertisement(f *testing.F) {
	mac := net.HardwareAddr{2, 0, 0xcb, 0, 0x71, 6}
	f.Add(advertisement(f, mac, netip.MustParseAddr("2001:db8:ffff::1"), mac, netip.MustParseAddr("2001:db8:ffff::2"), 255, false))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, m, err := parseAdvertisement(b)
		if err == nil && (!ip.Is6() || len(m) != 6) {
			t.Fatalf("parsed %v %v from %x", ip, m, b)
		}
	})
}

// An IPv6 gateway address moving here is announced to all nodes by an
// unsolicited advertisement (Router and Override, not Solicited) with the
// gateway's MAC, valid as a router's (hop limit 255).
func TestUnsolicitedAdvertisement(t *testing.T) {
	ip := netip.MustParseAddr("2001:db8:ffff::2")
	b, err := unsolicitedAdvertisement("fa:16:3e:ee:00:02", ip)
	if err != nil {
		t.Fatal(err)
	}
	got, mac, err := parseAdvertisement(b)
	if err != nil || got != ip || mac.String() != "fa:16:3e:ee:00:02" {
		t.Fatalf("parsed %v %v %v", got, mac, err)
	}
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	na, _ := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	ip6, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if na == nil || ip6 == nil || !na.Router() || !na.Override() || na.Solicited() || ip6.DstIP.String() != "ff02::1" ||
		p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet).DstMAC.String() != "33:33:00:00:00:01" {
		t.Fatalf("advertisement %v", p)
	}
	if _, err := unsolicitedAdvertisement("fa:16:3e:ee:00:02", netip.MustParseAddr("203.0.113.2")); err == nil {
		t.Fatal("an advertisement for an IPv4 address")
	}
}
