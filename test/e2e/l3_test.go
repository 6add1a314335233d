package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// router creates a router with an interface on each subnet.
func router(t *testing.T, l *lab.Lab, project string, subnets ...model.Subnet) string {
	t.Helper()
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", project, map[string]any{"router": map[string]any{"name": "r"}}, &r); err != nil {
		t.Fatal(err)
	}
	for _, s := range subnets {
		if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", project, map[string]any{"subnet_id": s.ID}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return r.Router.ID
}

// tcpServe runs a TCP server in the VM that answers "hello".
func tcpServe(t *testing.T, vm *testbed.VM, port int) {
	t.Helper()
	cmd := vm.Command("busybox", "nc", "-ll", "-p", fmt.Sprint(port), "-e", "echo", "hello")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// tcpConnect reports whether a TCP connection from vm to dst:port gets the
// server's greeting within timeout.
func tcpConnect(vm *testbed.VM, dst string, port int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, _ := vm.Exec("busybox", "timeout", "2", "busybox", "nc", "-w", "1", dst, fmt.Sprint(port))
		if strings.Contains(out, "hello") {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// TestDistributedRouting: two subnets behind a router, VMs on two chassis.
// Ping and TCP work across the subnets, and every packet is routed on the
// chassis where it enters: it crosses the underlay once, straight to the
// destination chassis, with the destination network's VNI.
func TestDistributedRouting(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 3)
	n1, s1, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.1.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	n2, s2, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n2", CIDR: "10.2.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	router(t, l, "p1", s1, s2)
	a, _ := boot(t, l, chs[0], "a", "p1", n1, fixed(s1.ID, "10.1.0.10"))
	b, _ := boot(t, l, chs[1], "b", "p1", n2, fixed(s2.ID, "10.2.0.10"))
	// c puts n2 on ch1 too: ch1 routes to n2 through its Neighbour table
	// and n2's L2 stage, while ch2, without a port on n1, routes b's
	// replies by host route.
	c, _ := boot(t, l, chs[0], "c", "p1", n2, fixed(s2.ID, "10.2.0.11"))
	for vm, gw := range map[*testbed.VM]string{a: "10.1.0.1", b: "10.2.0.1", c: "10.2.0.1"} {
		if err := vm.SetGateway(gw); err != nil {
			t.Fatal(err)
		}
	}
	// Security groups admit the default group's members: both VMs are.
	mustPing(t, l, a, "10.1.0.1") // the router answers on every chassis
	mustPing(t, l, a, "10.2.0.10")
	mustPing(t, l, b, "10.1.0.10")
	mustPing(t, l, a, "10.2.0.11") // routed to a port on the same chassis

	capture, err := l.Bed.CaptureUnderlay()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.Ping("10.2.0.10", 5, 10*time.Second); err != nil {
		t.Fatalf("ping a→b: %d: %v", got, err)
	}
	tcpServe(t, b, 5001)
	if !tcpConnect(a, "10.2.0.10", 5001, 10*time.Second) {
		t.Fatalf("TCP a→b across the router failed\n%s", l.Bed.LogTails(10))
	}
	pkts, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	requests := func(vni uint32) int {
		return testbed.Count(pkts, func(p testbed.Packet) bool {
			v, ok := p.Geneve()
			icmp, isICMP := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			return ok && v == vni && isICMP && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest
		})
	}
	// br0 sees each tunnelled packet once (ch1 → ch2).
	if got := requests(uint32(n2.SegmentationID)); got != 5 {
		t.Fatalf("%d echo requests crossed the underlay with n2's VNI, want 5 (one per ping, routed at the source)", got)
	}
	if got := requests(uint32(n1.SegmentationID)); got != 0 {
		t.Fatalf("%d echo requests crossed with n1's VNI: routing did not happen on the source chassis", got)
	}
	// ch3 serves neither network: it holds no flow of theirs.
	if fl := flowsMention(t, chs[2], "10.2.0.10"); len(fl) > 0 {
		t.Fatalf("ch3 holds flows of n2:\n%s", strings.Join(fl, "\n"))
	}
}
