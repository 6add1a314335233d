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
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// wyvernBin (server and gateway) and agentBin are the binaries under
// test, built once by TestMain.
var wyvernBin, agentBin string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if _, err := testbed.Sweep(nil); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
	}
	dir, err := os.MkdirTemp("", "wyvern-edge-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := lab.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if wyvernBin, err = lab.Build(root, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if agentBin, err = lab.BuildCommand(root, dir, "wyvern-agent"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
