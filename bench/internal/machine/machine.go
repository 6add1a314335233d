// Package machine describes the machine a benchmark ran on, for the
// results pages: the figures only compare between runs at similar load on
// similar machines.
package machine

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine is what a results page records of where it ran.
type Machine struct {
	CPUs, Mem, OVS, Iperf, Kernel, Load, Go, Commit string
}

// Describe reads the machine: "?" for what cannot be read.
func Describe() Machine {
	sh := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			return "?"
		}
		return strings.TrimRight(string(out), "\n ")
	}
	m := Machine{
		CPUs:   sh("nproc"),
		Mem:    sh("free", "-g"),
		Kernel: sh("uname", "-r"),
		Go:     runtime.Version(),
		Commit: sh("git", "rev-parse", "--short", "HEAD"),
		OVS:    strings.SplitN(sh("ovs-vsctl", "--version"), "\n", 2)[0],
		Iperf:  strings.SplitN(sh("iperf3", "--version"), "\n", 2)[0],
		Load:   LoadAvg(),
	}
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

// LoadAvg is the 1, 5 and 15 minute load average.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
