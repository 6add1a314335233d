// Command metadata measures the metadata service of the local agent: the
// latency of GET http://169.254.169.254/openstack/latest/meta_data.json
// (request sent to the whole answer read, p50/p99) with many VMs asking
// at once, as issue 11 asks (50 concurrent VMs).
//
// It runs a real `wyvern server` and one `wyvern-agent --metadata` on a
// test bed (internal/lab: real OVS, userspace datapath), a network
// without a router, and -vms VM namespaces. In each VM this program
// (re-executed with probeEnv) GETs the document -n times over a fresh
// TCP connection each, one after the other; the VMs run at once. It
// must run as root.
//
//	go build -o bench/out/ ./cmd/wyvern ./cmd/wyvern-agent ./bench/metadata
//	bench/out/metadata -wyvern bench/out/wyvern -wyvern-agent bench/out/wyvern-agent -out bench/results/metadata-$(date +%F).md
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/benchbed"
	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// probeEnv makes the program a probe inside a VM: "<n>"; it prints one
// latency in microseconds per line, "err" for a failed request.
const probeEnv = "WYVERN_BENCH_METADATA_PROBE"

const url = "http://169.254.169.254/openstack/latest/meta_data.json"

type config struct {
	VMs, N, Rounds      int
	Out, Command, Built string
	Wyvern, Agent       string
	Verbose             bool
}

func main() {
	if spec := os.Getenv(probeEnv); spec != "" {
		os.Exit(probe(spec))
	}
	var cfg config
	flag.IntVar(&cfg.VMs, "vms", 50, "VMs asking at once")
	flag.IntVar(&cfg.N, "n", 20, "requests per VM per round")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "rounds")
	flag.StringVar(&cfg.Out, "out", "", "Markdown results file (default: stdout)")
	flag.StringVar(&cfg.Command, "command", "", "the command line to record in the report")
	flag.StringVar(&cfg.Wyvern, "wyvern", "", "wyvern binary (server)")
	flag.StringVar(&cfg.Agent, "wyvern-agent", "", "wyvern-agent binary")
	flag.StringVar(&cfg.Built, "built", "", "what the binaries were built from, for the report")
	flag.BoolVar(&cfg.Verbose, "v", false, "log the test bed's actions")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "metadata:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.Wyvern == "" || cfg.Agent == "" || cfg.VMs < 1 || cfg.N < 1 || cfg.Rounds < 1 {
		return fmt.Errorf("bad settings %+v: -wyvern and -wyvern-agent are required", cfg)
	}
	if err := testbed.Require(); err != nil {
		return err
	}
	log := benchbed.Start(cfg.Verbose)
	m := machine.Describe()
	load := machine.LoadAvg()
	var all []time.Duration
	var perRound [][]time.Duration
	errs := 0
	err := benchbed.Run("bench-metadata", "", nil, log, func(bed *testbed.Bed) error {
		vms, err := setup(cfg, bed)
		if err != nil {
			return err
		}
		for r := 0; r < cfg.Rounds; r++ {
			var mu sync.Mutex
			var round []time.Duration
			var wg sync.WaitGroup
			var firstErr error
			for _, vm := range vms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, e, err := runProbe(vm, cfg.N)
					mu.Lock()
					defer mu.Unlock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					round = append(round, got...)
					errs += e
				}()
			}
			wg.Wait()
			if firstErr != nil {
				return fmt.Errorf("round %d: %w", r+1, firstErr)
			}
			perRound = append(perRound, round)
			all = append(all, round...)
			progress("round %d: %d requests, p50 %s ms", r+1, len(round), ms(pct(round, 0.5)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return machine.WritePage(cfg.Out, report(cfg, m, load, all, perRound, errs))
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s metadata: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// setup starts Wyvern with the metadata service and the VMs, and waits
// until each VM gets an answer.
func setup(cfg config, bed *testbed.Bed) ([]*testbed.VM, error) {
	l, err := lab.Start(bed, cfg.Wyvern, lab.Options{AgentBin: cfg.Agent})
	if err != nil {
		return nil, err
	}
	ch, err := l.AddChassisWith("ch1", nil, []string{"--metadata", "--metadata-netns", bed.Prefix + "-c-ch1"})
	if err != nil {
		return nil, err
	}
	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.91.0.0/24"})
	if err != nil {
		return nil, err
	}
	var vms []*testbed.VM
	for i := 0; i < cfg.VMs; i++ {
		vm, p, err := l.Boot(ch, "vm"+strconv.Itoa(i), "p1", n.ID, map[string]any{"device_id": fmt.Sprintf("instance-%d", i)})
		if err != nil {
			return nil, err
		}
		if _, err := l.WaitPort(p.ID, 30*time.Second, func(p model.Port) bool { return p.Status == model.StatusActive }); err != nil {
			return nil, err
		}
		if err := vm.SetAddr(lab.FixedIP(p) + "/24"); err != nil {
			return nil, err
		}
		if _, err := vm.Exec("ip", "route", "add", "169.254.169.254", "dev", "eth0"); err != nil {
			return nil, err
		}
		vms = append(vms, vm)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, vm := range vms {
		for {
			got, _, err := runProbe(vm, 1)
			if err == nil && len(got) == 1 {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%s: no metadata answer after 60s: %v\n%s", vm.Name, err, bed.LogTails(20))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	progress("%d VMs answered", len(vms))
	return vms, nil
}

func runProbe(vm *testbed.VM, n int) ([]time.Duration, int, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command("ip", "netns", "exec", vm.Netns, self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", probeEnv, n))
	out, err := cmd.Output()
	if err != nil {
		return nil, 0, fmt.Errorf("probe in %s: %w", vm.Name, err)
	}
	return benchbed.ParseProbe(out, "err")
}

// probe GETs the document n times, a new connection each time.
func probe(spec string) int {
	n, err := strconv.Atoi(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 2
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		start := time.Now()
		resp, err := c.Get(url)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		if err != nil {
			fmt.Println("err")
			continue
		}
		fmt.Println(time.Since(start).Microseconds())
	}
	return 0
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64)
}

func report(cfg config, m machine.Machine, load string, all []time.Duration, rounds [][]time.Duration, errs int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Metadata service: request latency with %d concurrent VMs (%s)\n\n", cfg.VMs, time.Now().Format("2006-01-02"))
	w("`GET %s` from each VM (Go net/http in the VM's namespace, a new TCP connection per request, request sent to the whole answer read), through OVS (userspace datapath) to the local `wyvern-agent --metadata`, which serves meta_data.json from the port. %d VMs at once, %d requests each per round, %d rounds.\n\n", url, cfg.VMs, cfg.N, cfg.Rounds)
	w("Command: `%s`\n\n", cfg.Command)
	w("| | requests | failed | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- |\n")
	for i, r := range rounds {
		w("| round %d | %d | | %s | %s | %s |\n", i+1, len(r), ms(pct(r, 0.5)), ms(pct(r, 0.99)), ms(pct(r, 1)))
	}
	w("| **all** | %d | %d | %s | %s | %s |\n", len(all), errs, ms(pct(all, 0.5)), ms(pct(all, 0.99)), ms(pct(all, 1)))
	w("\nThe first packet of each connection goes through conntrack (the VM's security groups) and the agent's loop answers which port a request comes from; there is no baseline on the same path in this run.\n")
	w("\n## Machine\n\n- CPUs: %s; load average at start: %s (shared machine)\n- %s; kernel %s; %s; Wyvern built from %s\n", m.CPUs, load, m.OVS, m.Kernel, m.Go, cfg.Built)
	return b.String()
}
