// Command vsovn runs the port bring-up workload of bench/bringup on OVN
// (Debian's ovn-central and ovn-host: NB and SB ovsdb-servers, ovn-northd,
// one ovn-controller per chassis) and on Wyvern, interleaved round by
// round on the same kind of test bed (internal/testbed: three chassis with
// their own Open vSwitch, userspace datapath, VMs as network namespaces)
// on the same machine, and gives each figure as a ratio measured in the
// same round:
//
//   - bring-up p50/p99, 0→200 ports and with 1,000 present, and the same
//     less the plug's own time (the control plane's share);
//   - 800 ports bound in bulk, until every chassis has their flows;
//   - br-int flows per chassis and controller RSS at 200 and 1,050 ports;
//   - packets lost when the controller is killed and restarted under a
//     50 pps ping.
//
// The Wyvern side is bench/bringup itself (one run, -json), so its
// figures are that benchmark's; the OVN side (ovn.go) does the same steps
// with ovn-nbctl in place of the Neutron API. It must run as root; every
// bed, with its processes and namespaces, is removed even on failure.
//
//	./bench/run.sh vs-ovn
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/benchbed"
	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/bench/internal/portup"
	"github.com/wyvern-sdn/wyvern/internal/progress"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// config is the benchmark's shape; the sizes are bench/bringup's.
type config struct {
	Rounds     int
	Ports      int
	ExtraNets  int
	ExtraPorts int
	More       int
	Out        string
	Command    string
	Bringup    string // the bench/bringup binary (the Wyvern side)
	Wyvern     string
	Agent      string
	Built      string
	Tmp        string // where the Wyvern side's JSON and page go
	Logs       string
	OVNSG      bool   // OVN ports in Neutron's default security group, as Wyvern's are
	FromJSON   string // render the page from an earlier run's JSON instead of running
	Verbose    bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.Rounds, "rounds", 2, "rounds; each runs OVN and Wyvern once, on fresh beds, in alternating order")
	flag.IntVar(&cfg.Ports, "ports", 200, "ports brought up one by one on an empty topology")
	flag.IntVar(&cfg.ExtraNets, "extra-nets", 8, "extra networks behind the router")
	flag.IntVar(&cfg.ExtraPorts, "extra-ports", 100, "OVS internal ports per extra network, bound in bulk")
	flag.IntVar(&cfg.More, "more", 50, "ports brought up one by one with the whole topology present")
	flag.StringVar(&cfg.Out, "out", "", "Markdown results file (default: stdout)")
	flag.StringVar(&cfg.Command, "command", "", "the command line to record in the report")
	flag.StringVar(&cfg.Bringup, "bringup", "bench/out/bringup", "bench/bringup binary, which runs the Wyvern side")
	flag.StringVar(&cfg.Wyvern, "wyvern", "bench/out/wyvern", "wyvern binary (passed to bench/bringup)")
	flag.StringVar(&cfg.Agent, "wyvern-agent", "bench/out/wyvern-agent", "wyvern-agent binary (passed to bench/bringup; \"none\": `wyvern agent`)")
	flag.StringVar(&cfg.Built, "built", "", "what the wyvern binary was built from, for the report")
	flag.StringVar(&cfg.Tmp, "tmp", "bench/out", "directory for the Wyvern side's JSON results and page")
	flag.StringVar(&cfg.Logs, "logs", "", "keep each OVN run's daemon logs under this directory")
	flag.BoolVar(&cfg.OVNSG, "ovn-sg", true, "put OVN's ports in Neutron's default security group (port groups and ACLs, as ML2/OVN writes it), as bench/bringup's Wyvern ports are; false: port security only")
	flag.StringVar(&cfg.FromJSON, "from-json", "", "write the page from an earlier run's JSON (bench/out/vsovn-*.json) instead of running")
	flag.BoolVar(&cfg.Verbose, "v", false, "log the test bed's actions")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "vsovn:", err)
		os.Exit(1)
	}
}

// rep reports progress: the step, the count and an ETA on a terminal.
var rep = progress.New(os.Stderr, 0)

func note(format string, args ...any) { rep.Printf("vsovn: "+format, args...) }

// side is one control plane's run in a round.
type side struct {
	Res   *portup.RunResult
	Start time.Time
	Load  string // load average at its start
}

// round is one round: OVN and Wyvern, one after the other.
type round struct {
	OVN, Wyvern side
	OVNFirst    bool
}

// saved is what a run writes as JSON beside its page (-from-json reads
// it back).
type saved struct {
	Config  config
	Machine machine.Machine
	Rounds  []round
	Took    time.Duration
}

func run(cfg config) error {
	if cfg.FromJSON != "" {
		data, err := os.ReadFile(cfg.FromJSON)
		if err != nil {
			return err
		}
		var sv saved
		if err := json.Unmarshal(data, &sv); err != nil {
			return fmt.Errorf("%s: %w", cfg.FromJSON, err)
		}
		sv.Config.Out, sv.Config.FromJSON = cfg.Out, ""
		return machine.WritePage(cfg.Out, report(sv.Config, sv.Machine, sv.Rounds, sv.Took))
	}
	if cfg.Rounds < 1 || cfg.Ports < 3 || cfg.More < 1 || cfg.ExtraNets < 0 || cfg.ExtraPorts < 0 || cfg.Ports+cfg.More > 900 {
		return fmt.Errorf("bad sizes: %+v", cfg)
	}
	if err := testbed.Require(); err != nil {
		return err
	}
	if err := ovnRequire(); err != nil {
		return err
	}
	for _, b := range []string{cfg.Bringup, cfg.Wyvern} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w (./bench/run.sh vs-ovn builds it)", err)
		}
	}
	log := benchbed.Start(cfg.Verbose)
	m := machine.Describe()
	began := time.Now()
	var rounds []round
	for i := 0; i < cfg.Rounds; i++ {
		r := round{OVNFirst: i%2 == 0}
		order := []string{"OVN", "Wyvern"}
		if !r.OVNFirst {
			order = []string{"Wyvern", "OVN"}
		}
		for _, which := range order {
			s := side{Start: time.Now(), Load: machine.LoadAvg()}
			note("round %d/%d: %s (load average %s)", i+1, cfg.Rounds, which, s.Load)
			var err error
			if which == "OVN" {
				s.Res, err = ovnRun(cfg, log, i+1)
				r.OVN = s
			} else {
				s.Res, err = wyvernRun(cfg, i+1)
				r.Wyvern = s
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", i+1, which, err)
			}
			s.Res.Took = time.Since(s.Start)
			note("round %d/%d: %s done in %s", i+1, cfg.Rounds, which, s.Res.Took.Round(time.Second))
		}
		rounds = append(rounds, r)
	}
	took := time.Since(began)
	if data, err := json.MarshalIndent(saved{Config: cfg, Machine: m, Rounds: rounds, Took: took}, "", " "); err == nil {
		js := filepath.Join(cfg.Tmp, "vsovn-"+began.Format("20060102-150405")+".json")
		if err := os.WriteFile(js, data, 0o644); err != nil {
			return err
		}
		note("results as JSON in %s (-from-json renders the page again)", js)
	}
	md := report(cfg, m, rounds, took)
	if err := machine.WritePage(cfg.Out, md); err != nil {
		return err
	}
	if cfg.Out != "" {
		note("wrote %s", cfg.Out)
	}
	return nil
}

// ovnRun is one OVN run on a fresh bed, removed whatever happens.
func ovnRun(cfg config, log *slog.Logger, n int) (res *portup.RunResult, err error) {
	keep := ""
	if cfg.Logs != "" {
		keep = filepath.Join(cfg.Logs, fmt.Sprintf("ovn%d", n))
	}
	err = benchbed.Run("bench-vsovn", keep, []string{"*/*.log", "*/ovn/*.log"}, log, func(bed *testbed.Bed) error {
		var err error
		res, err = runOVN(cfg, bed)
		return err
	})
	return res, err
}

// wyvernRun is one run of bench/bringup, read back from its JSON.
func wyvernRun(cfg config, n int) (*portup.RunResult, error) {
	stamp := time.Now().Format("20060102-150405")
	js := filepath.Join(cfg.Tmp, "vsovn-wyvern-"+stamp+"-"+strconv.Itoa(n)+".json")
	page := filepath.Join(cfg.Tmp, "vsovn-wyvern-"+stamp+"-"+strconv.Itoa(n)+".md")
	args := []string{"-runs", "1", "-ports", strconv.Itoa(cfg.Ports), "-extra-nets", strconv.Itoa(cfg.ExtraNets),
		"-extra-ports", strconv.Itoa(cfg.ExtraPorts), "-more", strconv.Itoa(cfg.More),
		"-wyvern", cfg.Wyvern, "-wyvern-agent", cfg.Agent, "-built", cfg.Built, "-json", js, "-out", page}
	cmd := exec.Command(cfg.Bringup, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		return nil, err
	}
	var rs []*portup.RunResult
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("%s: %w", js, err)
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("%s: %d runs, want 1", js, len(rs))
	}
	return rs[0], nil
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}
