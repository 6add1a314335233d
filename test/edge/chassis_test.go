package edge

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// The chassis side of the edge (issue 9, point 3), with real packets and
// FRR as the upstream router. None of these tests gives an agent
// --external-nexthop-mac.

// roundTripBound is the stated bound from a floating IP's announcement in
// FRR to the first echo reply at the client: the flows are installed
// before the route is announced, so it is the router's ARP for the next
// hop and, in distributed mode, the chassis' ARP for the upstream router.
const roundTripBound = 10 * time.Second

// cutBound is the stated bound from a gateway's uplink cut to TunnelNet
// routing the endpoint without it: the upstream session's hold time (3 s),
// the gateway's check (every second), TunnelNet's withdrawal.
const cutBound = 6 * time.Second

// bfdInterval is TestChassisEdge's BFD interval between the gateways and
// the upstream router (multiplier 3), and bfdCutBound the stated bound
// from an uplink cut to the router routing the floating IP without that
// gateway and to TunnelNet routing the endpoint without it: the detection
// time (300 ms), FRR taking the BGP session down, zebra; the gateway's
// check of its BFD session (every 100 ms), TunnelNet's withdrawal. The
// bench measures it (bench/results/edge-*.md); this bound leaves room for
// a loaded CI machine.
const (
	bfdInterval = 100 * time.Millisecond
	bfdCutBound = 2 * time.Second
)

var icmpSeq = regexp.MustCompile(`icmp_seq=(\d+)`)

// TestChassisEdge: a hypervisor in edge mode (--fip-mode edge) with a VM
// holding a floating IP served by two gateways. The client reaches the VM
// by ping and TCP through whichever gateway FRR's ECMP picks, through the
// VM's security group, and the VM's replies — tunnelled by the chassis to
// the edge's anycast endpoint — leave with the floating IP as source. The
// endpoint is routed by the underlay ("TunnelNet", a second FRR on the
// underlay) with the route the gateways announce to it over BGP: ECMP over
// every gateway, and the replies spread over them too. The chassis NATs
// nothing. Steered to a scrubbing pool's gateway, the address still
// answers, its replies leaving through the general gateways. A gateway whose uplink is cut, and a killed one, leave
// TunnelNet's ECMP group.
//
// The stateless proof: a TCP stream to the VM keeps running while the
// gateway carrying it is killed (-9), with no reset and every byte
// delivered. With BFD between the gateways and the upstream router, the
// cut gateway leaves the router's ECMP group and TunnelNet's within
// bfdCutBound.
func TestChassisEdge(t *testing.T) { chassisEdge(t, "", bfdInterval) }

// TestChassisEdgeVXLAN is TestChassisEdge with gateways that have only
// VXLAN (--encaps vxlan), which the chassis learns from their
// registrations (no --edge-encaps): the tenant network is Geneve, so both
// ends fall back to VXLAN on the network's key (encapsulation diversity,
// chosen per chassis).
func TestChassisEdgeVXLAN(t *testing.T) { chassisEdge(t, "vxlan", 0) }

func chassisEdge(t *testing.T, encaps string, bfd time.Duration) {
	if err := testbed.Require(); err != nil {
		t.Skip(err)
	}
	var gwEncaps []string
	if encaps != "" {
		gwEncaps = []string{"--encaps", encaps}
	}
	bound := cutBound
	if bfd > 0 {
		gwEncaps = append(gwEncaps, "--bfd-interval", bfd.String())
		bound = bfdCutBound
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
	hv, err := l.AddChassisWith("hv1", nil, []string{"--fip-mode", "edge", "--edge-endpoint", edgeEndpoint.String()})
	if err != nil {
		t.Fatal(err)
	}
	tn := newTenant(t, l)
	vm, port := tn.boot(t, l, hv, "vm1")
	fixed := lab.FixedIP(port)
	// A second service the security group does not admit.
	closed := vm.Command("busybox", "nc", "-ll", "-p", "5002", "-e", "echo", "hello")
	if err := closed.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closed.Process.Kill(); _ = closed.Wait() })

	rtr, client := upstream(t, bed)
	const n = 2
	var addrs []netip.Addr
	for i := 1; i <= n; i++ {
		addrs = append(addrs, gatewayAddr(i))
	}
	scrubAddr := gatewayAddr(n + 1)
	frr := startFRRBFD(t, rtr, bed.Prefix+"-rtr", append(slices.Clone(addrs), scrubAddr), bfd)
	etcd := etcdProxy(t, l)
	// A gateway of a scrubbing pool takes a steered address' inbound
	// traffic; it does not hold the endpoint, so the chassis' replies
	// still leave through the general gateways.
	scrub := addGateway(t, bed, n+1)
	scrub.start(t, etcd, append([]string{"--pool", "scrubbing"}, gwEncaps...)...)
	var gws []*edgeGW
	var tunnelIPs []netip.Addr
	for i := 1; i <= n; i++ {
		// Every gateway terminates tunnels to the anycast endpoint, which
		// it puts on its tunnel bridge itself.
		g := addGateway(t, bed, i)
		g.start(t, etcd, append(tunnelFlags(), gwEncaps...)...)
		gws = append(gws, g)
		tunnelIPs = append(tunnelIPs, g.TunnelIP)
	}
	// TunnelNet learns the endpoint from the gateways; the hypervisor's
	// route to it goes to TunnelNet (its top-of-rack router).
	tnet, tfrr := tunnelNet(t, bed, tunnelIPs)
	tmac, err := tnet.MAC()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hv.Exec("ip", "route", "add", netip.PrefixFrom(edgeEndpoint, 32).String(), "via", tunnelNetAddr.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if err := hv.SetTunnelNeighbor(tunnelNetAddr.Addr(), tmac); err != nil {
		t.Fatal(err)
	}
	endpoint := netip.PrefixFrom(edgeEndpoint, 32).String()
	took := tfrr.waitNextHops(t, endpoint, n, sessionBound)
	hops, _ := tfrr.nextHops(endpoint)
	slices.Sort(hops)
	if want := []string{tunnelIPs[0].String(), tunnelIPs[1].String()}; !slices.Equal(hops, want) {
		t.Fatalf("TunnelNet routes the endpoint %s via %v, want the gateways %v", endpoint, hops, want)
	}
	if out, err := tnet.Exec("ip", "route", "show", endpoint); err != nil || strings.Count(out, "nexthop via") != n {
		t.Fatalf("TunnelNet's kernel route: %q (%v)", out, err)
	}
	t.Logf("TunnelNet holds the anycast endpoint %s with ECMP next hops %v (BGP, %s after the gateways started)", endpoint, hops, took.Round(time.Millisecond))
	frr.waitSessions(t, n+1, sessionBound)

	fip := tn.floatingIP(t, l, port.ID)
	addr := fip.FloatingIP.FloatingIPAddress
	took = frr.waitNextHops(t, addr+"/32", n, announceBound)
	t.Logf("%s announced by the %d gateways after %s", addr, n, took.Round(time.Millisecond))
	roundTrip(t, client, addr, roundTripBound)

	// Several TCP connections: FRR spreads them over the gateways (inbound
	// by any gateway), TunnelNet spreads the replies (outbound, by any
	// gateway).
	before, beforeOut := map[string]int{}, map[string]int{}
	outPackets := func(g *edgeGW) int {
		return flowPackets(t, g.Chassis, "br-edge", "table=2,ip,nw_src="+fixed, "nw_src="+fixed)
	}
	for _, g := range gws {
		before[g.Name] = g.inboundPackets(t, addr)
		beforeOut[g.Name] = outPackets(g)
	}
	const conns = 16
	ok := 0
	for i := 0; i < conns; i++ {
		out, _ := client.Exec("busybox", "timeout", "3", "busybox", "nc", "-w", "2", addr, "5001")
		if strings.Contains(out, "hello") {
			ok++
		}
	}
	var per, perOut []string
	used, usedOut, out := 0, 0, 0
	for deadline := time.Now().Add(3 * time.Second); ; { // counters lag the datapath
		per, perOut, used, usedOut, out = nil, nil, 0, 0, 0
		for _, g := range gws {
			d := g.inboundPackets(t, addr) - before[g.Name]
			per = append(per, fmt.Sprintf("%s=%d", g.Name, d))
			if d > 0 {
				used++
			}
			o := outPackets(g) - beforeOut[g.Name]
			perOut = append(perOut, fmt.Sprintf("%s=%d", g.Name, o))
			out += o
			if o > 0 {
				usedOut++
			}
		}
		if used > 1 && usedOut > 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	edge := flowPackets(t, hv, "br-int", "table=10,ip,nw_src="+fixed, edgeEndpoint.String()+"->tun_dst")
	t.Logf("%d/%d TCP connections to %s; inbound packets per gateway %s; outbound (via TunnelNet) per gateway %s; chassis → edge endpoint: %d packets",
		ok, conns, addr, strings.Join(per, " "), strings.Join(perOut, " "), edge)
	if ok != conns {
		t.Fatalf("%d/%d TCP connections through the edge", ok, conns)
	}
	if used < 2 {
		t.Errorf("inbound used %d gateway(s) (%s), want both: ECMP should spread %d connections", used, strings.Join(per, " "), conns)
	}
	if out == 0 || edge == 0 {
		t.Fatalf("replies did not go chassis → edge endpoint → a gateway (%d, %d packets)", edge, out)
	}
	if usedOut < 2 {
		t.Errorf("outbound used %d gateway(s) (%s), want both: TunnelNet's ECMP should spread %d connections", usedOut, strings.Join(perOut, " "), conns)
	}
	// Inbound goes through the VM's security group: TCP 5002 has no rule.
	if out, _ := client.Exec("busybox", "timeout", "3", "busybox", "nc", "-w", "2", addr, "5002"); strings.Contains(out, "hello") {
		t.Fatal("TCP 5002, which the security group does not admit, reached the VM through the edge")
	}
	// Steered to the scrubbing pool, the address still answers: the
	// scrubbing gateway takes the inbound traffic, and the replies leave
	// by the chassis' edge endpoint through the general gateways, which
	// NAT every pool's outbound traffic. Steered back, the general
	// gateways announce it again.
	steer := func(pool any) {
		t.Helper()
		if err := l.Do("PUT", "/v2.0/floatingips/"+fip.FloatingIP.ID, "admin",
			map[string]any{"floatingip": map[string]any{"edge_pool": pool}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	steer("scrubbing")
	took = frr.waitNextHops(t, addr+"/32", 1, steerBound)
	if hops, _ := frr.nextHops(addr + "/32"); len(hops) != 1 || hops[0] != scrubAddr.String() {
		t.Fatalf("next hops of the steered %s: %v, want only %s", addr, hops, scrubAddr)
	}
	t.Logf("steered: FRR routes %s only via the scrubbing gateway after %s", addr, took.Round(time.Millisecond))
	scrubIn, generalOut := scrub.inboundPackets(t, addr), 0
	for _, g := range gws {
		generalOut += outPackets(g)
	}
	roundTrip(t, client, addr, roundTripBound)
	for deadline := time.Now().Add(3 * time.Second); ; { // counters lag the datapath
		in, out := scrub.inboundPackets(t, addr)-scrubIn, -generalOut
		for _, g := range gws {
			out += outPackets(g)
		}
		if in >= 5 && out >= 5 {
			t.Logf("steered: the scrubbing gateway took %d packets in, the general gateways %d replies out", in, out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("steered: the scrubbing gateway took %d packets in, the general gateways %d replies out; want 5 each", in, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	steer(nil)
	frr.waitNextHops(t, addr+"/32", n, steerBound)

	// Edge mode: the chassis holds no NAT of the floating IP.
	if fl := flowsWith(t, hv, "br-int", addr); len(fl) > 0 {
		t.Fatalf("hv1 holds flows of %s:\n%s", addr, strings.Join(fl, "\n"))
	}
	var st struct {
		FloatingIP struct{ Status string } `json:"floatingip"`
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := l.Do("GET", "/v2.0/floatingips/"+fip.FloatingIP.ID, "p1", nil, &st); err == nil && st.FloatingIP.Status == model.StatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("floating IP status %q, want ACTIVE once the chassis programmed its side", st.FloatingIP.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The stateless proof (once, here): a TCP stream survives the kill of
	// the gateway carrying it; the gateway is started again.
	if encaps == "" {
		carrier := streamAcrossKill(t, l, tn, vm, client, addr, gws, frr)
		carrier.start(t, etcd, append(tunnelFlags(), gwEncaps...)...)
		frr.waitNextHops(t, addr+"/32", n, sessionBound)
		tfrr.waitNextHops(t, endpoint, n, sessionBound)
	}

	// A gateway cut off from the upstream router (its uplink down, no FIN:
	// its upstream sessions die with the hold time, 3 s, or with BFD's
	// detection time) leaves the router's ECMP group, and withdraws the
	// endpoint too: it could not deliver the chassis' outbound traffic.
	// Its link back, it announces it again.
	if bfd > 0 {
		// Every BFD session up (the router's view), so the cut is what
		// takes one down.
		for deadline := time.Now().Add(sessionBound); ; time.Sleep(50 * time.Millisecond) {
			out, err := frr.vtysh("show bfd peers brief")
			up := 0
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "up" {
					up++
				}
			}
			if err == nil && up >= n+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("FRR's BFD sessions with the gateways not up after %s:\n%s", sessionBound, out)
			}
		}
		frr.waitNextHops(t, addr+"/32", n, sessionBound)
	}
	cut := time.Now()
	if _, err := gws[1].Exec("ip", "link", "set", testbed.ExternalIface, "down"); err != nil {
		t.Fatal(err)
	}
	if bfd > 0 {
		took := frr.waitNextHops(t, addr+"/32", 1, bound)
		t.Logf("%s's uplink cut: the router routes %s only via the other gateway after %s (BFD %s × 3; bound %s)", gws[1].Name, addr,
			took.Round(time.Millisecond), bfd, bound)
	}
	tfrr.waitNextHops(t, endpoint, 1, bound)
	if hops, _ := tfrr.nextHops(endpoint); len(hops) != 1 || hops[0] != tunnelIPs[0].String() {
		t.Fatalf("TunnelNet routes the endpoint via %v after %s's uplink was cut, want only %s", hops, gws[1].Name, tunnelIPs[0])
	}
	t.Logf("%s's uplink cut: TunnelNet routes the endpoint only via %s after %s (bound %s)", gws[1].Name, tunnelIPs[0],
		time.Since(cut).Round(time.Millisecond), bound)
	roundTrip(t, client, addr, roundTripBound)
	if _, err := gws[1].Exec("ip", "link", "set", testbed.ExternalIface, "up"); err != nil {
		t.Fatal(err)
	}
	tfrr.waitNextHops(t, endpoint, n, sessionBound)
	frr.waitNextHops(t, addr+"/32", n, sessionBound)

	// A dead gateway leaves TunnelNet's ECMP group as its session closes
	// (no graceful restart on the gateways' sessions), and the floating
	// IP still answers through the other.
	if err := gws[1].StopProcess("wyvern-gateway", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took = tfrr.waitNextHops(t, endpoint, 1, withdrawBound)
	if hops, _ := tfrr.nextHops(endpoint); len(hops) != 1 || hops[0] != tunnelIPs[0].String() {
		t.Fatalf("TunnelNet routes the endpoint via %v after %s died, want only %s", hops, gws[1].Name, tunnelIPs[0])
	}
	t.Logf("%s killed (-9): TunnelNet routes the endpoint only via %s after %s", gws[1].Name, tunnelIPs[0], took.Round(time.Millisecond))
	frr.waitNextHops(t, addr+"/32", 1, withdrawBound)
	roundTrip(t, client, addr, roundTripBound)
}

// TestChassisBGP: two hypervisors in distributed mode with BGP, each with
// br-ex on the external segment holding its external address, and an
// agent announcing the floating IPs it NATs to FRR. FRR routes a floating
// IP to the chassis hosting its VM, the client reaches the VM with the
// floating IP as the replies' source; moved to a VM on the other chassis,
// the route follows; disassociated, it is withdrawn. The chassis resolve
// the upstream router (the external subnet's gateway) by ARP.
func TestChassisBGP(t *testing.T) {
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
	rtr, client := upstream(t, bed)
	// The external subnet's gateway (203.0.113.1) is the upstream router,
	// which holds only that address of the subnet: floating IPs reach it
	// by BGP, never as a connected subnet.
	if _, err := rtr.Exec("ip", "addr", "add", "203.0.113.1/32", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	rmac, err := rtr.MAC()
	if err != nil {
		t.Fatal(err)
	}
	etcd := etcdProxy(t, l)
	var hvs []*testbed.Chassis
	var exts []netip.Addr
	agentArgs := func(i int) []string {
		return []string{"--bridge-mappings", "physnet1:br-ex", "--external-ip", "physnet1=" + chassisExternal(i+1).String(),
			"--bgp-as", lab.Itoa(chassisAS),
			"--bgp-peer", fmt.Sprintf("%s,as=%d,hold=3s,keepalive=1s,connect-retry=1s", routerAddr.Addr(), routerAS)}
	}
	for i := 1; i <= 2; i++ {
		ch, err := bed.AddChassis("hv" + lab.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.AddExternalBridge("br-ex"); err != nil {
			t.Fatal(err)
		}
		ext := chassisExternal(i)
		for _, c := range [][]string{
			{"ip", "addr", "add", netip.PrefixFrom(ext, 25).String(), "dev", "br-ex"},
			{"ip", "link", "set", "br-ex", "up"},
			{"sysctl", "-q", "-w", "net.ipv6.conf.br-ex.disable_ipv6=1"},
		} {
			if _, err := ch.Exec(c...); err != nil {
				t.Fatal(err)
			}
		}
		startAgentIn(t, l, ch, etcd, agentArgs(i-1)...)
		hvs = append(hvs, ch)
		exts = append(exts, ext)
	}
	frr := startFRR(t, rtr, bed.Prefix+"-rtr", exts)
	frr.waitSessions(t, len(hvs), sessionBound)

	tn := newTenant(t, l)
	_, p1 := tn.boot(t, l, hvs[0], "vm1")
	_, p2 := tn.boot(t, l, hvs[1], "vm2")
	fip := tn.floatingIP(t, l, p1.ID)
	addr := fip.FloatingIP.FloatingIPAddress
	prefix := addr + "/32"
	routedVia := func(want netip.Addr, d time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		var hops []string
		for time.Since(start) < d {
			if hops, err = frr.nextHops(prefix); err == nil && slices.Equal(hops, []string{want.String()}) {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		sum, _ := frr.vtysh("show bgp summary")
		t.Fatalf("%s: next hops %v (%v) after %s, want only %s\n%s", prefix, hops, err, d, want, sum)
		return 0
	}
	took := routedVia(exts[0], announceBound)
	t.Logf("association → %s in FRR's RIB via %s (hv1) after %s (bound %s)", prefix, exts[0], took.Round(time.Millisecond), announceBound)
	if out, err := rtr.Exec("ip", "route", "show", prefix); err != nil || !strings.Contains(out, "via "+exts[0].String()) {
		t.Fatalf("router's kernel route: %q (%v)", out, err)
	}
	roundTrip(t, client, addr, roundTripBound)
	// hv1 sent the replies to the router's MAC, which it learned by ARP.
	if fl := flowsWith(t, hvs[0], "br-int", rmac); len(fl) == 0 {
		t.Fatalf("hv1 sends nothing to the upstream router's MAC %s", rmac)
	}

	t.Run("agent restarted under traffic", func(t *testing.T) {
		// A restarted agent keeps its flows (the NAT goes on), and its
		// BGP speaker does graceful restart (--bgp-graceful-restart, on by
		// default): FRR, a helper by default, keeps the chassis' routes as
		// stale while the session is down, until the new speaker's
		// End-of-RIB follows its routes. No packet may be lost. (With
		// --bgp-graceful-restart 0 this loses ~65 of 300, a 1.3 s gap.)
		const interval, count = 20 * time.Millisecond, 300 // 6 s
		ping := client.Command("ping", "-n", "-i", "0.02", "-c", fmt.Sprint(count), "-W", "1", addr)
		var buf strings.Builder
		ping.Stdout = &buf
		if err := ping.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // part of the traffic pattern, not a readiness wait
		if err := hvs[0].StopProcess("wyvern-agent", syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		startAgentIn(t, l, hvs[0], etcd, agentArgs(0)...)
		_ = ping.Wait()
		got := map[int]bool{}
		for _, m := range icmpSeq.FindAllStringSubmatch(buf.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			got[n] = true
		}
		lost, gap, run := 0, 0, 0
		var lostSeqs []int
		for seq := 1; seq <= count; seq++ {
			if got[seq] {
				run = 0
				continue
			}
			lostSeqs = append(lostSeqs, seq)
			lost++
			run++
			gap = max(gap, run)
		}
		t.Logf("hv1's agent killed (-9) and restarted 1 s into a %s ping at 50 pps: %d/%d lost, longest gap %s",
			time.Duration(count)*interval, lost, count, time.Duration(gap)*interval)
		if lost != 0 {
			nb, _ := frr.vtysh("show bgp neighbors " + exts[0].String())
			t.Fatalf("%d/%d lost across the agent's restart (icmp_seq %v), longest gap %s (graceful restart should lose none)\n%s",
				lost, count, lostSeqs, time.Duration(gap)*interval, nb)
		}
		routedVia(exts[0], announceBound)
		// FRR took the routes of the new session: no stale path is left.
		for deadline := time.Now().Add(announceBound); ; {
			out, err := frr.vtysh("show bgp ipv4 unicast " + prefix + " json")
			if err == nil && !strings.Contains(out, `"stale"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still stale in FRR after %s:\n%s", prefix, announceBound, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("moved to a VM on hv2", func(t *testing.T) {
		associate(t, l, fip.FloatingIP.ID, p2.ID)
		took := routedVia(exts[1], announceBound)
		t.Logf("re-association → %s via %s (hv2) after %s", prefix, exts[1], took.Round(time.Millisecond))
		roundTrip(t, client, addr, roundTripBound)
	})

	t.Run("disassociation withdraws", func(t *testing.T) {
		associate(t, l, fip.FloatingIP.ID, "")
		took := frr.waitNextHops(t, prefix, 0, withdrawBound)
		t.Logf("disassociation → %s gone from FRR's RIB after %s (bound %s)", prefix, took.Round(time.Millisecond), withdrawBound)
		if n, _ := client.Ping(addr, 2, 2*time.Second); n != 0 {
			t.Fatalf("%d replies from %s after disassociation", n, addr)
		}
	})
}
