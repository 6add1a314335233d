package main

import (
	"fmt"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// The edge test bed, as test/edge builds it (its helpers are test files):
// the upstream router at 198.51.100.1 running FRR (zebra, bgpd, ECMP over
// up to 8 paths, L4 multipath hash), gateway N at 198.51.100.(10+N) with
// its own Open vSwitch and `wyvern gateway`, a client at 198.51.100.130
// routed by the router. The floating IPs come from extCIDR, an external
// network that exists only inside the bed's namespaces.
var (
	routerAddr   = netip.MustParsePrefix("198.51.100.1/25")
	routerClient = netip.MustParsePrefix("198.51.100.129/25")
	clientAddr   = netip.MustParsePrefix("198.51.100.130/25")
)

const (
	routerAS  = 65000
	gatewayAS = 65010
)

// The chassis side ("TunnelNet", seed 000): every general gateway holds
// the anycast tunnel endpoint on its underlay bridge and announces it over
// BGP to the underlay's router, tnet (FRR, ECMP, L4 multipath hash), which
// the hypervisor in edge mode routes the endpoint through.
var (
	edgeEndpoint  = netip.MustParseAddr("192.0.2.250")
	tunnelNetAddr = netip.MustParsePrefix("192.0.2.240/24")
)

const tunnelNetAS = 65100

func gatewayAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}) }

// etcdProxy makes the lab's etcd reachable from the gateways' namespaces
// through a unix socket (the filesystem is shared, the loopback is not).
func etcdProxy(bed *testbed.Bed, l *lab.Lab) (string, error) {
	sock := filepath.Join(bed.Dir, "etcd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return "", err
	}
	target := strings.TrimPrefix(l.EtcdURL, "http://")
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
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
	err = bed.OnClose("etcd proxy", func() error {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		return nil
	})
	return "unix://" + sock, err
}

// frr is zebra and bgpd in the router's namespace.
type frr struct {
	host *testbed.Host
	dir  string
	// nl reads the namespace's routes over netlink: cheaper than an `ip`
	// process per read, which the convergence measurement makes every
	// ~10 ms on a machine it shares with the bed.
	nlMu sync.Mutex
	nl   *netlink.Handle
}

// startFRR starts the upstream router's FRR; with a BFD interval, bfdd
// too, and a BFD session (that interval, multiplier 3) on every peer's
// BGP session.
func startFRR(h *testbed.Host, name string, peers []netip.Addr, bfd time.Duration) (*frr, error) {
	return startFRRAs(h, name, routerAS, routerAddr.Addr(), peers, bfd)
}

// startFRRAs is startFRR for another router (AS, router id): tnet.
func startFRRAs(h *testbed.Host, name string, as int, id netip.Addr, peers []netip.Addr, bfd time.Duration) (*frr, error) {
	f := &frr{host: h, dir: filepath.Join(h.RunDir, "frr")}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return nil, err
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
		return nil, err
	}
	ms := bfd.Milliseconds()
	bconf := fmt.Sprintf("hostname %s\nlog file %s/bfdd.log\n!\nbfd\n profile wyvern\n  detect-multiplier 3\n  receive-interval %d\n  transmit-interval %d\n !\n!\n",
		name, f.dir, ms, ms)
	if err := os.WriteFile(filepath.Join(f.dir, "bfdd.conf"), []byte(bconf), 0o644); err != nil {
		return nil, err
	}
	zconf := fmt.Sprintf("hostname %s\nlog file %s/zebra.log\n!\n", name, f.dir)
	if err := os.WriteFile(filepath.Join(f.dir, "zebra.conf"), []byte(zconf), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command("chown", "-R", "frr:frr", f.dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chown %s: %v: %s", f.dir, err, out)
	}
	common := []string{"-N", name, "-u", "frr", "-g", "frr", "--vty_socket", f.dir, "-z", filepath.Join(f.dir, "zserv.api")}
	zebra := append([]string{"/usr/lib/frr/zebra", "-f", filepath.Join(f.dir, "zebra.conf"), "-i", filepath.Join(f.dir, "zebra.pid")}, common...)
	if err := h.StartProcess("zebra", h.Command(zebra...)); err != nil {
		return nil, err
	}
	if err := waitFile(filepath.Join(f.dir, "zserv.api"), 10*time.Second); err != nil {
		return nil, err
	}
	if bfd > 0 {
		bfdd := append([]string{"/usr/lib/frr/bfdd", "-f", filepath.Join(f.dir, "bfdd.conf"), "-i", filepath.Join(f.dir, "bfdd.pid"),
			"--bfdctl", filepath.Join(f.dir, "bfdd.sock")}, common...)
		if err := h.StartProcess("bfdd", h.Command(bfdd...)); err != nil {
			return nil, err
		}
		if err := waitFile(filepath.Join(f.dir, "bfdd.vty"), 10*time.Second); err != nil {
			return nil, err
		}
	}
	bgpd := append([]string{"/usr/lib/frr/bgpd", "-f", filepath.Join(f.dir, "bgpd.conf"), "-i", filepath.Join(f.dir, "bgpd.pid")}, common...)
	if err := h.StartProcess("bgpd", h.Command(bgpd...)); err != nil {
		return nil, err
	}
	return f, waitFile(filepath.Join(f.dir, "bgpd.vty"), 10*time.Second)
}

func waitFile(path string, d time.Duration) error {
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s", path, d)
		}
	}
}

func (f *frr) vtysh(cmd string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", f.host.Netns, "vtysh", "--vty_socket", f.dir, "-c", cmd).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %q: %w: %s", cmd, err, out)
	}
	return string(out), nil
}

// waitSessions waits until n BGP sessions are established.
func (f *frr) waitSessions(n int, d time.Duration) error {
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		out, err := f.vtysh("show bgp summary json")
		if err == nil && strings.Count(out, `"state":"Established"`) == n {
			return nil
		}
		if time.Now().After(deadline) {
			sum, _ := f.vtysh("show bgp summary")
			return fmt.Errorf("BGP sessions not established after %s:\n%s", d, sum)
		}
	}
}

// fib reads the BGP routes of the router's kernel (installed by zebra
// from FRR's RIB): the number of next hops of each destination.
func (f *frr) fib() (map[string]int, error) {
	f.nlMu.Lock()
	defer f.nlMu.Unlock()
	if f.nl == nil {
		ns, err := netns.GetFromName(f.host.Netns)
		if err != nil {
			return nil, fmt.Errorf("netns %s: %w", f.host.Netns, err)
		}
		h, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			return nil, fmt.Errorf("netlink in %s: %w", f.host.Netns, err)
		}
		f.nl = h
	}
	routes, err := f.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: unix.RTPROT_BGP, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("routes in %s: %w", f.host.Netns, err)
	}
	m := make(map[string]int, len(routes))
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		n := len(r.MultiPath)
		if n == 0 && r.Gw != nil {
			n = 1
		}
		if ones, bits := r.Dst.Mask.Size(); ones == bits {
			m[r.Dst.IP.String()] = n
		} else {
			m[r.Dst.String()] = n
		}
	}
	return m, nil
}

// gw is one edge host.
type gw struct {
	*testbed.Chassis
	index  int
	uplink netip.Addr
	// extra are more `wyvern gateway` flags (pool, steering).
	extra []string
	// tunnel: the gateway holds and announces the tunnel endpoint.
	tunnel bool
	// bfd is the BFD interval with the upstream router (0: none).
	bfd time.Duration
}

func addGateway(bed *testbed.Bed, i int) (*gw, error) {
	ch, err := bed.AddChassis("gw" + lab.Itoa(i))
	if err != nil {
		return nil, err
	}
	if err := ch.AddExternalBridge("br-edge"); err != nil {
		return nil, err
	}
	g := &gw{Chassis: ch, index: i, uplink: gatewayAddr(i)}
	for _, c := range [][]string{
		{"ip", "addr", "add", netip.PrefixFrom(g.uplink, 25).String(), "dev", "br-edge"},
		{"ip", "link", "set", "br-edge", "up"},
		{"sysctl", "-q", "-w", "net.ipv6.conf.br-edge.disable_ipv6=1"},
	} {
		if _, err := ch.Exec(c...); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// start runs `wyvern gateway` peering with the router: keepalive 1 s,
// hold 3 s, connect retry 1 s on both sides; no BFD.
func (g *gw) start(wyvern, etcd string) error {
	args := []string{wyvern, "gateway", "--log-level", "info", "--name", g.Name, "--etcd-endpoints", etcd,
		"--ovsdb", g.DBSock(), "--ovs-rundir", g.RunDir, "--datapath-type", "netdev",
		"--uplink", testbed.ExternalIface, "--uplink-ip", g.uplink.String(), "--upstream-ip", routerAddr.Addr().String(),
		"--tunnel-ip", g.TunnelIP.String(),
		"--bgp-as", lab.Itoa(gatewayAS), "--bgp-listen-port", "-1",
		"--bgp-peer", fmt.Sprintf("%s,as=%d,hold=3s,keepalive=1s,connect-retry=1s", routerAddr.Addr(), routerAS)}
	if g.tunnel {
		args = append(args, "--tunnel-endpoint", edgeEndpoint.String(), "--tunnel-bgp-peer",
			fmt.Sprintf("%s,as=%d,hold=3s,keepalive=1s,connect-retry=1s", tunnelNetAddr.Addr(), tunnelNetAS))
	}
	if g.bfd > 0 {
		args = append(args, "--bfd-interval", g.bfd.String())
	}
	args = append(args, g.extra...)
	return g.StartProcess("wyvern-gateway", g.Command(args...))
}

// inboundPackets sums the packet counts of the gateway's inbound flows
// for a floating IP.
func (g *gw) inboundPackets(fip string) int {
	out, err := g.Ofctl("dump-flows", g.Mgmt("br-edge"), "table=1,ip,nw_dst="+fip)
	if err != nil {
		return 0
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
