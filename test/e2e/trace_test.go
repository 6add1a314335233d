package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ctl"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
	"github.com/wyvern-sdn/wyvern/internal/trace"
)

// traceOut is `wyvernctl trace -o json`.
type traceOut struct {
	Logical *trace.Result  `json:"logical"`
	OFProto *trace.OFTrace `json:"ofproto"`
}

// wyvernctlTrace runs `wyvernctl trace` in process against the lab, with
// --ovs on ch (the source port's chassis) when ch is not nil.
func wyvernctlTrace(t *testing.T, l *lab.Lab, ch *testbed.Chassis, port, pkt string) (traceOut, string) {
	t.Helper()
	args := []string{"--noauth", "--url", l.APIURL, "trace", port, pkt}
	if ch != nil {
		args = append(args, "--ovs", "--ovsdb", ch.DBSock(), "--ovs-rundir", ch.RunDir)
	}
	var text, js, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := ctl.Main(ctx, args, &text, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("wyvernctl %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	if code := ctl.Main(ctx, append(args, "-o", "json"), &js, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("wyvernctl %s -o json: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	var out traceOut
	if err := json.Unmarshal(js.Bytes(), &out); err != nil || out.Logical == nil {
		t.Fatalf("trace -o json: %v\n%s", err, js.String())
	}
	t.Logf("wyvernctl trace %s %q:\n%s", port, pkt, text.String())
	if ch != nil {
		if a := out.OFProto.Agreement; a == nil || !a.Agree {
			t.Errorf("trace %s %q: the bridge and the logical trace disagree: %+v", port, pkt, a)
		}
	}
	return out, text.String()
}

func lastStep(r *trace.Result) trace.Step { return r.Steps[len(r.Steps)-1] }

func stepOf(r *trace.Result, stage string) *trace.Step {
	for i := range r.Steps {
		if r.Steps[i].Stage == stage {
			return &r.Steps[i]
		}
	}
	return nil
}

// TestTrace: on a lab with a router, two networks on two chassis and
// security groups, `wyvernctl trace` names the rule that admits an
// allowed TCP port, the reason a denied one is dropped, the router and
// egress network of a routed destination and the tunnel to the
// destination chassis; --ovs's ofproto/trace of ch1's br-int agrees
// (tunnel push with the egress VNI, local output, or drop), and so do
// real connections.
func TestTrace(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	n1, s1, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "tn1", CIDR: "10.5.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	n2, s2, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "tn2", CIDR: "10.5.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	rid := router(t, l, "p1", s1, s2)
	web := secGroup(t, l, "p1", "web")
	ssh := rule(t, l, "p1", map[string]any{"security_group_id": web, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
	with := func(sub, ip, sg string) map[string]any {
		m := fixed(sub, ip)
		m["security_groups"] = []string{sg}
		return m
	}
	a, pa := boot(t, l, chs[0], "a", "p1", n1, fixed(s1.ID, "10.5.1.10")) // the default group
	b, pb := boot(t, l, chs[1], "b", "p1", n2, with(s2.ID, "10.5.2.10", web))
	c, _ := boot(t, l, chs[0], "c", "p1", n1, with(s1.ID, "10.5.1.11", web))
	if err := a.SetGateway("10.5.1.1"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetGateway("10.5.2.1"); err != nil {
		t.Fatal(err)
	}

	// Allowed, routed, across chassis.
	out, text := wyvernctlTrace(t, l, chs[0], pa.ID, "tcp, dst 10.5.2.10:22")
	r := out.Logical
	if r.Verdict != trace.Delivered || r.Dest == nil || r.Dest.ID != pb.ID {
		t.Fatalf("a → b:22: verdict %s, want delivered to b", r.Verdict)
	}
	if rt := r.Route; rt == nil || rt.RouterID != rid || rt.EgressNetID != n2.ID || rt.Kind != "host" || rt.TTL != 63 {
		t.Errorf("a → b:22: route %+v, want router %s, egress network %s", rt, rid, n2.ID)
	}
	if o := r.Output; o == nil || !o.Tunnelled || o.Chassis != chs[1].Name || o.VNI != n2.SegmentationID || o.TunnelIP != chs[1].TunnelIP.String() {
		t.Errorf("a → b:22: output %+v, want the tunnel to %s with VNI %d", o, chs[1].Name, n2.SegmentationID)
	}
	if in := stepOf(r, trace.StageIngressACL); in == nil || in.Rule == nil || in.Rule.ID != ssh || in.Chassis != chs[1].Name {
		t.Errorf("a → b:22: ingress step %+v, want rule %s on %s", in, ssh, chs[1].Name)
	}
	if eg := stepOf(r, trace.StageEgressACL); eg == nil || eg.Rule == nil || eg.Rule.GroupName != "default" {
		t.Errorf("a → b:22: egress step %+v, want a rule of the default group", eg)
	}
	for _, want := range []string{"routed on " + chs[0].Name, fmt.Sprintf("VNI %d", n2.SegmentationID), "rule " + ssh} {
		if !strings.Contains(text, want) {
			t.Errorf("a → b:22: text lacks %q", want)
		}
	}
	of := out.OFProto
	if of == nil {
		t.Fatal("a → b:22: no ofproto trace")
	}
	wantPush := []string{"tnl_push", fmt.Sprintf("vni=0x%x", n2.SegmentationID), "dst=" + chs[1].TunnelIP.String()}
	for _, w := range wantPush {
		if !strings.Contains(of.Final, w) {
			t.Errorf("a → b:22: final datapath actions lack %q:\n%s", w, of.Raw)
		}
	}
	if vni, ok := of.TunnelVNI(); !ok || vni != n2.SegmentationID {
		t.Errorf("a → b:22: tunnel VNI %d %v, want %d", vni, ok, n2.SegmentationID)
	}
	// The bridge's steps are named after Wyvern's tables and features.
	var named []string
	for _, p := range of.Passes {
		for _, s := range p.Steps {
			named = append(named, s.Name+"/"+s.Feature)
		}
	}
	for _, w := range []string{"Classify/classify", "PortSecurity/port-security", "EgressACL/acl", "L2Lookup/l3", "L3Route/l3", "Output/output"} {
		if !slices.Contains(named, w) {
			t.Errorf("a → b:22: ofproto steps %v lack %s:\n%s", named, w, of.Raw)
		}
	}

	// Denied: same network, same chassis, c admits only ssh. The whole
	// path is on ch1, so the bridge drops it too.
	out, _ = wyvernctlTrace(t, l, chs[0], pa.ID, "tcp, dst 10.5.1.11:23")
	r = out.Logical
	if last := lastStep(r); r.Verdict != trace.Drop || last.Stage != trace.StageIngressACL || !strings.Contains(last.Detail, "no ingress rule of web") {
		t.Errorf("a → c:23: verdict %s, last step %+v; want dropped by c's ingress security groups", r.Verdict, last)
	}
	if r.Output != nil && r.Output.Tunnelled {
		t.Errorf("a → c:23: tunnelled %+v", r.Output)
	}
	if !out.OFProto.Dropped {
		t.Errorf("a → c:23: the bridge does not drop it: %s\n%s", out.OFProto.Final, out.OFProto.Raw)
	}
	// Allowed on the same chassis: output to c's port, no tunnel.
	out, _ = wyvernctlTrace(t, l, chs[0], pa.ID, "tcp, dst 10.5.1.11:22")
	if out.Logical.Verdict != trace.Delivered || out.OFProto.Dropped || strings.Contains(out.OFProto.Final, "tnl_push") {
		t.Errorf("a → c:22: verdict %s, final actions %q; want local delivery\n%s", out.Logical.Verdict, out.OFProto.Final, out.OFProto.Raw)
	}
	// Denied by b's ingress groups on ch2: ch1's bridge still tunnels it
	// (Compare, in wyvernctlTrace, checks that).
	out, _ = wyvernctlTrace(t, l, chs[0], pa.ID, "tcp, dst 10.5.2.10:23")
	if last := lastStep(out.Logical); out.Logical.Verdict != trace.Drop || last.Stage != trace.StageIngressACL || last.Chassis != chs[1].Name {
		t.Errorf("a → b:23: verdict %s, last step %+v; want dropped by b's ingress groups on %s", out.Logical.Verdict, last, chs[1].Name)
	}
	// The router's address: ARP answered on ch1.
	out, _ = wyvernctlTrace(t, l, chs[0], pa.ID, "arp, dst 10.5.1.1")
	if out.Logical.Verdict != trace.Answered || out.OFProto.Dropped {
		t.Errorf("arp 10.5.1.1: verdict %s, bridge %q", out.Logical.Verdict, out.OFProto.Final)
	}
	// Spoofed source: port security, on the logical path and the bridge.
	out, _ = wyvernctlTrace(t, l, chs[0], pa.ID, "tcp, src 10.5.1.99:1000, dst 10.5.2.10:22")
	if last := lastStep(out.Logical); last.Stage != trace.StagePortSecurity || last.Verdict != trace.Drop || !out.OFProto.Dropped {
		t.Errorf("spoofed: last step %+v, bridge final %q; want both to drop", last, out.OFProto.Final)
	}

	// Real packets agree.
	tcpServe(t, b, 22)
	tcpServe(t, c, 23)
	if !tcpConnect(a, "10.5.2.10", 22, 10*time.Second) {
		t.Errorf("a → b:22 did not connect; the trace says delivered\n%s", l.Bed.LogTails(10))
	}
	if tcpConnect(a, "10.5.1.11", 23, 3*time.Second) {
		t.Error("a → c:23 connected; the trace says dropped")
	}
}
