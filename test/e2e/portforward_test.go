package e2e

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
	"github.com/wyvern-sdn/wyvern/internal/trace"
)

// TestPortForwarding: floating-IP port forwarding with real packets. The
// outside host (203.0.113.1) is the external subnet's gateway; gw1 is the
// router's gateway chassis, ch1 maps the external network, ch2 does not.
//
//   - A floating IP forwarding tcp/2222 to VM a's port 22 (a on ch1): the
//     outside reaches a's server through it, every packet the outside sees
//     comes from the floating IP's port 2222, and ports not forwarded (a's
//     server on 23, and 22 itself) are not reached. ch1 NATs it; the
//     gateway holds none of it.
//   - A floating IP forwarding tcp/2222 to VM b's port 22 (b on ch2,
//     without the external network): served by the gateway chassis.
//   - Deleting the forwarding stops it.
func TestPortForwarding(t *testing.T) {
	l := newLab(t, lab.Options{})
	outside, err := l.Bed.AddExternalHost("outside", netip.MustParsePrefix("203.0.113.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	brEx := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-ex") }
	mapped := []string{"--bridge-mappings", "physnet1:br-ex"}
	gw1, err := l.AddChassisWith("gw1", brEx, append(mapped, "--gateway"))
	if err != nil {
		t.Fatal(err)
	}
	ch1, err := l.AddChassisWith("ch1", brEx, mapped)
	if err != nil {
		t.Fatal(err)
	}
	ch2, err := l.AddChassis("ch2")
	if err != nil {
		t.Fatal(err)
	}

	ext, _ := extNet(t, l)
	n1, s1, _ := routedOut(t, l, ext)
	sg := secGroup(t, l, "p1", "ssh")
	rule(t, l, "p1", map[string]any{"security_group_id": sg, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "tcp", "port_range_min": 22, "port_range_max": 23})
	with := func(ip string) map[string]any {
		m := fixed(s1.ID, ip)
		m["security_groups"] = []string{sg}
		return m
	}
	a, pa := boot(t, l, ch1, "a", "p1", n1, with("10.1.0.10"))
	b, pb := boot(t, l, ch2, "b", "p1", n1, with("10.1.0.11"))
	for _, vm := range []*testbed.VM{a, b} {
		if err := vm.SetGateway("10.1.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	tcpServe(t, a, 22)
	tcpServe(t, a, 23)
	tcpServe(t, b, 22)

	forward := func(port model.Port) (fipID, addr, pfID string) {
		var f fipOut
		if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
			"floating_network_id": ext.ID}}, &f); err != nil {
			t.Fatal(err)
		}
		var pf struct {
			PortForwarding model.PortForwarding `json:"port_forwarding"`
		}
		if err := l.Do("POST", "/v2.0/floatingips/"+f.FloatingIP.ID+"/port_forwardings", "p1", map[string]any{
			"port_forwarding": map[string]any{"protocol": "tcp", "external_port": 2222, "internal_port": 22,
				"internal_port_id": port.ID}}, &pf); err != nil {
			t.Fatal(err)
		}
		return f.FloatingIP.ID, f.FloatingIP.FloatingIPAddress, pf.PortForwarding.ID
	}
	fipA, addrA, pfA := forward(pa)
	_, addrB, _ := forward(pb)

	t.Run("distributed", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				logFlows(t, ch1, gw1)
			}
		}()
		start := time.Now()
		capture, err := outside.Capture("eth0", "tcp")
		if err != nil {
			t.Fatal(err)
		}
		if !outsideTCP(outside, addrA, 2222, 15*time.Second) {
			_, _ = capture.Stop()
			t.Fatalf("outside → %s:2222 (a:22 on ch1) failed", addrA)
		}
		t.Logf("outside → %s:2222 reached a:22 after %s", addrA, time.Since(start).Round(time.Millisecond))
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		// What comes back to the outside comes from the floating IP's
		// forwarded port, never from the VM's address or port.
		replies := 0
		for _, p := range pkts {
			ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			tcp, ok2 := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if !ok || !ok2 || ip.SrcIP.String() == "203.0.113.1" {
				continue
			}
			if ip.SrcIP.String() != addrA || tcp.SrcPort != 2222 {
				t.Fatalf("a packet to the outside from %s:%d, want only %s:2222", ip.SrcIP, tcp.SrcPort, addrA)
			}
			replies++
		}
		if replies == 0 {
			t.Fatal("no reply captured on the outside")
		}
		// Ports not forwarded are not reached: a's other server, and the
		// internal port itself.
		for _, port := range []int{23, 22, 2223} {
			if outsideTCP(outside, addrA, port, 3*time.Second) {
				t.Fatalf("outside → %s:%d reached a VM, but only 2222 is forwarded", addrA, port)
			}
		}
		// ch1 NATs it; the gateway holds none of it.
		if fl := flowsMention(t, ch1, "nat(dst=10.1.0.10:22)"); len(fl) == 0 {
			t.Fatal("ch1 has no DNAT flow for the forwarding")
		}
		if fl := flowsMention(t, gw1, addrA); len(fl) > 0 {
			t.Fatalf("gw1 holds flows of %s:\n%s", addrA, strings.Join(fl, "\n"))
		}
		// wyvernctl trace shows the DNAT, on ch1, and the drop of a port
		// not forwarded.
		out, _ := wyvernctlTrace(t, l, nil, "--from-external="+ext.Name, "tcp, src 203.0.113.1:40000, dst "+addrA+":2222")
		if nat := stepOf(out.Logical, trace.StageNAT); out.Logical.Verdict != trace.Delivered || out.Logical.Dest == nil ||
			out.Logical.Dest.ID != pa.ID || nat == nil || nat.Chassis != "ch1" || !strings.Contains(nat.Detail, "→ 10.1.0.10:22") {
			t.Fatalf("trace to %s:2222: %+v", addrA, out.Logical)
		}
		out, _ = wyvernctlTrace(t, l, nil, "--from-external="+ext.Name, "tcp, dst "+addrA+":23")
		if out.Logical.Verdict != trace.Drop {
			t.Fatalf("trace to %s:23: %+v", addrA, out.Logical)
		}
	})

	t.Run("centralized", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				logFlows(t, ch2, gw1)
			}
		}()
		if !outsideTCP(outside, addrB, 2222, 15*time.Second) {
			t.Fatalf("outside → %s:2222 (b:22 on ch2, through gw1) failed", addrB)
		}
		if fl := flowsMention(t, gw1, "nat(dst=10.1.0.11:22)"); len(fl) == 0 {
			t.Fatal("gw1 has no DNAT flow for b's forwarding")
		}
	})

	t.Run("status", func(t *testing.T) {
		waitFIPActive(t, l, "p1", fipA)
	})

	t.Run("delete stops it", func(t *testing.T) {
		if err := l.Do("DELETE", "/v2.0/floatingips/"+fipA+"/port_forwardings/"+pfA, "p1", nil, nil); err != nil {
			t.Fatal(err)
		}
		waitNoFlows(t, ch1, "nat(dst=10.1.0.10:22)")
		if outsideTCP(outside, addrA, 2222, 3*time.Second) {
			t.Fatalf("outside → %s:2222 still reaches a after the forwarding was deleted", addrA)
		}
		// a's server itself still runs: a's own traffic is untouched.
		if !tcpConnect(b, "10.1.0.10", 22, 10*time.Second) {
			t.Fatal("b → a:22 failed: the server is gone, the test proves nothing")
		}
	})
}
