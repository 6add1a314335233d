package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// percentile is the nearest-rank percentile (0 < p <= 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// ms renders a duration in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// span renders the range of values across runs ("a–b", or "a" when equal).
func span[T any](vals []T, less func(a, b T) bool, render func(T) string) string {
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

func durSpan(vals []time.Duration, render func(time.Duration) string) string {
	return span(vals, func(a, b time.Duration) bool { return a < b }, render)
}

func intSpan(vals []int, render func(int) string) string {
	return span(vals, func(a, b int) bool { return a < b }, render)
}
