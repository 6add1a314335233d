package ovs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/ovs/ovstest"
)

var statsRE = regexp.MustCompile(`(duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*, ?`)

// dumpFlows returns the bridge's flows as ovs-ofctl prints them, without
// counters, sorted.
func dumpFlows(t *testing.T, inst *ovstest.Instance) []string {
	t.Helper()
	out, err := inst.Ofctl("-O", "OpenFlow13", "dump-flows", inst.Mgmt("br-int"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(statsRE.ReplaceAllString(l, ""))
		if l == "" || strings.HasPrefix(l, "OFPST_FLOW") {
			continue
		}
		lines = append(lines, l)
	}
	sort.Strings(lines)
	return lines
}

func diffLines(got, want []string) string {
	var b strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "missing: %s\n", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "unexpected: %s\n", g)
		}
	}
	return b.String()
}

func startOF(t *testing.T) (*ovstest.Instance, *ovs.OFConn, context.Context) {
	inst, _, c, ctx := startOFDB(t)
	return inst, c, ctx
}

func startOFDB(t *testing.T) (*ovstest.Instance, *ovs.DB, *ovs.OFConn, context.Context) {
	t.Helper()
	inst, db, ctx := startDB(t)
	// Tunnel ports first so that they are OpenFlow ports 1 and 2, as the
	// representative flows expect.
	if p, err := db.EnsureTunnelPort(ctx, "br-int", "geneve0", ovs.TunnelGeneve); err != nil || p != 1 {
		t.Fatalf("geneve0: port %d, %v", p, err)
	}
	if p, err := db.EnsureTunnelPort(ctx, "br-int", "vxlan0", ovs.TunnelVXLAN); err != nil || p != 2 {
		t.Fatalf("vxlan0: port %d, %v", p, err)
	}
	c, err := ovs.Dial(ctx, inst.MgmtPath("br-int"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.DatapathID() != 0x020000000001 {
		t.Errorf("datapath id %x, want the hwaddr's", c.DatapathID())
	}
	return inst, db, c, ctx
}

func TestOpenFlowIntegration(t *testing.T) {
	inst, db, c, ctx := startOFDB(t)
	if err := c.SetControllerID(ctx, 7); err != nil {
		t.Fatal(err)
	}

	// 1. Every Field kind and Action type, through one bundle.
	var flows []ofp.Flow
	var want []string
	for _, r := range representative {
		flows = append(flows, r.flow)
		want = append(want, r.want)
	}
	if err := c.Bundle(ctx, flows, nil, nil); err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)
	if d := diffLines(dumpFlows(t, inst), want); d != "" {
		t.Fatalf("dump-flows differs after the first bundle:\n%s", d)
	}
	// The same bundle again changes nothing.
	if err := c.Bundle(ctx, flows, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d := diffLines(dumpFlows(t, inst), want); d != "" {
		t.Fatalf("dump-flows differs after re-adding:\n%s", d)
	}

	// 2. Strict modify (new actions and cookie) and strict delete, atomically.
	drop := representative[15].flow // table 50 priority 0 drop
	mod := drop
	mod.Cookie = 0x5000000000000003
	mod.Actions = []ofp.Action{ofp.Goto{Table: 60}}
	del := representative[14].flow // conjunction clause 2 (the actions are ignored)
	del.Actions = nil
	if err := c.Bundle(ctx, nil, []ofp.Flow{mod}, []ofp.Flow{del}); err != nil {
		t.Fatal(err)
	}
	want2 := slices.DeleteFunc(slices.Clone(want), func(s string) bool {
		return s == representative[15].want || s == representative[14].want
	})
	want2 = append(want2, "cookie=0x5000000000000003, table=50, priority=0 actions=goto_table:60")
	sort.Strings(want2)
	if d := diffLines(dumpFlows(t, inst), want2); d != "" {
		t.Fatalf("dump-flows differs after modify/delete:\n%s", d)
	}

	// 3. A bundle with one bad flow (goto_table backwards) applies nothing
	// and names the flow.
	good := ofp.Flow{Table: 70, Priority: 1, Cookie: 0x7, Actions: []ofp.Action{ofp.Output{Port: 1}}}
	bad := ofp.Flow{Table: 71, Priority: 1, Cookie: 0x7, Actions: []ofp.Action{ofp.Goto{Table: 3}}}
	err := c.Bundle(ctx, []ofp.Flow{good, bad}, nil, []ofp.Flow{representative[0].flow})
	var berr *ovs.BundleError
	if !errors.As(err, &berr) || len(berr.Flows) != 1 || berr.Flows[0].Flow.Table != 71 {
		t.Fatalf("bad bundle: %v", err)
	}
	t.Logf("refused bundle: %v", err)
	if d := diffLines(dumpFlows(t, inst), want2); d != "" {
		t.Fatalf("a refused bundle changed flows:\n%s", d)
	}

	// 4. Cookies: dump, then sweep one generation.
	cookies, err := c.DumpCookies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCookies := map[uint64]int{}
	for _, l := range want2 {
		var ck uint64
		fmt.Sscanf(l, "cookie=0x%x,", &ck)
		wantCookies[ck]++
	}
	if fmt.Sprint(cookies) != fmt.Sprint(wantCookies) {
		t.Errorf("DumpCookies = %v, want %v", cookies, wantCookies)
	}
	if err := c.DeleteByCookie(ctx, 0x2000000000000000, 0xf000000000000000); err != nil {
		t.Fatal(err)
	}
	cookies, err = c.DumpCookies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for ck := range cookies {
		if ck>>60 == 2 {
			t.Errorf("cookie %x survived DeleteByCookie: %v", ck, cookies)
		}
	}
	if cookies[0x1000000000000001] != 2 || len(cookies) != len(wantCookies)-2 {
		t.Errorf("after DeleteByCookie: %v", cookies)
	}

	// 5. The bridge going away ends the connection, and says so.
	if err := db.DeleteBridge(ctx, "br-int"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection still up after its bridge was deleted")
	}
	if c.Err() == nil {
		t.Error("Err() is nil after Done")
	}
	if err := c.Bundle(ctx, flows, nil, nil); err == nil {
		t.Error("Bundle on a dead connection succeeded")
	}
	if _, err := c.DumpCookies(ctx); err == nil {
		t.Error("DumpCookies on a dead connection succeeded")
	}
}

func TestPacketInOut(t *testing.T) {
	inst, c, ctx := startOF(t)
	if err := c.SetControllerID(ctx, 7); err != nil {
		t.Fatal(err)
	}
	flows := []ofp.Flow{
		// Traced packets from LOCAL go to us with a register set.
		{Table: 0, Priority: 500, Cookie: 0xabc, Match: []ofp.Field{ofp.InPort(ovs.PortLocal), ofp.EthType(ofp.EthTypeIPv4)},
			Actions: []ofp.Action{ofp.Load{Reg: 5, Start: 0, Bits: 32, Value: 0x55}, ofp.SetField{Field: ofp.Metadata(0x99, 0)}, ofp.Goto{Table: 9}}},
		{Table: 9, Priority: 1, Cookie: 0xdef, Actions: []ofp.Action{ofp.Controller{ID: 7, Reason: 1, UserData: []byte{1, 2, 3}}}},
		// Packet-outs resubmitted to table 80 go to us too, with a tun_id.
		{Table: 80, Priority: 1, Cookie: 0x80, Actions: []ofp.Action{ofp.SetField{Field: ofp.TunID(0x77)}, ofp.Controller{ID: 7, Reason: 1}}},
		// This one is for another controller: we must not see it.
		{Table: 81, Priority: 1, Cookie: 0x81, Actions: []ofp.Action{ofp.Controller{ID: 8, Reason: 1, UserData: []byte{9}}}},
	}
	if err := c.Bundle(ctx, flows, nil, nil); err != nil {
		t.Fatal(err)
	}

	out, err := inst.Appctl("ofproto/trace", "br-int", "in_port=LOCAL,ip,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64", "-generate")
	if err != nil {
		t.Fatal(err)
	}
	pi := nextPacketIn(t, ctx, c)
	if pi.TableID != 9 || pi.Cookie != 0xdef || pi.InPort != ovs.PortLocal || pi.Regs[5] != 0x55 ||
		pi.Metadata != 0x99 || !bytes.Equal(pi.UserData, []byte{1, 2, 3}) || pi.Reason != 1 {
		t.Errorf("traced packet-in: %+v\ntrace:\n%s", pi, out)
	}
	if len(pi.Data) < 34 || pi.Data[12] != 0x08 || pi.Data[13] != 0x00 ||
		netip.AddrFrom4([4]byte(pi.Data[30:34])) != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("traced packet data %x", pi.Data)
	}

	// Packet-out: a frame of our own, through resubmit to table 81
	// (another controller's) and then 80.
	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfa, 0x16, 0x3e, 0, 0, 1, 0x88, 0xb5})
	copy(frame[14:], "wyvern packet-out")
	if err := c.PacketOut(ovs.PortController, []ofp.Action{ofp.Load{Reg: 1, Start: 4, Bits: 4, Value: 0xa},
		ofp.Resubmit{Table: 81}, ofp.Resubmit{Table: 80}}, frame); err != nil {
		t.Fatal(err)
	}
	pi = nextPacketIn(t, ctx, c)
	if pi.TableID != 80 || pi.Cookie != 0x80 || pi.TunID != 0x77 || pi.Regs[1] != 0xa0 || pi.InPort != ovs.PortController ||
		!bytes.Equal(pi.Data, frame) || len(pi.UserData) != 0 {
		t.Errorf("packet-out's packet-in: %+v", pi)
	}
	// A packet-out with an action OVS refuses must not break the connection.
	if err := c.PacketOut(ovs.PortController, []ofp.Action{ofp.Output{Port: 4242}}, frame); err != nil {
		t.Fatal(err)
	}
	if err := c.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case pi := <-c.PacketIns():
		t.Errorf("unexpected packet-in %+v", pi)
	default:
	}
}

func nextPacketIn(t *testing.T, ctx context.Context, c *ovs.OFConn) ovs.PacketIn {
	t.Helper()
	select {
	case pi := <-c.PacketIns():
		return pi
	case <-time.After(10 * time.Second):
		t.Fatal("no packet-in within 10s")
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	return ovs.PacketIn{}
}

// TestBundleScale installs many flows through one bundle and sweeps them
// by cookie; it logs the time taken (the figure quoted in recipe.md).
func TestBundleScale(t *testing.T) {
	inst, c, ctx := startOF(t)
	n := 100000
	flows := make([]ofp.Flow, n)
	for i := range flows {
		flows[i] = ofp.Flow{Table: 10, Priority: 100, Cookie: 0x42 << 56,
			Match: []ofp.Field{ofp.Reg(6, uint32(i>>8)), ofp.EthType(ofp.EthTypeIPv4),
				ofp.IPDst(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32))},
			Actions: []ofp.Action{ofp.SetField{Field: ofp.EthDst(mac("fa:16:3e:00:00:01"))}, ofp.Load{Reg: 7, Start: 0, Bits: 32, Value: uint64(i)}, ofp.Goto{Table: 20}}}
	}
	start := time.Now()
	if err := c.Bundle(ctx, flows, nil, nil); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d flows in one bundle: %v", n, took)
	cookies, err := c.DumpCookies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cookies[0x42<<56] != n {
		t.Fatalf("DumpCookies: %v", cookies)
	}
	start = time.Now()
	if err := c.DeleteByCookie(ctx, 0x42<<56, ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleting them by cookie: %v", time.Since(start))
	if out, _ := inst.Ofctl("-O", "OpenFlow13", "dump-aggregate", inst.Mgmt("br-int")); !strings.Contains(out, "flow_count=0") {
		t.Errorf("flows left: %s", out)
	}
}
