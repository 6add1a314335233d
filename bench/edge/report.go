package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
)

func met(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

func report(cfg config, m machine.Machine, res *result) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Floating-IP edge benchmark (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	cmd := cfg.Command
	if cmd == "" {
		cmd = "./bench/run.sh edge"
	}
	w("Reproduce: `%s` (as root; about %s).\n\n", cmd, res.Took.Round(time.Second))
	w("## Machine\n\n")
	w("- CPUs: %s; load average at start: %s (the machine is shared with other jobs)\n", m.CPUs, res.Load)
	built := cfg.Built
	if built == "" {
		built = "working tree at " + m.Commit
	}
	daemons := "zebra+bgpd"
	if cfg.BFD > 0 {
		daemons += "+bfdd"
	}
	w("- %s, userspace datapath (netdev); kernel %s; %s; FRR (Debian) %s; Wyvern built from %s\n", m.OVS, m.Kernel, m.Go, daemons, built)
	if cfg.ServerArgs != "" {
		w("- `wyvern server` run with `%s`\n", cfg.ServerArgs)
	}
	w("\n")
	w("## The bed\n\n")
	w("One `wyvern server` (embedded etcd), one hypervisor chassis with `wyvern-agent` and a VM, %d `wyvern gateway`s of the\n", nGateways)
	w("general pool (each its own Open vSwitch, userspace datapath, and embedded GoBGP), an upstream router namespace running\n")
	w("FRR with `maximum-paths 8` and the kernel's L4 multipath hash, and a client behind it. BGP timers on both sides:\n")
	if cfg.BFD > 0 {
		w("keepalive 1 s, hold 3 s, connect retry 1 s; **BFD** between each gateway (`--bfd-interval %s`, Wyvern's own, RFC 5880/5881)\n", cfg.BFD)
		w("and the router (FRR's bfdd, `neighbor X bfd`), %s × 3. Each floating IP is a /32 with the three gateways as ECMP next hops.\n", cfg.BFD)
	} else {
		w("keepalive 1 s, hold 3 s, connect retry 1 s; **no BFD** (`-bfd 0`). Each floating IP is a /32 with the three gateways as ECMP next hops.\n")
	}
	w("The hypervisor is in edge mode (`--fip-mode edge`): it tunnels its floating IPs' outbound traffic to the anycast tunnel\n")
	w("endpoint %s, which the three general gateways hold on their underlay bridge and announce over BGP (`--tunnel-endpoint`,\n", edgeEndpoint)
	w("`--tunnel-bgp-peer`) to an underlay router, `tnet` (FRR, ECMP, L4 hash): the seed's \"TunnelNet\". tnet routed the endpoint\n")
	w("over all %d gateways %s after its start. The hypervisor's route to the endpoint points at tnet (its top-of-rack router).\n\n",
		nGateways, res.Endpoint.Round(time.Millisecond))
	if len(res.DP) > 0 {
		tcp := medianRatio(res.DP, func(r dpRound) float64 { return r.EdgeTCP / r.BaseTCP })
		rtt := medianRatio(res.DP, func(r dpRound) float64 { return r.EdgeRTT / r.BaseRTT })
		w("## Data path: the edge against hand-written flows, side by side\n\n")
		w("TCP: iperf3, one stream, %d s, client → the VM's floating IP; RTT: p50 of 100 pings 10 ms apart (anchors.md's method).\n", cfg.DPSeconds)
		w("**Edge**: router → a gateway (ECMP) → its br-edge's stateless NAT flows, Geneve → the hypervisor's br-int (Wyvern's\n")
		w("pipeline, router, the VM's port; no security groups on this port) → VM; replies: br-int's edge flows tunnel to the anycast\n")
		w("endpoint → tnet (ECMP over the BGP routes) → a gateway's NAT → router. **Baseline**: the same hops, vswitchd processes,\n")
		w("ports and tunnels, with hand-written minimal flows at the top of table 0 (one NAT-and-tunnel flow each way per gateway,\n")
		w("one flow each way on br-int) for a second address the router routes statically over the same gateways, to a second VM\n")
		w("on the same hypervisor. Each round runs both back to back (order alternating); ratio = edge ÷ baseline in the round.\n\n")
		w("| round | TCP edge | TCP baseline | TCP ratio | retransmits edge / baseline | RTT edge | RTT baseline | RTT ratio (lower is better) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for i, r := range res.DP {
			w("| %d | %.3f Gbit/s | %.3f Gbit/s | %.2f | %d / %d | %.3f ms | %.3f ms | %.2f |\n", i+1, r.EdgeTCP, r.BaseTCP, r.EdgeTCP/r.BaseTCP,
				r.EdgeRetr, r.BaseRetr, r.EdgeRTT, r.BaseRTT, r.EdgeRTT/r.BaseRTT)
		}
		w("\n**Median TCP ratio %.2f, RTT ratio %.2f.** Target (anchors.md, router path): TCP ratio ≥ 1.0 — %s; RTT ratio at or\n",
			tcp, rtt, met(tcp >= 1.0))
		w("under OVN's router range 0.99–1.04 — %s. On a shared 2-core machine read the per-round spread before the median.\n\n", met(rtt <= 1.04))
	}

	w("## Association → route in FRR, %d floating IPs at once\n\n", res.Assoc.N)
	w("%d ports bound to the hypervisor and %d unassociated floating IPs are created first; then %d API clients associate\n", res.Assoc.N, res.Assoc.N, cfg.Workers)
	w("them all (one `PUT port_id` each) while the router's kernel FIB (where zebra installs FRR's best paths) is read every\n")
	w("~10 ms. Latency is from a call's return to its /32 in the FIB with all %d next hops (0 when the route was there before\n", nGateways)
	w("the HTTP answer); \"all\" is from the first call to the last route. Target: %d routes in under 2 s.\n", res.Assoc.N)
	if res.Bulk.N > 0 {
		w("Then the floating IPs are deleted and created again with the same addresses, each with its port, %d per POST\n", cfg.Bulk)
		w("(Neutron's bulk create, one transaction per POST), %d POSTs at a time: associated at creation.\n", cfg.Workers)
	}
	w("\n| change | API calls took | floating IPs/s | server CPU per floating IP | bench CPU (FIB reads) | p50 | p99 | max | all routed | last route after the last call | missing |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, c := range []struct {
		name string
		c    convergence
	}{{"associate", res.Assoc}, {"disassociate (route gone)", res.Disassoc}, {fmt.Sprintf("create associated, %d per POST", cfg.Bulk), res.Bulk}} {
		if c.c.N == 0 {
			continue
		}
		mx := time.Duration(0)
		if len(c.c.Latencies) > 0 {
			mx = c.c.Latencies[len(c.c.Latencies)-1]
		}
		rate := 0.0
		if c.c.API > 0 {
			rate = float64(res.Assoc.N) / c.c.API.Seconds()
		}
		cpu := "?"
		if c.c.ServerCPU > 0 {
			cpu = fmt.Sprintf("%.1f ms", c.c.ServerCPU.Seconds()*1000/float64(res.Assoc.N))
		}
		bcpu := "?"
		if c.c.API > 0 {
			bcpu = fmt.Sprintf("%.2f cores", c.c.BenchCPU.Seconds()/c.c.API.Seconds())
		}
		w("| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %d |\n", c.name, c.c.API.Round(time.Millisecond), rate, cpu, bcpu, pct(c.c.Latencies, 50), pct(c.c.Latencies, 99),
			mx.Round(time.Millisecond), c.c.All.Round(time.Millisecond), c.c.AfterLast.Round(time.Millisecond), c.c.Missing)
	}
	bound := ""
	if res.Assoc.All >= 2*time.Second && res.Assoc.All-res.Assoc.AfterLast > res.Assoc.All/2 {
		bound = " (the API's association rate bounds it)"
	}
	w("\nTarget %d routes in under 2 s: from the first API call, all routed after %s by one PUT each — %s%s;\n",
		res.Assoc.N, res.Assoc.All.Round(time.Millisecond), met(res.Assoc.All < 2*time.Second), bound)
	if res.Bulk.N > 0 {
		w("created associated, %d per POST: all routed after %s — %s;\n", cfg.Bulk, res.Bulk.All.Round(time.Millisecond), met(res.Bulk.All < 2*time.Second))
	}
	w("the edge's own convergence for the whole table (a restarted gateway below) — %s.\n", met(res.Restart-res.Session < 2*time.Second))
	w("\nA gateway killed (-9) and started again while the %d floating IPs are associated: its BGP session is up again %s after\n", res.Assoc.N, res.Session.Round(time.Millisecond))
	w("its start (connect retry 1 s), and it is a next hop of all %d routes in the FIB again **%s** after its start, **%s** after\n",
		res.Assoc.N, res.Restart.Round(time.Millisecond), (res.Restart - res.Session).Round(time.Millisecond))
	w("its session came up (its whole table at once: one watch listing, one flow bundle, the UPDATEs, zebra). This is the\n")
	w("edge's own convergence for %d routes; \"all routed\" above is bounded by the API's association rate.\n", res.Assoc.N)
	w("\nThe API calls are part of the window: with %d clients the server's association rate bounds \"all routed\" from below.\n", cfg.Workers)
	w("Each client keeps its connection alive. Server CPU per call is the `wyvern server` process's (API and embedded etcd)\n")
	w("user+system time over the calls ÷ calls: with the calls/s it tells whether the server's CPU or the shared machine bounds the rate.\n\n")

	if len(res.Steer)+len(res.AutoSteer) > 0 {
		steerSection(w, res)
	}
	if len(res.Deaths) > 0 {
		deathSection(w, cfg, res)
	}
	if len(res.CPU) > 0 {
		cpuSection(w, cfg, res)
	}
	return b.String()
}

func steerSection(w func(string, ...any), res *result) {
	w("## Steering to the scrubbing pool\n\n")
	w("A fourth gateway belongs to the `scrubbing` pool. **By the API** (the admin's `edge_pool`, as `wyvernctl floatingip steer`):\n")
	w("from the PUT's return to the router's FIB routing the address only via the scrubbing gateway, and back via the 3 general\n")
	w("ones after `edge_pool: null`. **Automatically**: every gateway reads its inbound flows' counters every 500 ms and moves an\n")
	w("address above %d pps through it to the scrubbing pool, and back after %s under it; a %d pps UDP flood (one flow, from the\n", steerThreshold, steerHoldDown, res.FloodRate)
	w("client) for 6 s: from its start to the FIB routing only via the scrubbing gateway, and from its end to the general gateways.\n\n")
	w("| move | rounds | each |\n| --- | --- | --- |\n")
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"API → scrubbing", res.Steer}, {"API → back", res.Unsteer}, {"flood start → scrubbing (auto)", res.AutoSteer},
		{fmt.Sprintf("flood end → back (auto, hold-down %s)", steerHoldDown), res.AutoBack}} {
		var each []string
		for _, d := range m.ds {
			each = append(each, d.Round(time.Millisecond).String())
		}
		w("| %s | %d | %s |\n", m.name, len(m.ds), strings.Join(each, ", "))
	}
	w("\n")
}

func deathSection(w func(string, ...any), cfg config, res *result) {
	w("## A gateway dies under a %d pps stream\n\n", cfg.Rate)
	w("The client pings the VM's floating IP at %d pps for 6 s (one flow: one gateway carries it); 2 s in, the carrying\n", cfg.Rate)
	w("gateway dies. Echo requests are counted at the VM (tcpdump). **kill -9**: the gateway process dies, its host's kernel\n")
	w("closes the BGP TCP session and FRR withdraws its paths at once, while its datapath (never wiped) keeps forwarding until\n")
	w("then: nothing is lost. **uplink cut**: the gateway's uplink goes down silently, no FIN reaches the router (as when the\n")
	if cfg.BFD > 0 {
		w("host crashes or loses its link), and FRR's bfdd notices when %d × %s pass without a BFD packet from it, and takes\n", 3, cfg.BFD)
		w("the BGP session down: the loss is bounded by the BFD detection time, not the hold time (3 s, keepalive 1 s).\n")
	} else {
		w("host crashes or loses its link), and FRR notices when the hold timer (3 s, keepalive 1 s) expires: the loss is bounded by\n")
		w("the hold time (no BFD: `-bfd 0`).\n")
	}
	w("The gateway is restarted (reconnected) between rounds.\n\n")
	w("| death | gateway | lost / sent | longest gap | FIB without it after |\n| --- | --- | --- | --- | --- |\n")
	for _, d := range res.Deaths {
		w("| %s | %s | %d / %d | %s | %s |\n", d.How, d.Gateway, d.Lost, d.Sent, d.Gap, d.FIBMoved.Round(time.Millisecond))
	}
	w("\nTarget: recovery within 1 s with BFD or tuned timers, otherwise at most the hold time. ")
	worst := time.Duration(0)
	for _, d := range res.Deaths {
		worst = max(worst, d.Gap, d.FIBMoved)
	}
	if len(res.Deaths) > 0 {
		if cfg.BFD > 0 {
			w("With BFD (%s × 3), the longest gap or FIB move: %s — %s.\n\n", cfg.BFD, worst.Round(time.Millisecond), met(worst < time.Second))
		} else {
			w("Without BFD, the longest gap or FIB move: %s — within the 3 s hold time: %s.\n\n", worst.Round(time.Millisecond), met(worst < 3*time.Second))
		}
	} else {
		w("\n\n")
	}
}

func cpuSection(w func(string, ...any), cfg config, res *result) {
	w("## Gateway CPU per Mpps, 1, 2 and 3 gateways\n\n")
	w("A UDP stream of 64-byte datagrams from 256 source ports (the router's L4 hash spreads them over the gateways) at a target\n")
	w("%d pps for %d s, to the VM's floating IP, with 1, then 2, then 3 gateways announcing it. CPU is each gateway's\n", cfg.CPURate, cfg.CPUSeconds)
	w("ovs-vswitchd user+system time over the stream (and until its flow counters settle), less its idle rate measured over the\n")
	w("2 s before; packets are its inbound NAT flow's counter. CPU per Mpps = CPU seconds per million packets (the CPU one\n")
	w("gateway would spend for each Mpps it carries). The userspace datapath here (netdev, veths, no DPDK) is far slower than a\n")
	w("production datapath; the figure to read is how the cost per packet holds as gateways are added, and how the packets spread.\n\n")
	w("| gateways | sent | sender took | counted / sent | packets per gateway | CPU per gateway | CPU s per Mpps (all) |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range res.CPU {
		var pk, cp []string
		n, c := 0, time.Duration(0)
		for i := range s.Packets {
			pk = append(pk, fmt.Sprint(s.Packets[i]))
			cp = append(cp, s.CPU[i].Round(10*time.Millisecond).String())
			n += s.Packets[i]
			c += s.CPU[i]
		}
		per := "?"
		if n > 0 {
			per = fmt.Sprintf("%.1f", c.Seconds()/(float64(n)/1e6))
		}
		w("| %d | %d | %.1f s | %.0f%% | %s | %s | %s |\n", s.Gateways, s.Sent, s.Seconds, 100*float64(n)/float64(max(s.Sent, 1)),
			strings.Join(pk, ", "), strings.Join(cp, ", "), per)
	}
	w("\nPackets not counted were dropped before the gateways' flows (the senders' and the veths' queues, the userspace datapath\n")
	w("falling behind). CPU times come from /proc in 10 ms ticks. The machine's load (above) makes the figures noisy: compare rows of one run.\n\n")
}
