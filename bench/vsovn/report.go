package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/bench/internal/portup"
)

// figure is one measure, read from a run of either side.
type figure struct {
	name   string
	unit   string // "ms", "s", "MiB", "" (a count)
	get    func(r *portup.RunResult) float64
	target float64 // the target ratio (Wyvern ÷ OVN), 0: none
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct is a percentile of one offset over a phase's samples, in ms.
func pct(phase func(*portup.RunResult) []portup.PortTiming, f func(portup.PortTiming) time.Duration, p float64) func(*portup.RunResult) float64 {
	return func(r *portup.RunResult) float64 {
		var ds []time.Duration
		for _, t := range phase(r) {
			ds = append(ds, f(t))
		}
		return msOf(portup.Percentile(ds, p))
	}
}

func meanInt[V int | int64](m map[string]V) float64 {
	if len(m) == 0 {
		return 0
	}
	var s float64
	for _, v := range m {
		s += float64(v)
	}
	return s / float64(len(m))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func render(v float64, unit string) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case unit == "s" || unit == "ratio":
		return fmt.Sprintf("%.2f", v)
	case unit == "" && v == math.Trunc(v):
		return thousands(int(v))
	case unit == "":
		return thousands(int(math.Round(v)))
	case v >= 1000:
		return thousands(int(math.Round(v)))
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// summary renders the median and, with more than one value, the range.
func summary(v []float64, unit string) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	s := render(median(v), unit)
	if len(v) > 1 && render(lo, unit) != render(hi, unit) {
		s += " (" + render(lo, unit) + "–" + render(hi, unit) + ")"
	}
	return s
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ratios are Wyvern ÷ OVN per round (NaN when OVN's is 0).
func ratios(rs []round, f figure) []float64 {
	var out []float64
	for _, r := range rs {
		o, w := f.get(r.OVN.Res), f.get(r.Wyvern.Res)
		if o == 0 {
			continue
		}
		out = append(out, w/o)
	}
	return out
}

func values(rs []round, get func(round) *portup.RunResult, f figure) []float64 {
	var out []float64
	for _, r := range rs {
		out = append(out, f.get(get(r)))
	}
	return out
}

func report(cfg config, m machine.Machine, rs []round, took time.Duration) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	small := func(r *portup.RunResult) []portup.PortTiming { return r.Small }
	large := func(r *portup.RunResult) []portup.PortTiming { return r.Large }
	reply := func(t portup.PortTiming) time.Duration { return t.FirstReply }
	share := func(t portup.PortTiming) time.Duration { return t.ControlShare() }
	plug := func(t portup.PortTiming) time.Duration { return t.Plug() }
	created := func(t portup.PortTiming) time.Duration { return t.Created }
	atSmall := cfg.Ports + 3
	atLarge := cfg.Ports + cfg.ExtraNets*cfg.ExtraPorts + cfg.More + 3
	present := cfg.Ports + cfg.ExtraNets*cfg.ExtraPorts + 3
	bulk := cfg.ExtraNets * cfg.ExtraPorts

	shareLarge := figure{name: fmt.Sprintf("control plane's share (first reply − plug), %d present: p50", present), unit: "ms",
		get: pct(large, share, 50), target: 1.0 / 3}
	p99Large := figure{name: fmt.Sprintf("bring-up with %d ports present: p99", present), unit: "ms",
		get: pct(large, reply, 99), target: 0.5}
	figs := []figure{
		{name: fmt.Sprintf("bring-up 0→%d ports: p50", cfg.Ports), unit: "ms", get: pct(small, reply, 50)},
		{name: fmt.Sprintf("bring-up 0→%d ports: p99", cfg.Ports), unit: "ms", get: pct(small, reply, 99)},
		{name: fmt.Sprintf("bring-up with %d ports present: p50", present), unit: "ms", get: pct(large, reply, 50)},
		p99Large,
		{name: fmt.Sprintf("control plane's share (first reply − plug), 0→%d: p50", cfg.Ports), unit: "ms", get: pct(small, share, 50)},
		{name: fmt.Sprintf("control plane's share (first reply − plug), 0→%d: p99", cfg.Ports), unit: "ms", get: pct(small, share, 99)},
		shareLarge,
		{name: fmt.Sprintf("control plane's share (first reply − plug), %d present: p99", present), unit: "ms", get: pct(large, share, 99)},
		{name: fmt.Sprintf("plug alone (the bring-up's ovs-vsctl add-port), 0→%d: p50", cfg.Ports), unit: "ms",
			get: pct(small, plug, 50)},
		{name: fmt.Sprintf("plug alone, %d present: p50", present), unit: "ms", get: pct(large, plug, 50)},
		{name: fmt.Sprintf("plug of a port no controller knows, %d ports, controllers running: p50", atLarge), unit: "ms",
			get: func(r *portup.RunResult) float64 { return msOf(portup.Percentile(r.Control.Running, 50)) }},
		{name: fmt.Sprintf("plug of a port no controller knows, %d ports, controllers stopped: p50", atLarge), unit: "ms",
			get: func(r *portup.RunResult) float64 { return msOf(portup.Percentile(r.Control.Paused, 50)) }},
		{name: fmt.Sprintf("create call (Neutron API / ovn-nbctl), %d present: p50", present), unit: "ms", get: pct(large, created, 50)},
		{name: fmt.Sprintf("%d ports bound in bulk: plug → every chassis has their flows (polling)", bulk), unit: "s",
			get: func(r *portup.RunResult) float64 { return r.Bulk.Detected.Seconds() }},
		{name: fmt.Sprintf("br-int flows per chassis at %d ports (mean of 3)", atSmall), unit: "",
			get: func(r *portup.RunResult) float64 { return meanInt(r.AtSmall.Flows) }},
		{name: fmt.Sprintf("br-int flows per chassis at %d ports (mean of 3)", atLarge), unit: "",
			get: func(r *portup.RunResult) float64 { return meanInt(r.AtLarge.Flows) }},
		{name: fmt.Sprintf("controller RSS at %d ports (MiB, mean of 3)", atSmall), unit: "MiB",
			get: func(r *portup.RunResult) float64 { return meanInt(r.AtSmall.RSS) / 1024 }},
		{name: fmt.Sprintf("controller RSS at %d ports (MiB, mean of 3)", atLarge), unit: "MiB",
			get: func(r *portup.RunResult) float64 { return meanInt(r.AtLarge.RSS) / 1024 }},
		{name: fmt.Sprintf("controller RSS at %d ports after %s idle (MiB)", atLarge, portup.IdleWait), unit: "MiB",
			get: func(r *portup.RunResult) float64 { return meanInt(r.AtLarge.IdleRSS) / 1024 }},
		{name: fmt.Sprintf("controllers' CPU per bring-up, 3 summed, %d present", present), unit: "ms",
			get: func(r *portup.RunResult) float64 { return msOf(portup.CPUPerPort(r.AtBulk, r.AtLarge, len(r.Large))) }},
		{name: "controller restart (kill -9 at 2 s, start at 4 s, 50 pps for 10 s): replies lost", unit: "",
			get: func(r *portup.RunResult) float64 { return float64(r.Restart.Sent - r.Restart.Received) }},
		{name: "controller restart: outage, the longest run of lost replies × 20 ms (a lower bound when the path was still down at the ping's end)", unit: "ms",
			get: func(r *portup.RunResult) float64 { d, _ := r.Restart.Outage(20 * time.Millisecond); return msOf(d) }},
	}

	w("# Wyvern beside OVN: the bring-up workload, same bed, same machine, same run (%s)\n\n", time.Now().Format("2006-01-02"))
	w("Generated by `bench/vsovn` (`./bench/run.sh vs-ovn`): %d rounds; each round runs the workload of\n", len(rs))
	w("`bench/bringup` once on OVN and once on Wyvern, each on a fresh 3-chassis test bed, one after the other (OVN\n")
	w("first in odd rounds, Wyvern first in even ones). A ratio is Wyvern ÷ OVN within a round; the tables give the\n")
	w("median of the rounds with the range in brackets. Only these ratios compare: the machine is shared and its\n")
	w("speed moves with the load (recorded per run below). Ratio < 1: Wyvern is faster, smaller or has fewer.\n\n")

	w("## Machine\n\n")
	w("- CPUs: %s; load average at the start: %s (the machine is shared with other jobs)\n", m.CPUs, m.Load)
	w("- Memory (`free -g`):\n\n```\n%s\n```\n", m.Mem)
	built := cfg.Built
	if built == "" {
		built = "working tree at " + m.Commit
	}
	w("- %s, userspace datapath (netdev); %s; kernel %s; %s; Wyvern built from %s\n", m.OVS, ovnVersion(), m.Kernel, m.Go, built)
	w("- whole run: %s\n\n", took.Round(time.Second))

	w("## Commands\n\n```\n")
	if cfg.Command != "" {
		w("%s   # this run\n", cfg.Command)
	}
	w("sudo ./bench/run.sh vs-ovn     # = bench/out/vsovn -rounds %d -ports %d -extra-nets %d -extra-ports %d -more %d -ovn-sg=%t -out <file>\n",
		cfg.Rounds, cfg.Ports, cfg.ExtraNets, cfg.ExtraPorts, cfg.More, cfg.OVNSG)
	w("```\n\n")

	w("## Targets of issue 10 (ratios in one run)\n\n")
	w("| target | ratio per round | median | met? |\n| --- | --- | --- | --- |\n")
	for _, t := range []struct {
		f    figure
		text string
	}{
		{shareLarge, fmt.Sprintf("control plane's share of bring-up with %d ports present (first reply − plug, p50) ≤ ⅓ of OVN's", present)},
		{p99Large, fmt.Sprintf("bring-up p99 with %d ports present ≤ ½ of OVN's", present)},
	} {
		rr := ratios(rs, t.f)
		var per []string
		all := len(rr) > 0
		for _, v := range rr {
			per = append(per, render(v, "ratio"))
			if v > t.f.target {
				all = false
			}
		}
		met := "no"
		switch {
		case all:
			met = "yes, in every round"
		case median(rr) <= t.f.target:
			met = "yes by the median, not in every round"
		}
		w("| %s | %s | %s | %s |\n", t.text, strings.Join(per, ", "), render(median(rr), "ratio"), met)
	}
	w("\n")

	w("## Figures\n\n")
	w("| measure | OVN | Wyvern | Wyvern ÷ OVN |\n| --- | --- | --- | --- |\n")
	for _, f := range figs {
		unit := ""
		if f.unit != "" {
			unit = ", " + f.unit
		}
		w("| %s%s | %s | %s | %s |\n", f.name, unit,
			summary(values(rs, func(r round) *portup.RunResult { return r.OVN.Res }, f), f.unit),
			summary(values(rs, func(r round) *portup.RunResult { return r.Wyvern.Res }, f), f.unit),
			summary(ratios(rs, f), "ratio"))
	}
	w("\n")
	var back []string
	for i, r := range rs {
		for _, x := range []struct {
			name string
			res  *portup.RunResult
		}{{"OVN", r.OVN.Res}, {"Wyvern", r.Wyvern.Res}} {
			if _, atEnd := x.res.Restart.Outage(20 * time.Millisecond); atEnd {
				if x.res.Restart.Back > 0 {
					back = append(back, fmt.Sprintf("round %d, %s: path back %s s after the controller's start", i+1, x.name, render(x.res.Restart.Back.Seconds(), "s")))
				} else {
					back = append(back, fmt.Sprintf("round %d, %s: still down at the ping's end", i+1, x.name))
				}
			}
		}
	}
	if len(back) > 0 {
		w("Restart runs whose path was still down when the 10 s ping ended (their outage above is a lower bound;\n")
		w("a second ping then timed the path's return): %s.\n\n", strings.Join(back, "; "))
	}

	w("## Per round\n\n")
	for i, r := range rs {
		order := "OVN, then Wyvern"
		if !r.OVNFirst {
			order = "Wyvern, then OVN"
		}
		w("- round %d (%s): OVN %s (load average at its start %s), Wyvern %s (load average %s)\n", i+1, order,
			r.OVN.Res.Took.Round(time.Second), r.OVN.Load, r.Wyvern.Res.Took.Round(time.Second), r.Wyvern.Load)
		for _, s := range []struct {
			name string
			res  *portup.RunResult
		}{{"OVN", r.OVN.Res}, {"Wyvern", r.Wyvern.Res}} {
			x := s.res
			w("  - %s: bring-up p50/p99 %s/%s ms (0→%d), %s/%s ms (%d present); share p50 %s ms; bulk %s s; flows %s / %s; RSS MiB %s / %s; restart %d/%d replies, gap %s ms\n",
				s.name, render(pct(small, reply, 50)(x), "ms"), render(pct(small, reply, 99)(x), "ms"), cfg.Ports,
				render(pct(large, reply, 50)(x), "ms"), render(pct(large, reply, 99)(x), "ms"), present,
				render(pct(large, share, 50)(x), "ms"), render(x.Bulk.Detected.Seconds(), "s"),
				sortedFlows(x.AtSmall.Flows), sortedFlows(x.AtLarge.Flows),
				render(meanInt(x.AtSmall.RSS)/1024, "MiB"), render(meanInt(x.AtLarge.RSS)/1024, "MiB"),
				x.Restart.Received, x.Restart.Sent, render(msOf(x.Restart.MaxGap), "ms"))
		}
	}
	w("\n## How each side runs\n\n")
	w("- The bed (both sides): `internal/testbed`, 3 chassis in network namespaces, each its own ovsdb-server and\n")
	w("  ovs-vswitchd (userspace datapath), Geneve over a shared underlay with static tunnel neighbours, VMs as\n")
	w("  namespaces plugged by veth. The workload is bench/bringup's (README, \"bringup\"): a measured network\n")
	w("  (%s) with a probe VM per chassis; %d ports brought up one by one (VM namespace, static ARP and the\n", portup.MeasuredCIDR, cfg.Ports)
	w("  probe's 10 ms ping made first; timed: the create call, `ovs-vsctl add-port` with iface-id and\n")
	w("  attached-mac, the first echo reply); a router joining %d more networks of %d OVS internal ports, plugged\n", cfg.ExtraNets, cfg.ExtraPorts)
	w("  with one ovs-vsctl per chassis (bulk); %d more ports one by one; flows and RSS after each phase; %d plugs\n", cfg.More, portup.ControlPlugs)
	w("  of unknown ports with the controllers running and stopped; the restart test.\n")
	w("- Wyvern: `bench/bringup -runs 1` itself (the `wyvern server` on embedded etcd, one `wyvern-agent` per chassis),\n")
	w("  its results read from its JSON output; its own page for the round is left in bench/out.\n")
	w("- OVN: NB and SB `ovsdb-server`s and `ovn-northd` in the root namespace, started by the benchmark in the bed's\n")
	w("  directory (no system service), and an `ovn-nbctl` daemon (`--detach`, OVN_NB_DAEMON) holding one NB\n")
	w("  connection as Neutron's ML2/OVN does; one `ovn-controller` per chassis on that chassis' Open vSwitch\n")
	w("  (system-id, ovn-remote to the SB socket, Geneve encap on the chassis' underlay address, br-int netdev). A\n")
	w("  port is created as ML2/OVN creates it, in one NB transaction: a Logical_Switch_Port with addresses and port\n")
	w("  security (MAC + IP), added to its switch, to the default security group's port group and to\n")
	w("  `neutron_pg_drop`. The groups carry the ACLs of Neutron's default group: egress IPv4/IPv6 allow-related,\n")
	w("  ingress allow-related from the group's own address set, everything else dropped (Wyvern's ports are in\n")
	w("  the project's default group too). %s The router is a logical\n", sgNote(cfg.OVNSG))
	w("  router with one port per subnet (distributed, no gateway chassis). The bulk ports are created 50 per\n")
	w("  transaction before the clock starts.\n")
	w("- Bulk, both sides: from the plug until `dump-flows` polling (every ~100 ms) sees every chassis with a flow for\n")
	w("  every bulk port: Wyvern an L2 flow on the port's MAC; OVN an output flow (local delivery, table %d, or tunnel\n", ovnLogToPhy)
	w("  output, table %d) on the port's logical keys (reg15, metadata, from the SB Port_Binding). bench/bringup's own\n", ovnRemoteOutput)
	w("  page also gives Wyvern's time from the agents' logs, which OVN has no equivalent for.\n")
	w("- Restart: OVN with its defaults (no `ovn-ofctrl-wait-before-clear`); Wyvern has no such knob.\n")
	w("- Security groups weigh on OVN here: the remote-group ACL (`ip4.src == $pg_default_ip4`) matches the group's\n")
	w("  every address on every switch the group spans, so OVN's flows grow faster than its ports (see the flow\n")
	w("  rows), and 23.03's ovn-northd recomputes everything on each port added (the controllers' CPU per bring-up\n")
	w("  is in the table). The hand-measured OVN figures quoted in issue 10 name port security only; run with\n")
	w("  `VSOVN_ARGS=-ovn-sg=false` for that lighter OVN (Wyvern's ports stay in the default group).\n")
	w("- Not compared here: the full resync and the per-stage breakdown (Wyvern only: bench/bringup's page), and the\n")
	w("  data plane (bench/dataplane).\n")
	return b.String()
}

func sortedFlows(m map[string]int) string {
	var parts []string
	for _, k := range []string{"ch1", "ch2", "ch3"} {
		if v, ok := m[k]; ok {
			parts = append(parts, thousands(v))
		}
	}
	return strings.Join(parts, "/")
}

// ovnVersion is ovn-controller's version line.
func ovnVersion() string {
	out, err := execOutput("ovn-controller", "--version")
	if err != nil {
		return "OVN ?"
	}
	return strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
}

func sgNote(sg bool) string {
	if sg {
		return "This run: OVN's ports in the security groups (`-ovn-sg`, the default)."
	}
	return "**This run: `-ovn-sg=false`, OVN's ports carry port security only, no security group, while Wyvern's are in the default group.**"
}
