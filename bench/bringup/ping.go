package main

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

// pinger is a running `ping -D` whose output lines are streamed.
type pinger struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}

	mu  sync.Mutex
	out strings.Builder
}

// startPing runs ping with args inside the VM's namespace, its output
// line-buffered (stdbuf) so that each reply is seen as it comes.
func startPing(vm *testbed.VM, args ...string) (*pinger, error) {
	cmd := vm.Command(append([]string{"stdbuf", "-oL", "ping"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &pinger{cmd: cmd, lines: make(chan string, 4096), done: make(chan struct{})}
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

type lockedWriter struct{ p *pinger }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// waitLine waits for a line containing s and returns it.
func (p *pinger) waitLine(s string, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("ping ended before %q:\n%s", s, p.output())
			}
			if strings.Contains(line, s) {
				return line, nil
			}
		case <-t.C:
			return "", fmt.Errorf("no %q from ping within %s", s, d)
		}
	}
}

// stop kills ping and waits for it.
func (p *pinger) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// wait waits up to d for ping to exit by itself.
func (p *pinger) wait(d time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(d):
		p.stop()
		return errors.New("ping did not finish in time")
	}
}

func (p *pinger) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

var (
	replyRE   = regexp.MustCompile(`^\[(\d+)\.(\d+)\] \d+ bytes from .*icmp_seq=(\d+)`)
	summaryRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
)

// reply is one echo reply of ping -D.
type reply struct {
	At  time.Time
	Seq int
}

func parseReply(line string) (reply, bool) {
	m := replyRE.FindStringSubmatch(line)
	if m == nil {
		return reply{}, false
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	frac := m[2]
	for len(frac) < 9 {
		frac += "0"
	}
	nsec, _ := strconv.ParseInt(frac[:9], 10, 64)
	seq, _ := strconv.Atoi(m[3])
	return reply{At: time.Unix(sec, nsec), Seq: seq}, true
}

// pingRun is the outcome of a fixed-length ping.
type pingRun struct {
	Sent, Received int
	// MaxGap is the longest time between consecutive replies.
	MaxGap time.Duration
	// MissingSeqs are the sequence numbers with no reply.
	MissingSeqs []int
}

func parsePingRun(out string) (pingRun, error) {
	var r pingRun
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no ping summary:\n%s", out)
	}
	r.Sent, _ = strconv.Atoi(m[1])
	r.Received, _ = strconv.Atoi(m[2])
	seen := map[int]bool{}
	var prev time.Time
	for _, line := range strings.Split(out, "\n") {
		rep, ok := parseReply(line)
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
