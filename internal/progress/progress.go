// Package progress reports the progress of long work — the demo's steps,
// a benchmark's runs and loops — as the step, the count and an ETA. On a
// terminal it keeps one status line up to date in place; otherwise (a log
// file, a pipe, CI) it prints plain lines, one when a step starts and one
// when it ends, and counts at most every tenth of the way.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Reporter reports the steps of one piece of work. It is safe for
// concurrent use.
type Reporter struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	total int // steps; 0 when unknown
	now   func() time.Time

	start     time.Time
	done      int // steps finished
	step      string
	stepStart time.Time
	status    bool // a status line is on screen (tty)
	lastTenth int  // the count's last printed tenth (plain lines)
}

// New returns a reporter of total steps (0: unknown) writing to w, with
// the status line when w is a terminal.
func New(w io.Writer, total int) *Reporter {
	return &Reporter{w: w, tty: IsTerminal(w), total: total, now: time.Now, start: time.Now()}
}

// Plain makes the reporter print plain lines even on a terminal.
func (r *Reporter) Plain() *Reporter {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tty = false
	return r
}

// counter is "[k/N]" (or "[k]").
func (r *Reporter) counter(k int) string {
	if r.total > 0 {
		return fmt.Sprintf("[%d/%d]", k, r.total)
	}
	return fmt.Sprintf("[%d]", k)
}

// eta estimates the time left: the mean time of a finished step times the
// steps left, less what the current one has taken; "" when unknown.
func (r *Reporter) eta() string {
	if r.total == 0 || r.done == 0 {
		return ""
	}
	per := r.stepStart.Sub(r.start) / time.Duration(r.done)
	left := per*time.Duration(r.total-r.done) - r.now().Sub(r.stepStart)
	if left < 0 {
		left = 0
	}
	return "ETA " + round(left).String()
}

func round(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// clear removes the status line.
func (r *Reporter) clear() {
	if r.status {
		fmt.Fprint(r.w, "\r\033[K")
		r.status = false
	}
}

// show draws the status line (tty).
func (r *Reporter) show(extra string) {
	parts := []string{r.counter(r.done+1) + " " + r.step}
	if extra != "" {
		parts = append(parts, extra)
	}
	parts = append(parts, round(r.now().Sub(r.stepStart)).String())
	if e := r.eta(); e != "" {
		parts = append(parts, e)
	}
	fmt.Fprint(r.w, "\r\033[K"+strings.Join(parts, " · "))
	r.status = true
}

// Step starts the next step (ending the current one, if any, without a
// result).
func (r *Reporter) Step(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.step != "" {
		r.finish("")
	}
	r.step = fmt.Sprintf(format, args...)
	r.stepStart = r.now()
	r.lastTenth = 0
	if r.tty {
		r.show("")
		return
	}
	line := r.counter(r.done+1) + " " + r.step
	if e := r.eta(); e != "" {
		line += " (" + e + ")"
	}
	fmt.Fprintln(r.w, line)
}

// Count reports n of total items done in the current step.
func (r *Reporter) Count(n, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.step == "" {
		return
	}
	elapsed := r.now().Sub(r.stepStart)
	extra := fmt.Sprintf("%d/%d", n, total)
	if n > 0 && n < total {
		extra += " · step ETA " + round(elapsed*time.Duration(total-n)/time.Duration(n)).String()
	}
	if r.tty {
		r.show(extra)
		return
	}
	if total <= 0 {
		return
	}
	if tenth := n * 10 / total; tenth > r.lastTenth || n == total {
		r.lastTenth = tenth
		fmt.Fprintf(r.w, "%s %s: %s\n", r.counter(r.done+1), r.step, extra)
	}
}

// Done ends the current step with a result ("ok", a figure...).
func (r *Reporter) Done(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finish(fmt.Sprintf(format, args...))
}

func (r *Reporter) finish(result string) {
	if r.step == "" {
		return
	}
	r.clear()
	line := r.counter(r.done+1) + " " + r.step
	if result != "" {
		line += ": " + result
	}
	line += " (" + round(r.now().Sub(r.stepStart)).String() + ")"
	fmt.Fprintln(r.w, line)
	r.done++
	r.step = ""
}

// Printf prints a line of detail without breaking the status line.
func (r *Reporter) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
	fmt.Fprintf(r.w, format+"\n", args...)
	if r.tty && r.step != "" {
		r.show("")
	}
}
