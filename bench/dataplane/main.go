// Command dataplane is the data-plane part of `make bench`: TCP throughput
// and round-trip time through Wyvern's pipeline, each as a ratio to a
// baseline of hand-written minimal Geneve flows measured in the same round,
// the way OVN 23.03's data plane was measured by hand on the same kind of machine
// (iperf3 5 s one stream; RTT = p50 of 100 pings; VM on chassis 1 → VM on
// chassis 2; rounds interleaved with the baseline).
//
// One test bed (internal/testbed) holds Wyvern and the baseline on the
// same two chassis, so that both go through the same ovs-vswitchd
// processes, datapaths, polled ports and underlay:
//
//   - Wyvern: a real `wyvern server` (internal/lab) and a `wyvern agent`
//     on ch1 and ch2, both with br-ex on the external network (physnet1)
//     so that floating IPs are NATed on the VM's own chassis; ch1 is also
//     the router's gateway chassis. The agents own br-int.
//   - the baseline: on each chassis a second bridge, br-base, with its own
//     flow-based Geneve port (UDP 6082) and one VM, with two hand-written
//     flows per chassis (VM port → tun_id, tun_dst, Geneve port; Geneve
//     port + tun_id → VM port); on ch2 also br-base-ex on the external
//     network patched to br-base, with port-to-port flows to a second VM,
//     the floating IP paths' baseline;
//   - an outside host on the external network (203.0.113.1).
//
// Paths (client → server, iperf3 and ping): the Geneve baseline; the same
// network across chassis; routed across subnets; routed with stateful
// security groups; the outside baseline (outside host → a VM behind
// br-base-ex and br-base); the outside host → a floating IP, without and
// with security groups; and, over IPv6 (both tenant networks are dual
// stack), the same network, routed, and routed with security groups,
// beside the same Geneve baseline carrying IPv6. Each round measures every Wyvern path right next
// to its baseline. A last phase counts datapath flows (megaflows) during a
// 100-connection test. It must run as root; the bed is removed even on failure or Ctrl-C.
//
//	go build -o bench/out/ ./cmd/wyvern ./bench/dataplane
//	bench/out/dataplane -wyvern bench/out/wyvern -out bench/results/dataplane-$(date +%F).md
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/benchbed"
	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/progress"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// config is the benchmark's shape; the defaults are those of OVN's hand measurement.
type config struct {
	Rounds       int
	Seconds      int           // iperf3 -t of a measurement
	Pings        int           // pings per RTT measurement
	PingInterval time.Duration // between pings
	Conns        int           // parallel connections of the megaflow test
	ConnSeconds  int           // its duration
	Out          string
	Command      string
	Wyvern       string
	Built        string
	Logs         string
	Verbose      bool
	Hold         bool // build the bed, check the paths, then wait for Ctrl-C
}

func main() {
	var cfg config
	flag.IntVar(&cfg.Rounds, "rounds", 5, "rounds (each measures every Wyvern path beside its baseline)")
	flag.IntVar(&cfg.Seconds, "t", 5, "iperf3 seconds per measurement (one stream)")
	flag.IntVar(&cfg.Pings, "pings", 100, "pings per RTT measurement (RTT = their p50)")
	flag.DurationVar(&cfg.PingInterval, "ping-interval", 10*time.Millisecond, "interval between pings")
	flag.IntVar(&cfg.Conns, "conns", 100, "parallel TCP connections of the megaflow test (iperf3 -P)")
	flag.IntVar(&cfg.ConnSeconds, "conn-t", 4, "seconds of the megaflow test")
	flag.StringVar(&cfg.Out, "out", "", "Markdown results file (default: stdout)")
	flag.StringVar(&cfg.Command, "command", "", "the command line to record in the report (default: this program's)")
	flag.StringVar(&cfg.Wyvern, "wyvern", "", "wyvern binary to run (default: build ./cmd/wyvern of the module here with lab.Build)")
	flag.StringVar(&cfg.Built, "built", "", "what the wyvern binary was built from, for the report")
	flag.StringVar(&cfg.Logs, "logs", "", "keep the run's Wyvern and OVS logs and the megaflow dumps under this directory")
	flag.BoolVar(&cfg.Verbose, "v", false, "log the test bed's actions")
	flag.BoolVar(&cfg.Hold, "hold", false, "debugging: build the bed, check every path, print where things are, and wait for Ctrl-C (which removes the bed) instead of measuring")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "dataplane:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.Rounds < 1 || cfg.Seconds < 1 || cfg.Pings < 1 || cfg.PingInterval < 2*time.Millisecond ||
		cfg.Conns < 1 || cfg.Conns > 128 || cfg.ConnSeconds < 2 {
		return fmt.Errorf("bad settings: %+v (iperf3 -P takes at most 128; ping -i at least 2 ms)", cfg)
	}
	if err := testbed.Require(); err != nil {
		return err
	}
	if err := requireTools("iperf3"); err != nil {
		return err
	}
	log := benchbed.Start(cfg.Verbose)
	m := machine.Describe()
	start := time.Now()
	res, err := oneRun(cfg, log)
	if err != nil {
		return err
	}
	res.Took = time.Since(start)
	note("done in %s", res.Took.Round(time.Second))
	md := report(cfg, m, res)
	if err := machine.WritePage(cfg.Out, md); err != nil {
		return err
	}
	if cfg.Out != "" {
		note("wrote %s", cfg.Out)
	}
	return nil
}

// rep reports the steps: the step, the count and an ETA on a terminal,
// plain lines otherwise.
var rep = progress.New(os.Stderr, 7)

// note prints a line of detail without breaking the status line.
func note(format string, args ...any) { rep.Printf("dataplane: "+format, args...) }

// oneRun builds the bed, measures, and always removes the bed.
func oneRun(cfg config, log *slog.Logger) (res *result, err error) {
	err = benchbed.Run("bench-dataplane", cfg.Logs, []string{"*/*.log", "megaflows-*.txt"}, log, func(bed *testbed.Bed) (err error) {
		res, err = runOnBed(cfg, bed)
		return err
	})
	return res, err
}

// runOnBed measures on bed.
func runOnBed(cfg config, bed *testbed.Bed) (*result, error) {
	bin := cfg.Wyvern
	if bin == "" {
		root, err := lab.ModuleRoot()
		if err != nil {
			return nil, err
		}
		if bin, err = lab.Build(root, bed.Dir); err != nil {
			return nil, err
		}
	}
	l, err := lab.Start(bed, bin, lab.Options{})
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, l: l, res: &result{Load: machine.LoadAvg()}}
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"Wyvern chassis", b.setupWyvernChassis},
		{"baseline chassis", b.setupBaseline},
		{"topology", b.setupTopology},
		{"paths answer", b.checkPaths},
		{"hold", b.hold},
		{"rounds", b.rounds},
		{"megaflows", b.megaflows},
	} {
		rep.Step("%s", step.name)
		if err := step.fn(); err != nil {
			rep.Done("failed")
			return nil, fmt.Errorf("%s: %w", step.name, err)
		}
		rep.Done("ok")
	}
	return b.res, nil
}

// hold, with -hold, prints the bed's layout and blocks until Ctrl-C,
// whose handler (Bed.CloseOnSignal) removes the bed and exits.
func (b *bench) hold() error {
	if !b.cfg.Hold {
		return nil
	}
	fmt.Fprintf(os.Stderr, "bed %s (directory %s); API %s\n", b.l.Bed.Prefix, b.l.Bed.Dir, b.l.APIURL)
	for _, p := range b.paths {
		fmt.Fprintf(os.Stderr, "  %-12s ip netns exec %s iperf3 -c %s\n", p.Key, p.Client.Netns, p.Dst)
	}
	for _, ch := range []*testbed.Chassis{b.ch1, b.ch2} {
		fmt.Fprintf(os.Stderr, "  %-6s ovs-appctl -t %s ...; ovs-ofctl dump-flows %s (or %s)\n", ch.Name, ch.CtlSock(),
			ch.Mgmt("br-int"), ch.Mgmt(baseBridge))
	}
	fmt.Fprintln(os.Stderr, "holding; Ctrl-C removes the bed")
	select {}
}
