package faults

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// newLab starts a server on a fresh bed owned by t.
func newLab(t *testing.T, bed *testbed.Bed, opts lab.Options) *lab.Lab {
	t.Helper()
	opts.AgentBin = agentBin
	l, err := lab.Start(bed, wyvernBin, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func fixed(subnet, ip string) map[string]any {
	return map[string]any{"fixed_ips": []map[string]string{{"subnet_id": subnet, "ip_address": ip}}}
}

// boot creates a port, plugs a VM for it on ch, waits until the port is
// ACTIVE there and gives the VM its address.
func boot(t *testing.T, l *lab.Lab, ch *testbed.Chassis, name, project string, n model.Network, extra map[string]any) (*testbed.VM, model.Port) {
	t.Helper()
	vm, p, err := l.Boot(ch, name, project, n.ID, extra)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitPort(p.ID, 20*time.Second, func(p model.Port) bool {
		return p.Status == model.StatusActive && p.HostID == ch.Name
	}); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetAddr(lab.FixedIP(p) + "/24"); err != nil {
		t.Fatal(err)
	}
	return vm, p
}

// mustPing fails the test unless every echo of a short burst is answered
// within d (the path may still be coming up: it retries until d).
func mustPing(t *testing.T, l *lab.Lab, vm *testbed.VM, dst string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		got, err := vm.Ping(dst, 1, 2*time.Second)
		if err == nil && got == 1 {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			flows, _ := vm.Chassis.Ofctl("dump-flows", "br-int")
			t.Fatalf("%s → %s: no reply after %s: %v\nflows:\n%s\n%s", vm.Name, dst, d, err, flows, l.Bed.LogTails(20))
		}
	}
}

// pinger is a ping at a fixed interval that runs until stopped.
type pinger struct {
	t        *testing.T
	cmd      interface{ Wait() error }
	pid      int
	start    time.Time
	interval time.Duration
	mu       sync.Mutex
	out      strings.Builder
	done     chan struct{}
}

func (p *pinger) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// startPing starts `ping -i interval dst` in the VM.
func startPing(t *testing.T, vm *testbed.VM, dst string, interval time.Duration) *pinger {
	t.Helper()
	cmd := vm.Command("ping", "-n", "-i", fmt.Sprintf("%.3f", interval.Seconds()), "-W", "1", dst)
	p := &pinger{t: t, interval: interval, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.start, p.pid = time.Now(), cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

var replySeq = regexp.MustCompile(`icmp_seq=(\d+) `)

// pingResult: echoes sent up to the last answered one, and the times
// (since the ping began) of those unanswered among them.
type pingResult struct {
	sent int
	lost []time.Duration
	out  string
}

// stop interrupts the ping (after it has run at least one more second
// past now, so that a loss just before the stop shows as a gap).
func (p *pinger) stop() pingResult {
	p.t.Helper()
	_ = syscall.Kill(p.pid, syscall.SIGINT)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
		<-p.done
	}
	p.mu.Lock()
	out := p.out.String()
	p.mu.Unlock()
	got := map[int]bool{}
	last := 0
	for _, m := range replySeq.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		got[n] = true
		last = max(last, n)
	}
	r := pingResult{sent: last, out: out}
	for s := 1; s <= last; s++ {
		if !got[s] {
			r.lost = append(r.lost, time.Duration(s-1)*p.interval)
		}
	}
	return r
}

// lostBetween counts the losses sent in [from, to) (times since p began).
func (r pingResult) lostBetween(from, to time.Duration) int {
	n := 0
	for _, d := range r.lost {
		if d >= from && d < to {
			n++
		}
	}
	return n
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not reached after %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// replies counts the echoes answered so far.
func (p *pinger) replies() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(replySeq.FindAllStringIndex(p.out.String(), -1))
}
