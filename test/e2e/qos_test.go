package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// iperfRate runs iperf3 from client to server's address for secs seconds
// (reverse: the server sends) and returns the receiver's rate in Mbit/s.
func iperfRate(t *testing.T, client *testbed.VM, server string, secs int, reverse bool) float64 {
	t.Helper()
	args := []string{"iperf3", "-c", server, "-t", fmt.Sprint(secs), "-O", "1", "-J", "--connect-timeout", "3000"}
	if reverse {
		args = append(args, "-R")
	}
	// The server takes a moment to finish a test after its client: until
	// then it answers "busy", or resets the new control connection. Such
	// a run measured nothing and is run again.
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := client.Exec(args...)
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
			Error string `json:"error"`
		}
		jerr := json.Unmarshal([]byte(out), &r)
		if jerr == nil && retryable(r.Error) && time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		if jerr != nil || err != nil || r.Error != "" {
			t.Fatalf("iperf3 %v: %v %v %s\n%s", args, err, jerr, r.Error, out)
		}
		return r.End.SumReceived.BitsPerSecond / 1e6
	}
}

// rateNear measures until a run lands within tol of want Mbit/s, at most
// tries runs, and fails with every figure measured otherwise. On a
// loaded machine a run may come out low (the sender starved of CPU); the
// figures are reported as measured.
func rateNear(t *testing.T, what string, want, tol float64, tries int, measure func() float64) float64 {
	t.Helper()
	var got []string
	for i := 0; i < tries; i++ {
		r := measure()
		got = append(got, fmt.Sprintf("%.2f", r))
		if r >= want*(1-tol) && r <= want*(1+tol) {
			t.Logf("%s: %.2f Mbit/s (limit %.0f; runs %s)", what, r, want, strings.Join(got, ", "))
			return r
		}
	}
	t.Fatalf("%s: %s Mbit/s, want %.0f ±%.0f %%", what, strings.Join(got, ", "), want, tol*100)
	return 0
}

// waitMeters waits until br-int's flows use n meters ("meter:" actions).
func waitMeters(t *testing.T, ch *testbed.Chassis, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := len(flowsMention(t, ch, "meter:"))
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			flows, _ := ch.Ofctl("dump-flows", ch.Mgmt("br-int"))
			t.Fatalf("%s: %d flows with a meter, want %d\n%s", ch.Name, got, n, flows)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestQoS: a port's QoS policy, with real packets through the userspace
// datapath: a 10 Mbit/s bandwidth_limit in each direction measured by
// iperf3, a dscp_marking seen in a capture, full rate again once the
// policy is detached, and a network's policy giving way to the port's.
func TestQoS(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	off := false
	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "qos", CIDR: "10.61.0.0/24", PortSecurity: &off})
	if err != nil {
		t.Fatal(err)
	}
	vm1, p1 := boot(t, l, chs[0], "vm1", "p1", n, nil)
	vm2, p2 := boot(t, l, chs[1], "vm2", "p1", n, nil)
	mustPing(t, l, vm1, lab.FixedIP(p2))
	srv := vm2.Command("iperf3", "-s", "-p", "5201")
	if err := vm2.StartProcess("iperf3", srv); err != nil {
		t.Fatal(err)
	}
	ip2 := lab.FixedIP(p2)
	// The server listens once a client gets through.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := vm1.Exec("iperf3", "-c", ip2, "-t", "1", "--connect-timeout", "1000"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("iperf3 server never answered")
		}
		time.Sleep(200 * time.Millisecond)
	}

	var pol struct{ Policy model.QoSPolicy }
	if err := l.Do("POST", "/v2.0/qos/policies", "p1", map[string]any{"policy": map[string]any{"name": "ten"}}, &pol); err != nil {
		t.Fatal(err)
	}
	rules := "/v2.0/qos/policies/" + pol.Policy.ID
	for _, dir := range []string{"egress", "ingress"} {
		if err := l.Do("POST", rules+"/bandwidth_limit_rules", "p1", map[string]any{"bandwidth_limit_rule": map[string]any{
			"max_kbps": 10000, "direction": dir}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Do("POST", rules+"/dscp_marking_rules", "p1", map[string]any{"dscp_marking_rule": map[string]any{"dscp_mark": 46}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Do("PUT", "/v2.0/ports/"+p1.ID, "p1", map[string]any{"port": map[string]any{"qos_policy_id": pol.Policy.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	// Egress: the QoS table's three flows; ingress: vm1's L2Lookup flow.
	waitMeters(t, chs[0], 4)

	rateNear(t, "egress (vm1 sends)", 10, 0.15, 3, func() float64 { return iperfRate(t, vm1, ip2, 8, false) })
	rateNear(t, "ingress (vm1 receives)", 10, 0.15, 3, func() float64 { return iperfRate(t, vm1, ip2, 8, true) })

	// DSCP 46 (EF) on what vm1 sends, as vm2 receives it.
	capture, err := vm2.Capture("eth0", "icmp")
	if err != nil {
		t.Fatal(err)
	}
	mustPing(t, l, vm1, ip2)
	err = capture.WaitFor(10*time.Second, 1, func(p testbed.Packet) bool {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		icmp, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		return ok && icmp != nil && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest && ip.TOS>>2 == 46
	})
	if err != nil {
		text, _ := capture.Text()
		t.Fatalf("no echo request with DSCP 46 at vm2: %v\n%s", err, text)
	}
	if _, err := capture.Stop(); err != nil {
		t.Fatal(err)
	}

	// Detached, the port runs at full rate again.
	if err := l.Do("PUT", "/v2.0/ports/"+p1.ID, "p1", map[string]any{"port": map[string]any{"qos_policy_id": nil}}, nil); err != nil {
		t.Fatal(err)
	}
	waitMeters(t, chs[0], 0)
	for _, reverse := range []bool{false, true} {
		if r := iperfRate(t, vm1, ip2, 4, reverse); r < 30 {
			t.Fatalf("without a policy (reverse %v): %.2f Mbit/s, want well above the 10 Mbit/s limit", reverse, r)
		} else {
			t.Logf("without a policy (reverse %v): %.1f Mbit/s", reverse, r)
		}
	}

	// A network's policy applies to its ports; the port's own wins.
	var netPol struct{ Policy model.QoSPolicy }
	if err := l.Do("POST", "/v2.0/qos/policies", "p1", map[string]any{"policy": map[string]any{"name": "net"}}, &netPol); err != nil {
		t.Fatal(err)
	}
	if err := l.Do("POST", "/v2.0/qos/policies/"+netPol.Policy.ID+"/bandwidth_limit_rules", "p1", map[string]any{
		"bandwidth_limit_rule": map[string]any{"max_kbps": 20000}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Do("PUT", "/v2.0/networks/"+n.ID, "p1", map[string]any{"network": map[string]any{"qos_policy_id": netPol.Policy.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	waitMeters(t, chs[0], 1)
	waitMeterRates(t, chs[0], []string{"rate=20000 "}, []string{"rate=10000 "})
	if err := l.Do("PUT", "/v2.0/ports/"+p1.ID, "p1", map[string]any{"port": map[string]any{"qos_policy_id": pol.Policy.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	waitMeters(t, chs[0], 4)
	waitMeterRates(t, chs[0], []string{"rate=10000 "}, []string{"rate=20000 "})
}

// waitMeterRates waits until br-int's meters name every rate of want and
// none of not.
func waitMeterRates(t *testing.T, ch *testbed.Chassis, want, not []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		meters, err := ch.Ofctl("dump-meters", ch.Mgmt("br-int"))
		ok := err == nil
		for _, w := range want {
			ok = ok && strings.Contains(meters, w)
		}
		for _, w := range not {
			ok = ok && !strings.Contains(meters, w)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: meters %v, want %q and none of %q:\n%s", ch.Name, err, want, not, meters)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// retryable says an iperf3 error came before any measurement: the server
// still busy with the previous test.
func retryable(msg string) bool {
	return strings.Contains(msg, "busy") || strings.Contains(msg, "unable to receive control message") ||
		strings.Contains(msg, "unable to send control message")
}
