package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// report gathers every round and writes the results page.
type report struct {
	cfg     config
	start   time.Time
	elapsed time.Duration
	machine string
	sets    []*roundSet // the first is production's, read against the targets
	profile *profileResult
}

// Targets of the issue "Northbound: Neutron v2.0 API" on 2-core machines.
const (
	targetRate = 1000.0 // port creates per second, at least
	targetP99  = 50.0   // ms, under
)

func (r *report) write(w io.Writer) {
	cfg := r.cfg
	fmt.Fprintf(w, "# API benchmark: port creates and lists (%s)\n\n", r.start.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "A real `wyvern server --noauth` on its embedded etcd (one member, temporary data dir on the local disk), "+
		"a fresh server per round. %d concurrent clients (net/http keep-alive, MaxIdleConnsPerHost %d) create ports "+
		"(`{\"port\": {\"network_id\": …}}`) on one network with a %s subnet, port quota %d (finite, so every create counts the project's ports as Neutron's quota does; one extra set lifts it): "+
		"%d unrecorded warm-up creates, then %d recorded ones in two phases: A up to %d ports, a pause to time the listings at %d ports, "+
		"then B for the rest. Total run time %s.\n\n",
		cfg.Clients, cfg.Clients, cfg.CIDR, cfg.Quota, cfg.Warmup, cfg.Creates, cfg.Ports, cfg.Ports, r.elapsed.Round(time.Second))
	fmt.Fprintf(w, "Command: `%s`", cfg.Command)
	if cfg.Built != "" {
		fmt.Fprintf(w, "; server built from %s", cfg.Built)
	}
	fmt.Fprintf(w, ".\n\n")
	fmt.Fprintf(w, "Machine:\n\n```\n%s```\n\n", r.machine)

	fmt.Fprintf(w, "## Summary: median (range) over rounds\n\n")
	var sets []*roundSet
	for _, set := range r.sets {
		if len(set.Rounds) > 0 {
			sets = append(sets, set)
		}
	}
	fmt.Fprintf(w, "| measure |")
	for _, set := range sets {
		fmt.Fprintf(w, " %s, %d round(s) |", set.Name, len(set.Rounds))
	}
	fmt.Fprintf(w, " target |\n|%s\n", strings.Repeat(" --- |", len(sets)+2))
	row := func(name string, f func(roundResult) float64, prec int, target string) {
		fmt.Fprintf(w, "| %s |", name)
		for _, set := range sets {
			fmt.Fprintf(w, " %s |", col(set.Rounds, f, prec))
		}
		fmt.Fprintf(w, " %s |\n", target)
	}
	row("port creates/s", func(x roundResult) float64 { return x.Create.rate() }, 0, "≥ 1,000")
	row("create p50 (ms)", func(x roundResult) float64 { return ms(x.Create.Lat.P50) }, 1, "")
	row("create p90 (ms)", func(x roundResult) float64 { return ms(x.Create.Lat.P90) }, 1, "")
	row("create p99 (ms)", func(x roundResult) float64 { return ms(x.Create.Lat.P99) }, 1, "< 50")
	row("create max (ms)", func(x roundResult) float64 { return ms(x.Create.Lat.Max) }, 1, "")
	row(fmt.Sprintf("phase A creates/s (%d→%d ports)", cfg.Warmup, cfg.Ports), func(x roundResult) float64 { return x.A.rate() }, 0, "")
	row("phase A p99 (ms)", func(x roundResult) float64 { return ms(x.A.Lat.P99) }, 1, "")
	row(fmt.Sprintf("phase B creates/s (%d→%d ports)", cfg.Ports, cfg.Warmup+cfg.Creates), func(x roundResult) float64 { return x.B.rate() }, 0, "")
	row("phase B p99 (ms)", func(x roundResult) float64 { return ms(x.B.Lat.P99) }, 1, "")
	row("failed creates", func(x roundResult) float64 { return float64(x.Create.errCount()) }, 0, "0")
	row("server CPU s per 1,000 creates", func(x roundResult) float64 { return x.ServerCPUPerK }, 2, "")
	row("phase A: server CPU s per 1,000", func(x roundResult) float64 { return x.ServerCPUPerKA }, 2, "")
	row("phase B: server CPU s per 1,000", func(x roundResult) float64 { return x.ServerCPUPerKB }, 2, "")
	row("client CPU s per 1,000 creates", func(x roundResult) float64 { return x.ClientCPUPerK }, 2, "")
	row(fmt.Sprintf("CPU-bound ceiling on %d cores (creates/s) = cores ÷ (server + client CPU per create)", runtime.NumCPU()),
		func(x roundResult) float64 {
			return float64(runtime.NumCPU()) * 1000 / (x.ServerCPUPerK + x.ClientCPUPerK)
		}, 0, "")
	row("etcd Range per create", func(x roundResult) float64 { return x.Range }, 2, "")
	row("etcd Txn per create", func(x roundResult) float64 { return x.Txn }, 2, "")
	row("etcd requests per create, all", func(x roundResult) float64 { return x.Range + x.Txn + x.Other }, 2, "")
	row("WAL fsyncs per create", func(x roundResult) float64 { return x.Fsyncs }, 3, "")
	row("mean WAL fsync (ms)", func(x roundResult) float64 { return x.FsyncMs }, 2, "")
	row(fmt.Sprintf("server RSS at %d ports (MB)", cfg.Warmup+cfg.Creates), func(x roundResult) float64 { return mb(x.RSSCreates) }, 0, "")
	row("server peak RSS (MB)", func(x roundResult) float64 { return mb(x.HWM) }, 0, "")
	lp := fmt.Sprintf(" (%d ports, limit=%d)", cfg.Ports, cfg.Limit)
	row("list page p50 (ms)"+lp, func(x roundResult) float64 { return ms(x.List.Page.P50) }, 1, "")
	row("list page p99 (ms)"+lp, func(x roundResult) float64 { return ms(x.List.Page.P99) }, 1, "")
	row("full paginated listing p50 (ms)", func(x roundResult) float64 { return ms(x.List.Full.P50) }, 0, "")
	row("unpaginated listing p50 (ms)", func(x roundResult) float64 { return ms(x.List.Unpaged.P50) }, 0, "")
	row("serial create p50 (ms), 1 client", func(x roundResult) float64 { return ms(x.Serial.Create.P50) }, 2, "")
	row("serial etcd Get p50 (ms)", func(x roundResult) float64 { return ms(x.Serial.EtcdGet.P50) }, 3, "")
	row("serial etcd Put p50 (ms)", func(x roundResult) float64 { return ms(x.Serial.EtcdPut.P50) }, 3, "")
	row("etcd requests per serial create (Range+Txn+other)", func(x roundResult) float64 {
		return x.Serial.Range + x.Serial.Txn + x.Serial.Other
	}, 2, "≤ 6")
	fmt.Fprintln(w)
	r.verdict(w)

	for _, set := range sets {
		fmt.Fprintf(w, "\n## Rounds, %s\n\n", set.Name)
		fmt.Fprintf(w, "| round | load avg at start | creates | creates/s | A / B creates/s | A / B p99 | p50 | p90 | p99 | max | errors | "+
			"server CPU s/1k | Range/create | Txn/create | fsyncs/create | fsync ms | commits/create | commit ms | "+
			"page p50 / p99 | full listing p50 / max | unpaginated p50 / max | page / full body |\n")
		fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", 22))
		for _, x := range set.Rounds {
			l := x.List
			fmt.Fprintf(w, "| %d | %s | %d | %.0f | %.0f / %.0f | %.1f / %.1f | %.1f | %.1f | %.1f | %.1f | %s | %.2f | %.2f | %.2f | %.3f | %.2f | %.3f | %.2f | %.1f / %.1f ms | %.0f / %.0f ms | %.0f / %.0f ms | %.0f kB / %.1f MB |\n",
				x.Index, x.LoadAvg, x.Create.Lat.N, x.Create.rate(), x.A.rate(), x.B.rate(), ms(x.A.Lat.P99), ms(x.B.Lat.P99),
				ms(x.Create.Lat.P50), ms(x.Create.Lat.P90), ms(x.Create.Lat.P99), ms(x.Create.Lat.Max),
				errString(x.Create.Errors), x.ServerCPUPerK, x.Range, x.Txn, x.Fsyncs, x.FsyncMs, x.Commits, x.CommitMs,
				ms(l.Page.P50), ms(l.Page.P99), ms(l.Full.P50), ms(l.Full.Max), ms(l.Unpaged.P50), ms(l.Unpaged.Max),
				float64(l.PageBytes)/1e3, float64(l.TotalBytes)/1e6)
		}
		fmt.Fprintf(w, "\nSerial probe (1 client, %d requests each, after the listings):\n\n", r.cfg.Serial)
		fmt.Fprintf(w, "| round | create p50 / p99 | etcd Get p50 / p99 | etcd Put p50 / p99 | Range / Txn / other per create |\n| --- | --- | --- | --- | --- |\n")
		for _, x := range set.Rounds {
			s := x.Serial
			fmt.Fprintf(w, "| %d | %.2f / %.2f ms | %.3f / %.3f ms | %.3f / %.3f ms | %.2f / %.2f / %.2f |\n", x.Index,
				ms(s.Create.P50), ms(s.Create.P99), ms(s.EtcdGet.P50), ms(s.EtcdGet.P99),
				ms(s.EtcdPut.P50), ms(s.EtcdPut.P99), s.Range, s.Txn, s.Other)
		}
	}
	if p := r.profile; p != nil {
		fmt.Fprintf(w, "\n## CPU profile of the server (separate run, fsync on)\n\n")
		fmt.Fprintf(w, "Server started with the opt-in `--pprof` listener, filled to %d ports, then profiled for %s while one client "+
			"listed the %d ports in pages of %d (%d full listings), then for %s while %d clients created ports "+
			"(%d creates from %d ports on, %.0f/s, p99 %.1f ms during the profile). "+
			"Profiles: `%s`, `%s` (bench/out, not kept in git; `go tool pprof bench/out/wyvern <file>`).\n\n",
			p.PortsBefore, r.cfg.Profile/2, p.PortsBefore, r.cfg.Limit, p.Listings, r.cfg.Profile, r.cfg.Clients,
			p.Creates.Lat.N, p.PortsBefore, p.Creates.rate(), ms(p.Creates.Lat.P99), p.CreateFile, p.ListFile)
		fmt.Fprintf(w, "Creates: %.1f s of CPU in %s (%.2f of 2 cores), %.0f µs of server CPU per create.\n\n",
			p.CreateBy.Total.Seconds(), r.cfg.Profile, p.CreateBy.Total.Seconds()/r.cfg.Profile.Seconds(),
			float64(p.CreateBy.Total.Microseconds())/float64(max(p.Creates.Lat.N, 1)))
		p.CreateBy.table(w, "creates", p.Creates.Lat.N)
		p.ListBy.table(w, "paginated listing", 0)
		fmt.Fprintf(w, "Creates, `go tool pprof -top -nodecount=25` (flat):\n\n```\n%s```\n\n", p.CreateTop)
		fmt.Fprintf(w, "Creates, `go tool pprof -top -cum -nodecount=25`:\n\n```\n%s```\n\n", p.CreateCum)
		fmt.Fprintf(w, "Paginated listing, `go tool pprof -top -cum -nodecount=25`:\n\n```\n%s```\n", p.ListTop)
	}
}

// verdict reads the production (fsync on) medians against the targets.
func (r *report) verdict(w io.Writer) {
	if len(r.sets) == 0 || len(r.sets[0].Rounds) == 0 {
		return
	}
	prod := r.sets[0].Rounds
	rate := spreadOf(collect(prod, func(x roundResult) float64 { return x.Create.rate() }))
	p99 := spreadOf(collect(prod, func(x roundResult) float64 { return ms(x.Create.Lat.P99) }))
	ok := func(b bool) string {
		if b {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(w, "Against the targets (fsync on, medians): %.0f creates/s vs ≥ %.0f: %s; p99 %.1f ms vs < %.0f ms: %s.\n",
		rate.Med, targetRate, ok(rate.Med >= targetRate), p99.Med, targetP99, ok(p99.Med < targetP99))
	if rate.Min < targetRate || p99.Max >= targetP99 {
		fmt.Fprintf(w, "Worst round: %.0f creates/s, p99 %.1f ms.\n", rate.Min, p99.Max)
	}
	load := spreadOf(collect(prod, func(x roundResult) float64 {
		v, _ := strconv.ParseFloat(strings.Fields(x.LoadAvg + " 0")[0], 64)
		return v
	}))
	if load.Med > float64(runtime.NumCPU()) {
		fmt.Fprintf(w, "\n**The machine was loaded by other work** (1-minute load average %.1f at the median round's start, on %d cores): "+
			"latency and rate understate the code; the CPU figures per create and the etcd counters are the load-independent ones.\n",
			load.Med, runtime.NumCPU())
	}
}

func collect(rs []roundResult, f func(roundResult) float64) []float64 {
	out := make([]float64, len(rs))
	for i, x := range rs {
		out[i] = f(x)
	}
	return out
}

func col(rs []roundResult, f func(roundResult) float64, prec int) string {
	if len(rs) == 0 {
		return "–"
	}
	return spreadOf(collect(rs, f)).format(prec)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func errString(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%d× %s", v, k))
	}
	return strings.Join(parts, "; ")
}

// machine describes the host the way the results page records it.
func machine() string {
	var b strings.Builder
	sh := func(name string, args ...string) {
		out, err := exec.Command(name, args...).CombinedOutput()
		fmt.Fprintf(&b, "$ %s\n", strings.Join(append([]string{name}, args...), " "))
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
		}
		b.Write(out)
	}
	sh("date", "-Iseconds")
	sh("nproc")
	sh("free", "-g")
	sh("go", "version")
	sh("uname", "-sr")
	if cpu, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(cpu), "\n") {
			if strings.HasPrefix(l, "model name") {
				fmt.Fprintf(&b, "cpu: %s\n", strings.TrimSpace(strings.SplitN(l, ":", 2)[1]))
				break
			}
		}
	}
	fmt.Fprintf(&b, "bench built with %s, GOMAXPROCS %d, load avg at start %s\n",
		runtime.Version(), runtime.GOMAXPROCS(0), loadAvg())
	return b.String()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// selfCPU is this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pprofTop renders a profile with `go tool pprof -top` (first lines).
func pprofTop(bin, profile string, cum bool) string {
	args := []string{"tool", "pprof", "-top", "-nodecount=25"}
	if cum {
		args = append(args, "-cum")
	}
	args = append(args, bin, profile)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
