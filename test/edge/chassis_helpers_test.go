package edge

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// Helpers of the chassis-side tests (chassis_test.go).

// edgeEndpoint is the edge layer's anycast tunnel endpoint: every gateway
// holds it on its underlay bridge, and the "TunnelNet" routes it to a
// gateway (tunnelNet).
var edgeEndpoint = netip.MustParseAddr("192.0.2.250")

// The underlay's router ("TunnelNet", seed 000): a host on the underlay
// running FRR that learns the edge's anycast endpoint from the gateways
// over BGP and routes the chassis' tunnel traffic to it with ECMP and the
// kernel's L4 multipath hash (on the outer UDP ports, which carry the
// inner flow's hash). The hypervisor reaches it as its top-of-rack router.
var tunnelNetAddr = netip.MustParsePrefix("192.0.2.240/24")

const tunnelNetAS = 65100

// tunnelNet makes the TunnelNet router and starts its FRR, peering with
// the gateways' tunnel addresses.
func tunnelNet(t *testing.T, bed *testbed.Bed, gws []netip.Addr) (*testbed.Host, *frr) {
	t.Helper()
	h, err := bed.AddHost("tnet", tunnelNetAddr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1",
		"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0"); err != nil {
		t.Fatal(err)
	}
	return h, startFRRAs(t, h, bed.Prefix+"-tnet", tunnelNetAS, tunnelNetAddr.Addr(), gws)
}

// tunnelFlags make a gateway announce the anycast endpoint to TunnelNet.
func tunnelFlags() []string {
	return []string{"--tunnel-endpoint", edgeEndpoint.String(),
		"--tunnel-bgp-peer", fmt.Sprintf("%s,as=%d,hold=3s,keepalive=1s,connect-retry=1s", tunnelNetAddr.Addr(), tunnelNetAS)}
}

// chassisAS is the AS of the chassis announcing their floating IPs: the
// gateways' (startFRR peers everyone as gatewayAS).
const chassisAS = gatewayAS

// chassisExternal is the external address of hypervisor N (on br-ex): the
// BGP next hop of the floating IPs it NATs.
func chassisExternal(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(20 + i)}) }

// upstream makes the upstream router (FRR's namespace, forwarding with an
// L4 multipath hash) and the client behind it.
func upstream(t *testing.T, bed *testbed.Bed) (rtr, client *testbed.Host) {
	t.Helper()
	rtr, err := bed.AddExternalHost("rtr", routerAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"ip", "addr", "add", routerClient.String(), "dev", "eth0"},
		{"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1",
			"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0",
			"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0"},
	} {
		if _, err := rtr.Exec(c...); err != nil {
			t.Fatal(err)
		}
	}
	client, err = bed.AddExternalHost("client", clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetGateway(routerClient.Addr().String()); err != nil {
		t.Fatal(err)
	}
	return rtr, client
}

// waitSessions waits until FRR has n established BGP sessions.
func (f *frr) waitSessions(t *testing.T, n int, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; {
		out, err := f.vtysh("show bgp summary json")
		if err == nil && strings.Count(out, `"state":"Established"`) == n {
			return
		}
		if time.Now().After(deadline) {
			sum, _ := f.vtysh("show bgp summary")
			t.Fatalf("%d BGP sessions not established after %s:\n%s", n, d, sum)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tenant is the logical topology of a chassis test: an external network
// (203.0.113.0/24, gateway 203.0.113.1), a Geneve tenant network behind a
// router with its gateway there, and a security group admitting ICMP and
// TCP 5001 from anywhere.
type tenant struct {
	ext    model.Network
	net    model.Network
	subnet model.Subnet
	sg     string
}

func newTenant(t *testing.T, l *lab.Lab) *tenant {
	t.Helper()
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
	n, s, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", Type: "geneve", CIDR: "10.0.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{
		"name": "r1", "external_gateway_info": map[string]any{"network_id": ext.Network.ID}}}, &r); err != nil {
		t.Fatal(err)
	}
	if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "p1", map[string]any{"subnet_id": s.ID}, nil); err != nil {
		t.Fatal(err)
	}
	var sg struct {
		SecurityGroup struct{ ID string } `json:"security_group"`
	}
	if err := l.Do("POST", "/v2.0/security-groups", "p1", map[string]any{"security_group": map[string]any{"name": "open"}}, &sg); err != nil {
		t.Fatal(err)
	}
	for _, r := range []map[string]any{
		{"protocol": "icmp"},
		{"protocol": "tcp", "port_range_min": 5001, "port_range_max": 5001},
	} {
		r["security_group_id"], r["direction"], r["ethertype"] = sg.SecurityGroup.ID, "ingress", "IPv4"
		if err := l.Do("POST", "/v2.0/security-group-rules", "p1", map[string]any{"security_group_rule": r}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return &tenant{ext: ext.Network, net: n, subnet: s, sg: sg.SecurityGroup.ID}
}

// boot plugs a VM of the tenant network on ch, in the security group,
// with its address and default route, serving "hello" on TCP 5001, and
// waits for its binding.
func (tn *tenant) boot(t *testing.T, l *lab.Lab, ch *testbed.Chassis, name string) (*testbed.VM, model.Port) {
	t.Helper()
	vm, port, err := l.Boot(ch, name, "p1", tn.net.ID, map[string]any{"security_groups": []string{tn.sg}})
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.SetAddr(lab.FixedIP(port) + "/24"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetGateway(tn.subnet.GatewayIP); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitPort(port.ID, 20*time.Second, func(p model.Port) bool { return p.HostID == ch.Name }); err != nil {
		t.Fatal(err)
	}
	cmd := vm.Command("busybox", "nc", "-ll", "-p", "5001", "-e", "echo", "hello")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return vm, port
}

// floatingIP creates a floating IP on the external network for port.
func (tn *tenant) floatingIP(t *testing.T, l *lab.Lab, portID string) fipOut {
	t.Helper()
	var f fipOut
	if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tn.ext.ID, "port_id": portID}}, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// associate points a floating IP at a port ("": disassociates).
func associate(t *testing.T, l *lab.Lab, fipID, portID string) {
	t.Helper()
	var port any
	if portID != "" {
		port = portID
	}
	if err := l.Do("PUT", "/v2.0/floatingips/"+fipID, "p1", map[string]any{"floatingip": map[string]any{"port_id": port}}, nil); err != nil {
		t.Fatal(err)
	}
}

// roundTrip pings addr from the client until replies come back (within d),
// then checks that a burst of pings is answered with addr as source, and
// that TCP to addr:5001 gets the VM's greeting.
func roundTrip(t *testing.T, client *testbed.Host, addr string, d time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		if n, _ := client.Ping(addr, 1, time.Second); n == 1 {
			break
		}
		if time.Since(start) > d {
			t.Fatalf("client → %s: no reply within %s", addr, d)
		}
	}
	t.Logf("client → %s: first reply %s after the route was in FRR", addr, time.Since(start).Round(time.Millisecond))
	capture, err := client.Capture("eth0", "icmp")
	if err != nil {
		t.Fatal(err)
	}
	const sent = 5
	n, err := client.Ping(addr, sent, 5*time.Second)
	pkts, cerr := capture.Stop()
	if cerr != nil {
		t.Fatal(cerr)
	}
	src := map[string]int{}
	for _, p := range pkts {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		icmp, ok2 := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if ok && ok2 && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoReply {
			src[ip.SrcIP.String()]++
		}
	}
	// The capture may miss a packet at its edges; ping counts them all.
	if n != sent || src[addr] < sent-1 || len(src) != 1 {
		t.Fatalf("%d/%d replies (%v); echo replies captured by source %v, want them from %s only", n, sent, err, src, addr)
	}
	ok := false
	for deadline := time.Now().Add(10 * time.Second); !ok && time.Now().Before(deadline); {
		out, _ := client.Exec("busybox", "timeout", "2", "busybox", "nc", "-w", "1", addr, "5001")
		ok = strings.Contains(out, "hello")
	}
	if !ok {
		t.Fatalf("TCP client → %s:5001 got no greeting", addr)
	}
}

// startAgentIn runs a chassis' agent inside its namespace (as BGP needs:
// its sessions run over the chassis' external address), reaching etcd by
// the unix socket etcd, and waits for its registration.
func startAgentIn(t *testing.T, l *lab.Lab, ch *testbed.Chassis, etcd string, extra ...string) {
	t.Helper()
	args := append([]string{agentBin, "--etcd-endpoints", etcd, "--chassis", ch.Name,
		"--tunnel-ip", ch.TunnelIP.String(), "--tunnel-mac", ch.TunnelMAC,
		"--ovsdb", ch.DBSock(), "--ovs-rundir", ch.RunDir, "--datapath-type", "netdev", "--log-level", "debug"}, extra...)
	if err := ch.StartProcess("wyvern-agent", ch.Command(args...)); err != nil {
		t.Fatal(err)
	}
	if err := ch.WaitBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitChassis(ch.Name, true, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// flowsWith lists the flows of a bridge of ch that contain s.
func flowsWith(t *testing.T, ch *testbed.Chassis, bridge, s string) []string {
	t.Helper()
	flows, err := ch.DumpFlows(bridge)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range flows {
		if strings.Contains(f, s) {
			out = append(out, f)
		}
	}
	return out
}

// flowPackets sums the packet counts of the flows of a bridge of ch that
// match filter (ovs-ofctl dump-flows syntax) and whose text contains has.
func flowPackets(t *testing.T, ch *testbed.Chassis, bridge, filter, has string) int {
	t.Helper()
	out, err := ch.Ofctl("dump-flows", ch.Mgmt(bridge), filter)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, has) {
			continue
		}
		if i := strings.Index(line, "n_packets="); i >= 0 {
			var c int
			fmt.Sscanf(line[i+len("n_packets="):], "%d", &c)
			n += c
		}
	}
	return n
}

// streamPort is the TCP port of the stateless proof's stream: the
// tenant's security group admits it (streamAcrossKill adds the rule).
const streamPort = 5003

// streamServer, run in the VM, takes one TCP connection, reads it to its
// end, and answers with the bytes received and the longest pause between
// two reads, in milliseconds.
const streamServer = `
import socket, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", %d))
l.listen(1)
c, _ = l.accept()
n, last, gap = 0, None, 0.0
while True:
    d = c.recv(65536)
    now = time.time()
    if not d:
        break
    if last is not None:
        gap = max(gap, now - last)
    last, n = now, n + len(d)
c.sendall(("%%d %%d" %% (n, gap * 1000)).encode())
c.close()
`

// streamClient, run in the client, sends 1,000-byte writes every 10 ms
// for the given seconds, then closes its side and prints the bytes sent
// and the server's answer. A reset ends it with an error.
const streamClient = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], %d), timeout=10)
sent, end = 0, time.time() + %d
while time.time() < end:
    s.sendall(b"x" * 1000)
    sent += 1000
    time.sleep(0.01)
s.shutdown(socket.SHUT_WR)
s.settimeout(30)
resp = b""
while True:
    d = s.recv(100)
    if not d:
        break
    resp += d
print(sent, resp.decode())
`

// retransmits reads the TCP segments a host's namespace has retransmitted.
func retransmits(t *testing.T, h *testbed.Host) int {
	t.Helper()
	out, err := h.Exec("cat", "/proc/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RetransSegs" && i < len(f) {
				v, _ := strconv.Atoi(f[i])
				return v
			}
		}
	}
	t.Fatalf("no Tcp RetransSegs in /proc/net/snmp:\n%s", out)
	return 0
}

// streamAcrossKill is the stateless proof: a TCP stream from the client
// to the VM by its floating IP keeps running while the gateway carrying
// it inbound is killed (-9); the router moves it to another gateway, and
// the connection survives, every byte delivered, with no reset. It
// returns the killed gateway (to be started again).
func streamAcrossKill(t *testing.T, l *lab.Lab, tn *tenant, vm *testbed.VM, client *testbed.Host, addr string, gws []*edgeGW, frr *frr) *edgeGW {
	t.Helper()
	r := map[string]any{"security_group_id": tn.sg, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "tcp", "port_range_min": streamPort, "port_range_max": streamPort}
	if err := l.Do("POST", "/v2.0/security-group-rules", "p1", map[string]any{"security_group_rule": r}, nil); err != nil {
		t.Fatal(err)
	}
	srv := vm.Command("python3", "-c", fmt.Sprintf(streamServer, streamPort))
	var srvOut strings.Builder
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	before := map[string]int{}
	for _, g := range gws {
		before[g.Name] = g.inboundPackets(t, addr)
	}
	retrans0 := retransmits(t, client)
	const seconds = 6
	var cliOut strings.Builder
	var started time.Time
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// The server may not listen yet: the client then fails at once.
		cliOut.Reset()
		cli := client.Command("python3", "-c", fmt.Sprintf(streamClient, streamPort, seconds), addr)
		cli.Stdout, cli.Stderr = &cliOut, &cliOut
		if err := cli.Start(); err != nil {
			t.Fatal(err)
		}
		started = time.Now()
		exited := make(chan error, 1)
		go func() { exited <- cli.Wait() }()
		select {
		case err := <-exited:
			if time.Now().After(deadline) {
				t.Fatalf("stream client: %v: %s", err, cliOut.String())
			}
			continue
		case <-time.After(2 * time.Second): // part of the traffic pattern: the kill comes 2 s in
		}
		// The carrier: the gateway whose inbound counter moved most.
		var carrier *edgeGW
		most := 0
		for _, g := range gws {
			if d := g.inboundPackets(t, addr) - before[g.Name]; d > most {
				carrier, most = g, d
			}
		}
		if carrier == nil {
			t.Fatal("no gateway carried the stream")
		}
		atKill := map[string]int{}
		for _, g := range gws {
			atKill[g.Name] = g.inboundPackets(t, addr)
		}
		killed := time.Now()
		if err := carrier.StopProcess("wyvern-gateway", syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		took := frr.waitNextHops(t, addr+"/32", len(gws)-1, withdrawBound)
		var err error
		select {
		case err = <-exited:
		case <-time.After(seconds*time.Second + 40*time.Second):
			t.Fatalf("stream client still running %s after its start", time.Since(started).Round(time.Second))
		}
		out := strings.Fields(cliOut.String())
		if err != nil || len(out) != 3 {
			t.Fatalf("the stream across %s's kill: %v: %s (server: %s)", carrier.Name, err, cliOut.String(), srvOut.String())
		}
		if out[0] != out[1] {
			t.Fatalf("the stream across %s's kill: sent %s bytes, the VM received %s", carrier.Name, out[0], out[1])
		}
		// The stream went on through another gateway, which NATs it
		// from the middle on with nothing to know of it.
		moved := 0
		for _, g := range gws {
			if g != carrier {
				moved += g.inboundPackets(t, addr) - atKill[g.Name]
			}
		}
		if moved == 0 {
			t.Fatalf("no other gateway took the stream after %s's kill", carrier.Name)
		}
		gap, _ := strconv.Atoi(out[2])
		t.Logf("stateless proof: a %d s TCP stream (%s bytes) to %s survived the kill -9 of %s (carrying it, %s in): "+
			"no reset, every byte received, FRR moved it after %s (%d packets in through the others since), longest pause at the VM %d ms, "+
			"%d segments retransmitted", seconds, out[0], addr, carrier.Name, killed.Sub(started).Round(time.Millisecond), took.Round(time.Millisecond),
			moved, gap, retransmits(t, client)-retrans0)
		if time.Duration(gap)*time.Millisecond > withdrawBound {
			t.Errorf("the stream paused %d ms across the kill, want under %s", gap, withdrawBound)
		}
		return carrier
	}
}
