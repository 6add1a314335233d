// Package e2e tests Wyvern end to end with real parts: a `wyvern server` on
// embedded etcd, a `wyvern-agent` per chassis, real Open vSwitch (userspace
// datapath) in network namespaces, VMs as namespaces plugged the way Nova
// does, stock DHCP clients and real packets.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// wyvernBin and agentBin are the binaries under test (cmd/wyvern for the
// server, cmd/wyvern-agent for the agents, as deployed), built once by
// TestMain.
var wyvernBin, agentBin string

func TestMain(m *testing.M) {
	if spec := os.Getenv(rawIPEnv); spec != "" {
		os.Exit(runRawIPHelper(spec))
	}
	if spec := os.Getenv(rawFrameEnv); spec != "" {
		os.Exit(runRawFrameHelper(spec))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bins, cleanup, err := lab.BuildBinaries("wyvern-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	wyvernBin, agentBin = bins.Wyvern, bins.Agent
	return m.Run()
}

// newLab starts a server on a fresh bed owned by t.
func newLab(t *testing.T, opts lab.Options) *lab.Lab {
	t.Helper()
	bed := testbed.ForTest(t)
	if opts.AgentBin == "" {
		opts.AgentBin = agentBin
	}
	l, err := lab.Start(bed, wyvernBin, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
