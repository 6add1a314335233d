// Command wyvern-sim runs simulated chassis against a Wyvern control
// plane: each is the real agent (internal/agent) with an in-memory switch
// (internal/sim). With -api it first builds a cloud through the Neutron
// API (a `wyvern server --noauth`) and plugs its ports on the chassis as a
// spreading scheduler would; it then starts every chassis, reports the
// time to first full sync and the memory per chassis, and runs until
// interrupted. The benchmark (bench/scale) measures more; this is the
// harness on its own, e.g. against an etcd cluster or an etcd grpc-proxy.
//
//	wyvern-sim -etcd http://127.0.0.1:2379 -api http://127.0.0.1:9696 -chassis 300
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/sim"
)

func main() {
	etcd := flag.String("etcd", "http://127.0.0.1:2379", "comma-separated etcd endpoints the agents connect to")
	api := flag.String("api", "", "Neutron API of a `wyvern server --noauth`; when set, build a cloud first")
	n := flag.Int("chassis", 100, "simulated chassis")
	var p sim.Params
	flag.IntVar(&p.Projects, "projects", 10, "projects to build")
	flag.IntVar(&p.NetsPerProject, "nets-per-project", 10, "networks per project")
	flag.IntVar(&p.PortsPerNet, "ports-per-net", 10, "ports per network")
	flag.IntVar(&p.RoutersPerProject, "routers", 2, "routers per project")
	flag.IntVar(&p.NetsPerRouter, "nets-per-router", 3, "networks each router joins")
	flag.IntVar(&p.SGsPerProject, "sgs", 3, "security groups per project")
	flag.IntVar(&p.FIPs, "fips", 0, "floating IPs")
	flag.IntVar(&p.Workers, "workers", 16, "API calls at once while building")
	window := flag.Int("window", 0, "start the chassis with at most this many started and not yet synced at a time (0: all at once)")
	coalesce := flag.Duration("coalesce", 0, "the agents' Coalesce: hold a recompile back this long to fold in more events")
	level := flag.String("log-level", "warn", "agents' log level: debug, info, warn, error")
	flag.Parse()
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil || *n < 1 {
		fmt.Fprintln(os.Stderr, "wyvern-sim: bad -log-level or -chassis")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *window < 1 {
		*window = *n
	}
	if err := run(ctx, strings.Split(*etcd, ","), *api, *n, *window, *coalesce, p, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))); err != nil {
		fmt.Fprintln(os.Stderr, "wyvern-sim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoints []string, api string, n, window int, coalesce time.Duration, p sim.Params, log *slog.Logger) error {
	s := sim.New(endpoints, n, log)
	s.Coalesce = coalesce
	s.Progress = func(synced, started, total int) {
		log.Warn("cold start", "synced", synced, "started", started, "of", total)
	}
	defer s.StopAll()
	if api != "" {
		cl := sim.NewClient(api)
		if err := cl.WaitReady(ctx); err != nil {
			return err
		}
		topo := sim.NewTopology()
		t0 := time.Now()
		if err := topo.Build(ctx, cl, p, sim.NewScheduler(s.Names(), 1)); err != nil {
			return err
		}
		log.Warn("built", "networks", len(topo.Nets), "ports", len(topo.Ports), "took", time.Since(t0))
		s.PlugAll(topo)
	}
	t0 := time.Now()
	if err := s.StartWindow(ctx, window); err != nil {
		return err
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("%d chassis synced in %v; Go heap %.1f MiB a chassis\n", n, time.Since(t0).Round(time.Millisecond),
		float64(ms.HeapInuse)/float64(n)/(1<<20))
	<-ctx.Done()
	return nil
}
