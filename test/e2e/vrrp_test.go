package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// rawIPEnv makes the test binary a raw IP helper instead of running the
// tests (see runRawIPHelper): the tests start it inside a VM's namespace
// to send or receive packets of any IP protocol.
const rawIPEnv = "WYVERN_E2E_RAWIP"

// protoVRRP is VRRP's IP protocol number.
const protoVRRP = 112

// runRawIPHelper is the helper's main. Its arguments (in rawIPEnv,
// space-separated):
//
//	send <dst> <proto> <token> <interval>  send packets carrying token until killed
//	recv <proto> <token>                   print "ready" once listening, then
//	                                       "got <src>" for each packet carrying token
func runRawIPHelper(spec string) int {
	args := strings.Fields(spec)
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "rawip:", err); return 2 }
	if len(args) < 3 {
		return fail(fmt.Errorf("bad spec %q", spec))
	}
	switch args[0] {
	case "send":
		if len(args) != 5 {
			return fail(fmt.Errorf("bad spec %q", spec))
		}
		dst, err := netip.ParseAddr(args[1])
		proto, err2 := strconv.Atoi(args[2])
		every, err3 := time.ParseDuration(args[4])
		if err := errors.Join(err, err2, err3); err != nil {
			return fail(err)
		}
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, proto)
		if err != nil {
			return fail(err)
		}
		to := &syscall.SockaddrInet4{Addr: dst.As4()}
		for {
			if err := syscall.Sendto(fd, []byte(args[3]), 0, to); err != nil {
				fmt.Fprintln(os.Stderr, "rawip: send:", err) // e.g. no neighbour yet: keep trying
			}
			time.Sleep(every)
		}
	case "recv":
		proto, err := strconv.Atoi(args[1])
		if err != nil {
			return fail(err)
		}
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, proto)
		if err != nil {
			return fail(err)
		}
		fmt.Println("ready")
		buf := make([]byte, 2048)
		for {
			n, from, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil {
				return fail(err)
			}
			// A raw IPv4 socket returns the IP header too; the token is
			// the payload.
			if strings.Contains(string(buf[:n]), args[2]) {
				if a, ok := from.(*syscall.SockaddrInet4); ok {
					fmt.Println("got", netip.AddrFrom4(a.Addr))
				}
			}
		}
	}
	return fail(fmt.Errorf("bad spec %q", spec))
}

// rawIP starts the raw IP helper in vm's namespace, stopped at the end of
// the test.
func rawIP(t *testing.T, vm *testbed.VM, spec string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := vm.Command(self)
	cmd.Env = append(os.Environ(), rawIPEnv+"="+spec)
	cmd.Stderr = os.Stderr
	return cmd
}

// vrrpReceiver listens for protocol 112 packets carrying token in vm and
// sends their sources on the returned channel, once it is listening.
func vrrpReceiver(t *testing.T, vm *testbed.VM, token string) <-chan string {
	t.Helper()
	cmd := rawIP(t, vm, fmt.Sprintf("recv %d %s", protoVRRP, token))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready, got := make(chan struct{}), make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "ready":
				close(ready)
			case strings.HasPrefix(line, "got "):
				select {
				case got <- strings.TrimPrefix(line, "got "):
				default:
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("raw IP receiver not listening after 10s")
	}
	return got
}

// TestVRRPAllowedByRule: an IP protocol 112 (VRRP) packet from a to b, on
// two chassis, is dropped while b's group has no rule for it and passes
// once an ingress rule "protocol vrrp" is added. Until Neutron's protocol
// names had one table, the API stored such a rule and the agent ignored
// it.
func TestVRRPAllowedByRule(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "vrrp", CIDR: "10.5.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	peers := secGroup(t, l, "p1", "keepalived")
	rule(t, l, "p1", map[string]any{"security_group_id": peers, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "icmp", "remote_ip_prefix": "10.5.0.0/24"})
	with := func(ip string) map[string]any {
		m := fixed(sub.ID, ip)
		m["security_groups"] = []string{peers}
		return m
	}
	a, _ := boot(t, l, chs[0], "a", "p1", n, with("10.5.0.10"))
	b, _ := boot(t, l, chs[1], "b", "p1", n, with("10.5.0.11"))
	// The path between a and b is up (flows, neighbours): ICMP is allowed.
	mustPing(t, l, a, "10.5.0.11")

	token := fmt.Sprintf("wyvern-vrrp-%d", time.Now().UnixNano())
	got := vrrpReceiver(t, b, token)
	send := rawIP(t, a, fmt.Sprintf("send 10.5.0.11 %d %s 50ms", protoVRRP, token))
	if err := send.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = send.Process.Kill(); _ = send.Wait() })

	// Without a rule: 40 packets over 2 s, none delivered. (A fixed
	// window: absence cannot be waited for.)
	select {
	case src := <-got:
		t.Fatalf("VRRP packet from %s delivered without a rule allowing it", src)
	case <-time.After(2 * time.Second):
	}

	rule(t, l, "p1", map[string]any{"security_group_id": peers, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "vrrp", "remote_ip_prefix": "10.5.0.0/24"})
	select {
	case src := <-got:
		if src != "10.5.0.10" {
			t.Fatalf("VRRP packet from %s, want 10.5.0.10", src)
		}
	case <-time.After(15 * time.Second):
		flows, _ := b.Chassis.Ofctl("dump-flows", "br-int")
		t.Fatalf("no VRRP packet delivered 15s after the vrrp rule was added; flows of %s:\n%s\n%s",
			b.Chassis.Name, flows, l.Bed.LogTails(15))
	}
}
