package edge

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// Address plan. The uplink segment is the bed's external network
// (testbed.ExternalBridge): the router at .1, gateway N at .10+N, all in
// 198.51.100.0/25; the client sits on the same wire but in its own subnet
// 198.51.100.128/25, routed only by the router (a client "behind" it).
// Floating IPs come from 203.0.113.0/24. Tunnels run on the underlay
// 192.0.2.0/24.
var (
	routerAddr   = netip.MustParsePrefix("198.51.100.1/25")
	routerClient = netip.MustParsePrefix("198.51.100.129/25")
	clientAddr   = netip.MustParsePrefix("198.51.100.130/25")
	birdAddr     = netip.MustParsePrefix("198.51.100.2/25")
)

const (
	routerAS  = 65000
	gatewayAS = 65010
	birdAS    = 65001
)

func gatewayAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}) }

// etcdProxy makes the lab's etcd (on 127.0.0.1 of the root namespace)
// reachable from any namespace through a unix socket: the filesystem is
// shared, the loopback is not. It returns the endpoint for etcd clients.
func etcdProxy(t *testing.T, l *lab.Lab) string {
	t.Helper()
	sock := filepath.Join(l.Bed.Dir, "etcd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	target := strings.TrimPrefix(l.EtcdURL, "http://")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "unix://" + sock
}

// frr is an FRR instance (zebra and bgpd) in a namespace, with private
// configuration, pid files and vty sockets in its directory.
type frr struct {
	host *testbed.Host
	dir  string
	name string
	bgpd []string // bgpd's command line, for restarts
}

// startFRR starts zebra and bgpd on h with ECMP over up to 8 paths and
// eBGP sessions to the given gateways (fast timers: 1 s keepalive, 3 s
// hold, 1 s connect retry). FRR is a graceful-restart helper by default
// (its global mode): it keeps the routes of a peer that advertised the
// capability while that peer restarts.
func startFRR(t *testing.T, h *testbed.Host, name string, peers []netip.Addr) *frr {
	t.Helper()
	return startFRRAs(t, h, name, routerAS, routerAddr.Addr(), peers)
}

// startFRRAs is startFRR with the router's own AS and router id (another
// router than the upstream one: the underlay's).
func startFRRAs(t *testing.T, h *testbed.Host, name string, as int, id netip.Addr, peers []netip.Addr) *frr {
	t.Helper()
	return startFRRWith(t, h, name, as, id, peers, 0)
}

// startFRRBFD is startFRR with bfdd and a BFD session on every peer's BGP
// session (interval bfd, multiplier 3): FRR takes a BGP session down when
// its BFD session does.
func startFRRBFD(t *testing.T, h *testbed.Host, name string, peers []netip.Addr, bfd time.Duration) *frr {
	t.Helper()
	return startFRRWith(t, h, name, routerAS, routerAddr.Addr(), peers, bfd)
}

func startFRRWith(t *testing.T, h *testbed.Host, name string, as int, id netip.Addr, peers []netip.Addr, bfd time.Duration) *frr {
	t.Helper()
	f := &frr{host: h, dir: filepath.Join(h.RunDir, "frr"), name: name}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults traditional\nhostname %s\nlog file %s/bgpd.log\n!\n", name, f.dir)
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n no bgp network import-check\n", as, id)
	for _, p := range peers {
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s timers 1 3\n neighbor %s timers connect 1\n", p, gatewayAS, p, p)
		if bfd > 0 {
			fmt.Fprintf(&b, " neighbor %s bfd profile wyvern\n", p)
		}
	}
	b.WriteString(" address-family ipv4 unicast\n  maximum-paths 8\n exit-address-family\n!\n")
	if err := os.WriteFile(filepath.Join(f.dir, "bgpd.conf"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ms := bfd.Milliseconds()
	bconf := fmt.Sprintf("hostname %s\nlog file %s/bfdd.log\n!\nbfd\n profile wyvern\n  detect-multiplier 3\n  receive-interval %d\n  transmit-interval %d\n !\n!\n",
		name, f.dir, ms, ms)
	if err := os.WriteFile(filepath.Join(f.dir, "bfdd.conf"), []byte(bconf), 0o644); err != nil {
		t.Fatal(err)
	}
	zconf := fmt.Sprintf("hostname %s\nlog file %s/zebra.log\n!\n", name, f.dir)
	if err := os.WriteFile(filepath.Join(f.dir, "zebra.conf"), []byte(zconf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The daemons drop to user frr (root is not in the frrvty group
	// Debian's FRR wants), so it must own the directory.
	if out, err := exec.Command("chown", "-R", "frr:frr", f.dir).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v: %s", f.dir, err, out)
	}
	common := []string{"-N", name, "-u", "frr", "-g", "frr", "--vty_socket", f.dir, "-z", filepath.Join(f.dir, "zserv.api")}
	zebra := append([]string{"/usr/lib/frr/zebra", "-f", filepath.Join(f.dir, "zebra.conf"), "-i", filepath.Join(f.dir, "zebra.pid")}, common...)
	if err := h.StartProcess("zebra", h.Command(zebra...)); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(f.dir, "zserv.api"), 10*time.Second)
	if bfd > 0 {
		bfdd := append([]string{"/usr/lib/frr/bfdd", "-f", filepath.Join(f.dir, "bfdd.conf"), "-i", filepath.Join(f.dir, "bfdd.pid"),
			"--bfdctl", filepath.Join(f.dir, "bfdd.sock")}, common...)
		if err := h.StartProcess("bfdd", h.Command(bfdd...)); err != nil {
			t.Fatal(err)
		}
		waitFile(t, filepath.Join(f.dir, "bfdd.vty"), 10*time.Second)
	}
	f.bgpd = append([]string{"/usr/lib/frr/bgpd", "-f", filepath.Join(f.dir, "bgpd.conf"), "-i", filepath.Join(f.dir, "bgpd.pid")}, common...)
	if err := h.StartProcess("bgpd", h.Command(f.bgpd...)); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(f.dir, "bgpd.vty"), 10*time.Second)
	return f
}

func waitFile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restartBGPD kills bgpd (-9: a crash, a reboot of the router's control
// plane) and starts it again with its configuration.
func (f *frr) restartBGPD(t *testing.T) {
	t.Helper()
	if err := f.host.StopProcess("bgpd", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := f.host.StartProcess("bgpd", f.host.Command(f.bgpd...)); err != nil {
		t.Fatal(err)
	}
}

// vtysh runs one command against the instance.
func (f *frr) vtysh(cmd string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", f.host.Netns, "vtysh", "--vty_socket", f.dir, "-c", cmd).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %q: %w: %s", cmd, err, out)
	}
	return string(out), nil
}

// nextHops returns the active next hops of prefix in zebra's RIB, as
// installed in the kernel (none when the route is absent).
func (f *frr) nextHops(prefix string) ([]string, error) {
	out, err := f.vtysh("show ip route " + prefix + " json")
	if err != nil {
		return nil, err
	}
	var rib map[string][]struct {
		Protocol  string `json:"protocol"`
		Selected  bool   `json:"selected"`
		Installed bool   `json:"installed"`
		Nexthops  []struct {
			IP     string `json:"ip"`
			Active bool   `json:"active"`
			FIB    bool   `json:"fib"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal([]byte(out), &rib); err != nil {
		return nil, fmt.Errorf("show ip route %s: %w: %s", prefix, err, out)
	}
	var hops []string
	for _, r := range rib[prefix] {
		if r.Protocol != "bgp" || !r.Selected || !r.Installed {
			continue
		}
		for _, nh := range r.Nexthops {
			if nh.Active && nh.FIB {
				hops = append(hops, nh.IP)
			}
		}
	}
	return hops, nil
}

// waitNextHops polls the RIB until prefix has exactly n installed next
// hops and returns how long it took.
func (f *frr) waitNextHops(t *testing.T, prefix string, n int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last []string
	var err error
	for time.Since(start) < d {
		if last, err = f.nextHops(prefix); err == nil && len(last) == n {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bgp, _ := f.vtysh("show bgp summary")
	t.Fatalf("%s: %d next hops %v (err %v) after %s, want %d\n%s", prefix, len(last), last, err, d, n, bgp)
	return 0
}

// edgeGW is one edge host: a namespace with its own Open vSwitch (a bed
// chassis without an agent: br-phy holds its tunnel address) and br-edge
// on the uplink segment with the uplink address on its LOCAL interface.
type edgeGW struct {
	*testbed.Chassis
	index  int
	uplink netip.Addr
}

func addGateway(t *testing.T, bed *testbed.Bed, i int) *edgeGW {
	t.Helper()
	ch, err := bed.AddChassis("gw" + lab.Itoa(i))
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.AddExternalBridge("br-edge"); err != nil {
		t.Fatal(err)
	}
	g := &edgeGW{Chassis: ch, index: i, uplink: gatewayAddr(i)}
	for _, c := range [][]string{
		{"ip", "addr", "add", netip.PrefixFrom(g.uplink, 25).String(), "dev", "br-edge"},
		{"ip", "link", "set", "br-edge", "up"},
		{"sysctl", "-q", "-w", "net.ipv6.conf.br-edge.disable_ipv6=1"},
	} {
		if _, err := ch.Exec(c...); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// start runs `wyvern gateway` inside the gateway's namespace, peering
// with FRR and BIRD.
func (g *edgeGW) start(t *testing.T, etcd string, extra ...string) {
	t.Helper()
	args := []string{wyvernBin, "gateway", "--log-level", "debug", "--name", g.Name, "--etcd-endpoints", etcd,
		"--ovsdb", g.DBSock(), "--ovs-rundir", g.RunDir, "--datapath-type", "netdev",
		"--uplink", testbed.ExternalIface, "--uplink-ip", g.uplink.String(), "--upstream-ip", routerAddr.Addr().String(),
		"--tunnel-ip", g.TunnelIP.String(),
		"--bgp-as", lab.Itoa(gatewayAS), "--bgp-listen-port", "-1",
		"--bgp-peer", fmt.Sprintf("%s,as=%d,hold=3s,keepalive=1s,connect-retry=1s", routerAddr.Addr(), routerAS),
		"--bgp-peer", fmt.Sprintf("%s,as=%d,hold=3s,keepalive=1s,connect-retry=1s", birdAddr.Addr(), birdAS)}
	if err := g.StartProcess("wyvern-gateway", g.Command(append(args, extra...)...)); err != nil {
		t.Fatal(err)
	}
}

// inboundPackets sums the packet counts of the gateway's inbound flows
// for a floating IP.
func (g *edgeGW) inboundPackets(t *testing.T, fip string) int {
	t.Helper()
	out, err := g.Ofctl("dump-flows", g.Mgmt("br-edge"), "table=1,ip,nw_dst="+fip)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "n_packets="); i >= 0 {
			var c int
			fmt.Sscanf(line[i+len("n_packets="):], "%d", &c)
			n += c
		}
	}
	return n
}

// bird is a BIRD 2 instance in a namespace: a second, independent BGP
// implementation learning the gateways' announcements.
type bird struct {
	host *testbed.Host
	sock string
}

// startBIRD runs bird on h with an eBGP session (AS birdAS) to each gateway,
// importing everything into its table (no kernel export).
func startBIRD(t *testing.T, h *testbed.Host, peers []netip.Addr) *bird {
	t.Helper()
	dir := filepath.Join(h.RunDir, "bird")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "router id %s;\nlog \"%s/bird.log\" all;\nprotocol device {}\n", birdAddr.Addr(), dir)
	for i, p := range peers {
		fmt.Fprintf(&b, "protocol bgp gw%d {\n  local %s as %d;\n  neighbor %s as %d;\n"+
			"  hold time 3; keepalive time 1; connect retry time 1;\n  ipv4 { import all; export none; };\n}\n",
			i+1, birdAddr.Addr(), birdAS, p, gatewayAS)
	}
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bd := &bird{host: h, sock: filepath.Join(dir, "bird.ctl")}
	if err := h.StartProcess("bird", h.Command("bird", "-f", "-c", conf, "-s", bd.sock, "-P", filepath.Join(dir, "bird.pid"))); err != nil {
		t.Fatal(err)
	}
	waitFile(t, bd.sock, 10*time.Second)
	return bd
}

func (b *bird) birdc(args ...string) (string, error) {
	out, err := exec.Command("birdc", append([]string{"-s", b.sock}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("birdc %v: %w: %s", args, err, out)
	}
	return string(out), nil
}

// nextHops lists the next hops of the routes BIRD holds for prefix.
func (b *bird) nextHops(prefix string) ([]string, error) {
	out, err := b.birdc("show", "route", prefix)
	if strings.Contains(out, "Network not found") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hops []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "via" {
				hops = append(hops, f[i+1])
			}
		}
	}
	return hops, nil
}

func (b *bird) waitNextHops(t *testing.T, prefix string, n int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last []string
	var err error
	for time.Since(start) < d {
		if last, err = b.nextHops(prefix); err == nil && len(last) == n {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sum, _ := b.birdc("show", "protocols")
	t.Fatalf("BIRD: %s has %d next hops %v (err %v) after %s, want %d\n%s", prefix, len(last), last, err, d, n, sum)
	return 0
}

// waitLog waits until the gateway's log has a line holding every one of
// parts.
func (g *edgeGW) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	file := filepath.Join(g.RunDir, "wyvern-gateway.log")
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(data), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no log line with %q in %s", g.Name, parts, file)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// edgeFIP is a floating IP's edge steering as the API shows it.
type edgeFIP struct {
	EdgePool string           `json:"edge_pool"`
	Moves    []model.EdgeMove `json:"edge_pool_moves"`
}

// showFIP reads a floating IP's edge pool and moves from the API.
func showFIP(t *testing.T, l *lab.Lab, id string) edgeFIP {
	t.Helper()
	var out struct{ FloatingIP edgeFIP }
	if err := l.Do("GET", "/v2.0/floatingips/"+id, "", nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.FloatingIP
}

func mustRoot(t *testing.T) string {
	t.Helper()
	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
