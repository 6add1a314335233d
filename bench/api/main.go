// Command api is the API half of `make bench`: it starts a real
// `wyvern server --noauth` on embedded etcd (fsync on, as in production,
// and again with --unsafe-no-fsync), creates ports from 64 concurrent
// keep-alive clients, times paginated and unpaginated port listings at
// 10,000 ports, explains the cost of a create from etcd's own counters and
// the server's CPU time, optionally profiles the server through its opt-in
// --pprof listener, and writes the figures as Markdown.
//
// It builds nothing: bench/run.sh builds the server and this program into
// bench/tmp and runs it. See bench/README.md.
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
)

// config is the benchmark's parameters, from flags.
type config struct {
	Wyvern        string // server binary
	Out           string // Markdown results file; empty: stdout only
	TmpDir        string // data dirs and profiles
	Rounds        int    // rounds with fsync on
	NoFsyncRounds int    // rounds with --unsafe-no-fsync
	Clients       int
	Warmup        int // creates before the measured phase, not recorded
	Ports         int // ports present when listing; sets the measured creates
	Limit         int // page size of the paginated listing
	ListReps      int
	Serial        int           // serial creates and etcd requests in the probe
	Profile       time.Duration // CPU profile length of the profiled run; 0: none
	CIDR          string
	Command       string // the command line to record
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Wyvern, "wyvern", "bench/tmp/wyvern", "wyvern binary to benchmark")
	flag.StringVar(&cfg.Out, "out", "", "write the Markdown results to this file")
	flag.StringVar(&cfg.TmpDir, "tmp", "bench/tmp", "directory for data dirs and profiles")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "rounds with fsync on (production)")
	flag.IntVar(&cfg.NoFsyncRounds, "nofsync-rounds", 3, "rounds with --unsafe-no-fsync")
	flag.IntVar(&cfg.Clients, "clients", 64, "concurrent clients")
	flag.IntVar(&cfg.Warmup, "warmup", 500, "unrecorded creates before the measured ones")
	flag.IntVar(&cfg.Ports, "ports", 10000, "ports present for the list test; measured creates = ports - warmup")
	flag.IntVar(&cfg.Limit, "limit", 1000, "page size of the paginated listing")
	flag.IntVar(&cfg.ListReps, "list-reps", 3, "full listings timed, paginated and unpaginated")
	flag.IntVar(&cfg.Serial, "serial", 200, "serial creates and etcd requests of the uncontended probe")
	flag.DurationVar(&cfg.Profile, "profile", 10*time.Second, "CPU profile length of an extra profiled run (0: none)")
	flag.StringVar(&cfg.CIDR, "cidr", "10.64.0.0/16", "subnet of the benchmark network")
	flag.StringVar(&cfg.Command, "command", "", "command line to record in the results (default: this program's)")
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
	if err := os.MkdirAll(cfg.TmpDir, 0o755); err != nil {
		return fmt.Errorf("tmp dir: %w", err)
	}
	rep := &report{cfg: cfg, start: time.Now(), machine: machine()}
	for i := range cfg.Rounds {
		r, err := runRound(ctx, cfg, true, i+1, log)
		if err != nil {
			return fmt.Errorf("fsync round %d: %w", i+1, err)
		}
		rep.fsync = append(rep.fsync, r)
	}
	for i := range cfg.NoFsyncRounds {
		r, err := runRound(ctx, cfg, false, i+1, log)
		if err != nil {
			return fmt.Errorf("no-fsync round %d: %w", i+1, err)
		}
		rep.noFsync = append(rep.noFsync, r)
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

// roundResult is one round: a fresh server, the contended creates, the
// listings at cfg.Ports ports and the serial probe.
type roundResult struct {
	Fsync   bool
	Index   int
	LoadAvg string // /proc/loadavg when the round started: the machine is shared
	Create  createResult
	// Server process CPU and client (this program) CPU per 1,000 measured
	// creates, in seconds; on 2 cores the two compete.
	ServerCPUPerK, ClientCPUPerK float64
	RSSCreates, RSSLists, HWM    int64
	// etcd's own counters per measured create.
	Range, Txn, Other float64
	Fsyncs, FsyncMs   float64 // WAL fsyncs per create, mean fsync duration
	Commits, CommitMs float64 // backend (bbolt) commits per create, mean duration
	Proposals         float64 // raft proposals committed per create
	List              listResult
	Serial            serialResult
	FinalPorts        int
	FillTopUpNum      int // ports created after the measured phase to reach cfg.Ports
}

func runRound(ctx context.Context, cfg config, fsync bool, idx int, log *slog.Logger) (roundResult, error) {
	res := roundResult{Fsync: fsync, Index: idx, LoadAvg: loadAvg()}
	log.Info("round", "fsync", fsync, "index", idx, "load", res.LoadAvg)
	s, err := startServer(ctx, cfg.Wyvern, cfg.TmpDir, fsync, false)
	if err != nil {
		return res, err
	}
	defer s.stop()
	c := newClient(s.API, cfg.Clients)
	netID, err := setup(ctx, c, cfg.CIDR)
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
	n := cfg.Ports - have
	if n <= 0 {
		return res, fmt.Errorf("%d ports after warm-up, want fewer than %d", have, cfg.Ports)
	}
	m0, err := s.etcdMetrics(ctx)
	if err != nil {
		return res, err
	}
	p0, err := s.stat()
	if err != nil {
		return res, err
	}
	c0 := selfCPU()
	res.Create = createPorts(ctx, c, netID, cfg.Clients, n, 0)
	c1 := selfCPU()
	p1, err := s.stat()
	if err != nil {
		return res, err
	}
	m1, err := s.etcdMetrics(ctx)
	if err != nil {
		return res, err
	}
	if err := s.alive(); err != nil {
		return res, err
	}
	k := float64(n) / 1000
	res.ServerCPUPerK = (p1.CPU - p0.CPU).Seconds() / k
	res.ClientCPUPerK = (c1 - c0).Seconds() / k
	res.RSSCreates = p1.RSS
	res.Range, res.Txn, res.Other = perCreate(m0, m1, n)
	fn := float64(n)
	fs := delta(m0, m1, "etcd_disk_wal_fsync_duration_seconds_count")
	res.Fsyncs = fs / fn
	if fs > 0 {
		res.FsyncMs = 1000 * delta(m0, m1, "etcd_disk_wal_fsync_duration_seconds_sum") / fs
	}
	cm := delta(m0, m1, "etcd_disk_backend_commit_duration_seconds_count")
	res.Commits = cm / fn
	if cm > 0 {
		res.CommitMs = 1000 * delta(m0, m1, "etcd_disk_backend_commit_duration_seconds_sum") / cm
	}
	res.Proposals = delta(m0, m1, "etcd_server_proposals_committed_total") / fn
	log.Info("creates", "fsync", fsync, "round", idx, "n", res.Create.Lat.N,
		"per_s", fmt.Sprintf("%.0f", res.Create.rate()), "p50", res.Create.Lat.P50, "p99", res.Create.Lat.P99,
		"errors", res.Create.errCount())

	// Failed creates leave fewer ports than wanted: top up before listing.
	have, err = countPorts(ctx, c)
	if err != nil {
		return res, err
	}
	if have < cfg.Ports {
		res.FillTopUpNum = cfg.Ports - have
		if t := createPorts(ctx, c, netID, cfg.Clients, cfg.Ports-have, 0); t.errCount() > 0 {
			return res, fmt.Errorf("top-up errors: %v", t.Errors)
		}
	}
	res.List, err = listPorts(ctx, c, cfg.Limit, cfg.ListReps, cfg.Ports)
	if err != nil {
		return res, err
	}
	log.Info("lists", "fsync", fsync, "round", idx, "page_p50", res.List.Page.P50, "page_p99", res.List.Page.P99,
		"full_p50", res.List.Full.P50, "unpaged_p50", res.List.Unpaged.P50)
	if p, err := s.stat(); err == nil {
		res.RSSLists, res.HWM = p.RSS, p.HWM
	}
	res.Serial, err = serialProbe(ctx, s, c, netID, cfg.Serial)
	if err != nil {
		return res, err
	}
	log.Info("serial", "fsync", fsync, "round", idx, "create_p50", res.Serial.Create.P50,
		"etcd_get_p50", res.Serial.EtcdGet.P50, "etcd_put_p50", res.Serial.EtcdPut.P50)
	if res.FinalPorts, err = countPorts(ctx, c); err != nil {
		return res, err
	}
	return res, s.alive()
}

// profileResult is the CPU profile of a separate run (fsync on).
type profileResult struct {
	Creates     createResult
	CreateFile  string // profile during creates
	ListFile    string // profile during paginated listings
	ListPorts   int
	CreateTop   string // go tool pprof -top, flat
	CreateCum   string // go tool pprof -top -cum
	ListTop     string
	ListListing int // full listings made while profiling
}

// runProfile profiles the server for cfg.Profile while 64 clients create
// ports, then for half that while one client lists ports page by page.
func runProfile(ctx context.Context, cfg config, log *slog.Logger) (*profileResult, error) {
	log.Info("profiled run", "seconds", cfg.Profile.Seconds())
	s, err := startServer(ctx, cfg.Wyvern, cfg.TmpDir, true, true)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	c := newClient(s.API, cfg.Clients)
	netID, err := setup(ctx, c, cfg.CIDR)
	if err != nil {
		return nil, err
	}
	if w := createPorts(ctx, c, netID, cfg.Clients, cfg.Warmup, 0); w.errCount() > 0 {
		return nil, fmt.Errorf("warm-up errors: %v", w.Errors)
	}
	stamp := time.Now().Format("20060102-150405")
	p := &profileResult{
		CreateFile: fmt.Sprintf("%s/api-cpu-create-%s.pb.gz", cfg.TmpDir, stamp),
		ListFile:   fmt.Sprintf("%s/api-cpu-list-%s.pb.gz", cfg.TmpDir, stamp),
	}
	errc := make(chan error, 1)
	go func() { errc <- s.cpuProfile(ctx, cfg.Profile, p.CreateFile) }()
	// The load outlasts the profile a little on both ends.
	p.Creates = createPorts(ctx, c, netID, cfg.Clients, 0, cfg.Profile+time.Second)
	if err := <-errc; err != nil {
		return nil, err
	}
	// Top up to the list size (or keep more, if the run made more).
	have, err := countPorts(ctx, c)
	if err != nil {
		return nil, err
	}
	if have < cfg.Ports {
		createPorts(ctx, c, netID, cfg.Clients, cfg.Ports-have, 0)
		if have, err = countPorts(ctx, c); err != nil {
			return nil, err
		}
	}
	p.ListPorts = have
	lctx, cancel := context.WithCancel(ctx)
	listDone := make(chan struct{})
	go func() {
		defer close(listDone)
		for lctx.Err() == nil {
			if _, err := listPorts(lctx, c, cfg.Limit, 1, have); err != nil {
				return
			}
			p.ListListing++
		}
	}()
	err = s.cpuProfile(ctx, cfg.Profile/2, p.ListFile)
	cancel()
	<-listDone
	if err != nil {
		return nil, err
	}
	p.CreateTop = pprofTop(cfg.Wyvern, p.CreateFile, false)
	p.CreateCum = pprofTop(cfg.Wyvern, p.CreateFile, true)
	p.ListTop = pprofTop(cfg.Wyvern, p.ListFile, true)
	return p, s.alive()
}
