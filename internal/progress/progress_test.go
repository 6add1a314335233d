package progress

import (
	"strings"
	"testing"
	"time"
)

// clock is a fake time source advanced by the test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(tty bool, total int) (*Reporter, *strings.Builder, *clock) {
	var b strings.Builder
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := New(&b, total)
	r.tty, r.now, r.start = tty, c.now, c.t
	return r, &b, c
}

// TestPlainLines: off a terminal, a line per step start and end with the
// step count, the ETA once a step has finished, and counts by tenths.
func TestPlainLines(t *testing.T) {
	r, b, c := newTest(false, 3)
	r.Step("build")
	c.t = c.t.Add(2 * time.Second)
	r.Done("ok")
	r.Step("load")
	for i := 1; i <= 100; i++ {
		r.Count(i, 100)
	}
	c.t = c.t.Add(time.Second)
	r.Done("%d ports", 100)
	r.Printf("detail")
	r.Step("report")
	r.Done("")
	want := []string{
		"[1/3] build",
		"[1/3] build: ok (2s)",
		"[2/3] load (ETA 4s)",
		"[2/3] load: 10/100 · step ETA 0s",
	}
	got := strings.Split(b.String(), "\n")
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d: %q, want %q", i, got[i], w)
		}
	}
	if n := strings.Count(b.String(), "load: "); n != 11 { // ten tenths and the result
		t.Errorf("%d count lines:\n%s", n, b.String())
	}
	for _, w := range []string{"[2/3] load: 100 ports (1s)", "detail\n", "[3/3] report (0s)"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Contains(b.String(), "\r") {
		t.Error("terminal control characters off a terminal")
	}
}

// TestTerminalStatusLine: on a terminal the status line is rewritten in
// place with the count and ETA, and cleared before each permanent line.
func TestTerminalStatusLine(t *testing.T) {
	r, b, c := newTest(true, 2)
	r.Step("one")
	c.t = c.t.Add(4 * time.Second)
	r.Done("ok")
	r.Step("two")
	c.t = c.t.Add(time.Second)
	r.Count(1, 4)
	out := b.String()
	for _, w := range []string{"\r\033[K[1/2] one · 0s", "\r\033[K[1/2] one: ok (4s)\n", "[2/2] two · 1/4 · step ETA 3s · 1s · ETA 3s"} {
		if !strings.Contains(out, w) {
			t.Errorf("lacks %q:\n%q", w, out)
		}
	}
}
