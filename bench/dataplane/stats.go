package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
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

// machine describes where the benchmark ran.
type machine struct {
	CPUs, Mem, OVS, Kernel, Load, Go, Commit, Iperf string
}

func describeMachine() machine {
	sh := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			return "?"
		}
		return strings.TrimRight(string(out), "\n ")
	}
	m := machine{
		CPUs:   sh("nproc"),
		Mem:    sh("free", "-g"),
		Kernel: sh("uname", "-r"),
		Go:     runtime.Version(),
		Commit: sh("git", "rev-parse", "--short", "HEAD"),
	}
	m.OVS = strings.SplitN(sh("ovs-vsctl", "--version"), "\n", 2)[0]
	m.Iperf = strings.SplitN(sh("iperf3", "--version"), "\n", 2)[0]
	m.Load = loadAvg()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m.CPUs += " × " + strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
