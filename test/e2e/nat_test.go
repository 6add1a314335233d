package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// natLeaseTTL is the agents' lease in the NAT test: a dead gateway's
// heartbeat is gone at most this long after its last renewal.
const natLeaseTTL = 2 * time.Second

// failoverBound is the stated bound on a gateway failover: the lease TTL,
// plus etcd's expiry scan (500 ms) and one watch round-trip,
// recompilation and flow bundle on the surviving chassis (well under
// 500 ms on the test bed).
const failoverBound = natLeaseTTL + time.Second

// natRefresh is how often the NAT test's agents ask the outside host's
// MAC again; refreshBound is the stated bound for following a change of
// it: a refresh, one retry (250 ms), a recompilation and a 1 s ping.
const (
	natRefresh   = time.Second
	refreshBound = natRefresh + 3*time.Second
)

// extNet is the external network: flat, on physnet1, 203.0.113.0/24 with
// the outside host 203.0.113.1 as its gateway.
// waitFIPActive waits until the API reports floating IP id ACTIVE (its
// chassis reports it programmed; the server marks it), for 10 s at most.
func waitFIPActive(t *testing.T, l *lab.Lab, project, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var f fipOut
		err := l.Do("GET", "/v2.0/floatingips/"+id, project, nil, &f)
		if err == nil && f.FloatingIP.Status == model.StatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("floating IP %s (%s): status %q after 10 s (%v)", id, f.FloatingIP.FloatingIPAddress, f.FloatingIP.Status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// routedOut makes project p1's network n1 (10.1.0.0/24) behind a router r
// whose gateway is on the external network ext.
func routedOut(t *testing.T, l *lab.Lab, ext model.Network) (model.Network, model.Subnet, model.Router) {
	t.Helper()
	n1, s1, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.1.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{"name": "r",
		"external_gateway_info": map[string]any{"network_id": ext.ID}}}, &r); err != nil {
		t.Fatal(err)
	}
	if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "p1", map[string]any{"subnet_id": s1.ID}, nil); err != nil {
		t.Fatal(err)
	}
	return n1, s1, r.Router
}

func extNet(t *testing.T, l *lab.Lab) (model.Network, model.Subnet) {
	t.Helper()
	var n struct{ Network model.Network }
	if err := l.Do("POST", "/v2.0/networks", "admin", map[string]any{"network": map[string]any{
		"name": "ext", "router:external": true, "provider:network_type": "flat",
		"provider:physical_network": "physnet1"}}, &n); err != nil {
		t.Fatal(err)
	}
	var s struct{ Subnet model.Subnet }
	if err := l.Do("POST", "/v2.0/subnets", "admin", map[string]any{"subnet": map[string]any{
		"network_id": n.Network.ID, "cidr": "203.0.113.0/24", "ip_version": 4, "gateway_ip": "203.0.113.1",
		"enable_dhcp":      false,
		"allocation_pools": []map[string]string{{"start": "203.0.113.10", "end": "203.0.113.99"}}}}, &s); err != nil {
		t.Fatal(err)
	}
	return n.Network, s.Subnet
}

type fipOut struct {
	FloatingIP struct {
		ID                string `json:"id"`
		FloatingIPAddress string `json:"floating_ip_address"`
		Status            string `json:"status"`
		PortID            string `json:"port_id"`
	} `json:"floatingip"`
}

// associate points a floating IP at a port ("" disassociates).
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

// waitPing pings dst from h until a reply comes back, and returns how long
// it took.
func waitPing(t *testing.T, h *testbed.Host, dst string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if n, _ := h.Ping(dst, 1, time.Second); n == 1 {
			return time.Since(start)
		}
	}
	t.Fatalf("%s → %s: no reply within %s", h.Name, dst, d)
	return 0
}

// outsideTCP reports whether a TCP connection from the outside to
// dst:port gets the greeting within timeout.
func outsideTCP(h *testbed.Host, dst string, port int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, _ := h.Exec("busybox", "timeout", "2", "busybox", "nc", "-w", "1", dst, strconv.Itoa(port))
		if strings.Contains(out, "hello") {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// ipv4Sources lists the source addresses of captured IPv4 ICMP packets of
// the given type.
func ipv4Sources(pkts []testbed.Packet, typ uint8) map[string]int {
	out := map[string]int{}
	for _, p := range pkts {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		icmp, ok2 := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if ok && ok2 && icmp.TypeCode.Type() == typ {
			out[ip.SrcIP.String()]++
		}
	}
	return out
}

var icmpSeq = regexp.MustCompile(`icmp_seq=(\d+)`)

// longestGap is the longest run of unanswered echo requests in ping's
// output, times the interval.
func longestGap(out string, sent int, interval time.Duration) time.Duration {
	got := map[int]bool{}
	for _, m := range icmpSeq.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		got[n] = true
	}
	longest, run := 0, 0
	for seq := 1; seq <= sent; seq++ {
		if got[seq] {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return time.Duration(longest) * interval
}

// TestExternalNAT: a provider network (flat, physnet1) reached through
// br-ex on three chassis: two gateways (gw1, gw2) and a compute chassis
// (ch1); ch2 has no bridge mapping. The outside host (203.0.113.1) is the
// external subnet's gateway.
//
//   - A floating IP of a VM on ch1 is NATed on ch1 (distributed): the
//     outside reaches the VM by ping and TCP, and the replies leave with
//     the floating IP as source; a floating IP of a VM on ch2 is NATed on
//     the router's active gateway (centralized). Both turn ACTIVE.
//   - A VM without a floating IP reaches the outside through SNAT to the
//     router's gateway address.
//   - Disassociated, a floating IP no longer reaches its VM; associated to
//     another port, it reaches that one at once.
//   - When the active gateway dies (its agent killed with kill -9, its
//     links cut) SNAT moves to the other gateway within failoverBound,
//     measured with a 20 ms ping.
func TestExternalNAT(t *testing.T) {
	ttl := fmt.Sprintf("%ds", int(natLeaseTTL.Seconds()))
	l := newLab(t, lab.Options{AgentArgs: []string{"--lease-ttl", ttl, "--external-nexthop-refresh", natRefresh.String()}})
	outside, err := l.Bed.AddExternalHost("outside", netip.MustParsePrefix("203.0.113.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	omac, err := outside.MAC()
	if err != nil {
		t.Fatal(err)
	}
	brEx := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-ex") }
	// No --external-nexthop-mac: the chassis that NAT resolve the outside
	// host (the external subnet's gateway) by ARP.
	mapped := []string{"--bridge-mappings", "physnet1:br-ex"}
	gws := map[string]*testbed.Chassis{}
	for _, name := range []string{"gw1", "gw2"} {
		ch, err := l.AddChassisWith(name, brEx, append(mapped, "--gateway"))
		if err != nil {
			t.Fatal(err)
		}
		gws[name] = ch
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
	n1, s1, router := routedOut(t, l, ext)
	if router.Gateway == nil || len(router.Gateway.ExternalFixedIPs) == 0 {
		t.Fatalf("router without a gateway address: %+v", router)
	}
	gwIP := router.Gateway.ExternalFixedIPs[0].IPAddress

	open := secGroup(t, l, "p1", "open")
	rule(t, l, "p1", map[string]any{"security_group_id": open, "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"})
	rule(t, l, "p1", map[string]any{"security_group_id": open, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "tcp", "port_range_min": 5001, "port_range_max": 5002})
	with := func(ip string) map[string]any {
		m := fixed(s1.ID, ip)
		m["security_groups"] = []string{open}
		return m
	}
	a, pa := boot(t, l, ch1, "a", "p1", n1, with("10.1.0.10"))
	b, pb := boot(t, l, ch2, "b", "p1", n1, with("10.1.0.11"))
	c, pc := boot(t, l, ch2, "c", "p1", n1, with("10.1.0.12"))
	for _, vm := range []*testbed.VM{a, b, c} {
		if err := vm.SetGateway("10.1.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	tcpServe(t, a, 5001)
	tcpServe(t, b, 5001)
	tcpServe(t, c, 5002)

	newFIP := func(port string) (id, addr string) {
		var f fipOut
		if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
			"floating_network_id": ext.ID, "port_id": port}}, &f); err != nil {
			t.Fatal(err)
		}
		return f.FloatingIP.ID, f.FloatingIP.FloatingIPAddress
	}
	fipA, addrA := newFIP(pa.ID)
	fipB, addrB := newFIP(pb.ID)

	t.Run("floating IP, distributed", func(t *testing.T) {
		took := waitPing(t, outside, addrA, 10*time.Second)
		t.Logf("outside → %s (a on ch1) after %s", addrA, took)
		capture, err := outside.Capture("eth0", "icmp")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := outside.Ping(addrA, 3, 5*time.Second); err != nil {
			t.Fatalf("ping %s: %d: %v", addrA, n, err)
		}
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if src := ipv4Sources(pkts, layers.ICMPv4TypeEchoReply); src[addrA] < 3 || len(src) != 1 {
			t.Fatalf("echo replies by source: %v, want only %s", src, addrA)
		}
		if !outsideTCP(outside, addrA, 5001, 10*time.Second) {
			t.Fatal("TCP outside → floating IP of a failed")
		}
		// The replies left for the outside host's MAC, which ch1 learned
		// by ARP (no --external-nexthop-mac).
		if fl := flowsMention(t, ch1, omac); len(fl) == 0 {
			t.Fatalf("ch1 sends nothing to the outside host's MAC %s", omac)
		}
		// NATed on ch1 itself: no gateway holds a's floating IP.
		for _, gw := range gws {
			if fl := flowsMention(t, gw, addrA); len(fl) > 0 {
				t.Fatalf("%s holds flows of %s:\n%s", gw.Name, addrA, strings.Join(fl, "\n"))
			}
		}
	})

	t.Run("floating IP, centralized", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				logFlows(t, ch2, gws["gw1"], gws["gw2"])
			}
		}()
		took := waitPing(t, outside, addrB, 10*time.Second)
		t.Logf("outside → %s (b on ch2, no bridge mapping) after %s", addrB, took)
		if !outsideTCP(outside, addrB, 5001, 10*time.Second) {
			t.Fatal("TCP outside → floating IP of b failed")
		}
		capture, err := outside.Capture("eth0", "icmp")
		if err != nil {
			t.Fatal(err)
		}
		mustPing(t, l, b, "203.0.113.1") // b's own connections leave with its floating IP
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if src := ipv4Sources(pkts, layers.ICMPv4TypeEchoRequest); src[addrB] < 2 || len(src) != 1 {
			t.Fatalf("echo requests by source: %v, want only %s", src, addrB)
		}
	})

	t.Run("floating IP status", func(t *testing.T) {
		for _, id := range []string{fipA, fipB} {
			waitFIPActive(t, l, "p1", id)
		}
	})

	t.Run("SNAT", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				logFlows(t, ch2, gws["gw1"], gws["gw2"])
			}
		}()
		capture, err := outside.Capture("eth0", "icmp")
		if err != nil {
			t.Fatal(err)
		}
		mustPing(t, l, c, "203.0.113.1")
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if src := ipv4Sources(pkts, layers.ICMPv4TypeEchoRequest); src[gwIP] < 2 || len(src) != 1 {
			t.Fatalf("echo requests by source: %v, want only the router's gateway %s", src, gwIP)
		}
		cmd := outside.Command("busybox", "nc", "-ll", "-p", "6000", "-e", "echo", "hello")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if !tcpConnect(c, "203.0.113.1", 6000, 10*time.Second) {
			t.Fatal("TCP c → outside through SNAT failed")
		}
	})

	t.Run("disassociate and re-associate", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				logFlows(t, ch1, gws["gw1"], gws["gw2"])
				fdb, _ := l.Bed.UnderlayNode().Exec("bridge", "fdb", "show", "br", testbed.ExternalBridge)
				neigh, _ := outside.Exec("ip", "neigh")
				t.Logf("external fdb:\n%s\noutside neighbours:\n%s", fdb, neigh)
				for _, ch := range []*testbed.Chassis{ch1, gws["gw1"], gws["gw2"]} {
					out, _ := ch.Appctl("fdb/show", "br-ex")
					t.Logf("br-ex fdb of %s:\n%s", ch.Name, out)
				}
			}
		}()
		associate(t, l, fipA, "")
		waitNoFlows(t, ch1, addrA)
		if got, _ := outside.Ping(addrA, 3, 3*time.Second); got != 0 {
			t.Fatalf("outside → %s after disassociation: %d replies", addrA, got)
		}
		start := time.Now()
		associate(t, l, fipA, pc.ID)
		took := waitPing(t, outside, addrA, 10*time.Second)
		t.Logf("re-associated %s to c (ch2): reachable after %s (API call included: %s)", addrA, took, time.Since(start))
		if !outsideTCP(outside, addrA, 5002, 10*time.Second) {
			t.Fatal("TCP outside → re-associated floating IP (c:5002) failed")
		}
		if outsideTCP(outside, addrA, 5001, 3*time.Second) {
			t.Fatal("the floating IP still reaches a")
		}
		// a has no floating IP any more: it goes out through SNAT.
		mustPing(t, l, a, "203.0.113.1")
	})

	t.Run("gateway failover", func(t *testing.T) {
		active := ""
		for name, gw := range gws {
			if len(flowsMention(t, gw, "nat(src="+gwIP+")")) > 0 {
				active = name
			}
		}
		if active == "" {
			t.Fatal("no gateway chassis SNATs for the router")
		}
		// The standby resolved the outside host already, by ARP probe (it
		// answers for no address there): at takeover its NAT flows and
		// its way out come in one bundle.
		for name, gw := range gws {
			if name == active {
				continue
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				b, _ := os.ReadFile(filepath.Join(gw.RunDir, "wyvern-agent.log"))
				if strings.Contains(string(b), `msg="upstream router resolved" chassis=`+name+` ip=203.0.113.1 mac=`+omac) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("standby %s has not resolved the outside host %s", name, omac)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		const interval = 20 * time.Millisecond
		const count = 400 // 8 s
		wait := fastPing(t, a, "203.0.113.1", interval, count)
		time.Sleep(time.Second) // a steady stream first
		// The chassis dies: its agent (kill -9) and its datapath (links
		// down: the stale flows it keeps must not carry the traffic).
		if err := l.KillAgent(gws[active]); err != nil {
			t.Fatal(err)
		}
		if err := gws[active].SetLinks(false); err != nil {
			t.Fatal(err)
		}
		st := wait()
		gap := longestGap(st.out, st.sent, interval)
		t.Logf("active gateway %s killed %s into the run: %d/%d replies, longest outage %s (bound %s)",
			active, time.Second, st.received, st.sent, gap, failoverBound)
		if st.received == 0 || gap == 0 && st.received < st.sent {
			t.Fatalf("ping through SNAT: %d/%d", st.received, st.sent)
		}
		if gap > failoverBound {
			t.Fatalf("SNAT outage %s exceeds the bound %s", gap, failoverBound)
		}
		for name, gw := range gws {
			if name != active && len(flowsMention(t, gw, "nat(src="+gwIP+")")) == 0 {
				t.Fatalf("%s did not take over the router's SNAT", name)
			}
		}
		// The tail of the run is answered: SNAT resumed for good.
		tail := st.out[max(0, len(st.out)-2000):]
		if !strings.Contains(tail, "bytes from 203.0.113.1") {
			t.Fatalf("no replies at the end of the run:\n%s", tail)
		}
	})

	t.Run("the outside host's MAC changes", func(t *testing.T) {
		// The NATing chassis learned it by ARP and keep asking: the new
		// MAC replaces the old one at the next refresh.
		const newMAC = "02:00:cb:00:71:99"
		if _, err := outside.Exec("ip", "link", "set", "eth0", "address", newMAC); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			if n, _ := a.Ping("203.0.113.1", 1, time.Second); n == 1 {
				break
			}
			if time.Since(start) > refreshBound {
				t.Fatalf("a → 203.0.113.1 (SNAT) still fails %s after the outside host's MAC changed", refreshBound)
			}
		}
		t.Logf("outside host's MAC %s → %s: SNAT answered again after %s (refresh %s, bound %s)",
			omac, newMAC, time.Since(start).Round(time.Millisecond), natRefresh, refreshBound)
		// The surviving gateway (the dead one keeps its stale flows)
		// sends to the new MAC only.
		moved := false
		for name, gw := range gws {
			if len(flowsMention(t, gw, newMAC)) > 0 {
				moved = true
				if old := flowsMention(t, gw, omac); len(old) > 0 {
					t.Fatalf("%s still sends to the old MAC:\n%s", name, strings.Join(old, "\n"))
				}
			}
		}
		if !moved {
			t.Fatal("no gateway sends to the outside host's new MAC")
		}
	})
}

// logFlows logs the br-int flows of the chassis, for a failing test.
func logFlows(t *testing.T, chs ...*testbed.Chassis) {
	t.Helper()
	for _, ch := range chs {
		flows, err := ch.DumpFlows("br-int")
		t.Logf("flows of %s (%v):\n%s", ch.Name, err, strings.Join(flows, "\n"))
		dp, err := ch.Appctl("dpctl/dump-flows")
		t.Logf("datapath flows of %s (%v):\n%s", ch.Name, err, dp)
		ct, err := ch.Appctl("dpctl/dump-conntrack")
		t.Logf("conntrack of %s (%v):\n%s", ch.Name, err, ct)
	}
}
