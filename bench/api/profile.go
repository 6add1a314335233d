package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// breakdown is a CPU profile's samples summed two ways: by what the
// goroutine was doing (its stack's roots) and by the package of the
// function on CPU (the leaf).
type breakdown struct {
	Total  time.Duration
	ByRole []share
	ByLeaf []share
}

type share struct {
	Name string
	Dur  time.Duration
}

// roles classify a sample by the first rule any of its frames matches.
var roles = []struct{ name, match string }{
	// The STM body runs on its own goroutine (concurrency.runSTM).
	{"Wyvern request handling: HTTP, JSON, validation, STM body, etcd client calls", "net/http.(*conn).serve|concurrency.runSTM"},
	{"etcd serving Range/Txn RPCs (gRPC handlers, MVCC reads)", "grpc.(*Server).handleStream"},
	{"gRPC/HTTP2 transport, both ends (loopback)", "google.golang.org/grpc/internal/transport|google.golang.org/grpc.(*addrConn)"},
	{"etcd raft, WAL, apply, backend commit", "go.etcd.io/etcd/server|go.etcd.io/raft|go.etcd.io/bbolt"},
	{"Go GC background workers", "runtime.gcBgMarkWorker|runtime.bgsweep|runtime.bgscavenge"},
}

// leaves group a sample by the package of its leaf function.
var leaves = []struct{ name, prefix string }{
	{"syscalls (socket and disk I/O, futex)", "syscall.|internal/runtime/syscall"},
	{"encoding/json", "encoding/json."},
	{"etcd, raft, bbolt", "go.etcd.io/"},
	{"gRPC, protobuf, HTTP/2", "google.golang.org/|golang.org/x/net/http2"},
	{"net/http, net, bufio", "net/http.|net.|bufio."},
	{"Wyvern", "github.com/wyvern-sdn/"},
	{"Go runtime: allocation, GC, scheduling, memmove", "runtime.|internal/runtime/"},
}

func classify(stack []string) string {
	for _, r := range roles {
		for _, alt := range strings.Split(r.match, "|") {
			for _, f := range stack {
				if strings.Contains(f, alt) {
					return r.name
				}
			}
		}
	}
	return "other (scheduler, idle, timers)"
}

func leafGroup(fn string) string {
	for _, l := range leaves {
		for _, p := range strings.Split(l.prefix, "|") {
			if strings.HasPrefix(fn, p) {
				return l.name
			}
		}
	}
	if !strings.Contains(fn, ".") { // assembly: memmove, cmpbody, indexbytebody…
		return "Go runtime: allocation, GC, scheduling, memmove"
	}
	if first, _, _ := strings.Cut(pkgOf(fn), "/"); !strings.Contains(first, ".") {
		return "Go standard library, other (sort, bytes, strings, sync…)"
	}
	return "other"
}

// pkgOf returns the import path of a function's package as pprof names
// it: "go.etcd.io/etcd/server/v3/storage/mvcc.(*keyIndex).Less" → ".../mvcc".
func pkgOf(fn string) string {
	if i := strings.IndexByte(fn, '['); i >= 0 { // generic shapes hold dots and slashes
		fn = fn[:i]
	}
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}

// profileBreakdown runs `go tool pprof -traces` on a profile and sums it.
func profileBreakdown(bin, profile string) (breakdown, error) {
	out, err := exec.Command("go", "tool", "pprof", "-traces", bin, profile).Output()
	if err != nil {
		return breakdown{}, fmt.Errorf("go tool pprof -traces %s: %w", profile, err)
	}
	return parseTraces(strings.NewReader(string(out)))
}

// parseTraces reads the output of `go tool pprof -traces`: blocks of
// frames, leaf first, whose first line carries the sample's value.
func parseTraces(r io.Reader) (breakdown, error) {
	var b breakdown
	role, leaf := map[string]time.Duration{}, map[string]time.Duration{}
	var val time.Duration
	var stack []string
	flush := func() {
		if len(stack) == 0 {
			return
		}
		b.Total += val
		role[classify(stack)] += val
		leaf[leafGroup(stack[0])] += val
		stack = stack[:0]
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		if !strings.HasPrefix(line, " ") {
			continue // header
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(stack) == 0 && len(f) >= 2 {
			d, err := time.ParseDuration(f[0])
			if err != nil {
				return b, fmt.Errorf("traces: value %q: %w", f[0], err)
			}
			val, f = d, f[1:]
		}
		stack = append(stack, f[0])
	}
	flush()
	if err := sc.Err(); err != nil {
		return b, fmt.Errorf("traces: %w", err)
	}
	b.ByRole, b.ByLeaf = sorted(role), sorted(leaf)
	return b, nil
}

func sorted(m map[string]time.Duration) []share {
	out := make([]share, 0, len(m))
	for k, v := range m {
		out = append(out, share{k, v})
	}
	for i := range out { // few entries: insertion sort, largest first
		for j := i; j > 0 && (out[j].Dur > out[j-1].Dur || out[j].Dur == out[j-1].Dur && out[j].Name < out[j-1].Name); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// table renders a breakdown as Markdown, with per-create CPU when n > 0.
func (b breakdown) table(w io.Writer, title string, n int) {
	if b.Total == 0 {
		return
	}
	for _, part := range []struct {
		head   string
		shares []share
	}{{"by what the goroutine was doing", b.ByRole}, {"by package on CPU (leaf)", b.ByLeaf}} {
		per := ""
		if n > 0 {
			per = " | CPU µs per create"
		}
		fmt.Fprintf(w, "| %s, %s | share%s |\n| --- | --- |%s\n", title, part.head, per, map[bool]string{true: " --- |"}[n > 0])
		for _, s := range part.shares {
			fmt.Fprintf(w, "| %s | %.0f%%", s.Name, 100*float64(s.Dur)/float64(b.Total))
			if n > 0 {
				fmt.Fprintf(w, " | %.0f", float64(s.Dur.Microseconds())/float64(n))
			}
			fmt.Fprintln(w, " |")
		}
		fmt.Fprintln(w)
	}
}
