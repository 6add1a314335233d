package gateway

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// scenario is a tenant network (geneve 100) with a router, a VM port on
// chassis ch1 with a floating IP, a second network (vxlan 7) with a VM on
// ch2 and a floating IP, an unassociated floating IP, and one whose port
// is not bound.
func scenario() *Records {
	r := newRecords()
	r.Networks["n1"] = &model.Network{Standard: model.Standard{ID: "n1"}, NetworkType: "geneve", SegmentationID: 100}
	r.Networks["n2"] = &model.Network{Standard: model.Standard{ID: "n2"}, NetworkType: "vxlan", SegmentationID: 7}
	r.Networks["ext"] = &model.Network{Standard: model.Standard{ID: "ext"}, NetworkType: "flat", External: true}
	r.Subnets["s1"] = &model.Subnet{Standard: model.Standard{ID: "s1"}, NetworkID: "n1", CIDR: "10.0.0.0/24", GatewayIP: "10.0.0.1"}
	r.Subnets["s2"] = &model.Subnet{Standard: model.Standard{ID: "s2"}, NetworkID: "n2", CIDR: "10.0.0.0/24", GatewayIP: "10.0.0.1"}
	port := func(id, net, mac, sub, ip, owner, dev, host string) {
		r.Ports[id] = &model.Port{Standard: model.Standard{ID: id}, NetworkID: net, MACAddress: mac,
			FixedIPs: []model.FixedIP{{SubnetID: sub, IPAddress: ip}}, DeviceOwner: owner, DeviceID: dev, HostID: host}
	}
	port("rp1", "n1", "fa:16:3e:00:01:01", "s1", "10.0.0.1", model.OwnerRouterInterface, "r1", "")
	port("rp2", "n2", "fa:16:3e:00:02:01", "s2", "10.0.0.1", model.OwnerRouterInterface, "r2", "")
	port("vm1", "n1", "fa:16:3e:00:01:0a", "s1", "10.0.0.10", "compute:nova", "i1", "ch1")
	port("vm2", "n2", "fa:16:3e:00:02:0a", "s2", "10.0.0.10", "compute:nova", "i2", "ch2")
	port("vm3", "n1", "fa:16:3e:00:01:0b", "s1", "10.0.0.11", "compute:nova", "i3", "")
	r.Chassis["ch1"] = &model.Chassis{Name: "ch1", TunnelIP: "192.0.2.1", TunnelMAC: "02:00:c0:00:02:01", Encaps: []string{"geneve", "vxlan"},
		FIPMode: model.FIPModeEdge}
	r.Chassis["ch2"] = &model.Chassis{Name: "ch2", TunnelIP: "192.0.2.2", Encaps: []string{"geneve", "vxlan"}, FIPMode: model.FIPModeEdge}
	// ch3 NATs its own floating IPs (distributed mode): no gateway serves f5.
	r.Chassis["ch3"] = &model.Chassis{Name: "ch3", TunnelIP: "192.0.2.3", Encaps: []string{"geneve", "vxlan"}, FIPMode: model.FIPModeDistributed}
	port("vm5", "n1", "fa:16:3e:00:01:0c", "s1", "10.0.0.12", "compute:nova", "i5", "ch3")
	fip := func(id, addr, port, fixed, router string) {
		r.FloatingIPs[id] = &model.FloatingIP{Standard: model.Standard{ID: id}, FloatingNetworkID: "ext",
			FloatingIPAddress: addr, PortID: port, FixedIPAddress: fixed, RouterID: router}
	}
	fip("f1", "203.0.113.10", "vm1", "10.0.0.10", "r1")
	fip("f2", "203.0.113.11", "vm2", "10.0.0.10", "r2")
	fip("f3", "203.0.113.12", "", "", "")
	fip("f4", "203.0.113.13", "vm3", "10.0.0.11", "r1")
	fip("f5", "203.0.113.14", "vm5", "10.0.0.12", "r1")
	return r
}

var testPorts = Ports{Uplink: 1, Geneve: 2, VXLAN: 3, UplinkMAC: mac("02:00:c6:33:64:0b"), UpstreamMAC: mac("02:00:c6:33:64:01")}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
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
	if string(want) != got {
		t.Errorf("flows differ from %s (run with -update to accept):\n--- want\n%s--- got\n%s", path, want, got)
	}
}

func TestBuildView(t *testing.T) {
	v, skipped := BuildView(scenario(), DefaultPool)
	if len(v.FIPs) != 2 {
		t.Fatalf("served %+v", v.FIPs)
	}
	f := v.FIPs[0]
	if f.FloatingIP.String() != "203.0.113.10" || f.FixedIP.String() != "10.0.0.10" || f.VMMAC.String() != "fa:16:3e:00:01:0a" ||
		f.RouterMAC.String() != "fa:16:3e:00:01:01" || f.Encap != "geneve" || f.TunnelKey != 100 || f.ChassisIP.String() != "192.0.2.1" {
		t.Errorf("f1 = %+v", f)
	}
	if f := v.FIPs[1]; f.Encap != "vxlan" || f.TunnelKey != 7 || f.Chassis != "ch2" || f.RouterMAC.String() != "fa:16:3e:00:02:01" {
		t.Errorf("f2 = %+v", f)
	}
	if len(skipped) != 1 || skipped[0].ID != "f4" || !strings.Contains(skipped[0].Reason, "not bound") {
		t.Errorf("skipped = %+v", skipped)
	}
	// A chassis moving to edge mode hands its floating IPs to the edge.
	r := scenario()
	r.Chassis["ch3"].FIPMode = model.FIPModeEdge
	if v, _ := BuildView(r, DefaultPool); len(v.FIPs) != 3 || v.FIPs[2].ID != "f5" || v.FIPs[2].Chassis != "ch3" {
		t.Errorf("ch3 in edge mode: served %+v", v.FIPs)
	}
	r.Chassis["ch3"].FIPMode = ""
	if v, _ := BuildView(r, DefaultPool); len(v.FIPs) != 2 {
		t.Errorf("ch3 in the default (distributed) mode: served %+v", v.FIPs)
	}
	if v, _ := BuildView(scenario(), "scrubbing"); len(v.FIPs) != 0 {
		t.Errorf("scrubbing pool serves %+v", v.FIPs)
	}
	// Steering f1 moves it from the general pool to the scrubbing one.
	steered := scenario()
	steered.Pools["f1"] = &PoolAssignment{Pool: "scrubbing"}
	if v, _ := BuildView(steered, DefaultPool); len(v.FIPs) != 1 || v.FIPs[0].ID != "f2" {
		t.Errorf("general pool serves %+v after steering f1 away", v.FIPs)
	} else if len(v.Outbound) != 1 || v.Outbound[0].ID != "f1" {
		// It still NATs f1's outbound traffic: the chassis' anycast
		// endpoint may bring it any pool's replies.
		t.Errorf("general pool's outbound-only addresses %+v after steering f1 away", v.Outbound)
	}
	if v, _ := BuildView(steered, "scrubbing"); len(v.FIPs) != 1 || v.FIPs[0].ID != "f1" {
		t.Errorf("scrubbing pool serves %+v after steering f1 to it", v.FIPs)
	}
	// A chassis without the network's encapsulation is tunnelled to with
	// one it has, with the network's key; one sharing none with the
	// gateway is not tunnelled to.
	r = scenario()
	r.Chassis["ch2"].Encaps = []string{"geneve"}
	if v, skipped := BuildView(r, DefaultPool); len(v.FIPs) != 2 || v.FIPs[1].Encap != "geneve" || v.FIPs[1].TunnelKey != 7 || len(skipped) != 1 {
		t.Errorf("served %+v, skipped %+v", v.FIPs, skipped)
	}
	if v, skipped := BuildViewFor(r, DefaultPool, []string{"vxlan"}); len(v.FIPs) != 1 || v.FIPs[0].Encap != "vxlan" ||
		len(skipped) != 2 || !strings.Contains(skipped[0].Reason, "no tunnel this gateway has") {
		t.Errorf("vxlan-only gateway: served %+v, skipped %+v", v.FIPs, skipped)
	}
}

func TestChooseEncap(t *testing.T) {
	both := []string{"geneve", "vxlan"}
	for _, c := range []struct {
		network          string
		chassis, gateway []string
		want             string
	}{
		{"geneve", both, both, "geneve"},
		{"vxlan", both, both, "vxlan"},
		{"geneve", nil, both, "geneve"},
		{"geneve", []string{"vxlan"}, both, "vxlan"},
		{"vxlan", []string{"stt", "geneve"}, both, "geneve"},
		{"geneve", both, []string{"vxlan"}, "vxlan"},
		{"geneve", []string{"geneve"}, []string{"vxlan"}, ""},
		{"vxlan", []string{"gre"}, both, ""},
	} {
		if got := chooseEncap(c.network, c.chassis, c.gateway); got != c.want {
			t.Errorf("chooseEncap(%s, chassis %v, gateway %v) = %q, want %q", c.network, c.chassis, c.gateway, got, c.want)
		}
	}
}

func TestCompileGolden(t *testing.T) {
	v, _ := BuildView(scenario(), DefaultPool)
	golden(t, "two_fips", ofp.Text(Compile(v, testPorts)))
	noMAC := testPorts
	noMAC.UpstreamMAC = nil
	golden(t, "upstream_unresolved", ofp.Text(Compile(v, noMAC)))
	golden(t, "empty", ofp.Text(Compile(&View{}, testPorts)))
	// f1 steered to the scrubbing pool: the general gateways keep only
	// its outbound flow (no inbound, no announcement).
	steered := scenario()
	steered.Pools["f1"] = &PoolAssignment{Pool: "scrubbing"}
	v, _ = BuildView(steered, DefaultPool)
	golden(t, "steered_away", ofp.Text(Compile(v, testPorts)))
	if rs := v.routes(netip.MustParseAddr("198.51.100.11")); len(rs) != 1 || rs[0].Prefix.String() != "203.0.113.11/32" {
		t.Errorf("routes after steering f1 away: %v", rs)
	}
	// Encapsulation per chassis: ch1 (the geneve network n1's VM) speaks
	// only VXLAN, ch2 (the VXLAN network n2's) only Geneve: each is
	// tunnelled to, both ways, with the one it has and its network's key.
	r := scenario()
	r.Chassis["ch1"].Encaps = []string{"vxlan"}
	r.Chassis["ch2"].Encaps = []string{"geneve"}
	v, _ = BuildView(r, DefaultPool)
	golden(t, "encap_per_chassis", ofp.Text(Compile(v, testPorts)))
}

func quiet() *slog.Logger {
	if os.Getenv("GATEWAY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func routeText(rs []bgp.Route) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}

// TestGatewayLoop runs the daemon on a fake store, bridge and speaker:
// association announces and installs, disassociation withdraws and
// removes, a restart sweeps only stale flows.
func TestGatewayLoop(t *testing.T) {
	st := newFakeStore()
	recs := scenario()
	for id, n := range recs.Networks {
		st.put(store.NetworkKey(id), n)
	}
	for id, s := range recs.Subnets {
		st.put(store.SubnetKey(s.NetworkID, id), s)
	}
	for id, p := range recs.Ports {
		st.put(store.PortKey(p.NetworkID, id), p)
	}
	for name, c := range recs.Chassis {
		st.put(store.ChassisKey(name), c)
	}
	f2 := recs.FloatingIPs["f2"]
	st.put(store.ObjectKey(store.KindFloatingIPs, "f2"), f2)

	// Coalesce on: every change still reaches the flows and routes.
	cfg := Config{Name: "gw1", UplinkIP: netip.MustParseAddr("198.51.100.11"), Pool: DefaultPool, Coalesce: 5 * time.Millisecond}
	flows := newFakeFlows()
	ann := &bgp.Fake{}
	var neighMu sync.Mutex
	neighbours := map[string]int{}
	setNeighbour := func(_ context.Context, ip netip.Addr, mac string) error {
		neighMu.Lock()
		defer neighMu.Unlock()
		neighbours[ip.String()+" "+mac]++
		return nil
	}
	run := func(ctx context.Context) *Gateway {
		g := New(cfg, Deps{Source: st, Flows: flows, Announcer: ann, Ports: testPorts, SetNeighbour: setNeighbour}, quiet())
		go g.Run(ctx)
		select {
		case <-g.Synced():
		case <-time.After(5 * time.Second):
			t.Fatal("gateway never synced")
		}
		return g
	}
	ctx, cancel := context.WithCancel(context.Background())
	run(ctx)
	if got := routeText(ann.Routes()); got != "203.0.113.11/32 via 198.51.100.11" {
		t.Fatalf("announced %s", got)
	}
	// Association: f1 is announced and its flows installed.
	st.put(store.ObjectKey(store.KindFloatingIPs, "f1"), recs.FloatingIPs["f1"])
	waitFor(t, "f1 announced", func() bool { return len(ann.Routes()) == 2 })
	v, _ := BuildView(scenario(), DefaultPool)
	if got, want := flows.text(), ofp.Text(Compile(v, testPorts)); got != want {
		t.Fatalf("bridge holds\n%s\nwant\n%s", got, want)
	}
	neighMu.Lock()
	if len(neighbours) != 1 || neighbours["192.0.2.1 02:00:c0:00:02:01"] != 1 {
		t.Errorf("static tunnel neighbours set: %v", neighbours)
	}
	neighMu.Unlock()
	// Steering f1 to another pool withdraws it here; back, re-announces.
	st.put(PoolKey("f1"), &PoolAssignment{Pool: "scrubbing"})
	waitFor(t, "f1 steered away", func() bool { return routeText(ann.Routes()) == "203.0.113.11/32 via 198.51.100.11" })
	st.del(PoolKey("f1"))
	waitFor(t, "f1 steered back", func() bool { return len(ann.Routes()) == 2 })
	// Disassociation withdraws.
	dis := *recs.FloatingIPs["f2"]
	dis.PortID, dis.FixedIPAddress = "", ""
	st.put(store.ObjectKey(store.KindFloatingIPs, "f2"), &dis)
	waitFor(t, "f2 withdrawn", func() bool { return routeText(ann.Routes()) == "203.0.113.10/32 via 198.51.100.11" })
	// The VM moving to another chassis re-tunnels without re-announcing.
	moved := *recs.Ports["vm1"]
	moved.HostID = "ch2"
	st.put(store.PortKey("n1", "vm1"), &moved)
	waitFor(t, "tunnel to ch2", func() bool { return strings.Contains(flows.text(), "192.0.2.2->tun_dst") })
	// Deleting the floating IP withdraws it and removes its flows.
	st.del(store.ObjectKey(store.KindFloatingIPs, "f1"))
	waitFor(t, "f1 withdrawn", func() bool { return len(ann.Routes()) == 0 })
	if got, want := flows.text(), ofp.Text(Compile(&View{}, testPorts)); got != want {
		t.Fatalf("bridge holds\n%s\nwant\n%s", got, want)
	}
	cancel()

	// A restarted gateway installs a new generation over the old flows
	// and sweeps nothing that is still wanted.
	st.put(store.ObjectKey(store.KindFloatingIPs, "f1"), recs.FloatingIPs["f1"])
	n0, _ := flows.count()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	run(ctx2)
	waitFor(t, "f1 announced after restart", func() bool { return len(ann.Routes()) == 1 })
	cookies, _ := flows.DumpCookies(context.Background())
	if len(cookies) != 1 {
		t.Fatalf("cookies after restart: %v", cookies)
	}
	for c := range cookies {
		if c != cookie(2) {
			t.Fatalf("cookie %#x, want generation 2", c)
		}
	}
	if n1, _ := flows.count(); n1 != n0+2 {
		t.Fatalf("flows %d before the restart (+1 for f1 inbound, +1 outbound expected), %d after", n0, n1)
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		return Config{Name: "gw1", UplinkPort: "up0", UplinkIP: netip.MustParseAddr("198.51.100.11"),
			UpstreamIP: netip.MustParseAddr("198.51.100.1"),
			BGP:        bgp.Config{LocalAS: 65010, Peers: []bgp.Peer{{Address: netip.MustParseAddr("198.51.100.1"), AS: 65000}}}}
	}
	c := good()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Pool != DefaultPool || c.Bridge != "br-edge" || c.BGP.RouterID != c.UplinkIP || len(c.Encaps) != 2 {
		t.Fatalf("defaults: %+v", c)
	}
	c.BFD.Interval = 100 * time.Millisecond
	if err := c.Validate(); err != nil {
		t.Fatalf("with BFD: %v", err)
	}
	if bc := c.bfd(); len(bc.Peers) != 1 || bc.Local != c.UplinkIP {
		t.Fatalf("BFD sessions: %+v", bc)
	}
	c = good()
	c.TunnelIP, c.TunnelEndpoint = netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.250")
	c.TunnelPeers = []bgp.Peer{{Address: netip.MustParseAddr("192.0.2.240"), AS: 65100}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if r := c.tunnelRoute(); r.String() != "192.0.2.250/32 via 192.0.2.11" {
		t.Fatalf("tunnel route %v", r)
	}
	for name, mut := range map[string]func(*Config){
		"no name":           func(c *Config) { c.Name = "" },
		"no uplink":         func(c *Config) { c.UplinkPort = "" },
		"no uplink ip":      func(c *Config) { c.UplinkIP = netip.Addr{} },
		"no upstream":       func(c *Config) { c.UpstreamIP = netip.Addr{} },
		"bad encap":         func(c *Config) { c.Encaps = []string{"gre"} },
		"bad pool":          func(c *Config) { c.Pool = "Scrub bing" },
		"bad AS":            func(c *Config) { c.BGP.Peers[0].AS = 1 << 32 },
		"graceful restart":  func(c *Config) { c.BGP.GracefulRestart = time.Minute },
		"negative coalesce": func(c *Config) { c.Coalesce = -time.Millisecond },
		"BFD interval 1ms":  func(c *Config) { c.BFD.Interval = time.Millisecond },
		"BFD, no peer":      func(c *Config) { c.BFD.Interval = 100 * time.Millisecond; c.BGP.Peers = nil },
		"coalesce over 1s":  func(c *Config) { c.Coalesce = 2 * time.Second },
		"tunnel peers, no endpoint": func(c *Config) {
			c.TunnelIP = netip.MustParseAddr("192.0.2.11")
			c.TunnelPeers = []bgp.Peer{{Address: netip.MustParseAddr("192.0.2.240"), AS: 65100}}
		},
		"tunnel peers, no tunnel ip": func(c *Config) {
			c.TunnelEndpoint = netip.MustParseAddr("192.0.2.250")
			c.TunnelPeers = []bgp.Peer{{Address: netip.MustParseAddr("192.0.2.240"), AS: 65100}}
		},
		"endpoint is the tunnel ip": func(c *Config) {
			c.TunnelIP, c.TunnelEndpoint = netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.11")
			c.TunnelPeers = []bgp.Peer{{Address: netip.MustParseAddr("192.0.2.240"), AS: 65100}}
		},
		"tunnel peer bad AS": func(c *Config) {
			c.TunnelIP, c.TunnelEndpoint = netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.250")
			c.TunnelPeers = []bgp.Peer{{Address: netip.MustParseAddr("192.0.2.240"), AS: 0}}
		},
		"tunnel peer passive": func(c *Config) {
			c.TunnelIP, c.TunnelEndpoint = netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.250")
			c.TunnelPeers = []bgp.Peer{{Address: netip.MustParseAddr("192.0.2.240"), AS: 65100, Passive: true}}
		},
	} {
		c := good()
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseARPTable(t *testing.T) {
	table := `IP address       HW type     Flags       HW address            Mask     Device
198.51.100.2     0x1         0x0         00:00:00:00:00:00     *        br-edge
198.51.100.1     0x1         0x2         02:00:c6:33:64:01     *        br-edge
`
	m, err := parseARPTable(strings.NewReader(table), netip.MustParseAddr("198.51.100.1"))
	if err != nil || m.String() != "02:00:c6:33:64:01" {
		t.Fatalf("got %v, %v", m, err)
	}
	if _, err := parseARPTable(strings.NewReader(table), netip.MustParseAddr("198.51.100.2")); err == nil {
		t.Fatal("incomplete entry used")
	}
}

// TestAnnounceEndpoint: the tunnel endpoint is announced once the gateway
// has synced and while an upstream session is up, withdrawn while none is.
func TestAnnounceEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	synced := make(chan struct{})
	var mu sync.Mutex
	upstream, asked := true, 0
	up := func(context.Context) bool { mu.Lock(); defer mu.Unlock(); asked++; return upstream }
	set := func(v bool) { mu.Lock(); upstream = v; mu.Unlock() }
	f := &bgp.Fake{}
	r := Route{Prefix: netip.MustParsePrefix("192.0.2.250/32"), NextHop: netip.MustParseAddr("192.0.2.11")}

	// A gateway stopped before its first sync never announced anything,
	// nor looked at its sessions.
	early, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { announceEndpoint(early, synced, f, r, up, 5*time.Millisecond, quiet()); close(stopped) }()
	stop()
	<-stopped
	mu.Lock()
	n := asked
	mu.Unlock()
	if len(f.Routes()) != 0 || n != 0 {
		t.Fatalf("before the first sync: announced %v, sessions asked %d times", f.Routes(), n)
	}

	done := make(chan struct{})
	go func() { announceEndpoint(ctx, synced, f, r, up, 5*time.Millisecond, quiet()); close(done) }()
	close(synced)
	waitFor(t, "endpoint announced", func() bool { return routeText(f.Routes()) == routeText([]Route{r}) })
	set(false)
	waitFor(t, "endpoint withdrawn with no upstream session", func() bool { return len(f.Routes()) == 0 })
	set(true)
	waitFor(t, "endpoint announced again", func() bool { return len(f.Routes()) == 1 })
	cancel()
	<-done
}
