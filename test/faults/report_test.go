package faults

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
)

// faultRecord is one injected fault and what it cost.
type faultRecord struct {
	phase, name string
	// recover is the time from the fault until the system served again
	// (see the phase's definition on the page).
	recover time.Duration
	// pingLost is the echoes lost around the fault (none allowed).
	pingLost int
	note     string
}

// requests counts the API calls of a phase by outcome.
type requests struct {
	phase                       string
	succeeded, refused, unknown int
	lost                        int // 2xx whose effect is missing
	note                        string
}

// report gathers what the tests injected and measured, for the results
// page (FAULTS_REPORT).
var report = &results{}

type results struct {
	mu       sync.Mutex
	faults   []faultRecord
	requests []requests
	pings    []string
	checks   []string
}

func (r *results) fault(f faultRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, f)
}

func (r *results) reqs(q requests) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, q)
}

func (r *results) ping(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pings = append(r.pings, fmt.Sprintf(format, args...))
}

func (r *results) checked(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, fmt.Sprintf(format, args...))
}

func (r *results) write(path string, passed bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	fmt.Fprintf(&b, "# Faults — %s\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Produced by `./bench/run.sh faults` (the `test/faults` package with FAULTS_REPORT set), commit %s, on a shared 2-core machine.\n\n", strings.TrimSpace(string(rev)))
	if passed {
		b.WriteString("Outcome: **every check passed** (`go test ./test/faults`).\n\n")
	} else {
		b.WriteString("Outcome: **some checks FAILED** (see the test log); the figures below are what was measured.\n\n")
	}
	b.WriteString("Setup: a 3-member etcd cluster (Debian etcd-server, data in memory), two `wyvern server --etcd-endpoints` to all three (the API clients spread over both), ")
	b.WriteString("two chassis with real Open vSwitch (userspace datapath) and `wyvern-agent`s, two VMs pinging each other across the chassis at 50 pps for the whole run, ")
	b.WriteString("16 API clients creating and deleting ports and a reader listing them.\n\n")
	b.WriteString("## Faults injected\n\n| phase | fault | count | time to recover p50 | max | pings lost |\n| --- | --- | --- | --- | --- | --- |\n")
	type key struct{ phase, name string }
	var order []key
	groups := map[key][]faultRecord{}
	for _, f := range r.faults {
		k := key{f.phase, f.name}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], f)
	}
	var all []time.Duration
	for _, k := range order {
		fs := groups[k]
		var ds []time.Duration
		lost := 0
		for _, f := range fs {
			ds = append(ds, f.recover)
			lost += f.pingLost
		}
		all = append(all, ds...)
		p50, mx := quantiles(ds)
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %d |\n", k.phase, k.name, len(fs), p50, mx, lost)
	}
	p50, mx := quantiles(all)
	fmt.Fprintf(&b, "| all | | %d | %s | %s | |\n\n", len(all), p50, mx)
	b.WriteString("Time to recover: etcd faults — from the fault to the answer of the first port create invoked after it that succeeded; ")
	b.WriteString("the agent cut — from the link's return to the agent's chassis being registered again and a port created during the cut being reachable; ")
	b.WriteString("the server kill — from the kill to the restarted server's first answer; the agent kill — from the kill to the restarted agent's full flow table.\n\n")
	for _, f := range r.faults {
		if f.note != "" {
			fmt.Fprintf(&b, "- %s / %s: %s\n", f.phase, f.name, f.note)
		}
	}
	b.WriteString("\n## Requests during faults\n\n| phase | succeeded | refused | no answer | lost (must be 0) | |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, q := range r.requests {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s |\n", q.phase, q.succeeded, q.refused, q.unknown, q.lost, q.note)
	}
	b.WriteString("\nSucceeded: 2xx (a delete's 404 too). Refused: any other status; each one was checked to have changed nothing. ")
	b.WriteString("Lost: a success whose effect is missing afterwards.\n\n## Pings\n\n")
	for _, p := range r.pings {
		fmt.Fprintf(&b, "- %s\n", p)
	}
	b.WriteString("\n## Checks\n\n")
	for _, c := range r.checks {
		fmt.Fprintf(&b, "- %s\n", c)
	}
	b.WriteString("\n## Reproduce\n\n```\nsudo ./scripts/deps.sh\n./bench/run.sh faults   # = FAULTS_REPORT=bench/results/faults-<date>.md go test -count=1 -v ./test/faults\n```\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func quantiles(ds []time.Duration) (p50, max time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond)
}
