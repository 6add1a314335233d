// Package edge tests the floating-IP edge end to end with real parts: a
// `wyvern server` on embedded etcd, a `wyvern-agent` on a hypervisor
// chassis with a VM, several `wyvern gateway`s each in its own namespace
// with its own Open vSwitch, an upstream router running FRR (zebra and
// bgpd) with ECMP, and a client behind it — real BGP, real packets.
package edge

import (
	"fmt"
	"os"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/lab"
)

// wyvernBin (server and gateway) and agentBin are the binaries under
// test, built once by TestMain.
var wyvernBin, agentBin string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	bins, cleanup, err := lab.BuildBinaries("wyvern-edge-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	wyvernBin, agentBin = bins.Wyvern, bins.Agent
	return m.Run()
}
