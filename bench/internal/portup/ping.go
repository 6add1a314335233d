package portup

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// Pinger is a running `ping -D` whose output lines are streamed.
type Pinger struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}

	mu  sync.Mutex
	out strings.Builder
}

// StartPing runs ping with args inside the VM's namespace, its output
// line-buffered (stdbuf) so that each reply is seen as it comes.
func StartPing(vm *testbed.VM, args ...string) (*Pinger, error) {
	cmd := vm.Command(append([]string{"stdbuf", "-oL", "ping"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Pinger{cmd: cmd, lines: make(chan string, 4096), done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{p}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ping: %w", err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default: // nobody reads any more; the text is kept
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

type lockedWriter struct{ p *Pinger }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// WaitLine waits for a line containing s and returns it.
func (p *Pinger) WaitLine(s string, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("ping ended before %q:\n%s", s, p.Output())
			}
			if strings.Contains(line, s) {
				return line, nil
			}
		case <-t.C:
			return "", fmt.Errorf("no %q from ping within %s", s, d)
		}
	}
}

// Stop kills ping and waits for it.
func (p *Pinger) Stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Wait waits up to d for ping to exit by itself.
func (p *Pinger) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(d):
		p.Stop()
		return errors.New("ping did not finish in time")
	}
}

// Output is what ping printed so far.
func (p *Pinger) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

var (
	replyRE   = regexp.MustCompile(`^\[(\d+)\.(\d+)\] \d+ bytes from .*icmp_seq=(\d+)`)
	summaryRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
)

// Reply is one echo reply of ping -D.
type Reply struct {
	At  time.Time
	Seq int
}

// ParseReply parses a reply line of ping -D.
func ParseReply(line string) (Reply, bool) {
	m := replyRE.FindStringSubmatch(line)
	if m == nil {
		return Reply{}, false
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	frac := m[2]
	for len(frac) < 9 {
		frac += "0"
	}
	nsec, _ := strconv.ParseInt(frac[:9], 10, 64)
	seq, _ := strconv.Atoi(m[3])
	return Reply{At: time.Unix(sec, nsec), Seq: seq}, true
}

// PingRun is the outcome of a fixed-length ping.
type PingRun struct {
	Sent, Received int
	// MaxGap is the longest time between consecutive replies.
	MaxGap time.Duration
	// MissingSeqs are the sequence numbers with no reply.
	MissingSeqs []int
}

// ParsePingRun reads a whole ping -D output.
func ParsePingRun(out string) (PingRun, error) {
	var r PingRun
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no ping summary:\n%s", out)
	}
	r.Sent, _ = strconv.Atoi(m[1])
	r.Received, _ = strconv.Atoi(m[2])
	seen := map[int]bool{}
	var prev time.Time
	for _, line := range strings.Split(out, "\n") {
		rep, ok := ParseReply(line)
		if !ok {
			continue
		}
		seen[rep.Seq] = true
		if !prev.IsZero() && rep.At.Sub(prev) > r.MaxGap {
			r.MaxGap = rep.At.Sub(prev)
		}
		prev = rep.At
	}
	for s := 1; s <= r.Sent; s++ {
		if !seen[s] {
			r.MissingSeqs = append(r.MissingSeqs, s)
		}
	}
	return r, nil
}

// Outage is the longest run of consecutive lost replies times the ping
// interval, and whether that run reaches the end of the ping (the path
// was still down when it stopped).
func (r PingRun) Outage(interval time.Duration) (d time.Duration, atEnd bool) {
	longest, run := 0, 0
	for i, s := range r.MissingSeqs {
		if i > 0 && s == r.MissingSeqs[i-1]+1 {
			run++
		} else {
			run = 1
		}
		if run >= longest {
			longest = run
			atEnd = s == r.Sent
		}
	}
	return time.Duration(longest) * interval, atEnd
}
