package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/bench/internal/portup"
)

func TestOutputKeys(t *testing.T) {
	flows := []string{
		"cookie=0x1, table=39, priority=100,reg15=0x3,metadata=0x2 actions=load:0x2->NXM_NX_TUN_ID[0..23],set_field:0x3->tun_metadata0,output:7",
		"cookie=0x2, table=65, priority=100,reg15=0x4,metadata=0x2 actions=output:9",
		"cookie=0x3, table=40, priority=100,reg15=0x5,metadata=0x2 actions=resubmit(,41)",          // not an output table
		"cookie=0x4, table=65, priority=100,reg15=0x6,metadata=0x2 actions=drop",                   // no output
		"cookie=0x5, table=39, priority=150,reg10=0x1/0x1,reg15=0x7,metadata=0x2 actions=output:7", // other matches first
	}
	got := outputKeys(flows)
	for _, k := range []string{"reg15=0x3,metadata=0x2", "reg15=0x4,metadata=0x2", "reg15=0x7,metadata=0x2"} {
		if !got[k] {
			t.Errorf("%s missing from %v", k, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %v, want 3 keys", got)
	}
}

func TestPortArgs(t *testing.T) {
	if got := strings.Join(portArgs("measured", "m1", "fa:16:3e:ff:00:01", "10.10.0.11", 3, false), " "); strings.Contains(got, "Port_Group") {
		t.Errorf("without security groups: %q", got)
	}
	got := strings.Join(portArgs("measured", "m1", "fa:16:3e:ff:00:01", "10.10.0.11", 3, true), " ")
	for _, want := range []string{
		`--id=@p3 create Logical_Switch_Port name=m1 addresses="fa:16:3e:ff:00:01 10.10.0.11" port_security="fa:16:3e:ff:00:01 10.10.0.11"`,
		"add Logical_Switch measured ports @p3",
		"add Port_Group pg_default ports @p3",
		"add Port_Group neutron_pg_drop ports @p3",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

// fakeRun is a run whose measured bring-ups all take reply ms with a plug
// of plug ms.
func fakeRun(reply, plug time.Duration, flows int) *portup.RunResult {
	r := &portup.RunResult{}
	for i := 0; i < 10; i++ {
		t := portup.PortTiming{Created: 5 * time.Millisecond, Plugged: 5*time.Millisecond + plug, FirstReply: reply}
		r.Small = append(r.Small, t)
		r.Large = append(r.Large, t)
	}
	r.AtSmall.Flows = map[string]int{"ch1": flows, "ch2": flows, "ch3": flows}
	r.AtLarge.Flows = r.AtSmall.Flows
	return r
}

func TestReportTargets(t *testing.T) {
	cfg := config{Ports: 10, ExtraNets: 1, ExtraPorts: 10, More: 10}
	// Round 1 meets both targets (share 20 vs 90 ms, p99 40 vs 110 ms),
	// round 2 only the p99 one (share 40 vs 90 ms, p99 50 vs 110 ms).
	rs := []round{
		{OVN: side{Res: fakeRun(110*time.Millisecond, 20*time.Millisecond, 1000)}, Wyvern: side{Res: fakeRun(40*time.Millisecond, 20*time.Millisecond, 300)}, OVNFirst: true},
		{OVN: side{Res: fakeRun(110*time.Millisecond, 20*time.Millisecond, 1000)}, Wyvern: side{Res: fakeRun(50*time.Millisecond, 10*time.Millisecond, 300)}},
	}
	md := report(cfg, machine.Machine{}, rs, time.Minute)
	for _, want := range []string{
		"(first reply − plug, p50) ≤ ⅓ of OVN's | 0.22, 0.44 | 0.33 | yes by the median, not in every round |",
		"p99 with 23 ports present ≤ ½ of OVN's | 0.36, 0.45 | 0.41 | yes, in every round |",
		"| br-int flows per chassis at 13 ports (mean of 3) | 1,000 | 300 | 0.30 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("page lacks %q:\n%s", want, md)
		}
	}
}
