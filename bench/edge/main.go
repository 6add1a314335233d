// Command edge is the floating-IP edge's benchmark (issue 9), `./bench/run.sh
// edge`: on one test bed with real parts — a `wyvern server`, a hypervisor
// chassis with `wyvern-agent` and a VM, three `wyvern gateway`s of the
// general pool each with its own Open vSwitch (userspace datapath) and
// GoBGP speaker, an upstream router running FRR (zebra and bgpd, ECMP,
// L4 multipath hash) and a client behind it — it measures:
//
//   - convergence: the time from each of N floating IPs' association (the
//     API's PUT returning) to its /32 in the upstream router's kernel FIB
//     with all three gateways as ECMP next hops (zebra installs FRR's RIB
//     there), p50/p99/max, and the time until all N are routed; the same
//     for disassociating all of them;
//   - steering: a fourth gateway is in the scrubbing pool; the time from
//     the API's edge_pool change to the router routing the address only
//     through it (and back), and from the start of a 500 pps flood to the
//     same by automatic steering (threshold 200 pps, hold-down 5 s), and
//     from the flood's end to the way back;
//   - CPU: the gateways' ovs-vswitchd CPU (less its idle rate) per
//     million packets of a many-flow UDP stream, with 1, 2 and 3 gateways
//     carrying it;
//   - data path: TCP (iperf3 5 s, one stream) and RTT (p50 of 100 pings)
//     from the client to the VM through the edge (inbound by a gateway,
//     replies by the chassis' tunnel to the anycast endpoint, which the
//     underlay router tnet learned from the gateways over BGP), each as a
//     ratio to a baseline of hand-written flows over the same hops, in
//     the same round (datapath.go);
//   - gateway death: a 50 pps stream (ping, one flow) from the client to
//     the VM's floating IP while the gateway carrying it dies, counted at
//     the VM: packets lost and the longest gap, for kill -9 (the process
//     dies, its host's kernel closes the BGP session: the router moves at
//     once) and for a silent death (the gateway's uplink cut: the router
//     waits for the BGP hold time, 3 s here; no BFD).
//
// It must run as root; the bed is removed even on failure or Ctrl-C. Zero
// rounds skip a part: the convergence of 1,000 floating IPs alone is
//
//	EDGE_ARGS="-kill-rounds 0 -cut-rounds 0 -steer-rounds 0 -flood-rounds 0 -cpu-rate 0 -dp-rounds 0" ./bench/run.sh edge
//
//
//	go build -o bench/out/ ./cmd/wyvern ./cmd/wyvern-agent ./bench/edge
//	bench/out/edge -wyvern bench/out/wyvern -wyvern-agent bench/out/wyvern-agent -out bench/results/edge-$(date +%F).md
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/benchbed"
	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

type config struct {
	FIPs       int
	Workers    int
	KillRounds int
	CutRounds  int
	// Bulk is how many floating IPs each POST of the associated-at-creation
	// measurement creates (0 skips it).
	Bulk int
	// SteerRounds and FloodRounds are the manual and automatic steering
	// rounds.
	SteerRounds, FloodRounds int
	// CPURate and CPUSeconds shape the stream of the CPU measurement (a
	// zero rate skips it).
	CPURate, CPUSeconds int
	Rate                int // pps of the stream across a gateway's death
	// BFD is the BFD interval of the gateways' sessions with the
	// upstream router (0: none).
	BFD time.Duration
	// DPRounds and DPSeconds shape the data-path measurement (iperf3 -t;
	// zero rounds skip it).
	DPRounds, DPSeconds int
	Out                 string
	Command             string
	Wyvern              string
	Agent               string
	Built               string
	Logs                string
	Verbose             bool
	// ServerArgs are extra `wyvern server` flags (space-separated), e.g.
	// --unsafe-no-fsync to see what the disk costs.
	ServerArgs string
	// ProfileAssoc, when set, is where a CPU profile of the server during
	// the associations (ProfileSeconds long, from their start) is written;
	// the server then runs with --pprof.
	ProfileAssoc   string
	ProfileSeconds int
}

func main() {
	var cfg config
	flag.IntVar(&cfg.FIPs, "fips", 1000, "floating IPs associated at once for the convergence measurement")
	flag.IntVar(&cfg.Workers, "workers", 8, "concurrent API clients associating them")
	flag.IntVar(&cfg.Bulk, "bulk", 125, "then: the floating IPs created again with their ports, this many per POST (0: skip it)")
	flag.IntVar(&cfg.KillRounds, "kill-rounds", 3, "gateway deaths by kill -9 under the stream")
	flag.IntVar(&cfg.CutRounds, "cut-rounds", 2, "silent gateway deaths (uplink cut) under the stream")
	flag.IntVar(&cfg.SteerRounds, "steer-rounds", 5, "moves to the scrubbing pool and back by the API")
	flag.IntVar(&cfg.FloodRounds, "flood-rounds", 2, "floods steering the address automatically, and back after the hold-down")
	flag.IntVar(&cfg.CPURate, "cpu-rate", 20000, "packets/s of the CPU measurement's stream (0: skip it)")
	flag.IntVar(&cfg.CPUSeconds, "cpu-t", 5, "seconds of the CPU measurement's stream")
	flag.DurationVar(&cfg.BFD, "bfd", 100*time.Millisecond, "BFD interval between the gateways and the upstream router (multiplier 3; 0: none, BGP's hold time alone)")
	flag.IntVar(&cfg.Rate, "rate", 50, "packets per second of the stream")
	flag.IntVar(&cfg.DPRounds, "dp-rounds", 5, "rounds of the data-path measurement (edge path and baseline side by side; 0: skip it)")
	flag.IntVar(&cfg.DPSeconds, "dp-t", 5, "seconds of each iperf3 test")
	flag.StringVar(&cfg.Out, "out", "", "Markdown results file (default: stdout)")
	flag.StringVar(&cfg.Command, "command", "", "the command line to record in the report")
	flag.StringVar(&cfg.Wyvern, "wyvern", "", "wyvern binary (server and gateway)")
	flag.StringVar(&cfg.Agent, "wyvern-agent", "", "wyvern-agent binary")
	flag.StringVar(&cfg.Built, "built", "", "what the binaries were built from, for the report")
	flag.StringVar(&cfg.Logs, "logs", "", "keep the run's logs under this directory")
	flag.BoolVar(&cfg.Verbose, "v", false, "log the test bed's actions")
	flag.StringVar(&cfg.ServerArgs, "server-args", "", "extra wyvern server flags, space-separated (e.g. --unsafe-no-fsync)")
	flag.StringVar(&cfg.ProfileAssoc, "profile-assoc", "", "write a CPU profile of the server during the 1,000 associations to this file (and of the bulk creation to FILE.bulk)")
	flag.IntVar(&cfg.ProfileSeconds, "profile-seconds", 5, "seconds of that profile, from the first association")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if err := testbed.Require(); err != nil {
		return err
	}
	if cfg.Wyvern == "" || cfg.Agent == "" {
		return fmt.Errorf("-wyvern and -wyvern-agent are required")
	}
	log := benchbed.Start(cfg.Verbose)
	m := machine.Describe()
	load := machine.LoadAvg()
	start := time.Now()
	var res *result
	err := benchbed.Run("bench-edge", cfg.Logs, []string{"*/*.log", "*/frr/*.log"}, log, func(bed *testbed.Bed) (err error) {
		res, err = runOnBed(cfg, bed)
		return err
	})
	if err != nil {
		return err
	}
	res.Took, res.Load = time.Since(start), load
	progress("done in %s", res.Took.Round(time.Second))
	if err := machine.WritePage(cfg.Out, report(cfg, m, res)); err != nil {
		return err
	}
	if cfg.Out != "" {
		progress("wrote %s", cfg.Out)
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s edge: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
