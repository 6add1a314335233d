package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

const nGateways = 3

// Automatic steering on every gateway: above 200 pps through one gateway
// to the scrubbing pool, back after 5 s below.
const (
	steerThreshold = 200
	steerHoldDown  = 5 * time.Second
)

var steerFlags = []string{"--steer-threshold-pps", fmt.Sprint(steerThreshold), "--steer-pool", "scrubbing",
	"--steer-hold-down", steerHoldDown.String(), "--steer-interval", "500ms"}

type result struct {
	Took time.Duration
	Load string
	// Convergence of the FIPs associations and disassociations.
	Assoc, Disassoc convergence
	// Bulk is the floating IPs created again already associated, Bulk
	// per call (config).
	Bulk   convergence
	Deaths []death
	// Restart is how long a gateway restarted (kill -9, start) with
	// Assoc.N floating IPs took to be a next hop of all of them again,
	// from its start; Session is when its BGP session was up again.
	Restart, Session time.Duration
	// Steer and Unsteer are the manual moves' times from the API call's
	// return to the FIB routing only via the scrubbing gateway, and back
	// via the general ones.
	Steer, Unsteer []time.Duration
	// AutoSteer is from a flood's start to the FIB routing only via the
	// scrubbing gateway; AutoBack from its end to the general gateways.
	AutoSteer, AutoBack []time.Duration
	FloodRate           int
	CPU                 []scaling
	// Endpoint is how long tnet took to route the anycast endpoint over
	// every general gateway, from the BGP sessions' start.
	Endpoint time.Duration
	// DP are the data-path rounds (edge path and baseline).
	DP []dpRound
}

type convergence struct {
	N int
	// Latencies from each API call's return to the route's state in the
	// FIB, sorted.
	Latencies []time.Duration
	// API is how long the N API calls took; All from the first call to
	// the last route.
	API, All time.Duration
	// AfterLast is from the last call's return to the last route.
	AfterLast time.Duration
	Missing   int
	// ServerCPU is the CPU the server process (API and embedded etcd)
	// used while the calls ran; 0 when unknown. BenchCPU is this
	// program's, its FIB reads (netlink, every ~10 ms) included.
	ServerCPU, BenchCPU time.Duration
}

type death struct {
	How      string // "kill -9" or "uplink cut"
	Gateway  string
	Sent     int
	Lost     int
	Gap      time.Duration
	FIBMoved time.Duration // from the death to the router's FIB without it
}

func runOnBed(cfg config, bed *testbed.Bed) (*result, error) {
	serverArgs := strings.Fields(cfg.ServerArgs)
	if cfg.ProfileAssoc != "" {
		serverArgs = append(serverArgs, "--pprof", pprofAddr)
	}
	l, err := lab.Start(bed, cfg.Wyvern, lab.Options{AgentBin: cfg.Agent, ServerArgs: serverArgs})
	if err != nil {
		return nil, err
	}
	// The hypervisor hands its floating IPs to the edge: it tunnels their
	// traffic to the anycast endpoint (the gateways serve only chassis in
	// edge mode).
	hv, err := l.AddChassisWith("hv1", nil, []string{"--fip-mode", "edge", "--edge-endpoint", edgeEndpoint.String()})
	if err != nil {
		return nil, err
	}
	progress("server and hypervisor up")
	// The floating IPs' external network exists only inside the bed: it
	// is routed by the router to the gateways and nowhere else.
	var ext struct{ Network model.Network }
	if err := l.Do("POST", "/v2.0/networks", "admin", map[string]any{"network": map[string]any{
		"name": "ext", "router:external": true, "provider:network_type": "flat",
		"provider:physical_network": "physnet1"}}, &ext); err != nil {
		return nil, err
	}
	if err := l.Do("POST", "/v2.0/subnets", "admin", map[string]any{"subnet": map[string]any{
		"network_id": ext.Network.ID, "cidr": "10.200.0.0/21", "ip_version": 4, "gateway_ip": "10.200.0.1",
		"enable_dhcp": false, "allocation_pools": []map[string]string{{"start": "10.200.0.10", "end": "10.200.7.250"}}}}, nil); err != nil {
		return nil, err
	}
	off := false
	n1, s1, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", Type: "geneve", CIDR: "10.0.0.0/21", PortSecurity: &off})
	if err != nil {
		return nil, err
	}
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{
		"name": "r1", "external_gateway_info": map[string]any{"network_id": ext.Network.ID}}}, &r); err != nil {
		return nil, err
	}
	if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "p1", map[string]any{"subnet_id": s1.ID}, nil); err != nil {
		return nil, err
	}
	vm, port, err := l.Boot(hv, "vm1", "p1", n1.ID, nil)
	if err != nil {
		return nil, err
	}
	if err := vm.SetAddr(lab.FixedIP(port) + "/21"); err != nil {
		return nil, err
	}
	if err := vm.SetGateway(s1.GatewayIP); err != nil {
		return nil, err
	}
	if _, err := l.WaitPort(port.ID, 20*time.Second, func(p model.Port) bool { return p.HostID == hv.Name }); err != nil {
		return nil, err
	}

	rtr, err := bed.AddExternalHost("rtr", routerAddr)
	if err != nil {
		return nil, err
	}
	for _, c := range [][]string{
		{"ip", "addr", "add", routerClient.String(), "dev", "eth0"},
		{"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1",
			"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"},
	} {
		if _, err := rtr.Exec(c...); err != nil {
			return nil, err
		}
	}
	client, err := bed.AddExternalHost("client", clientAddr)
	if err != nil {
		return nil, err
	}
	if err := client.SetGateway(routerClient.Addr().String()); err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	for i := 1; i <= nGateways+1; i++ { // the last: the scrubbing pool's
		addrs = append(addrs, gatewayAddr(i))
	}
	f, err := startFRR(rtr, bed.Prefix+"-rtr", addrs, cfg.BFD)
	if err != nil {
		return nil, err
	}
	etcd, err := etcdProxy(bed, l)
	if err != nil {
		return nil, err
	}
	var gws []*gw
	for i := 1; i <= nGateways+1; i++ {
		g, err := addGateway(bed, i)
		if err != nil {
			return nil, err
		}
		g.extra, g.bfd = steerFlags, cfg.BFD
		if i > nGateways {
			g.extra = append([]string{"--pool", "scrubbing"}, steerFlags...)
		} else {
			// The general gateways terminate and announce the
			// endpoint, which each puts on its br-phy itself (the
			// scrubbing one could too: every gateway NATs the outbound
			// traffic of every pool's addresses; tnet peers with the
			// general ones, whose data path is measured).
			g.tunnel = true
		}
		if err := g.start(cfg.Wyvern, etcd); err != nil {
			return nil, err
		}
		gws = append(gws, g)
	}
	scrub := gws[nGateways]
	gws = gws[:nGateways]
	if err := f.waitSessions(nGateways+1, 30*time.Second); err != nil {
		return nil, err
	}
	progress("FRR peers with %d general gateways and %s of the scrubbing pool", nGateways, scrub.Name)
	res := &result{}

	// TunnelNet: the underlay's router learns the endpoint from the
	// general gateways; the hypervisor routes the endpoint through it.
	tnet, err := bed.AddHost("tnet", tunnelNetAddr)
	if err != nil {
		return nil, err
	}
	if _, err := tnet.Exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1",
		"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0"); err != nil {
		return nil, err
	}
	var tunnelIPs []netip.Addr
	for _, g := range gws {
		tunnelIPs = append(tunnelIPs, g.TunnelIP)
	}
	tf, err := startFRRAs(tnet, bed.Prefix+"-tnet", tunnelNetAS, tunnelNetAddr.Addr(), tunnelIPs, 0)
	if err != nil {
		return nil, err
	}
	tmac, err := tnet.MAC()
	if err != nil {
		return nil, err
	}
	if _, err := hv.Exec("ip", "route", "add", netip.PrefixFrom(edgeEndpoint, 32).String(), "via", tunnelNetAddr.Addr().String()); err != nil {
		return nil, err
	}
	if err := hv.SetTunnelNeighbor(tunnelNetAddr.Addr(), tmac); err != nil {
		return nil, err
	}
	if res.Endpoint, err = waitFIB(tf, edgeEndpoint.String(), nGateways, 30*time.Second); err != nil {
		return nil, fmt.Errorf("tunnel endpoint: %w", err)
	}
	progress("tnet routes the anycast endpoint %s over the %d general gateways (BGP)", edgeEndpoint, nGateways)

	// Gateway deaths first, on the bed with one floating IP.
	var fip struct{ FloatingIP model.FloatingIP }
	if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": ext.Network.ID, "port_id": port.ID}}, &fip); err != nil {
		return nil, err
	}
	addr := fip.FloatingIP.FloatingIPAddress
	if _, err := waitFIB(f, addr, nGateways, 10*time.Second); err != nil {
		return nil, err
	}
	if cfg.DPRounds > 0 {
		offloaded = []*testbed.Host{client, rtr, tnet}
		bvm, err := setupBaseline(hv, rtr, gws, vm.MTU)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if res.DP, err = dataPath(cfg, client, vm, bvm, addr); err != nil {
			return nil, fmt.Errorf("data path: %w", err)
		}
	}
	for i := 0; i < cfg.KillRounds+cfg.CutRounds; i++ {
		how := "kill -9"
		if i >= cfg.KillRounds {
			how = "uplink cut"
		}
		d, err := gatewayDeath(cfg, f, client, vm, gws, etcd, addr, lab.FixedIP(port), how)
		if err != nil {
			return nil, fmt.Errorf("%s round %d: %w", how, i+1, err)
		}
		progress("%s of %s at %d pps: %d/%d lost, longest gap %s, FIB moved after %s", how, d.Gateway, cfg.Rate, d.Lost, d.Sent,
			d.Gap, d.FIBMoved.Round(time.Millisecond))
		res.Deaths = append(res.Deaths, d)
	}
	if err := steering(cfg, l, f, client, fip.FloatingIP.ID, addr, res); err != nil {
		return nil, err
	}
	if cfg.CPURate > 0 {
		if res.CPU, err = cpuScaling(cfg, f, client, gws, etcd, addr); err != nil {
			return nil, fmt.Errorf("cpu: %w", err)
		}
	}

	// Convergence of N floating IPs.
	if err := converge(cfg, l, f, hv.Name, n1.ID, ext.Network.ID, gws[0], etcd, res); err != nil {
		return nil, err
	}
	return res, nil
}

// waitFIB waits until the router's FIB routes addr over n next hops.
func waitFIB(f *frr, addr string, n int, d time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		fib, err := f.fib()
		if err == nil && fib[addr] == n {
			return time.Since(start), nil
		}
		if time.Since(start) > d {
			return 0, fmt.Errorf("%s: %d next hops in the router's FIB after %s, want %d (%v)", addr, fib[addr], d, n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gatewayDeath streams pings at cfg.Rate to addr for 6 s and kills (or
// cuts off) the gateway carrying them 2 s in; it restarts it afterwards.
func gatewayDeath(cfg config, f *frr, client *testbed.Host, vm *testbed.VM, gws []*gw, etcd, addr, fixed, how string) (death, error) {
	d := death{How: how}
	before := map[string]int{}
	for _, g := range gws {
		before[g.Name] = g.inboundPackets(addr)
	}
	client.Exec("ping", "-n", "-q", "-i", "0.2", "-c", "3", "-W", "1", addr)
	var carrier *gw
	for deadline := time.Now().Add(3 * time.Second); carrier == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, g := range gws {
			if g.inboundPackets(addr) > before[g.Name] {
				carrier = g
			}
		}
	}
	if carrier == nil {
		return d, fmt.Errorf("no gateway carried the pings")
	}
	d.Gateway = carrier.Name
	capture, err := vm.Capture("eth0", "icmp")
	if err != nil {
		return d, err
	}
	d.Sent = 6 * cfg.Rate
	ping := client.Command("ping", "-n", "-q", "-i", fmt.Sprintf("%.3f", 1/float64(cfg.Rate)), "-c", fmt.Sprint(d.Sent), "-W", "1", addr)
	if err := ping.Start(); err != nil {
		capture.Stop()
		return d, err
	}
	time.Sleep(2 * time.Second) // the traffic pattern: the death 2 s into the stream
	died := time.Now()
	switch how {
	case "kill -9":
		err = carrier.StopProcess("wyvern-gateway", syscall.SIGKILL)
	default:
		_, err = carrier.Exec("ip", "link", "set", testbed.ExternalIface, "down")
	}
	if err != nil {
		ping.Process.Kill()
		ping.Wait()
		capture.Stop()
		return d, err
	}
	_, ferr := waitFIB(f, addr, nGateways-1, 10*time.Second)
	d.FIBMoved = time.Since(died)
	ping.Wait()
	pkts, err := capture.Stop()
	if err != nil {
		return d, err
	}
	if ferr != nil {
		return d, ferr
	}
	seen := map[uint16]bool{}
	for _, p := range pkts {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		icmp, ok2 := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if ok && ok2 && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest && ip.DstIP.String() == fixed {
			seen[icmp.Seq] = true
		}
	}
	run := 0
	for seq := 1; seq <= d.Sent; seq++ {
		if seen[uint16(seq)] {
			run = 0
			continue
		}
		d.Lost++
		run++
		d.Gap = max(d.Gap, time.Duration(run)*time.Second/time.Duration(cfg.Rate))
	}
	// Bring it back and wait until the router uses it again.
	switch how {
	case "kill -9":
		err = carrier.start(cfg.Wyvern, etcd)
	default:
		_, err = carrier.Exec("ip", "link", "set", testbed.ExternalIface, "up")
	}
	if err != nil {
		return d, err
	}
	_, err = waitFIB(f, addr, nGateways, 30*time.Second)
	return d, err
}

// converge creates n ports bound to the hypervisor and n unassociated
// floating IPs, then associates them all (cfg.Workers at a time) while
// polling the router's FIB, then disassociates them all.
func converge(cfg config, l *lab.Lab, f *frr, host, netID, extID string, g *gw, etcd string, res *result) error {
	n := cfg.FIPs
	if err := l.Do("PUT", "/v2.0/quotas/p1", "", map[string]any{"quota": map[string]any{"floatingip": -1, "port": -1}}, nil); err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	var ports, fips []string
	var addrs []string
	for len(ports) < n {
		batch := min(10, n-len(ports)) // bulk creates are one transaction each: keep them small
		items := make([]map[string]any, batch)
		for i := range items {
			items[i] = map[string]any{"network_id": netID, "project_id": "p1", "binding:host_id": host}
		}
		var out struct{ Ports []model.Port }
		if err := l.Do("POST", "/v2.0/ports", "", map[string]any{"ports": items}, &out); err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		for _, p := range out.Ports {
			ports = append(ports, p.ID)
		}
	}
	for len(fips) < n {
		batch := min(5, n-len(fips))
		items := make([]map[string]any, batch)
		for i := range items {
			items[i] = map[string]any{"floating_network_id": extID}
		}
		var out struct{ FloatingIPs []model.FloatingIP }
		if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingips": items}, &out); err != nil {
			return fmt.Errorf("floating IPs: %w", err)
		}
		for _, f := range out.FloatingIPs {
			fips = append(fips, f.ID)
			addrs = append(addrs, f.FloatingIPAddress)
		}
	}
	progress("%d ports and %d floating IPs created; associating", n, n)
	profiled := make(chan error, 1)
	if cfg.ProfileAssoc != "" {
		go func() { profiled <- profileServer(cfg.ProfileAssoc, cfg.ProfileSeconds) }()
	} else {
		profiled <- nil
	}
	var err error
	res.Assoc, err = measure(cfg, l, f, fips, addrs, func(i int) any { return ports[i] }, nGateways)
	if perr := <-profiled; perr != nil {
		return fmt.Errorf("profile: %w", perr)
	}
	if err != nil {
		return err
	}
	a := res.Assoc
	progress("association: p50 %s, p99 %s, all %d routed %s after the first call", pct(a.Latencies, 50), pct(a.Latencies, 99), n-a.Missing, a.All.Round(time.Millisecond))
	if res.Restart, res.Session, err = restart(cfg, f, g, etcd, addrs); err != nil {
		return err
	}
	progress("%s restarted with %d floating IPs: session up after %s, next hop of all again after %s", g.Name, n,
		res.Session.Round(time.Millisecond), res.Restart.Round(time.Millisecond))
	res.Disassoc, err = measure(cfg, l, f, fips, addrs, func(int) any { return nil }, 0)
	if err != nil {
		return err
	}
	d := res.Disassoc
	progress("disassociation: p50 %s, p99 %s, all withdrawn %s after the first call", pct(d.Latencies, 50), pct(d.Latencies, 99), d.All.Round(time.Millisecond))
	if cfg.Bulk <= 0 {
		return nil
	}
	// Associated at creation: the same addresses created again with their
	// ports, cfg.Bulk floating IPs per POST (Neutron's bulk create).
	api := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers}}
	if err := parallel(cfg.Workers, len(fips), func(i int) error {
		return send(api, "DELETE", l.APIURL+"/v2.0/floatingips/"+fips[i], "p1", nil)
	}); err != nil {
		return fmt.Errorf("delete floating IPs: %w", err)
	}
	progress("%d floating IPs deleted; creating them again with their ports, %d per POST", n, cfg.Bulk)
	var calls [][]int
	for i := 0; i < n; i += cfg.Bulk {
		idx := make([]int, 0, cfg.Bulk)
		for j := i; j < min(i+cfg.Bulk, n); j++ {
			idx = append(idx, j)
		}
		calls = append(calls, idx)
	}
	if cfg.ProfileAssoc != "" {
		go func() { profiled <- profileServer(cfg.ProfileAssoc+".bulk", min(cfg.ProfileSeconds, 2)) }()
	} else {
		profiled <- nil
	}
	res.Bulk, err = measureCalls(cfg, l, f, addrs, calls, nGateways, func(api *http.Client, idx []int) error {
		items := make([]map[string]any, len(idx))
		for k, i := range idx {
			items[k] = map[string]any{"floating_network_id": extID, "floating_ip_address": addrs[i], "port_id": ports[i]}
		}
		return send(api, "POST", l.APIURL+"/v2.0/floatingips", "p1", map[string]any{"floatingips": items})
	})
	if err != nil {
		return err
	}
	if perr := <-profiled; perr != nil {
		return fmt.Errorf("profile: %w", perr)
	}
	b := res.Bulk
	progress("created associated, %d per call: p50 %s, p99 %s, all %d routed %s after the first call", cfg.Bulk, pct(b.Latencies, 50), pct(b.Latencies, 99), n-b.Missing, b.All.Round(time.Millisecond))
	return nil
}

// parallel runs do(0..n-1), workers at a time, and returns the first
// error.
func parallel(workers, n int, do func(i int) error) error {
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := do(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs
}

// restart kills g, waits until the router has dropped it from every
// route, starts it again and times its BGP session and its return as a
// next hop of every address.
func restart(cfg config, f *frr, g *gw, etcd string, addrs []string) (all, session time.Duration, err error) {
	if err := g.StopProcess("wyvern-gateway", syscall.SIGKILL); err != nil {
		return 0, 0, err
	}
	every := func(n int) bool {
		fib, err := f.fib()
		if err != nil {
			return false
		}
		for _, a := range addrs {
			if fib[a] != n {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !every(nGateways - 1); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("the router still routes via the killed %s", g.Name)
		}
	}
	start := time.Now()
	if err := g.start(cfg.Wyvern, etcd); err != nil {
		return 0, 0, err
	}
	for deadline := start.Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if session == 0 {
			if out, err := f.vtysh("show bgp neighbor " + g.uplink.String() + " json"); err == nil && strings.Contains(out, `"bgpState":"Established"`) {
				session = time.Since(start)
			}
		}
		if every(nGateways) {
			return time.Since(start), session, nil
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%s not a next hop of all %d addresses 60 s after its start", g.Name, len(addrs))
		}
	}
}

// measure sets each floating IP's port_id with cfg.Workers clients and
// records, per address, the time from its call's return to the FIB
// holding it with want next hops (0: gone).
func measure(cfg config, l *lab.Lab, f *frr, fips, addrs []string, portOf func(int) any, want int) (convergence, error) {
	jobs := make([][]int, len(fips))
	for i := range jobs {
		jobs[i] = []int{i}
	}
	return measureCalls(cfg, l, f, addrs, jobs, want, func(api *http.Client, idx []int) error {
		i := idx[0]
		return send(api, "PUT", l.APIURL+"/v2.0/floatingips/"+fips[i], "p1", map[string]any{"floatingip": map[string]any{"port_id": portOf(i)}})
	})
}

// measureCalls makes the API calls, cfg.Workers at a time, each job one
// call about the floating IPs of addrs it lists, and records, per address,
// the time from its call's return to the FIB holding it with want next
// hops (0: gone).
func measureCalls(cfg config, l *lab.Lab, f *frr, addrs []string, calls [][]int, want int, call func(api *http.Client, idx []int) error) (convergence, error) {
	n := len(addrs)
	c := convergence{N: n}
	called := make([]time.Time, n)
	var mu sync.Mutex
	routed := map[string]time.Time{}
	index := map[string]int{}
	for i, a := range addrs {
		index[a] = i
	}
	stop := make(chan struct{})
	pollDone := make(chan error, 1)
	go func() {
		for {
			fib, err := f.fib()
			now := time.Now()
			if err != nil {
				pollDone <- err
				return
			}
			mu.Lock()
			for _, a := range addrs {
				if _, ok := routed[a]; !ok && fib[a] == want {
					routed[a] = now
				}
			}
			done := len(routed) == n
			mu.Unlock()
			if done {
				pollDone <- nil
				return
			}
			select {
			case <-stop:
				pollDone <- nil
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	// Each worker is a client of its own that keeps its connection, as
	// an API client does (the lab's client keeps only 2 idle ones).
	api := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers}}
	pid, _ := l.Bed.UnderlayNode().PID("wyvern-server")
	cpu0, cpuErr := machine.ProcCPU(pid)
	bench0 := selfCPU()
	start := time.Now()
	jobs := make(chan []int)
	errs := make(chan error, cfg.Workers)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idx := range jobs {
				if err := call(api, idx); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, i := range idx {
					called[i] = time.Now()
				}
				mu.Unlock()
			}
		}()
	}
	for _, idx := range calls {
		jobs <- idx
	}
	close(jobs)
	wg.Wait()
	c.API = time.Since(start)
	if cpu1, err := machine.ProcCPU(pid); err == nil && cpuErr == nil {
		c.ServerCPU = cpu1 - cpu0
	}
	c.BenchCPU = selfCPU() - bench0
	select {
	case err := <-errs:
		close(stop)
		<-pollDone
		return c, err
	default:
	}
	var perr error
	select {
	case perr = <-pollDone:
	case <-time.After(60 * time.Second):
		close(stop)
		perr = <-pollDone
	}
	if perr != nil {
		return c, perr
	}
	mu.Lock()
	defer mu.Unlock()
	var last time.Time
	for i, a := range addrs {
		t, ok := routed[a]
		if !ok {
			c.Missing++
			continue
		}
		c.Latencies = append(c.Latencies, max(0, t.Sub(called[i])))
		if t.After(last) {
			last = t
		}
	}
	c.All = last.Sub(start)
	c.AfterLast = max(0, c.All-c.API)
	slices.Sort(c.Latencies)
	return c, nil
}

// selfCPU is the CPU this process (its FIB reads included) and its
// waited-for children have used.
func selfCPU() time.Duration {
	var t time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
}

// pprofAddr is where the server serves net/http/pprof with -profile-assoc.
const pprofAddr = "127.0.0.1:16061"

// profileServer writes a CPU profile of the server, seconds long, to file.
func profileServer(file string, seconds int) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// send sends body to url as project (the server runs --noauth) and fails
// unless the answer is 2xx.
func send(client *http.Client, method, url, project string, body any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Project-Id", project)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return nil
}

func pct(xs []time.Duration, p int) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	i := (len(xs)*p + 99) / 100
	return xs[min(max(i-1, 0), len(xs)-1)].Round(time.Millisecond)
}

// steering moves the floating IP to the scrubbing pool and back by the
// API, cfg.SteerRounds times, then floods it to have it moved and back
// automatically, cfg.FloodRounds times.
func steering(cfg config, l *lab.Lab, f *frr, client *testbed.Host, id, addr string, res *result) error {
	set := func(pool any) error {
		return l.Do("PUT", "/v2.0/floatingips/"+id, "", map[string]any{"floatingip": map[string]any{"edge_pool": pool}}, nil)
	}
	for range cfg.SteerRounds {
		if err := set("scrubbing"); err != nil {
			return err
		}
		d, err := waitFIB(f, addr, 1, 10*time.Second)
		if err != nil {
			return err
		}
		res.Steer = append(res.Steer, d)
		if err := set(nil); err != nil {
			return err
		}
		if d, err = waitFIB(f, addr, nGateways, 10*time.Second); err != nil {
			return err
		}
		res.Unsteer = append(res.Unsteer, d)
	}
	progress("steered by the API %d times: to scrubbing %v, back %v", cfg.SteerRounds, roundAll(res.Steer), roundAll(res.Unsteer))
	const rate, seconds = 500, 6
	res.FloodRate = rate
	for range cfg.FloodRounds {
		script := fmt.Sprintf("import socket, time\n"+
			"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('%s', 41000))\nt0 = time.time()\n"+
			"for i in range(%d):\n    s.sendto(b'x' * 64, ('%s', 9))\n"+
			"    d = t0 + (i + 1) / %d - time.time()\n    if d > 0:\n        time.sleep(d)\n",
			clientAddr.Addr(), rate*seconds, addr, rate)
		flood := client.Command("python3", "-c", script)
		if err := flood.Start(); err != nil {
			return err
		}
		d, err := waitFIB(f, addr, 1, seconds*time.Second)
		if err != nil {
			flood.Process.Kill()
			flood.Wait()
			return fmt.Errorf("flood at %d pps: %w", rate, err)
		}
		if err := flood.Wait(); err != nil {
			return fmt.Errorf("flood: %w", err)
		}
		back, err := waitFIB(f, addr, nGateways, steerHoldDown+20*time.Second)
		if err != nil {
			return err
		}
		res.AutoSteer, res.AutoBack = append(res.AutoSteer, d), append(res.AutoBack, back)
		progress("flood at %d pps: only via scrubbing %s after its start, back %s after its end", rate, d.Round(time.Millisecond), back.Round(time.Millisecond))
	}
	return nil
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
