package edge

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/gateway"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// announceBound is the stated bound from a floating IP's association (the
// API call returning) to its /32 in the upstream router's RIB with every
// gateway as next hop: the etcd watch, one compilation and bundle per
// gateway, one BGP UPDATE, and bgpd's best-path run and zebra's kernel
// install — each well under a second on the test bed.
const announceBound = 5 * time.Second

// withdrawBound is the same for the route's removal after
// disassociation.
const withdrawBound = 5 * time.Second

// steerBound is the stated bound from a pool assignment's write to the
// upstream router routing only through the new pool: the same path as an
// association, withdrawals and announcements from different gateways.
const steerBound = 5 * time.Second

// sessionBound is how long BGP sessions take to come up after the
// gateways start (connect retry 1 s on both sides).
const sessionBound = 30 * time.Second

const nGateways = 3

// Automatic steering on every gateway of the test: above steerThreshold
// packets/s through one gateway an address goes to the scrubbing pool, and
// back after steerHoldDown under it.
const (
	steerThreshold = 200
	steerHoldDown  = 5 * time.Second
)

var steerFlags = []string{"--steer-threshold-pps", fmt.Sprint(steerThreshold), "--steer-pool", "scrubbing",
	"--steer-hold-down", steerHoldDown.String(), "--steer-interval", "500ms"}

// autoSteerBound is the stated bound from the start of a flood to the
// upstream router routing the address only through the scrubbing pool:
// two counter readings (500 ms apart), one transaction, then steerBound.
const autoSteerBound = time.Second + steerBound

type fipOut struct {
	FloatingIP struct {
		ID                string `json:"id"`
		FloatingIPAddress string `json:"floating_ip_address"`
		PortID            string `json:"port_id"`
	} `json:"floatingip"`
}

// TestEdge: association to ECMP routes in FRR, packets from a client to
// the VM by its floating IP through the gateways, withdrawal on
// disassociation, re-announcement after a gateway restart.
func TestEdge(t *testing.T) {
	if err := testbed.Require(); err != nil {
		t.Skip(err)
	}
	bed := testbed.ForTest(t)
	l, err := lab.Start(bed, wyvernBin, lab.Options{AgentBin: agentBin})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Log(bed.LogTails(40))
		}
	}()
	// hv1 hands its floating IPs to the edge (the gateways serve only
	// chassis in edge mode). Its side of the edge (the replies to the
	// endpoint) is TestChassisEdge's: here nothing routes the endpoint.
	hv, err := l.AddChassisWith("hv1", nil, []string{"--fip-mode", "edge", "--edge-endpoint", edgeEndpoint.String()})
	if err != nil {
		t.Fatal(err)
	}

	// The logical topology: an external network for floating IPs, a
	// tenant Geneve network with a router onto it, a VM on hv1.
	var ext struct{ Network model.Network }
	if err := l.Do("POST", "/v2.0/networks", "admin", map[string]any{"network": map[string]any{
		"name": "ext", "router:external": true, "provider:network_type": "flat",
		"provider:physical_network": "physnet1"}}, &ext); err != nil {
		t.Fatal(err)
	}
	if err := l.Do("POST", "/v2.0/subnets", "admin", map[string]any{"subnet": map[string]any{
		"network_id": ext.Network.ID, "cidr": "203.0.113.0/24", "ip_version": 4, "gateway_ip": "203.0.113.1",
		"enable_dhcp": false, "allocation_pools": []map[string]string{{"start": "203.0.113.10", "end": "203.0.113.99"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	off := false
	n1, s1, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", Type: "geneve", CIDR: "10.0.0.0/24", PortSecurity: &off})
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{
		"name": "r1", "external_gateway_info": map[string]any{"network_id": ext.Network.ID}}}, &r); err != nil {
		t.Fatal(err)
	}
	if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "p1", map[string]any{"subnet_id": s1.ID}, nil); err != nil {
		t.Fatal(err)
	}
	vm, port, err := l.Boot(hv, "vm1", "p1", n1.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	fixed := lab.FixedIP(port)
	if err := vm.SetAddr(fixed + "/24"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetGateway(s1.GatewayIP); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitPort(port.ID, 20*time.Second, func(p model.Port) bool { return p.HostID == hv.Name }); err != nil {
		t.Fatal(err)
	}

	// The edge: an upstream router with FRR, a client behind it, the
	// gateways.
	rtr, err := bed.AddExternalHost("rtr", routerAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"ip", "addr", "add", routerClient.String(), "dev", "eth0"},
		{"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1",
			"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"},
	} {
		if _, err := rtr.Exec(c...); err != nil {
			t.Fatal(err)
		}
	}
	client, err := bed.AddExternalHost("client", clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetGateway(routerClient.Addr().String()); err != nil {
		t.Fatal(err)
	}
	var gwAddrs []netip.Addr
	for i := 1; i <= nGateways; i++ {
		gwAddrs = append(gwAddrs, gatewayAddr(i))
	}
	scrubAddr := gatewayAddr(nGateways + 1)
	allAddrs := append(slices.Clone(gwAddrs), scrubAddr)
	frr := startFRR(t, rtr, bed.Prefix+"-rtr", allAddrs)
	etcd := etcdProxy(t, l)
	var gws []*edgeGW
	for i := 1; i <= nGateways; i++ {
		// The gateway sets the hypervisor's underlay MAC as a static
		// tunnel neighbour from its chassis record (recipe.md, pitfall 2).
		g := addGateway(t, bed, i)
		g.start(t, etcd, steerFlags...)
		gws = append(gws, g)
	}
	// One gateway of the scrubbing pool, for steered addresses.
	scrub := addGateway(t, bed, nGateways+1)
	scrub.start(t, etcd, append([]string{"--pool", "scrubbing"}, steerFlags...)...)
	ctlBin, err := lab.BuildCommand(mustRoot(t), t.TempDir(), "wyvernctl")
	if err != nil {
		t.Fatal(err)
	}
	ctl := func(args ...string) (string, error) {
		out, err := exec.Command(ctlBin, append([]string{"--noauth", "--url", l.APIURL}, args...)...).CombinedOutput()
		return string(out), err
	}
	start := time.Now()
	for deadline := start.Add(sessionBound); ; {
		out, err := frr.vtysh("show bgp summary json")
		if err == nil && strings.Count(out, `"state":"Established"`) == len(allAddrs) {
			break
		}
		if time.Now().After(deadline) {
			sum, _ := frr.vtysh("show bgp summary")
			t.Fatalf("BGP sessions not established after %s:\n%s", sessionBound, sum)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d BGP sessions established %s after the gateways started", len(allAddrs), time.Since(start).Round(time.Millisecond))

	// Association: the /32 appears with every gateway as next hop.
	var fip fipOut
	assocStart := time.Now()
	if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": ext.Network.ID, "port_id": port.ID}}, &fip); err != nil {
		t.Fatal(err)
	}
	addr := fip.FloatingIP.FloatingIPAddress
	prefix := addr + "/32"
	took := frr.waitNextHops(t, prefix, nGateways, announceBound)
	t.Logf("association → %s in FRR's RIB with %d ECMP next hops: %s (API call %s; bound %s)",
		prefix, nGateways, took.Round(time.Millisecond), time.Since(assocStart).Round(time.Millisecond)-took.Round(time.Millisecond), announceBound)
	hops, _ := frr.nextHops(prefix)
	slices.Sort(hops)
	for i, h := range hops {
		if h != gwAddrs[i].String() {
			t.Fatalf("next hops %v, want %v", hops, gwAddrs)
		}
	}
	if out, err := rtr.Exec("ip", "route", "show", prefix); err != nil || strings.Count(out, "nexthop via") != nGateways {
		t.Fatalf("kernel route of the router: %q (%v)", out, err)
	}

	t.Run("inbound reaches the VM", func(t *testing.T) {
		capture, err := vm.Capture("eth0", "icmp")
		if err != nil {
			t.Fatal(err)
		}
		// No replies come back: the chassis side of the edge (the VM's
		// outbound to the gateways) is not there yet. Count requests.
		const sent = 10
		client.Exec("ping", "-n", "-q", "-i", "0.2", "-c", fmt.Sprint(sent), "-W", "1", addr)
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		got := testbed.Count(pkts, func(p testbed.Packet) bool {
			ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			icmp, ok2 := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			return ok && ok2 && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest &&
				ip.SrcIP.String() == clientAddr.Addr().String() && ip.DstIP.String() == fixed
		})
		var per []string
		total := 0
		for deadline := time.Now().Add(3 * time.Second); ; { // counters lag the datapath
			per, total = nil, 0
			for _, g := range gws {
				n := g.inboundPackets(t, addr)
				total += n
				per = append(per, fmt.Sprintf("%s=%d", g.Name, n))
			}
			if total >= got || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("echo requests %s → %s seen at the VM as → %s: %d/%d; per-gateway inbound flow packets: %s",
			clientAddr.Addr(), addr, fixed, got, sent, strings.Join(per, " "))
		if got < sent-1 { // the first may be lost to ARP on the router
			t.Fatalf("%d/%d echo requests reached the VM", got, sent)
		}
		for _, g := range gws {
			out, err := g.Appctl("tnl/neigh/show")
			if err != nil || !strings.Contains(out, hv.TunnelIP.String()) || !strings.Contains(out, hv.TunnelMAC) {
				t.Errorf("%s: no tunnel neighbour %s %s:\n%s %v", g.Name, hv.TunnelIP, hv.TunnelMAC, out, err)
			} else if g.index == 1 {
				t.Logf("%s tnl/neigh/show:\n%s", g.Name, out)
			}
		}
		if total < got {
			t.Fatalf("gateway flows counted %d packets, the VM saw %d", total, got)
		}
	})

	var bd *bird
	t.Run("BIRD, down at the gateways' start, learns the same routes", func(t *testing.T) {
		h, err := bed.AddExternalHost("bird", birdAddr)
		if err != nil {
			t.Fatal(err)
		}
		bd = startBIRD(t, h, allAddrs)
		took := bd.waitNextHops(t, prefix, nGateways, sessionBound)
		t.Logf("BIRD started after the gateways: holds %s from all %d gateways %s after its start", prefix, nGateways, took.Round(time.Millisecond))
	})

	t.Run("flows spread over the gateways", func(t *testing.T) {
		before := map[string]int{}
		for _, g := range gws {
			before[g.Name] = g.inboundPackets(t, addr)
		}
		// 64 UDP flows (one datagram from each of 64 source ports): the
		// router's L4 multipath hash spreads them.
		const flows = 64
		script := fmt.Sprintf("import socket\nfor p in range(40000, %d):\n"+
			"    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"+
			"    s.bind(('%s', p))\n    s.sendto(b'x', ('%s', 9))\n    s.close()\n", 40000+flows, clientAddr.Addr(), addr)
		if out, err := client.Exec("python3", "-c", script); err != nil {
			t.Fatalf("udp flows: %v: %s", err, out)
		}
		// Flow counters follow the datapath's with a revalidator delay:
		// wait until they account for every datagram (or a deadline).
		var per []string
		used, total := 0, 0
		for deadline := time.Now().Add(5 * time.Second); ; {
			per, used, total = nil, 0, 0
			for _, g := range gws {
				n := g.inboundPackets(t, addr) - before[g.Name]
				per = append(per, fmt.Sprintf("%s=%d", g.Name, n))
				total += n
				if n > 0 {
					used++
				}
			}
			if total >= flows || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("%d UDP flows → %s: per-gateway inbound packets %s", flows, addr, strings.Join(per, " "))
		if used < 2 || total < flows-2 {
			t.Fatalf("%d flows used %d gateways (%d packets counted), want more than one", flows, used, total)
		}
	})

	t.Run("gateway killed under traffic, then restarted", func(t *testing.T) {
		// Find the gateway carrying the client's pings.
		before := map[string]int{}
		for _, g := range gws {
			before[g.Name] = g.inboundPackets(t, addr)
		}
		client.Exec("ping", "-n", "-q", "-i", "0.2", "-c", "3", "-W", "1", addr)
		var carrier *edgeGW
		for _, g := range gws {
			if g.inboundPackets(t, addr) > before[g.Name] {
				carrier = g
			}
		}
		if carrier == nil {
			t.Fatal("no gateway carried the pings")
		}
		capture, err := vm.Capture("eth0", "icmp")
		if err != nil {
			t.Fatal(err)
		}
		// 50 packets per second for 6 s; kill -9 the carrier after 2 s.
		const rate, count = 50, 300
		ping := client.Command("ping", "-n", "-q", "-i", "0.02", "-c", fmt.Sprint(count), "-W", "1", addr)
		if err := ping.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // part of the traffic pattern, not a readiness wait
		killed := time.Now()
		if err := carrier.StopProcess("wyvern-gateway", 9); err != nil {
			t.Fatal(err)
		}
		took := frr.waitNextHops(t, prefix, nGateways-1, 10*time.Second)
		t.Logf("%s (carrying the stream) killed: FRR down to %d next hops after %s", carrier.Name, nGateways-1, took.Round(time.Millisecond))
		ping.Wait()
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint16]bool{}
		for _, p := range pkts {
			ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			icmp, ok2 := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if ok && ok2 && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest && ip.DstIP.String() == fixed {
				seen[icmp.Seq] = true
			}
		}
		lost, gap, run := 0, 0, 0
		for seq := 1; seq <= count; seq++ {
			if seen[uint16(seq)] {
				run = 0
				continue
			}
			lost++
			run++
			gap = max(gap, run)
		}
		t.Logf("inbound stream at %d pps across the kill of %s 2 s in (at %s): %d/%d requests lost, longest gap %s",
			rate, carrier.Name, killed.Format("15:04:05.000"), lost, count, time.Duration(gap)*time.Second/rate)
		// The dead gateway's flows stay on its bridge (never wiped) and
		// its session closes with the process: the router moves at once.
		if lost > rate/2 {
			t.Errorf("%d requests lost across a gateway kill, want at most %d (half a second)", lost, rate/2)
		}
		carrier.start(t, etcd, steerFlags...)
		took = frr.waitNextHops(t, prefix, nGateways, sessionBound)
		t.Logf("%s restarted: back as next hop after %s", carrier.Name, took.Round(time.Millisecond))
		if fl, err := carrier.DumpFlows("br-edge"); err != nil || len(fl) == 0 {
			t.Fatalf("flows after restart: %v %v", fl, err)
		}
	})

	t.Run("steered to the scrubbing pool by wyvernctl and back", func(t *testing.T) {
		out, err := ctl("floatingip", "steer", addr, "--pool", "scrubbing")
		if err != nil || !regexp.MustCompile(`edge_pool\s+scrubbing`).MatchString(out) {
			t.Fatalf("wyvernctl floatingip steer: %v\n%s", err, out)
		}
		took := frr.waitNextHops(t, prefix, 1, steerBound)
		hops, _ := frr.nextHops(prefix)
		if len(hops) != 1 || hops[0] != scrubAddr.String() {
			t.Fatalf("next hops after steering: %v, want only %s", hops, scrubAddr)
		}
		t.Logf("steered to scrubbing by wyvernctl: FRR routes %s only via %s after %s (bound %s)", prefix, scrubAddr, took.Round(time.Millisecond), steerBound)
		// Traffic follows: the scrubbing gateway counts the pings; the
		// general gateways no longer hold the address's flows.
		before := scrub.inboundPackets(t, addr)
		client.Exec("ping", "-n", "-q", "-i", "0.2", "-c", "5", "-W", "1", addr)
		for deadline := time.Now().Add(3 * time.Second); scrub.inboundPackets(t, addr)-before < 5; {
			if time.Now().After(deadline) {
				t.Fatalf("scrubbing gateway counted %d of 5 pings", scrub.inboundPackets(t, addr)-before)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, g := range gws {
			if out, _ := g.Ofctl("dump-flows", g.Mgmt("br-edge"), "table=1,ip,nw_dst="+addr); strings.Contains(out, "nw_dst="+addr) {
				t.Errorf("%s still holds flows of the steered %s", g.Name, addr)
			}
		}
		// Every gateway logged the move; the API and wyvernctl show it.
		for _, g := range append(slices.Clone(gws), scrub) {
			g.waitLog(t, "floating IP moved between pools", fip.FloatingIP.ID, "to=scrubbing", "reason=manual")
		}
		moves, err := ctl("floatingip", "moves", addr)
		if err != nil || !regexp.MustCompile(`general\s+scrubbing\s+manual\s+admin`).MatchString(moves) {
			t.Fatalf("wyvernctl floatingip moves: %v\n%s", err, moves)
		}
		t.Logf("wyvernctl floatingip moves %s:\n%s", addr, moves)
		// An unknown pool is refused and changes nothing.
		if out, err := ctl("floatingip", "steer", addr, "--pool", "nosuch"); err == nil || !strings.Contains(out, "edge pool nosuch is unknown") {
			t.Fatalf("steer to an unknown pool: %v\n%s", err, out)
		}
		if f := showFIP(t, l, fip.FloatingIP.ID); f.EdgePool != "scrubbing" || len(f.Moves) != 1 {
			t.Fatalf("after a refused steer: %+v", f)
		}
		if hops, _ := frr.nextHops(prefix); len(hops) != 1 || hops[0] != scrubAddr.String() {
			t.Fatalf("next hops after a refused steer: %v", hops)
		}
		if _, err := ctl("floatingip", "steer", addr, "--default"); err != nil {
			t.Fatal(err)
		}
		took = frr.waitNextHops(t, prefix, nGateways, steerBound)
		t.Logf("steered back by wyvernctl: %d general next hops again after %s", nGateways, took.Round(time.Millisecond))
	})

	t.Run("a flood steers automatically, the hold-down steers back", func(t *testing.T) {
		moves0 := len(showFIP(t, l, fip.FloatingIP.ID).Moves)
		// A bounded flood from the client: 3,000 UDP datagrams paced at
		// 500 pps, one flow (one general gateway carries it all), above
		// the threshold. (ping sends at most 100 pps when nothing answers.)
		const floodRate, floodCount = 500, 3000
		script := fmt.Sprintf("import socket, time\n"+
			"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('%s', 41000))\nt0 = time.time()\n"+
			"for i in range(%d):\n    s.sendto(b'x' * 64, ('%s', 9))\n"+
			"    d = t0 + (i + 1) / %d - time.time()\n    if d > 0:\n        time.sleep(d)\n",
			clientAddr.Addr(), floodCount, addr, floodRate)
		flood := client.Command("python3", "-c", script)
		floodStart := time.Now()
		if err := flood.Start(); err != nil {
			t.Fatal(err)
		}
		floodDone := make(chan error, 1)
		go func() { floodDone <- flood.Wait() }()
		defer func() {
			flood.Process.Kill() // an error once it has ended
			<-floodDone
		}()
		took := frr.waitNextHops(t, prefix, 1, autoSteerBound)
		hops, _ := frr.nextHops(prefix)
		if len(hops) != 1 || hops[0] != scrubAddr.String() {
			t.Fatalf("next hops during the flood: %v, want only %s", hops, scrubAddr)
		}
		t.Logf("flood of %d pps → %s: FRR routes it only via the scrubbing gateway %s %s after the flood started (bound %s)",
			floodRate, addr, scrubAddr, took.Round(time.Millisecond), autoSteerBound)
		f := showFIP(t, l, fip.FloatingIP.ID)
		if len(f.Moves) != moves0+1 || f.EdgePool != "scrubbing" {
			t.Fatalf("after the automatic move: %+v", f)
		}
		m := f.Moves[len(f.Moves)-1]
		if m.Reason != model.MoveAuto || m.From != gateway.DefaultPool || m.Pool != "scrubbing" || !slices.ContainsFunc(gws, func(g *edgeGW) bool { return g.Name == m.By }) || m.Rate <= steerThreshold {
			t.Fatalf("automatic move %+v", m)
		}
		t.Logf("move recorded: %+v", m)
		// The general gateways' counters stop rising while the scrubbing
		// gateway's rise: one second of the flood measured on each.
		general := func() int {
			n := 0
			for _, g := range gws {
				n += g.inboundPackets(t, addr)
			}
			return n
		}
		g0, s0 := general(), scrub.inboundPackets(t, addr)
		time.Sleep(time.Second) // the measurement window, not a readiness wait
		g1, s1 := general(), scrub.inboundPackets(t, addr)
		t.Logf("over one second of the flood: general gateways' inbound packets %d → %d, scrubbing gateway's %d → %d", g0, g1, s0, s1)
		if g1 != g0 || s1-s0 < floodRate/2 {
			t.Fatalf("general gateways counted %d more packets, the scrubbing gateway %d more", g1-g0, s1-s0)
		}
		for _, g := range gws {
			g.waitLog(t, "floating IP moved between pools", fip.FloatingIP.ID, "to=scrubbing", "reason=auto")
		}
		// The flood ends; after the hold-down the address goes back.
		select {
		case <-floodDone:
			floodDone <- nil
		case <-time.After(floodCount/floodRate*time.Second + 10*time.Second):
			t.Fatal("the flood did not end")
		}
		floodEnd := time.Now()
		took = frr.waitNextHops(t, prefix, nGateways, steerHoldDown+autoSteerBound)
		t.Logf("flood over %s after its start: %d general next hops again %s later (hold-down %s)",
			floodEnd.Sub(floodStart).Round(time.Millisecond), nGateways, took.Round(time.Millisecond), steerHoldDown)
		if took < steerHoldDown-time.Second {
			t.Fatalf("steered back %s after the flood, before the hold-down %s", took, steerHoldDown)
		}
		f = showFIP(t, l, fip.FloatingIP.ID)
		back := f.Moves[len(f.Moves)-1]
		if f.EdgePool != gateway.DefaultPool || back.Reason != model.MoveAuto || back.From != "scrubbing" || back.By != scrub.Name {
			t.Fatalf("automatic move back: %+v", f)
		}
		scrub.waitLog(t, "steering floating IP back", fip.FloatingIP.ID)
	})

	t.Run("the upstream router's bgpd restarted: the routes come back by themselves", func(t *testing.T) {
		frr.restartBGPD(t)
		restarted := time.Now()
		// The new bgpd's own table (zebra may hold the old routes for a
		// moment): every gateway's path again, learned afresh.
		for deadline := restarted.Add(sessionBound); ; time.Sleep(50 * time.Millisecond) {
			out, err := frr.vtysh("show bgp ipv4 unicast " + prefix + " json")
			var rt struct {
				Paths []struct {
					Valid bool `json:"valid"`
				} `json:"paths"`
			}
			if err == nil && json.Unmarshal([]byte(out), &rt) == nil && len(rt.Paths) == nGateways {
				break
			}
			if time.Now().After(deadline) {
				sum, _ := frr.vtysh("show bgp summary")
				t.Fatalf("%s not learned from %d gateways %s after bgpd's restart: %s\n%s", prefix, nGateways, sessionBound, out, sum)
			}
		}
		t.Logf("bgpd killed and restarted: %s learned again from the %d gateways %s after its start", prefix, nGateways,
			time.Since(restarted).Round(time.Millisecond))
		frr.waitNextHops(t, prefix, nGateways, sessionBound)
	})

	t.Run("disassociation withdraws", func(t *testing.T) {
		start := time.Now()
		if err := l.Do("PUT", "/v2.0/floatingips/"+fip.FloatingIP.ID, "p1", map[string]any{"floatingip": map[string]any{"port_id": nil}}, nil); err != nil {
			t.Fatal(err)
		}
		took := frr.waitNextHops(t, prefix, 0, withdrawBound)
		t.Logf("disassociation → %s gone from FRR's RIB after %s (API call %s; bound %s)", prefix,
			took.Round(time.Millisecond), (time.Since(start) - took).Round(time.Millisecond), withdrawBound)
		if bd != nil {
			took := bd.waitNextHops(t, prefix, 0, withdrawBound)
			t.Logf("… and from BIRD's table %s after that", took.Round(time.Millisecond))
		}
		for _, g := range gws {
			if n, err := g.Ofctl("dump-flows", g.Mgmt("br-edge"), "table=1,ip,nw_dst="+addr); err != nil || strings.Contains(n, "nw_dst="+addr) {
				t.Fatalf("%s still holds flows for %s: %s %v", g.Name, addr, n, err)
			}
		}
	})
}
