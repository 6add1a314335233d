package main

import (
	"fmt"
	"slices"
)

// median of vs (the mean of the middle two for an even count); 0 when
// empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summary renders "median (min–max)" with format f.
func summary(vs []float64, f string) string {
	if len(vs) == 0 {
		return "—"
	}
	lo, hi := slices.Min(vs), slices.Max(vs)
	return fmt.Sprintf(f+" ("+f+"–"+f+")", median(vs), lo, hi)
}
