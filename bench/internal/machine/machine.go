// Package machine describes the machine a benchmark ran on, for the
// results pages (the figures only compare between runs at similar load on
// similar machines), reads what a process of the run used, and writes the
// pages.
package machine

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
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

// ProcCPU reads a process' user + system CPU time (/proc/PID/stat fields
// 14 and 15, in clock ticks of 10 ms).
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// WritePage writes a results page to path (its directory made as needed),
// or to standard output when path is "".
func WritePage(path, md string) error {
	if path == "" {
		fmt.Print(md)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(md), 0o644)
}
