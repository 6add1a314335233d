package portup

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Percentile is the nearest-rank percentile (0 < p <= 100) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// Ms renders a duration in milliseconds with one decimal.
func Ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// Span renders the range of values across runs ("a–b", or "a" when equal).
func Span[T any](vals []T, less func(a, b T) bool, render func(T) string) string {
	if len(vals) == 0 {
		return "—"
	}
	lo, hi := vals[0], vals[0]
	for _, v := range vals[1:] {
		if less(v, lo) {
			lo = v
		}
		if less(hi, v) {
			hi = v
		}
	}
	a, b := render(lo), render(hi)
	if a == b {
		return a
	}
	return a + "–" + b
}

// DurSpan is Span of durations.
func DurSpan(vals []time.Duration, render func(time.Duration) string) string {
	return Span(vals, func(a, b time.Duration) bool { return a < b }, render)
}

// IntSpan is Span of integers.
func IntSpan(vals []int, render func(int) string) string {
	return Span(vals, func(a, b int) bool { return a < b }, render)
}

// ProcMem reads VmRSS, VmHWM and RssAnon (kB) of a process.
func ProcMem(pid int) (rss, hwm, anon int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			hwm, _ = strconv.ParseInt(f[1], 10, 64)
		case "RssAnon:":
			anon, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, hwm, anon, nil
}

// FlowTable is the table of a dump-flows line (ovs-ofctl omits table=0).
func FlowTable(f string) int {
	i := strings.Index(f, "table=")
	if i < 0 {
		return 0
	}
	v := f[i+len("table="):]
	if j := strings.IndexAny(v, ", "); j >= 0 {
		v = v[:j]
	}
	t, _ := strconv.Atoi(v)
	return t
}
