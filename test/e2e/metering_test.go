package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// meterPayload is the ICMP payload of the metering test's pings: each
// echo is a 14 + 20 + 8 + 100 = 142-byte frame on br-int, which is what
// flow stats count.
const (
	meterPayload = 100
	meterFrame   = 14 + 20 + 8 + meterPayload
)

type meterRow struct {
	LabelID   string `json:"metering_label_id"`
	RuleID    string `json:"metering_label_rule_id"`
	Direction string `json:"direction"`
	Excluded  bool   `json:"excluded"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	Chassis   map[string]struct {
		Packets uint64 `json:"packets"`
	} `json:"chassis"`
}

// TestMetering: a router of project p1 with its gateway on the external
// network (active on ch1), VM a on ch1 going out by SNAT and VM b on ch2
// by its floating IP (NATed on ch2). Label "p1-out" (p1's) counts egress
// and ingress of 203.0.113.0/24 except 203.0.113.200; label "p2-all"
// (p2's, which has no router) counts nothing; label "p1-internal" counts
// by the VMs' own addresses (source_ip_prefix and destination_ip_prefix,
// before SNAT and after DNAT). Pings of a known size from the VMs to the
// outside host's two addresses, and from the outside to b's floating IP,
// raise the counters by exactly the echoes sent and received, summed over
// ch1 and ch2; the excluded address's echoes are counted only by the
// excluded rules.
func TestMetering(t *testing.T) {
	l := newLab(t, lab.Options{AgentArgs: []string{"--metering-interval", "300ms"}})
	outside, err := l.Bed.AddExternalHost("outside", netip.MustParsePrefix("203.0.113.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := outside.Exec("ip", "addr", "add", "203.0.113.200/24", "dev", "eth0"); err != nil {
		t.Fatalf("second outside address: %v: %s", err, out)
	}
	brEx := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-ex") }
	mapped := []string{"--bridge-mappings", "physnet1:br-ex"}
	ch1, err := l.AddChassisWith("ch1", brEx, append(mapped, "--gateway"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	ch2, err := l.AddChassisWith("ch2", brEx, append(mapped, "--metrics-listen", metricsAddr))
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := extNet(t, l)
	n1, s1, _ := routedOut(t, l, ext)
	open := secGroup(t, l, "p1", "open")
	rule(t, l, "p1", map[string]any{"security_group_id": open, "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"})
	bPort := fixed(s1.ID, "10.1.0.11")
	bPort["security_groups"] = []string{open}
	a, _ := boot(t, l, ch1, "a", "p1", n1, fixed(s1.ID, "10.1.0.10"))
	b, pb := boot(t, l, ch2, "b", "p1", n1, bPort)
	for _, vm := range []*testbed.VM{a, b} {
		if err := vm.SetGateway("10.1.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	var f fipOut
	if err := l.Do("POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": ext.ID, "port_id": pb.ID}}, &f); err != nil {
		t.Fatal(err)
	}
	// Both ways out work before anything is metered.
	for _, vm := range []*testbed.VM{a, b} {
		waitPing(t, vm.Host, "203.0.113.1", 15*time.Second)
	}
	// Their datapath flows go now, their counts pushed to the rules they
	// went through: left in place, the last unpushed packets would be
	// credited to the counting flows installed below (revalidation
	// re-attributes a datapath flow's pending stats).
	for _, ch := range []*testbed.Chassis{ch1, ch2} {
		if _, err := ch.Appctl("revalidator/purge"); err != nil {
			t.Fatal(err)
		}
	}

	label := func(project, name string) string {
		var out struct {
			Label struct{ ID string } `json:"metering_label"`
		}
		if err := l.Do("POST", "/v2.0/metering/metering-labels", project, map[string]any{"metering_label": map[string]any{"name": name}}, &out); err != nil {
			t.Fatal(err)
		}
		return out.Label.ID
	}
	createRule := func(body map[string]any) string {
		var out struct {
			Rule struct{ ID string } `json:"metering_label_rule"`
		}
		if err := l.Do("POST", "/v2.0/metering/metering-label-rules", "admin", map[string]any{"metering_label_rule": body}, &out); err != nil {
			t.Fatal(err)
		}
		return out.Rule.ID
	}
	meterRule := func(labelID, dir, prefix string, excluded bool) string {
		return createRule(map[string]any{"metering_label_id": labelID, "direction": dir, "remote_ip_prefix": prefix, "excluded": excluded})
	}
	mine := label("p1", "p1-out")
	out := meterRule(mine, "egress", "203.0.113.0/24", false)
	in := meterRule(mine, "ingress", "203.0.113.0/24", false)
	outEx := meterRule(mine, "egress", "203.0.113.200/32", true)
	inEx := meterRule(mine, "ingress", "203.0.113.200/32", true)
	other := label("p2", "p2-all")
	otherOut := meterRule(other, "egress", "0.0.0.0/0", false)
	// By source and destination as the router sees them: b's fixed
	// address before SNAT going out, a's and b's after DNAT coming in.
	sd := label("p1", "p1-internal")
	fromB := createRule(map[string]any{"metering_label_id": sd, "direction": "egress", "source_ip_prefix": "10.1.0.11/32"})
	toA := createRule(map[string]any{"metering_label_id": sd, "direction": "ingress", "destination_ip_prefix": "10.1.0.10"})
	toB := createRule(map[string]any{"metering_label_id": sd, "direction": "ingress", "destination_ip_prefix": "10.1.0.11/32"})

	// The counting flows and the hooks are on both chassis before any
	// packet is sent: what the agents count from here is the test's.
	for _, ch := range []*testbed.Chassis{ch1, ch2} {
		waitFlows(t, ch, "nw_dst=203.0.113.200", fmt.Sprintf("resubmit(,%d)", pipeline.TableMeterOut.Number()),
			fmt.Sprintf("resubmit(,%d)", pipeline.TableMeterIn.Number()))
	}

	sizedPing := func(vm *testbed.Host, dst string, n int) (sent, received int) {
		t.Helper()
		outp, _ := vm.Exec("ping", "-n", "-q", "-i", "0.2", "-W", "2", "-s", strconv.Itoa(meterPayload), "-c", strconv.Itoa(n), dst)
		m := pingSummary.FindStringSubmatch(outp)
		if m == nil {
			t.Fatalf("%s → %s: no ping summary: %s", vm.Name, dst, outp)
		}
		sent, _ = strconv.Atoi(m[1])
		received, _ = strconv.Atoi(m[2])
		if received == 0 {
			t.Fatalf("%s → %s: no reply", vm.Name, dst)
		}
		return sent, received
	}
	exSent, exRecv := sizedPing(a.Host, "203.0.113.200", 5)
	aSent, aRecv := sizedPing(a.Host, "203.0.113.1", 10)
	bSent, bRecv := sizedPing(b.Host, "203.0.113.1", 7)
	// From the outside to b's floating IP: a new connection DNATed on
	// ch2, then established ones; b's replies leave by ch2.
	oSent, oRecv := sizedPing(outside, f.FloatingIP.FloatingIPAddress, 6)
	t.Logf("a → .200: %d/%d, a → .1: %d/%d, b (floating IP %s) → .1: %d/%d, outside → b: %d/%d",
		exRecv, exSent, aRecv, aSent, f.FloatingIP.FloatingIPAddress, bRecv, bSent, oRecv, oSent)

	want := map[string]uint64{
		out: uint64(aSent + bSent + oRecv), in: uint64(aRecv + bRecv + oSent),
		outEx: uint64(exSent), inEx: uint64(exRecv),
		fromB: uint64(bSent + oRecv), toA: uint64(aRecv + exRecv), toB: uint64(bRecv + oSent),
	}
	var rows map[string]meterRow
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows = meterCounters(t, l)
		done := true
		for id, n := range want {
			done = done && rows[id].Packets >= n
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for id, n := range want {
		got := rows[id]
		if got.Packets != n || got.Bytes != n*meterFrame {
			t.Errorf("rule %s (%s, excluded %v): %d packets, %d bytes; want %d, %d", id, got.Direction, got.Excluded,
				got.Packets, got.Bytes, n, n*meterFrame)
		}
	}
	// Counted where NATed: a's by SNAT on ch1, b's by its floating IP on ch2.
	if c := rows[out].Chassis; c["ch1"].Packets != uint64(aSent) || c["ch2"].Packets != uint64(bSent+oRecv) {
		t.Errorf("egress by chassis: %+v, want ch1 %d and ch2 %d", c, aSent, bSent+oRecv)
	}
	// ch2's agent exports its share as Prometheus counters.
	series := fmt.Sprintf(`wyvern_agent_metering_packets_total{direction="egress",label="%s",rule="%s"}`, sd, fromB)
	if v := waitMetric(t, "http://"+metricsAddr+"/metrics", series, func(v float64) bool { return v >= float64(want[fromB]) }); v != float64(want[fromB]) {
		t.Errorf("%s = %v, want %d", series, v, want[fromB])
	}
	if got := rows[otherOut]; got.Packets != 0 || len(got.Chassis) != 0 {
		t.Errorf("p2's label (no router) counted %+v", got)
	}
	if t.Failed() {
		logFlows(t, ch1, ch2)
	}
}

// waitFlows waits until ch's br-int has a flow containing each of ss.
func waitFlows(t *testing.T, ch *testbed.Chassis, ss ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range ss {
		for len(flowsMention(t, ch, s)) == 0 {
			if time.Now().After(deadline) {
				flows, _ := ch.DumpFlows("br-int")
				t.Fatalf("%s: no flow with %q:\n%s", ch.Name, s, strings.Join(flows, "\n"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// meterCounters reads every rule's counters from the API, by rule id.
func meterCounters(t *testing.T, l *lab.Lab) map[string]meterRow {
	t.Helper()
	var body struct {
		Counters []meterRow `json:"metering_counters"`
	}
	if err := l.Do("GET", "/v2.0/metering/counters", "admin", nil, &body); err != nil {
		t.Fatal(err)
	}
	out := map[string]meterRow{}
	for _, r := range body.Counters {
		out[r.RuleID] = r
	}
	return out
}
