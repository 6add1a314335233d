//go:build linux

package dhcp

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The end-to-end tests run stock DHCP clients (busybox udhcpc and ISC
// dhclient) in one network namespace against Respond serving an AF_PACKET
// socket in another, the two joined by a veth pair. They need root, ip,
// busybox and dhclient (scripts/deps.sh installs them); -short skips them.

// e2eLease is what the clients must end up with.
func e2eLease(mac net.HardwareAddr) Lease {
	return Lease{
		MAC:    mac,
		IP:     netip.MustParseAddr("10.77.0.5"),
		Prefix: netip.MustParsePrefix("10.77.0.0/24"),
		Router: netip.MustParseAddr("10.77.0.1"),
		DNS:    []netip.Addr{netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("10.77.0.3")},
		MTU:    1400,
		HostRoutes: []Route{
			{Dst: netip.MustParsePrefix("10.88.0.0/16"), NextHop: netip.MustParseAddr("10.77.0.254")},
		},
		LeaseTime:  time.Hour,
		DomainName: "openstack.test",
		Hostname:   "vm-e2e",
		ServerIP:   netip.MustParseAddr("10.77.0.1"),
		ServerMAC:  net.HardwareAddr{0xfa, 0x16, 0x3e, 0x00, 0x77, 0x01},
	}
}

func requireE2E(t *testing.T, bins ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end DHCP client test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Fatal("end-to-end DHCP test needs root (network namespaces, AF_PACKET); run as root or with -short")
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("end-to-end DHCP test needs %q (apt-get install busybox isc-dhcp-client iproute2; see scripts/deps.sh): %v", b, err)
		}
	}
}

func randSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// testBed is a client and a server namespace joined by a veth pair.
type testBed struct {
	clientNS, serverNS string
	clientIf, serverIf string
	clientMAC          net.HardwareAddr
	dir                string
}

func newTestBed(t *testing.T) *testBed {
	t.Helper()
	s := randSuffix(t)
	b := &testBed{
		clientNS:  "wdhcpc-" + s,
		serverNS:  "wdhcps-" + s,
		clientIf:  "wdc" + s,
		serverIf:  "wds" + s,
		clientMAC: net.HardwareAddr{0xfa, 0x16, 0x3e, 0x77, 0x00, 0x05},
		dir:       t.TempDir(),
	}
	for _, ns := range []string{b.clientNS, b.serverNS} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		})
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", b.clientIf, "netns", b.clientNS, "type", "veth", "peer", "name", b.serverIf, "netns", b.serverNS)
	run(t, "ip", "-n", b.clientNS, "link", "set", b.clientIf, "address", b.clientMAC.String(), "up")
	run(t, "ip", "-n", b.serverNS, "link", "set", b.serverIf, "up")
	return b
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// packetSocket opens an AF_PACKET socket bound to ifname inside network
// namespace ns. The setns happens on a locked thread that is thrown away
// afterwards (the goroutine exits without unlocking).
func packetSocket(ns, ifname string) (fd, ifindex int, err error) {
	type result struct{ fd, ifindex int }
	resc := make(chan result, 1)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			errc <- err
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			errc <- fmt.Errorf("AF_PACKET socket: %w", err)
			return
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			errc <- fmt.Errorf("bind to %s: %w", ifname, err)
			return
		}
		resc <- result{fd, ifi.Index}
	}()
	select {
	case r := <-resc:
		return r.fd, r.ifindex, nil
	case err := <-errc:
		return -1, 0, err
	}
}

// testServer answers DHCP on a packet socket with Respond.
type testServer struct {
	mu   sync.Mutex
	seen []string // client message types and outcomes, for assertions and failure logs
}

func (s *testServer) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, fmt.Sprintf(format, args...))
}

func (s *testServer) entries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *testServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.seen, "\n")
}

// startServer serves until the test ends.
func startServer(t *testing.T, b *testBed, lookup LookupFunc) *testServer {
	t.Helper()
	fd, ifindex, err := packetSocket(b.serverNS, b.serverIf)
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	srv := &testServer{}
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		<-done
		unix.Close(fd)
		if t.Failed() {
			t.Logf("server saw:\n%s", srv.log())
		}
	})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				srv.note("recvfrom: %v", err)
				return
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			frame := append([]byte(nil), buf[:n]...)
			reply, err := Respond(frame, lookup)
			if err != nil {
				// Other traffic (IPv6 router solicitations, ARP) lands here too.
				if !errors.Is(err, ErrMalformed) {
					srv.note("Respond: %v", err)
				}
				continue
			}
			what := "?"
			if in, err := parseFrame(frame); err == nil {
				what = in.msg.MessageType().String()
			}
			if reply == nil {
				srv.note("%s -> no reply", what)
				continue
			}
			// Bad replies are still sent: the clients must be the judges.
			if r, err := decodeReply(reply); err != nil {
				srv.note("%s -> bad reply: %v", what, err)
			} else {
				srv.note("%s -> %s to %v/%v", what, r.msg.MessageType(), r.eth.DstMAC, r.ip.DstIP)
			}
			if err := unix.Sendto(fd, reply, 0, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifindex}); err != nil {
				srv.note("sendto: %v", err)
			}
		}
	}()
	return srv
}

// readEnv parses `env` output.
func readEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// waitFile polls for path until the deadline.
func waitFile(t *testing.T, path string, d time.Duration, why func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v\n%s", path, d, why())
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a readiness guess
	}
}

func checkEnv(t *testing.T, env map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := strings.TrimSpace(env[k]); got != v {
			t.Errorf("client's %s = %q, want %q", k, got, v)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a process to write while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestUdhcpc runs busybox udhcpc through a whole lease: DISCOVER/OFFER,
// REQUEST/ACK (raw sockets), a renewal on SIGUSR1 (unicast through the
// client kernel's UDP socket, so the kernel checks our addressing and
// checksums) and a RELEASE on exit.
func TestUdhcpc(t *testing.T) {
	requireE2E(t, "ip", "busybox")
	for _, broadcast := range []bool{false, true} {
		t.Run(fmt.Sprintf("broadcast=%v", broadcast), func(t *testing.T) {
			b := newTestBed(t)
			lease := e2eLease(b.clientMAC)
			// The server namespace holds the server address so that it
			// answers the client's ARP before a unicast renewal, as the
			// agent's ARP responder does.
			run(t, "ip", "-n", b.serverNS, "link", "set", b.serverIf, "address", lease.ServerMAC.String())
			run(t, "ip", "-n", b.serverNS, "addr", "add", "10.77.0.1/24", "dev", b.serverIf)
			srv := startServer(t, b, lookupOf(lease))

			// The script records what udhcpc learnt and sets the address on
			// the client's interface, inside the client namespace only.
			script := filepath.Join(b.dir, "udhcpc.sh")
			writeScript(t, script, fmt.Sprintf(`case "$1" in bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface"
esac
env > %[1]s/udhcpc.$1.tmp && mv %[1]s/udhcpc.$1.tmp %[1]s/udhcpc.$1.env
`, b.dir))
			args := []string{"netns", "exec", b.clientNS, "busybox", "udhcpc",
				"-f", "-n", "-R", "-t", "5", "-T", "1", "-A", "1",
				"-i", b.clientIf, "-s", script,
				"-O", "mtu", "-O", "staticroutes", "-O", "msstaticroutes", "-O", "hostname", "-O", "domain"}
			if broadcast {
				args = append(args, "-B")
			}
			var output syncBuffer
			cmd := exec.Command("ip", args...)
			cmd.Stdout, cmd.Stderr = &output, &output
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				// ip netns exec execs udhcpc in place: this pid is udhcpc's.
				_ = cmd.Process.Kill()
				<-exited
			})
			why := func() string { return fmt.Sprintf("udhcpc output:\n%s\nserver saw:\n%s", output.String(), srv.log()) }

			waitFile(t, filepath.Join(b.dir, "udhcpc.bound.env"), 20*time.Second, why)
			env, err := readEnv(filepath.Join(b.dir, "udhcpc.bound.env"))
			if err != nil {
				t.Fatal(err)
			}
			checkEnv(t, env, map[string]string{
				"interface":      b.clientIf,
				"ip":             "10.77.0.5",
				"subnet":         "255.255.255.0",
				"mask":           "24",
				"broadcast":      "10.77.0.255",
				"router":         "10.77.0.1",
				"dns":            "10.77.0.2 10.77.0.3",
				"mtu":            "1400",
				"staticroutes":   "10.88.0.0/16 10.77.0.254 0.0.0.0/0 10.77.0.1",
				"msstaticroutes": "10.88.0.0/16 10.77.0.254 0.0.0.0/0 10.77.0.1",
				"hostname":       "vm-e2e",
				"domain":         "openstack.test",
				"lease":          "3600",
				"serverid":       "10.77.0.1",
			})

			// Renew now. The renewal is unicast through the client's kernel
			// UDP socket, so only a reply the kernel accepts (addresses,
			// checksums) ends it in one exchange: a retry would show here.
			before := len(srv.entries())
			snmpBefore := udpCounters(t, b.clientNS)
			if err := cmd.Process.Signal(unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			waitFile(t, filepath.Join(b.dir, "udhcpc.renew.env"), 20*time.Second, why)
			env, err = readEnv(filepath.Join(b.dir, "udhcpc.renew.env"))
			if err != nil {
				t.Fatal(err)
			}
			checkEnv(t, env, map[string]string{"ip": "10.77.0.5", "router": "10.77.0.1", "mtu": "1400"})
			renewal := srv.entries()[before:]
			if len(renewal) == 0 || slices.ContainsFunc(renewal, func(e string) bool {
				return e != "REQUEST -> ACK to fa:16:3e:77:00:05/10.77.0.5"
			}) {
				t.Errorf("renewal exchanges = %q, want only unicast ACKs to the client", renewal)
			}
			// The client kernel's IP and UDP layers took our ACKs and
			// found their checksums right.
			snmp := udpCounters(t, b.clientNS)
			if d := snmp["Udp:InDatagrams"] + snmp["Udp:NoPorts"] - snmpBefore["Udp:InDatagrams"] - snmpBefore["Udp:NoPorts"]; d < 1 {
				t.Errorf("client kernel took no UDP datagram during the renewal: %v", snmp)
			}
			for _, k := range []string{"Udp:InCsumErrors", "Udp:InErrors", "Ip:InHdrErrors", "Ip:InAddrErrors"} {
				if snmp[k] != snmpBefore[k] {
					t.Errorf("client kernel counted %s %d -> %d during the renewal", k, snmpBefore[k], snmp[k])
				}
			}

			// Exit, releasing the lease (-R).
			if err := cmd.Process.Signal(unix.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
				exited <- nil // for the cleanup
			case <-time.After(10 * time.Second):
				t.Fatalf("udhcpc did not exit on SIGTERM\n%s", why())
			}
			waitLog(t, srv, "RELEASE -> no reply", 5*time.Second)

			log := srv.log()
			wantDst := "fa:16:3e:77:00:05/10.77.0.5"
			if broadcast {
				wantDst = "ff:ff:ff:ff:ff:ff/255.255.255.255"
			}
			for _, want := range []string{"DISCOVER -> OFFER to " + wantDst, "REQUEST -> ACK to " + wantDst} {
				if !strings.Contains(log, want) {
					t.Errorf("server never saw %q; it saw:\n%s", want, log)
				}
			}
		})
	}
}

// udpCounters reads the Ip and Udp counters of /proc/net/snmp in ns.
func udpCounters(t *testing.T, ns string) map[string]int64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		t.Fatalf("read /proc/net/snmp in %s: %v", ns, err)
	}
	counters := map[string]int64{}
	lines := strings.Split(string(out), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) != len(values) || len(names) == 0 {
			continue
		}
		proto := names[0]
		for j := 1; j < len(names); j++ {
			if v, err := strconv.ParseInt(values[j], 10, 64); err == nil {
				counters[proto+names[j]] = v
			}
		}
	}
	if _, ok := counters["Udp:InCsumErrors"]; !ok {
		t.Fatalf("no Udp:InCsumErrors in /proc/net/snmp of %s:\n%s", ns, out)
	}
	return counters
}

// waitLog polls the server's log for want until the deadline.
func waitLog(t *testing.T, srv *testServer, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(srv.log(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("server never saw %q within %v; it saw:\n%s", want, d, srv.log())
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func TestDhclient(t *testing.T) {
	requireE2E(t, "ip", "dhclient")
	b := newTestBed(t)
	lease := e2eLease(b.clientMAC)
	srv := startServer(t, b, lookupOf(lease))

	conf := filepath.Join(b.dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte(`
option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
option ms-classless-static-routes code 249 = array of unsigned integer 8;
request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers,
	host-name, interface-mtu, rfc3442-classless-static-routes, ms-classless-static-routes;
timeout 30;
initial-interval 1;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The script records each event; it configures nothing on the host or
	// in the namespace.
	script := filepath.Join(b.dir, "dhclient.sh")
	writeScript(t, script, fmt.Sprintf("env > %[1]s/dhclient.$reason.tmp && mv %[1]s/dhclient.$reason.tmp %[1]s/dhclient.$reason.env\n", b.dir))

	var stderr syncBuffer
	cmd := exec.Command("ip", "netns", "exec", b.clientNS, "dhclient", "-d", "-1", "-v",
		"-cf", conf, "-sf", script,
		"-lf", filepath.Join(b.dir, "dhclient.leases"), "-pf", filepath.Join(b.dir, "dhclient.pid"),
		b.clientIf)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// ip netns exec execs dhclient in place: this pid is dhclient's.
		_ = cmd.Process.Kill()
		<-exited
	})
	waitFile(t, filepath.Join(b.dir, "dhclient.BOUND.env"), 30*time.Second, func() string {
		return fmt.Sprintf("dhclient output:\n%s\nserver saw:\n%s", stderr.String(), srv.log())
	})
	env, err := readEnv(filepath.Join(b.dir, "dhclient.BOUND.env"))
	if err != nil {
		t.Fatal(err)
	}
	checkEnv(t, env, map[string]string{
		"interface":                           b.clientIf,
		"new_ip_address":                      "10.77.0.5",
		"new_subnet_mask":                     "255.255.255.0",
		"new_broadcast_address":               "10.77.0.255",
		"new_routers":                         "10.77.0.1",
		"new_domain_name_servers":             "10.77.0.2 10.77.0.3",
		"new_interface_mtu":                   "1400",
		"new_rfc3442_classless_static_routes": "16 10 88 10 77 0 254 0 10 77 0 1",
		"new_ms_classless_static_routes":      "16 10 88 10 77 0 254 0 10 77 0 1",
		"new_host_name":                       "vm-e2e",
		"new_domain_name":                     "openstack.test",
		"new_dhcp_lease_time":                 "3600",
		"new_dhcp_renewal_time":               "1800",
		"new_dhcp_rebinding_time":             "3150",
		"new_dhcp_server_identifier":          "10.77.0.1",
	})
	if log := srv.log(); !strings.Contains(log, "REQUEST -> ACK") {
		t.Errorf("server never acknowledged a request; it saw:\n%s", log)
	}
}
