// Command qos measures how closely a port's QoS bandwidth limit holds on
// the userspace datapath (issue 11, "QoS rate accuracy"): TCP (iperf3,
// one stream) through a port with a bandwidth_limit rule of each -rates
// value, in each direction (egress: the VM sends, policed by the egress
// meter of the QoS table; ingress: the VM receives, policed by the
// ingress meter of its L2Lookup flow), against the limit, with the
// unlimited rate of the same path measured in the same run.
//
// It runs a real `wyvern server` and two `wyvern-agent`s on a test bed
// (internal/lab: real OVS, userspace datapath, Geneve between the
// chassis): vm1 on ch1 carries the policy, vm2 on ch2 runs the iperf3
// server. It must run as root.
//
//	go build -o bench/out/ ./cmd/wyvern ./cmd/wyvern-agent ./bench/qos
//	bench/out/qos -wyvern bench/out/wyvern -wyvern-agent bench/out/wyvern-agent -out bench/results/qos-$(date +%F).md
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/benchbed"
	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

type config struct {
	Rates               string
	Runs, Secs          int
	Out, Command, Built string
	Wyvern, Agent       string
	Verbose             bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Rates, "rates", "5,10,50", "limits to measure, Mbit/s, comma-separated")
	flag.IntVar(&cfg.Runs, "runs", 3, "iperf3 runs per limit and direction")
	flag.IntVar(&cfg.Secs, "secs", 6, "seconds per iperf3 run (after a 1 s warm-up, omitted)")
	flag.StringVar(&cfg.Out, "out", "", "Markdown results file (default: stdout)")
	flag.StringVar(&cfg.Command, "command", "", "the command line to record in the report")
	flag.StringVar(&cfg.Wyvern, "wyvern", "", "wyvern binary (server)")
	flag.StringVar(&cfg.Agent, "wyvern-agent", "", "wyvern-agent binary")
	flag.StringVar(&cfg.Built, "built", "", "what the binaries were built from, for the report")
	flag.BoolVar(&cfg.Verbose, "v", false, "log the test bed's actions")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "qos:", err)
		os.Exit(1)
	}
}

// row is one limit and direction: the limit (0 for none) and the rates
// measured, Mbit/s.
type row struct {
	limit float64
	dir   string
	got   []float64
}

func run(cfg config) error {
	var rates []float64
	for _, s := range strings.Split(cfg.Rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("bad rate %q", s)
		}
		rates = append(rates, r)
	}
	if cfg.Wyvern == "" || cfg.Agent == "" || cfg.Runs < 1 || cfg.Secs < 1 {
		return fmt.Errorf("bad settings %+v: -wyvern and -wyvern-agent are required", cfg)
	}
	if err := testbed.Require(); err != nil {
		return err
	}
	log := benchbed.Start(cfg.Verbose)
	m := machine.Describe()
	load := machine.LoadAvg()
	var rows []row
	err := benchbed.Run("bench-qos", "", nil, log, func(bed *testbed.Bed) error {
		b, err := setup(cfg, bed)
		if err != nil {
			return err
		}
		measure := func(limit float64, dir string) error {
			r := row{limit: limit, dir: dir}
			for i := 0; i < cfg.Runs; i++ {
				got, err := b.iperf(cfg.Secs, dir == model.DirectionIngress)
				if err != nil {
					return err
				}
				r.got = append(r.got, got)
			}
			progress("limit %g %s: %v Mbit/s", limit, dir, r.got)
			rows = append(rows, r)
			return nil
		}
		for _, dir := range []string{model.DirectionEgress, model.DirectionIngress} {
			if err := measure(0, dir); err != nil {
				return err
			}
		}
		for _, rate := range rates {
			for _, dir := range []string{model.DirectionEgress, model.DirectionIngress} {
				if err := b.limit(rate, dir); err != nil {
					return err
				}
				if err := measure(rate, dir); err != nil {
					return err
				}
			}
		}
		if err := b.limit(0, ""); err != nil {
			return err
		}
		for _, dir := range []string{model.DirectionEgress, model.DirectionIngress} {
			if err := measure(0, dir); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return machine.WritePage(cfg.Out, report(cfg, m, load, rows))
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s qos: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

type bed struct {
	l        *lab.Lab
	ch1      *testbed.Chassis
	vm1      *testbed.VM
	port     string
	policy   string
	server   string
	attached bool
}

func setup(cfg config, tb *testbed.Bed) (*bed, error) {
	l, err := lab.Start(tb, cfg.Wyvern, lab.Options{AgentBin: cfg.Agent})
	if err != nil {
		return nil, err
	}
	ch1, err := l.AddChassis("ch1")
	if err != nil {
		return nil, err
	}
	ch2, err := l.AddChassis("ch2")
	if err != nil {
		return nil, err
	}
	off := false
	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.92.0.0/24", PortSecurity: &off})
	if err != nil {
		return nil, err
	}
	b := &bed{l: l, ch1: ch1}
	var p2 model.Port
	for i, ch := range []*testbed.Chassis{ch1, ch2} {
		vm, p, err := l.Boot(ch, "vm"+strconv.Itoa(i+1), "p1", n.ID, nil)
		if err != nil {
			return nil, err
		}
		if _, err := l.WaitPort(p.ID, 30*time.Second, func(p model.Port) bool { return p.Status == model.StatusActive }); err != nil {
			return nil, err
		}
		if err := vm.SetAddr(lab.FixedIP(p) + "/24"); err != nil {
			return nil, err
		}
		if i == 0 {
			b.vm1, b.port = vm, p.ID
		} else {
			p2 = p
			if err := vm.StartProcess("iperf3", vm.Command("iperf3", "-s", "-p", "5201")); err != nil {
				return nil, err
			}
		}
	}
	b.server = lab.FixedIP(p2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := b.vm1.Exec("iperf3", "-c", b.server, "-t", "1", "--connect-timeout", "1000"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("iperf3 from vm1 to %s never got through\n%s", b.server, tb.LogTails(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	var pol struct{ Policy model.QoSPolicy }
	if err := l.Do("POST", "/v2.0/qos/policies", "p1", map[string]any{"policy": map[string]any{"name": "bench"}}, &pol); err != nil {
		return nil, err
	}
	b.policy = pol.Policy.ID
	return b, nil
}

// limit makes the policy hold one bandwidth limit (Mbit/s) in direction
// dir, attached to vm1's port, and waits until br-int has its meter; 0
// detaches the policy and waits until no flow uses a meter.
func (b *bed) limit(mbps float64, dir string) error {
	base := "/v2.0/qos/policies/" + b.policy
	var pol struct{ Policy model.QoSPolicy }
	if err := b.l.Do("GET", base, "p1", nil, &pol); err != nil {
		return err
	}
	for _, r := range pol.Policy.Rules {
		if err := b.l.Do("DELETE", base+"/bandwidth_limit_rules/"+r.ID, "p1", nil, nil); err != nil {
			return err
		}
	}
	kbps := int(mbps * 1000)
	if mbps > 0 {
		if err := b.l.Do("POST", base+"/bandwidth_limit_rules", "p1", map[string]any{"bandwidth_limit_rule": map[string]any{
			"max_kbps": kbps, "direction": dir}}, nil); err != nil {
			return err
		}
	}
	want := any(b.policy)
	if mbps == 0 {
		want = nil
	}
	if (mbps > 0) != b.attached {
		if err := b.l.Do("PUT", "/v2.0/ports/"+b.port, "p1", map[string]any{"port": map[string]any{"qos_policy_id": want}}, nil); err != nil {
			return err
		}
		b.attached = mbps > 0
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		meters, _ := b.ch1.Ofctl("dump-meters", b.ch1.Mgmt("br-int"))
		flows, _ := b.ch1.Ofctl("dump-flows", b.ch1.Mgmt("br-int"))
		ok := strings.Contains(meters, fmt.Sprintf("rate=%d ", kbps)) && strings.Contains(flows, "meter:")
		if mbps == 0 {
			ok = !strings.Contains(flows, "meter:")
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("limit %g %s: br-int never took it\nmeters:\n%s", mbps, dir, meters)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// iperf runs one iperf3 from vm1 (reverse: the server sends to vm1) and
// returns the receiver's rate, Mbit/s.
func (b *bed) iperf(secs int, reverse bool) (float64, error) {
	args := []string{"iperf3", "-c", b.server, "-t", strconv.Itoa(secs), "-O", "1", "-J", "--connect-timeout", "3000"}
	if reverse {
		args = append(args, "-R")
	}
	// The server takes a moment to finish a test after its client: until
	// then it answers "busy", or resets the new control connection. Such
	// a run measured nothing and is run again.
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := b.vm1.Exec(args...)
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
			Error string `json:"error"`
		}
		jerr := json.Unmarshal([]byte(out), &r)
		if jerr == nil && retryable(r.Error) && time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		if err != nil || jerr != nil || r.Error != "" {
			return 0, fmt.Errorf("iperf3 %v: %v %v %s", args, err, jerr, r.Error)
		}
		return r.End.SumReceived.BitsPerSecond / 1e6, nil
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(cfg config, m machine.Machine, load string, rows []row) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# QoS: bandwidth limit accuracy on the userspace datapath (%s)\n\n", time.Now().Format("2006-01-02"))
	w("TCP, one iperf3 stream (%d s after a 1 s warm-up that is left out, receiver's rate), from vm1 on ch1 to vm2 on ch2 over Geneve (egress: vm1 sends) and back (`-R`, ingress: vm1 receives), with vm1's port holding a QoS policy of one `bandwidth_limit` rule (`max_burst_kbps` 0: the burst is 80 %% of the rate, as Neutron's OVS agent sets it). %d runs per limit and direction; the error is the median's distance from the limit. The unlimited rows are the same path without a policy, before and after the limited runs.\n\n", cfg.Secs, cfg.Runs)
	w("Command: `%s`\n\n", cfg.Command)
	w("| limit Mbit/s | direction | runs, Mbit/s | median | error |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		runs := make([]string, len(r.got))
		for i, g := range r.got {
			runs[i] = strconv.FormatFloat(g, 'f', 2, 64)
		}
		lim, errPct := "none", ""
		if r.limit > 0 {
			lim = strconv.FormatFloat(r.limit, 'g', -1, 64)
			errPct = fmt.Sprintf("%+.1f %%", (median(r.got)/r.limit-1)*100)
		}
		w("| %s | %s | %s | %.2f | %s |\n", lim, r.dir, strings.Join(runs, ", "), median(r.got), errPct)
	}
	w("\nEnforcement: OpenFlow meters (one drop band, kbps, with burst) in dpif-netdev; see README \"QoS\" for what holds on this datapath. A meter drops what exceeds the bucket, so TCP sees loss and backs off: the rate it settles at depends on the burst and the RTT.\n")
	w("\n## Machine\n\n- CPUs: %s; load average at start: %s (shared machine)\n- %s; kernel %s; %s; Wyvern built from %s\n", m.CPUs, load, m.OVS, m.Kernel, m.Go, cfg.Built)
	return b.String()
}

// retryable says an iperf3 error came before any measurement: the server
// still busy with the previous test.
func retryable(msg string) bool {
	return strings.Contains(msg, "busy") || strings.Contains(msg, "unable to receive control message") ||
		strings.Contains(msg, "unable to send control message")
}
