// Command bringup is the agent half of `make bench`: it measures Wyvern's
// local controller on the workload that bench/vsovn also runs on OVN for
// same-run ratios (./bench/run.sh vs-ovn), on a real test bed (internal/testbed: three chassis with
// their own Open vSwitch, VMs as network namespaces) running a real
// `wyvern server` and one `wyvern agent` per chassis (internal/lab):
//
//   - port bring-up latency, 0→200 ports and again with 1,000 ports in the
//     topology: the clock starts at the API call creating the port, covers
//     plugging the VM's veth into br-int, and stops at the first reply to a
//     10 ms-interval ping from a probe VM on another chassis;
//   - 800 ports bound in bulk: from plugging them to every chassis holding
//     flows for every one of them;
//   - br-int flows per chassis and agent RSS at 200 and 1,050 ports;
//   - full resync after `kill -9` of an agent with 1,050 ports;
//   - the restart test: 50 pps ping for 10 s, the agent of the pinging
//     VM's chassis killed at 2 s and restarted at 4 s.
//
// It must run as root. Each run gets a fresh bed, removed even on failure
// or Ctrl-C; the results (ranges across runs) go to a Markdown file.
//
//	go run ./bench/bringup -runs 2 -out bench/results/bringup-$(date +%F).md
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/benchbed"
	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/progress"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// config is the benchmark's shape; bench/vsovn runs the same on OVN.
type config struct {
	Runs       int
	Ports      int // measured ports in the first phase (0→Ports)
	ExtraNets  int // networks added behind the router
	ExtraPorts int // ports per extra network
	More       int // measured ports with the full topology present
	Out        string
	Command    string // how the run was started, for the report
	Wyvern     string // prebuilt wyvern binary; "" builds the module's
	Agent      string // prebuilt wyvern-agent binary; "" builds the module's
	Built      string // what Wyvern was built from, for the report
	Logs       string // directory to keep each run's agent and server logs in
	AgentArgs  string // extra agent flags, space-separated ("{chassis}": its name)
	JSON       string // also write the runs' results as JSON here (bench/vsovn reads them)
	Verbose    bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.Runs, "runs", 2, "full runs, each on a fresh test bed (results are ranges across runs)")
	flag.IntVar(&cfg.Ports, "ports", 200, "ports brought up one by one on an empty topology")
	flag.IntVar(&cfg.ExtraNets, "extra-nets", 8, "extra networks behind the router")
	flag.IntVar(&cfg.ExtraPorts, "extra-ports", 100, "OVS internal ports per extra network, bound in bulk")
	flag.IntVar(&cfg.More, "more", 50, "ports brought up one by one with the whole topology present")
	flag.StringVar(&cfg.Out, "out", "", "Markdown results file (default: stdout)")
	flag.StringVar(&cfg.Command, "command", "", "the command line to record in the report (default: this program's)")
	flag.StringVar(&cfg.Wyvern, "wyvern", "", "wyvern binary to run (default: build ./cmd/wyvern of the module here with lab.Build, once per run)")
	flag.StringVar(&cfg.Agent, "wyvern-agent", "", "wyvern-agent binary the agents run (default: build ./cmd/wyvern-agent of the module here, once per run; \"none\": run `wyvern agent`)")
	flag.StringVar(&cfg.Built, "built", "", "what the wyvern binary was built from, for the report")
	flag.StringVar(&cfg.Logs, "logs", "", "keep each run's agent and server logs under this directory (run1/, run2/, ...)")
	flag.StringVar(&cfg.AgentArgs, "agent-args", "", `extra wyvern agent flags, space-separated; "{chassis}" is the chassis name, e.g. -agent-args "--cpuprofile=DIR/{chassis}.prof"`)
	flag.StringVar(&cfg.JSON, "json", "", "also write the runs' results as JSON to this file (bench/vsovn reads it)")
	flag.BoolVar(&cfg.Verbose, "v", false, "log the test bed's actions")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bringup:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.Runs < 1 || cfg.Ports < 3 || cfg.More < 1 || cfg.ExtraNets < 0 || cfg.ExtraPorts < 0 {
		return fmt.Errorf("bad sizes: %+v", cfg)
	}
	if cfg.Ports+cfg.More > 900 {
		return fmt.Errorf("at most 900 measured ports (the measured network is a /22)")
	}
	if err := testbed.Require(); err != nil {
		return err
	}
	root, err := lab.ModuleRoot()
	if err != nil {
		return err
	}
	log := benchbed.Start(cfg.Verbose)
	m := machine.Describe()
	var results []*runResult
	rep = progress.New(os.Stderr, cfg.Runs*len(stepNames))
	for i := 0; i < cfg.Runs; i++ {
		start := time.Now()
		rep.Printf("bringup: run %d/%d", i+1, cfg.Runs)
		r, err := oneRun(cfg, root, log, i+1)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		r.Took = time.Since(start)
		rep.Printf("bringup: run %d done in %s", i+1, r.Took.Round(time.Second))
		results = append(results, r)
	}
	if cfg.JSON != "" {
		data, err := json.MarshalIndent(results, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.JSON, data, 0o644); err != nil {
			return err
		}
	}
	md := report(cfg, m, results)
	if err := machine.WritePage(cfg.Out, md); err != nil {
		return err
	}
	if cfg.Out != "" {
		rep.Printf("bringup: wrote %s", cfg.Out)
	}
	return nil
}

// rep reports the runs' steps: the step, the count and an ETA on a
// terminal, plain lines otherwise.
var rep = progress.New(os.Stderr, 0)

// stepNames are the steps of one run, in order (runOnBed).
var stepNames = []string{"set up", "snapshot", "bring-up", "snapshot", "bulk", "snapshot", "bring-up more",
	"snapshot", "control plugs", "resync", "restart", "breakdown"}

// oneRun is one full run on a fresh bed, which it always removes.
func oneRun(cfg config, root string, log *slog.Logger, n int) (res *runResult, err error) {
	keep := ""
	if cfg.Logs != "" {
		keep = filepath.Join(cfg.Logs, fmt.Sprintf("run%d", n))
	}
	err = benchbed.Run("bench-bringup", keep, []string{"*/wyvern-*.log"}, log, func(bed *testbed.Bed) (err error) {
		res, err = runOnBed(cfg, root, bed)
		return err
	})
	return res, err
}

// runOnBed is one run on bed.
func runOnBed(cfg config, root string, bed *testbed.Bed) (*runResult, error) {
	var err error
	bin := cfg.Wyvern
	if bin == "" {
		// The binary lives in the bed's directory, so it goes with the bed.
		if bin, err = lab.Build(root, bed.Dir); err != nil {
			return nil, err
		}
	}
	agentBin := cfg.Agent
	switch agentBin {
	case "none":
		agentBin = ""
	case "":
		if agentBin, err = lab.BuildCommand(root, bed.Dir, "wyvern-agent"); err != nil {
			return nil, err
		}
	}
	l, err := lab.Start(bed, bin, lab.Options{AgentBin: agentBin, AgentArgs: strings.Fields(cfg.AgentArgs)})
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, l: l, res: &runResult{Load: machine.LoadAvg()}}
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"set up", b.setup},
		{"snapshot", func() error { return b.snapshot(&b.res.AtStart) }},
		{fmt.Sprintf("bring-up 0→%d", cfg.Ports), func() error { return b.bringUpMany(0, cfg.Ports, &b.res.Small) }},
		{"snapshot", func() error { return b.snapshot(&b.res.AtSmall) }},
		{"bulk", b.bulk},
		{"snapshot", func() error { return b.snapshot(&b.res.AtBulk) }},
		{fmt.Sprintf("bring-up of %d more", cfg.More), func() error { return b.bringUpMany(cfg.Ports, cfg.Ports+cfg.More, &b.res.Large) }},
		{"snapshot", func() error { return b.snapshot(&b.res.AtLarge) }},
		{"control plugs", b.controlPlug},
		{"resync", b.resync},
		{"restart", b.restart},
		{"breakdown", b.breakdown},
	} {
		rep.Step("%s", step.name)
		if err := step.fn(); err != nil {
			rep.Done("failed")
			return nil, fmt.Errorf("%s: %w", step.name, err)
		}
		rep.Done("ok")
	}
	b.cancel()
	return b.res, nil
}

// note prints a line of detail without breaking the status line.
func note(format string, args ...any) { rep.Printf("bringup: "+format, args...) }
