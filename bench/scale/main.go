// Command scale is the scale benchmark (./bench/run.sh scale): at each
// size it starts a `wyvern server` (embedded etcd, or an external etcd
// with -etcd), builds a cloud of ten ports a chassis through the API,
// runs that many simulated chassis in this process (internal/sim: the
// real agent, a fake switch), and measures cold start, propagation of
// port, rule and router changes to every interested chassis, events and
// bytes per chassis against what each can reach (and, with -full, against
// a full-replication agent), etcd's load, the API's latency under the
// watches, a burst elsewhere and a chassis restart. It writes a results
// page.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	wmetrics "github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/sim"
)

type config struct {
	wyvern, etcd, proxy, tmp, out, command, built, label string
	sizes                                                []int
	portsPerNet, netsPerProject, routers                 int
	netsPerRouter, sgs, fips, ops, burst, wave, window   int
	full                                                 bool
	coalesce                                             time.Duration
	maxTime                                              time.Duration
	cpuProfile                                           string
}

func main() {
	var c config
	var sizes string
	flag.StringVar(&c.wyvern, "wyvern", "bench/out/wyvern", "wyvern binary (the API server)")
	flag.StringVar(&c.etcd, "etcd", "", "external etcd binary (Debian etcd-server); empty: the server's embedded etcd")
	flag.StringVar(&c.proxy, "proxy", "", "etcd binary whose `grpc-proxy` the agents connect through; empty: straight to etcd")
	flag.StringVar(&c.tmp, "tmp", "bench/out", "scratch directory")
	flag.StringVar(&c.out, "out", "", "results page to write")
	flag.StringVar(&c.command, "command", "./bench/run.sh scale", "command line shown on the page")
	flag.StringVar(&c.built, "built", "?", "what was built (shown on the page)")
	flag.StringVar(&c.label, "label", "", "a label for this run on the page (e.g. before/after a change)")
	flag.StringVar(&sizes, "chassis", "100,300", "comma-separated numbers of simulated chassis")
	flag.IntVar(&c.portsPerNet, "ports-per-net", 10, "ports per network (networks = chassis, ports = 10 × chassis)")
	flag.IntVar(&c.netsPerProject, "nets-per-project", 10, "networks per project")
	flag.IntVar(&c.routers, "routers", 2, "routers per project")
	flag.IntVar(&c.netsPerRouter, "nets-per-router", 3, "networks each router joins")
	flag.IntVar(&c.sgs, "sgs", 3, "security groups per project")
	flag.IntVar(&c.fips, "fips", 100, "floating IPs")
	flag.IntVar(&c.ops, "ops", 30, "measured changes of each kind")
	flag.IntVar(&c.burst, "burst", 1000, "ports of the burst elsewhere")
	flag.BoolVar(&c.full, "full", false, "run a full-replication informer set on every chassis (else one observer stands for them all)")
	flag.IntVar(&c.window, "window", 0, "start the chassis with at most this many started and not yet synced at a time (0: all at once)")
	flag.IntVar(&c.wave, "wave", 0, "start the chassis this many at a time, each wave once the last synced (0: all at once)")
	flag.DurationVar(&c.maxTime, "max-time", 20*time.Minute, "give up a size after this long")
	flag.DurationVar(&c.coalesce, "coalesce", 0, "the agents' Coalesce: hold a recompile back this long to fold in more events")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the agents) over the measured changes to this file (suffixed with the size)")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			log.Fatalf("scale: bad -chassis %q", sizes)
		}
		c.sizes = append(c.sizes, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var pts []point
	for _, n := range c.sizes {
		p, err := run(ctx, c, n)
		if err != nil {
			log.Printf("scale: %d chassis: %v", n, err)
			p.Err = err.Error()
		}
		pts = append(pts, p)
		if ctx.Err() != nil {
			break
		}
	}
	page := report(c, pts)
	if c.out == "" {
		fmt.Print(page)
		return
	}
	if err := machine.WritePage(c.out, page); err != nil {
		log.Fatal(err)
	}
}

// point is everything measured at one size.
type point struct {
	N, Nets, Ports, Routers, Rules, FIPs int
	Err                                  string
	Build                                time.Duration
	ColdStart, Settle                    time.Duration
	HeapPerChassis, RSSPerChassis        float64 // bytes
	Ops                                  map[string][]sim.Op
	APILat                               map[string][]time.Duration
	ListLat                              []time.Duration
	// per chassis during the measured changes: selective and full
	// replication; reach sizes.
	Sel, Full             []sim.Count
	ReachNets, ReachPorts []int
	ColdBytes             []int64
	// Cold are what each chassis received from its start to the end of
	// the cold start (Peer*: about other chassis); ColdMetrics etcd's
	// figures then.
	Cold        []sim.Count
	ColdMetrics map[string]float64
	// ColdSynced of ColdStarted chassis had synced ColdAt into the cold
	// start, by the last progress report.
	ColdSynced, ColdStarted int
	ColdAt                  time.Duration
	Burst                   time.Duration
	BurstPorts              int
	BurstOn                 int
	BurstQuietChassis       int // chassis outside the burst with 0 events
	BurstOthers             int
	BurstMaxOther           int64
	BurstFullMin            int64
	RestartSync             time.Duration
	RestartRead             sim.Count
	RestartOthersEvents     int64
	EtcdCold, EtcdOps       usage
	SimCold                 time.Duration
	EtcdRSS                 int64
	ProxyOps                usage // the grpc-proxy's, with -proxy
	ProxyRSS                int64
	Metrics                 map[string]float64
	SimCPU                  time.Duration
	// Syncs are the agents' recompiles over the measured changes.
	Syncs, Changes int
}

// agentSyncs is how many syncs (recompile and reconcile) the agents of
// this process made: the agents count them in one registry.
func agentSyncs() int {
	mfs, err := wmetrics.Registry.Gather()
	if err != nil {
		return 0
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "wyvern_agent_syncs_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int(n)
}

func run(ctx context.Context, c config, n int) (pt point, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.maxTime)
	defer cancel()
	pt = point{N: n, Ops: map[string][]sim.Op{}, APILat: map[string][]time.Duration{}}
	be, err := startBackend(ctx, c.tmp, c.wyvern, c.etcd, c.proxy)
	if err != nil {
		return pt, err
	}
	defer be.stop()
	cl := sim.NewClient(be.API)
	if err := cl.WaitReady(ctx); err != nil {
		return pt, err
	}
	logf, err := os.Create(be.dir + "/agents.log")
	if err != nil {
		return pt, err
	}
	defer logf.Close()
	s := sim.New([]string{be.AgentURL}, n, slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	s.FullReplication = c.full
	s.Coalesce = c.coalesce
	defer s.StopAll()

	projects := max(1, n/c.netsPerProject)
	p := sim.Params{Projects: projects, NetsPerProject: c.netsPerProject, PortsPerNet: c.portsPerNet,
		RoutersPerProject: c.routers, NetsPerRouter: c.netsPerRouter, SGsPerProject: c.sgs, FIPs: c.fips,
		Workers: 16, Seed: 1}
	topo := sim.NewTopology()
	sched := sim.NewScheduler(s.Names(), 1)
	t0 := time.Now()
	log.Printf("scale: %d chassis: building %d projects", n, projects)
	if err := topo.Build(ctx, cl, p, sched); err != nil {
		return pt, fmt.Errorf("build: %w", err)
	}
	pt.Build = time.Since(t0)
	pt.Nets, pt.Ports, pt.Routers, pt.FIPs = len(topo.Nets), len(topo.Ports), len(topo.Routers), len(topo.FIPs)
	s.PlugAll(topo)

	// One full-replication observer: every full-replication agent would
	// receive what it receives.
	var obs sim.Counters
	if !c.full {
		if err := sim.Observe(ctx, []string{be.EtcdURL}, &obs); err != nil {
			return pt, err
		}
	}
	fullCounts := func() map[string]sim.Count {
		if c.full {
			return s.FullCounts()
		}
		o := obs.Snapshot()
		out := map[string]sim.Count{}
		for _, name := range s.Names() {
			out[name] = o
		}
		return out
	}
	// Cold start: every chassis at once, ports already plugged.
	log.Printf("scale: %d chassis: cold start", n)
	e0 := be.etcdUsage()
	simCPU0 := pidUsage(os.Getpid()).CPU
	t0 = time.Now()
	start := func() error { return s.StartWindow(ctx, n) } // all at once
	if c.wave > 0 {
		start = func() error { return s.StartWaves(ctx, c.wave) }
	}
	if c.window > 0 {
		start = func() error { return s.StartWindow(ctx, c.window) }
	}
	coldCounts := func() {
		pt.Cold = pt.Cold[:0]
		for _, ct := range s.Counts() {
			pt.Cold = append(pt.Cold, ct)
		}
		// ctx may have ended (-max-time): etcd still answers.
		mctx, mcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer mcancel()
		pt.ColdMetrics = metrics(mctx, be.EtcdURL)
	}
	s.Progress = func(synced, started, total int) {
		pt.ColdSynced, pt.ColdStarted, pt.ColdAt = synced, started, time.Since(t0)
		var ev, peer int64
		for _, ct := range s.Counts() {
			ev += ct.Events
			peer += ct.PeerEvents
		}
		m := metrics(ctx, be.EtcdURL)
		log.Printf("scale: %d chassis: cold start: %d synced, %d started, load %s; agents received %d events, %d about peers (chassis/alive); etcd: %.0f watchers, %.0f slow, %.0f pending events, %.0f events sent, %.0f slow applies",
			n, synced, started, machine.Describe().Load, ev, peer, m["etcd_debugging_mvcc_watcher_total"], m["etcd_debugging_mvcc_slow_watcher_total"],
			m["etcd_debugging_mvcc_pending_events_total"], m["etcd_debugging_mvcc_events_total"], m["etcd_server_slow_apply_total"])
	}
	if err := start(); err != nil {
		coldCounts()
		return pt, fmt.Errorf("cold start: %w", err)
	}
	pt.ColdStart = time.Since(t0)
	coldCounts()
	if err := s.Quiet(ctx, 3*time.Second); err != nil {
		return pt, err
	}
	pt.Settle = time.Since(t0) - 3*time.Second
	pt.EtcdCold = be.etcdUsage().sub(e0)
	pt.SimCold = pidUsage(os.Getpid()).CPU - simCPU0
	for _, ct := range s.Counts() {
		pt.ColdBytes = append(pt.ColdBytes, ct.Bytes)
	}
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	pt.HeapPerChassis = float64(ms.HeapInuse) / float64(n)
	pt.RSSPerChassis = float64(pidUsage(os.Getpid()).RSS) / float64(n)

	// Measured changes, one at a time.
	log.Printf("scale: %d chassis: measured changes", n)
	w := &sim.Workload{Sim: s, Topo: topo, Client: cl, Sched: sched, Rnd: rand.New(rand.NewPCG(2, 3)), Timeout: 15 * time.Second}
	before, fullBefore := s.Counts(), fullCounts()
	e0 = be.etcdUsage()
	p0 := be.proxy.usage()
	cpu0 := pidUsage(os.Getpid()).CPU
	syncs0 := agentSyncs()
	if c.cpuProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", c.cpuProfile, n))
		if err != nil {
			return pt, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return pt, err
		}
		defer pprof.StopCPUProfile()
	}
	kinds := []func(context.Context) (sim.Op, error){w.PortCreate, w.RuleCreate, w.RouterInterface, w.PortDelete}
	for i := 0; i < c.ops; i++ {
		for _, k := range kinds {
			op, err := k(ctx)
			if err != nil {
				return pt, fmt.Errorf("%s: %w", op.Kind, err)
			}
			pt.Ops[op.Kind] = append(pt.Ops[op.Kind], op)
			pt.APILat[op.Kind] = append(pt.APILat[op.Kind], op.API)
		}
		t1 := time.Now()
		if err := cl.Do(ctx, "GET", "/v2.0/ports?limit=100", "", nil, nil); err != nil {
			return pt, err
		}
		pt.ListLat = append(pt.ListLat, time.Since(t1))
	}
	if err := s.Quiet(ctx, 2*time.Second); err != nil {
		return pt, err
	}
	pt.EtcdOps = be.etcdUsage().sub(e0)
	pt.ProxyOps = be.proxy.usage().sub(p0)
	pt.SimCPU = pidUsage(os.Getpid()).CPU - cpu0
	pt.Syncs = agentSyncs() - syncs0
	pt.Changes = c.ops * len(kinds)
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	after, fullAfter := s.Counts(), fullCounts()
	for _, name := range s.Names() {
		pt.Sel = append(pt.Sel, after[name].Sub(before[name]))
		pt.Full = append(pt.Full, fullAfter[name].Sub(fullBefore[name]))
		r := topo.Reach(name)
		pt.ReachNets = append(pt.ReachNets, len(r.Nets))
		pt.ReachPorts = append(pt.ReachPorts, r.Ports)
	}

	// A burst of ports elsewhere: a new project on a few chassis.
	if c.burst > 0 {
		log.Printf("scale: %d chassis: burst of %d ports", n, c.burst)
		on := s.Names()[:max(1, n/20)]
		before, fullBefore = s.Counts(), fullCounts()
		d, err := w.Burst(ctx, 100000, max(1, c.burst/c.portsPerNet), c.burst, 16, on)
		if err != nil {
			return pt, fmt.Errorf("burst: %w", err)
		}
		if err := s.Quiet(ctx, 2*time.Second); err != nil {
			return pt, err
		}
		pt.Burst, pt.BurstPorts, pt.BurstOn = d, c.burst, len(on)
		after, fullAfter = s.Counts(), fullCounts()
		pt.BurstFullMin = -1
		for _, name := range s.Names() {
			if slices.Contains(on, name) {
				continue
			}
			pt.BurstOthers++
			ev := after[name].Sub(before[name]).Events
			if ev == 0 {
				pt.BurstQuietChassis++
			}
			pt.BurstMaxOther = max(pt.BurstMaxOther, ev)
			if f := fullAfter[name].Sub(fullBefore[name]).Events; pt.BurstFullMin < 0 || f < pt.BurstFullMin {
				pt.BurstFullMin = f
			}
		}
	}

	// A chassis restart: what it reads, how long to resync, what the
	// others receive meanwhile.
	log.Printf("scale: %d chassis: restart", n)
	victim := s.Chassis[n-1]
	if err := s.Stop(victim); err != nil {
		return pt, err
	}
	before = s.Counts()
	t0 = time.Now()
	if err := s.Start(ctx, victim); err != nil {
		return pt, err
	}
	select {
	case <-victim.Agent().Synced():
	case <-ctx.Done():
		return pt, ctx.Err()
	}
	pt.RestartSync = time.Since(t0)
	if err := s.Quiet(ctx, 2*time.Second); err != nil {
		return pt, err
	}
	after = s.Counts()
	pt.RestartRead = after[victim.Name].Sub(before[victim.Name])
	for _, name := range s.Names() {
		if name != victim.Name {
			pt.RestartOthersEvents += after[name].Sub(before[name]).Events
		}
	}
	pt.EtcdRSS = be.etcdUsage().RSS
	pt.ProxyRSS = be.proxy.usage().RSS
	pt.Metrics = metrics(ctx, be.EtcdURL)
	return pt, nil
}

func (u usage) sub(o usage) usage { return usage{CPU: u.CPU - o.CPU, RSS: u.RSS, HWM: u.HWM} }

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func median(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func maxOf(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs)
}

func report(c config, pts []point) string {
	m := machine.Describe()
	var b strings.Builder
	fmt.Fprintf(&b, "# Scale: simulated chassis against one etcd%s\n\n", map[bool]string{true: " (" + c.label + ")", false: ""}[c.label != ""])
	fmt.Fprintf(&b, "Run %s. Command: `%s`. Built: %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), c.command, c.built)
	if c.window > 0 {
		fmt.Fprintf(&b, "Cold start: a sliding window, at most %d chassis started and not yet synced at a time.\n\n", c.window)
	}
	if c.wave > 0 {
		fmt.Fprintf(&b, "Cold start: a rolling start, %d chassis at a time, each wave once the one before had synced (all at once, 1,000 chassis overwhelmed the one etcd on this machine: some agents had no read answered within 5 minutes).\n\n", c.wave)
	}
	b.WriteString("The machine is shared with other work: wall-clock figures (cold start, propagation) stretch with its load; CPU times do not.\n\n")
	fmt.Fprintf(&b, "Machine: %s CPUs, load %s, %s, kernel %s. etcd: %s.\n\n", m.CPUs, m.Load, m.Go, m.Kernel,
		map[bool]string{true: "external `" + c.etcd + "` (no fsync)", false: "embedded in `wyvern server` (no fsync; its CPU and RSS include the API server)"}[c.etcd != ""])
	if c.proxy != "" {
		b.WriteString("The agents connect through `etcd grpc-proxy` (from the same Debian package), which coalesces identical watches; the API server connects to etcd directly. Watchers and watch streams are etcd's.\n\n")
	}
	fmt.Fprintf(&b, "Each simulated chassis is the real agent (`internal/agent`: its own etcd connection, informers, view, compile, reconciler, heartbeat lease) with an in-memory switch (`internal/sim`). Topology per size N: N networks (%d per project), %d ports per network placed by a spreading scheduler, %d routers per project each joining %d networks, %d security groups per project (SSH, ICMP, and a remote-group rule to the next group), %d floating IPs. Changes are measured one at a time (%d of each kind) while all chassis watch. Full replication (what an agent watching every topology prefix receives): %s.\n\n",
		c.netsPerProject, c.portsPerNet, c.routers, c.netsPerRouter, c.sgs, c.fips, c.ops,
		map[bool]string{true: "measured on every chassis (-full)", false: "measured by one observer, which receives what every such agent would"}[c.full])

	b.WriteString("## Size, cold start and memory\n\n| chassis | networks | ports | routers | FIPs | build via API | cold start (all synced) | settled | Go heap / chassis | process RSS / chassis | etcd CPU during cold start | agents' CPU during cold start (per chassis) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s (%s) |\n", p.N, p.Nets, p.Ports, p.Routers, p.FIPs,
			ms(p.Build), ms(p.ColdStart), ms(p.Settle), mib(p.HeapPerChassis), mib(p.RSSPerChassis), ms(p.EtcdCold.CPU),
			ms(p.SimCold), ms(p.SimCold/time.Duration(max(p.N, 1))))
	}
	b.WriteString("\n## Cold start: what each chassis received, and etcd\n\nFrom each chassis' start to the end of the cold start (all synced, or the run stopped). Peers: events and bytes under `chassis/`, `alive/` and `gateway_chassis/` (other chassis' registrations and liveness); the rest is topology. etcd's figures are read at the end of the cold start.\n\n| chassis | started | events (median / max) | bytes (median / max) | peer events (median / max) | peer bytes (median / max) | peer events, all chassis | etcd watchers | slow watchers | pending events | events sent | slow applies | leases granted |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		var ev, by, pev, pby []int64
		var psum int64
		for _, ct := range p.Cold {
			if ct.Events == 0 {
				continue // not started
			}
			ev, by, pev, pby = append(ev, ct.Events), append(by, ct.Bytes), append(pev, ct.PeerEvents), append(pby, ct.PeerBytes)
			psum += ct.PeerEvents
		}
		m := p.ColdMetrics
		fmt.Fprintf(&b, "| %d | %d | %d / %d | %d / %d | %d / %d | %d / %d | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", p.N, len(ev), median(ev), maxOf(ev),
			median(by), maxOf(by), median(pev), maxOf(pev), median(pby), maxOf(pby), psum, m["etcd_debugging_mvcc_watcher_total"],
			m["etcd_debugging_mvcc_slow_watcher_total"], m["etcd_debugging_mvcc_pending_events_total"], m["etcd_debugging_mvcc_events_total"],
			m["etcd_server_slow_apply_total"], m["etcd_debugging_lease_granted_total"])
	}
	for _, p := range pts {
		if p.ColdStart == 0 && p.ColdStarted > 0 {
			fmt.Fprintf(&b, "\n%d chassis: the cold start did not finish: %d synced of %d started %s into it (the last progress report).\n", p.N, p.ColdSynced, p.ColdStarted, ms(p.ColdAt))
		}
	}
	b.WriteString("\n## Propagation: API call → every interested chassis' switch has the bundle\n\n")
	b.WriteString("`all` is per change, until the slowest interested chassis had it; `each` is over every (change, chassis) pair.\n\n")
	b.WriteString("| chassis | change | interested (median) | all p50 | all p99 | each p50 | each p99 | missed | API p50 | API p99 |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		kinds := make([]string, 0, len(p.Ops))
		for k := range p.Ops {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			var all, each []time.Duration
			var interested []int64
			missed := 0
			for _, o := range p.Ops[k] {
				all = append(all, o.All())
				each = append(each, o.Chassis...)
				interested = append(interested, int64(o.Interested))
				missed += o.Missed
			}
			fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %s | %s | %d | %s | %s |\n", p.N, k, median(interested),
				ms(sim.Percentile(all, 50)), ms(sim.Percentile(all, 99)), ms(sim.Percentile(each, 50)), ms(sim.Percentile(each, 99)),
				missed, ms(sim.Percentile(p.APILat[k], 50)), ms(sim.Percentile(p.APILat[k], 99)))
		}
		fmt.Fprintf(&b, "| %d | `GET /v2.0/ports?limit=100` | | | | | | | %s | %s |\n", p.N, ms(sim.Percentile(p.ListLat, 50)), ms(sim.Percentile(p.ListLat, 99)))
	}
	b.WriteString("\n## Events and bytes per chassis during the measured changes, against reach\n\n")
	b.WriteString("Reach: the networks a chassis holds (its own and those routed to them) and their ports. Full replication: what an agent watching every topology prefix received over the same changes.\n\n")
	b.WriteString("Events count an informer's listing as one event; updates are the events that are not listings (a listing comes when a chassis starts holding a network or a group).\n\n")
	b.WriteString("| chassis | reach nets (median / max) | reach ports (median / max) | events (median / max) | of them updates (median / max) | bytes (median / max) | full-replication events (median) | full-replication bytes (median) | ratio full/selective (events / bytes, medians) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		var rn, rp, ev, up, by, fev, fby []int64
		for i := range p.Sel {
			rn = append(rn, int64(p.ReachNets[i]))
			rp = append(rp, int64(p.ReachPorts[i]))
			ev = append(ev, p.Sel[i].Events)
			up = append(up, p.Sel[i].Updates())
			by = append(by, p.Sel[i].Bytes)
			fev = append(fev, p.Full[i].Events)
			fby = append(fby, p.Full[i].Bytes)
		}
		ratio := "—"
		if median(by) > 0 && median(ev) > 0 {
			ratio = fmt.Sprintf("%.1f× / %.1f×", float64(median(fev))/float64(median(ev)), float64(median(fby))/float64(median(by)))
		}
		fmt.Fprintf(&b, "| %d | %d / %d | %d / %d | %d / %d | %d / %d | %d / %d | %s | %s | %s |\n", p.N, median(rn), maxOf(rn), median(rp), maxOf(rp),
			median(ev), maxOf(ev), median(up), maxOf(up), median(by), maxOf(by), fullOr(true, median(fev)), fullOr(true, median(fby)), ratio)
	}
	b.WriteString("\n## A burst elsewhere\n\n| chassis | burst | on chassis | took | other chassis | of them with 0 events | max events on another | full replication: min events on another |\n|---|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		fmt.Fprintf(&b, "| %d | %d ports | %d | %s | %d | %d | %d | %s |\n", p.N, p.BurstPorts, p.BurstOn, ms(p.Burst), p.BurstOthers,
			p.BurstQuietChassis, p.BurstMaxOther, fullOr(true, p.BurstFullMin))
	}
	b.WriteString("\n## A chassis restart, and etcd\n\n| chassis | restart: resync | read (events / bytes) | events to the others | cold start bytes / chassis (median / max) | etcd CPU over the changes | sim CPU over the changes | etcd RSS | etcd db size | watchers | watch streams |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		fmt.Fprintf(&b, "| %d | %s | %d / %d | %d | %d / %d | %s | %s | %s | %s | %.0f | %.0f |\n", p.N, ms(p.RestartSync), p.RestartRead.Events,
			p.RestartRead.Bytes, p.RestartOthersEvents, median(p.ColdBytes), maxOf(p.ColdBytes), ms(p.EtcdOps.CPU), ms(p.SimCPU),
			mib(float64(p.EtcdRSS)), mib(p.Metrics["etcd_mvcc_db_total_size_in_bytes"]), p.Metrics["etcd_debugging_mvcc_watcher_total"],
			p.Metrics["etcd_debugging_mvcc_watch_stream_total"])
	}
	if c.proxy != "" {
		b.WriteString("\n## The grpc-proxy\n\n| chassis | proxy CPU over the changes | proxy RSS |\n|---|---|---|\n")
		for _, p := range pts {
			fmt.Fprintf(&b, "| %d | %s | %s |\n", p.N, ms(p.ProxyOps.CPU), mib(float64(p.ProxyRSS)))
		}
	}
	b.WriteString("\n## The agents' work over the measured changes\n\nA sync is one agent's recompile and reconcile. CPU is this process' (all the agents), so CPU per sync does not depend on the machine's load; the wall-clock propagation above is that work queued on the cores the simulation gets.\n\n| chassis | changes | coalesce | syncs | syncs per change | sim CPU | CPU per sync | CPU per change |\n|---|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		if p.Syncs == 0 || p.Changes == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %d | %d | %s | %d | %.1f | %s | %.1f ms | %s |\n", p.N, p.Changes, c.coalesce, p.Syncs,
			float64(p.Syncs)/float64(p.Changes), ms(p.SimCPU), float64(p.SimCPU.Microseconds())/1000/float64(p.Syncs), ms(p.SimCPU/time.Duration(p.Changes)))
	}
	for _, p := range pts {
		if p.Err != "" {
			fmt.Fprintf(&b, "\n**%d chassis failed:** %s\n", p.N, p.Err)
		}
	}
	return b.String()
}

func fullOr(full bool, v int64) string {
	if !full {
		return "—"
	}
	return strconv.FormatInt(v, 10)
}
