// Package faults injects faults into a running Wyvern and checks what must
// survive them: a 3-member etcd cluster (Debian's etcd-server) whose members
// are killed, paused and restarted under 16 API clients and a 50 pps ping
// between two chassis (every 201 kept, no address or MAC used twice, every
// refused request changed nothing, the API history linearizable by
// porcupine, no ping lost); then faults of Wyvern's own processes (the API
// server killed in a bulk create, an agent cut off from etcd for 30 s across
// a compaction, an agent killed in the middle of a flow bundle).
//
// With FAULTS_REPORT=path the package writes a results page of what it
// injected and measured (`./bench/run.sh faults`).
package faults

import (
	"fmt"
	"os"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/lab"
)

// wyvernBin and agentBin are the binaries under test, built by TestMain.
var wyvernBin, agentBin string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	bins, cleanup, err := lab.BuildBinaries("wyvern-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	wyvernBin, agentBin = bins.Wyvern, bins.Agent
	code := m.Run()
	if path := os.Getenv("FAULTS_REPORT"); path != "" {
		if err := report.write(path, code == 0); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			return 1
		}
	}
	return code
}
