// Command api is the API half of `make bench`: it starts a real
// `wyvern server --noauth` on embedded etcd (fsync on, as in production,
// and again with --unsafe-no-fsync), creates ports from 64 concurrent
// keep-alive clients, times paginated and unpaginated port listings at
// 10,000 ports, explains the cost of a create from etcd's own counters and
// the server's CPU time, optionally profiles the server through its opt-in
// --pprof listener, and writes the figures as Markdown.
//
// It builds nothing: bench/run.sh builds the server and this program into
// bench/out and runs it. See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/progress"
)

// config is the benchmark's parameters, from flags.
type config struct {
	Wyvern        string // server binary
	Out           string // Markdown results file; empty: stdout only
	TmpDir        string // data dirs and profiles
	Rounds        int    // rounds with fsync on
	NoFsyncRounds int    // rounds with --unsafe-no-fsync
	NoQuotaRounds int    // rounds with fsync on and port quota -1
	Clients       int
	Warmup        int // creates before the measured phase, not recorded
	Ports         int // ports present when listing; creates up to it are phase A
	Creates       int // recorded creates, phases A and B together
	Quota         int // port quota of the benchmark project
	Limit         int // page size of the paginated listing
	ListReps      int
	Serial        int           // serial creates and etcd requests in the probe
	Profile       time.Duration // CPU profile length of the profiled run; 0: none
	CIDR          string
	Command       string // the command line to record
	Built         string // what the server was built from
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Wyvern, "wyvern", "bench/out/wyvern", "wyvern binary to benchmark")
	flag.StringVar(&cfg.Out, "out", "", "write the Markdown results to this file")
	flag.StringVar(&cfg.TmpDir, "tmp", "bench/out", "directory for data dirs and profiles")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "rounds with fsync on (production)")
	flag.IntVar(&cfg.NoFsyncRounds, "nofsync-rounds", 1, "rounds with --unsafe-no-fsync")
	flag.IntVar(&cfg.NoQuotaRounds, "noquota-rounds", 1, "rounds with fsync on and port quota -1 (no per-create count)")
	flag.IntVar(&cfg.Clients, "clients", 64, "concurrent clients")
	flag.IntVar(&cfg.Warmup, "warmup", 500, "unrecorded creates before the measured ones")
	flag.IntVar(&cfg.Ports, "ports", 10000, "ports present for the list test: recorded creates pause there to list")
	flag.IntVar(&cfg.Creates, "creates", 15000, "recorded creates per round (from -warmup ports on)")
	flag.IntVar(&cfg.Quota, "quota", 1000000, "port quota of the project; finite as in production, -1 skips the per-create count")
	flag.IntVar(&cfg.Limit, "limit", 1000, "page size of the paginated listing")
	flag.IntVar(&cfg.ListReps, "list-reps", 3, "full listings timed, paginated and unpaginated")
	flag.IntVar(&cfg.Serial, "serial", 200, "serial creates and etcd requests of the uncontended probe")
	flag.DurationVar(&cfg.Profile, "profile", 10*time.Second, "CPU profile length of an extra profiled run (0: none)")
	flag.StringVar(&cfg.CIDR, "cidr", "10.64.0.0/16", "subnet of the benchmark network")
	flag.StringVar(&cfg.Command, "command", "", "command line to record in the results (default: this program's)")
	flag.StringVar(&cfg.Built, "built", "", "what the server binary was built from, to record")
	flag.Parse()
	if cfg.Command == "" {
		cfg.Command = strings.Join(os.Args, " ")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "bench/api:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.Ports <= cfg.Warmup {
		return fmt.Errorf("-ports %d must exceed -warmup %d", cfg.Ports, cfg.Warmup)
	}
	if cfg.Quota >= 0 && cfg.Quota < cfg.Warmup+cfg.Creates+cfg.Serial+64 {
		return fmt.Errorf("-quota %d is below the ports the run makes", cfg.Quota)
	}
	if err := os.MkdirAll(cfg.TmpDir, 0o755); err != nil {
		return fmt.Errorf("tmp dir: %w", err)
	}
	rep := &report{cfg: cfg, start: time.Now(), machine: machine()}
	rep.sets = []*roundSet{
		{Name: "fsync on (production)", Fsync: true, Quota: cfg.Quota, N: cfg.Rounds},
		{Name: "--unsafe-no-fsync", Fsync: false, Quota: cfg.Quota, N: cfg.NoFsyncRounds},
		{Name: "fsync on, port quota -1 (no per-create count)", Fsync: true, Quota: -1, N: cfg.NoQuotaRounds},
	}
	total := 0
	for _, set := range rep.sets {
		total += set.N
	}
	// Progress on stderr: the round, the count and an ETA on a terminal,
	// plain lines otherwise (stdout carries the results).
	pr := progress.New(os.Stderr, total)
	for _, set := range rep.sets {
		for i := range set.N {
			pr.Step("%s, round %d/%d", set.Name, i+1, set.N)
			r, err := runRound(ctx, cfg, set, i+1, log)
			if err != nil {
				pr.Done("failed")
				return fmt.Errorf("%s, round %d: %w", set.Name, i+1, err)
			}
			pr.Done("%d creates in %s", len(r.Create.all), r.Create.Elapsed.Round(time.Millisecond))
			set.Rounds = append(set.Rounds, r)
		}
	}
	if cfg.Profile > 0 {
		p, err := runProfile(ctx, cfg, log)
		if err != nil {
			return fmt.Errorf("profiled run: %w", err)
		}
		rep.profile = p
	}
	rep.elapsed = time.Since(rep.start)
	var w io.Writer = os.Stdout
	if cfg.Out != "" {
		f, err := os.Create(cfg.Out)
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	rep.write(w)
	return nil
}

// phase is one recorded stretch of contended creates with the server's
// CPU time and etcd's counters around it.
type phase struct {
	Create             createResult
	ServerCPU          time.Duration
	ClientCPU          time.Duration
	Before, After      metrics
	PortsBefore        int
	RSSAfter, HWMAfter int64
}

// measure runs n creates from cfg.Clients clients and reads the server's
// CPU time and etcd's counters before and after.
func measure(ctx context.Context, cfg config, s *serverProc, c *client, netID string, n int) (phase, error) {
	var ph phase
	var err error
	if ph.Before, err = s.etcdMetrics(ctx); err != nil {
		return ph, err
	}
	p0, err := s.stat()
	if err != nil {
		return ph, err
	}
	c0 := selfCPU()
	ph.Create = createPorts(ctx, c, netID, cfg.Clients, n, 0)
	ph.ClientCPU = selfCPU() - c0
	p1, err := s.stat()
	if err != nil {
		return ph, err
	}
	ph.ServerCPU = p1.CPU - p0.CPU
	ph.RSSAfter, ph.HWMAfter = p1.RSS, p1.HWM
	if ph.After, err = s.etcdMetrics(ctx); err != nil {
		return ph, err
	}
	return ph, s.alive()
}

// roundResult is one round: a fresh server, contended creates up to
// cfg.Ports ports (phase A), the listings at cfg.Ports ports, more
// contended creates (phase B), then the serial probe.
type roundResult struct {
	Fsync   bool
	Index   int
	LoadAvg string       // /proc/loadavg when the round started: the machine is shared
	Create  createResult // phases A and B together
	A, B    createResult
	// Server process CPU and client (this program) CPU per 1,000 measured
	// creates, in seconds; on 2 cores the two compete.
	ServerCPUPerK, ClientCPUPerK   float64
	ServerCPUPerKA, ServerCPUPerKB float64 // per phase: does a create cost more in a bigger store?
	RSSCreates, HWM                int64
	// etcd's own counters per measured create.
	Range, Txn, Other float64
	Fsyncs, FsyncMs   float64 // WAL fsyncs per create, mean fsync duration
	Commits, CommitMs float64 // backend (bbolt) commits per create, mean duration
	List              listResult
	Serial            serialResult
}

// roundSet is the rounds of one server configuration.
type roundSet struct {
	Name   string
	Fsync  bool
	Quota  int
	N      int
	Rounds []roundResult
}

func runRound(ctx context.Context, cfg config, set *roundSet, idx int, log *slog.Logger) (roundResult, error) {
	fsync := set.Fsync
	res := roundResult{Fsync: fsync, Index: idx, LoadAvg: loadAvg()}
	log.Info("round", "set", set.Name, "index", idx, "load", res.LoadAvg)
	s, err := startServer(ctx, cfg.Wyvern, cfg.TmpDir, fsync, false)
	if err != nil {
		return res, err
	}
	defer s.stop()
	c := newClient(s.API, cfg.Clients)
	netID, err := setup(ctx, c, cfg.CIDR, set.Quota)
	if err != nil {
		return res, err
	}
	if w := createPorts(ctx, c, netID, cfg.Clients, cfg.Warmup, 0); w.errCount() > 0 {
		return res, fmt.Errorf("warm-up errors: %v", w.Errors)
	}
	have, err := countPorts(ctx, c)
	if err != nil {
		return res, err
	}
	nA := cfg.Ports - have
	if nA <= 0 {
		return res, fmt.Errorf("%d ports after warm-up, want fewer than %d", have, cfg.Ports)
	}
	a, err := measure(ctx, cfg, s, c, netID, nA)
	if err != nil {
		return res, err
	}
	log.Info("creates A", "fsync", fsync, "round", idx, "n", a.Create.Lat.N,
		"per_s", fmt.Sprintf("%.0f", a.Create.rate()), "p50", a.Create.Lat.P50, "p99", a.Create.Lat.P99,
		"errors", a.Create.errCount())
	// Failed creates leave fewer ports than wanted: top up before listing.
	if have, err = countPorts(ctx, c); err != nil {
		return res, err
	}
	if have < cfg.Ports {
		if t := createPorts(ctx, c, netID, cfg.Clients, cfg.Ports-have, 0); t.errCount() > 0 {
			return res, fmt.Errorf("top-up errors: %v", t.Errors)
		}
	}
	if res.List, err = listPorts(ctx, c, cfg.Limit, cfg.ListReps, cfg.Ports); err != nil {
		return res, err
	}
	log.Info("lists", "fsync", fsync, "round", idx, "page_p50", res.List.Page.P50, "page_p99", res.List.Page.P99,
		"full_p50", res.List.Full.P50, "unpaged_p50", res.List.Unpaged.P50)
	b := phase{}
	if nB := cfg.Creates - nA; nB > 0 {
		if b, err = measure(ctx, cfg, s, c, netID, nB); err != nil {
			return res, err
		}
		log.Info("creates B", "fsync", fsync, "round", idx, "n", b.Create.Lat.N,
			"per_s", fmt.Sprintf("%.0f", b.Create.rate()), "p50", b.Create.Lat.P50, "p99", b.Create.Lat.P99,
			"errors", b.Create.errCount())
	}
	res.A, res.B = a.Create, b.Create
	res.Create = joinCreates(a.Create, b.Create)
	n := float64(a.Create.Lat.N + b.Create.Lat.N)
	res.ServerCPUPerK = (a.ServerCPU + b.ServerCPU).Seconds() / n * 1000
	res.ClientCPUPerK = (a.ClientCPU + b.ClientCPU).Seconds() / n * 1000
	res.ServerCPUPerKA = a.ServerCPU.Seconds() / float64(max(a.Create.Lat.N, 1)) * 1000
	res.ServerCPUPerKB = b.ServerCPU.Seconds() / float64(max(b.Create.Lat.N, 1)) * 1000
	res.RSSCreates, res.HWM = a.RSSAfter, a.HWMAfter
	if b.After != nil {
		res.RSSCreates, res.HWM = b.RSSAfter, b.HWMAfter
	}
	sum := func(key string) float64 {
		v := delta(a.Before, a.After, key)
		if b.After != nil {
			v += delta(b.Before, b.After, key)
		}
		return v
	}
	const h = "grpc_server_handled_total"
	kv := sum(h + "{grpc_service=etcdserverpb.KV}")
	res.Range, res.Txn = sum(h+"{grpc_method=Range}")/n, sum(h+"{grpc_method=Txn}")/n
	res.Other = kv/n - res.Range - res.Txn
	if fs := sum("etcd_disk_wal_fsync_duration_seconds_count"); fs > 0 {
		res.Fsyncs = fs / n
		res.FsyncMs = 1000 * sum("etcd_disk_wal_fsync_duration_seconds_sum") / fs
	}
	if cm := sum("etcd_disk_backend_commit_duration_seconds_count"); cm > 0 {
		res.Commits = cm / n
		res.CommitMs = 1000 * sum("etcd_disk_backend_commit_duration_seconds_sum") / cm
	}
	if res.Serial, err = serialProbe(ctx, s, c, netID, cfg.Serial); err != nil {
		return res, err
	}
	log.Info("serial", "fsync", fsync, "round", idx, "create_p50", res.Serial.Create.P50,
		"etcd_get_p50", res.Serial.EtcdGet.P50, "etcd_put_p50", res.Serial.EtcdPut.P50)
	return res, s.alive()
}

// profileResult is the CPU profile of a separate run (fsync on).
type profileResult struct {
	Creates     createResult
	PortsBefore int    // ports when the create profile started
	CreateFile  string // profile during creates
	ListFile    string // profile during paginated listings
	CreateTop   string // go tool pprof -top, flat
	CreateCum   string // go tool pprof -top -cum
	ListTop     string
	CreateBy    breakdown
	ListBy      breakdown
	Listings    int // full listings made while profiling
}

// runProfile fills a server (with --pprof) to cfg.Ports ports, profiles it
// for cfg.Profile/2 while one client lists ports page by page, then for
// cfg.Profile while cfg.Clients clients create ports.
func runProfile(ctx context.Context, cfg config, log *slog.Logger) (*profileResult, error) {
	log.Info("profiled run", "seconds", cfg.Profile.Seconds())
	s, err := startServer(ctx, cfg.Wyvern, cfg.TmpDir, true, true)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	c := newClient(s.API, cfg.Clients)
	netID, err := setup(ctx, c, cfg.CIDR, cfg.Quota)
	if err != nil {
		return nil, err
	}
	if w := createPorts(ctx, c, netID, cfg.Clients, cfg.Warmup, 0); w.errCount() > 0 {
		return nil, fmt.Errorf("warm-up errors: %v", w.Errors)
	}
	have, err := countPorts(ctx, c)
	if err != nil {
		return nil, err
	}
	if have < cfg.Ports {
		if t := createPorts(ctx, c, netID, cfg.Clients, cfg.Ports-have, 0); t.errCount() > 0 {
			return nil, fmt.Errorf("fill errors: %v", t.Errors)
		}
	}
	stamp := time.Now().Format("20060102-150405")
	p := &profileResult{
		PortsBefore: cfg.Ports,
		CreateFile:  fmt.Sprintf("%s/api-cpu-create-%s.pb.gz", cfg.TmpDir, stamp),
		ListFile:    fmt.Sprintf("%s/api-cpu-list-%s.pb.gz", cfg.TmpDir, stamp),
	}
	lctx, cancel := context.WithCancel(ctx)
	listDone := make(chan struct{})
	go func() {
		defer close(listDone)
		for lctx.Err() == nil {
			if _, err := listPorts(lctx, c, cfg.Limit, 1, cfg.Ports); err != nil {
				return
			}
			p.Listings++
		}
	}()
	err = s.cpuProfile(ctx, cfg.Profile/2, p.ListFile)
	cancel()
	<-listDone
	if err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.cpuProfile(ctx, cfg.Profile, p.CreateFile) }()
	// The load outlasts the profile a little.
	p.Creates = createPorts(ctx, c, netID, cfg.Clients, 0, cfg.Profile+500*time.Millisecond)
	if err := <-errc; err != nil {
		return nil, err
	}
	p.CreateTop = pprofTop(cfg.Wyvern, p.CreateFile, false)
	p.CreateCum = pprofTop(cfg.Wyvern, p.CreateFile, true)
	p.ListTop = pprofTop(cfg.Wyvern, p.ListFile, true)
	if p.CreateBy, err = profileBreakdown(cfg.Wyvern, p.CreateFile); err != nil {
		return nil, err
	}
	if p.ListBy, err = profileBreakdown(cfg.Wyvern, p.ListFile); err != nil {
		return nil, err
	}
	return p, s.alive()
}
