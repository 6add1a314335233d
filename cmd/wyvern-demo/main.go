// Command wyvern-demo brings up a Wyvern server, two simulated hypervisors
// (one a gateway to an "outside" network) with agents and VMs in network
// namespaces, and shows DHCP, overlapping networks, routing, floating IPs,
// SNAT, security groups, a restart that loses nothing, traces, the
// topology picture and the console. Run it as root: `make demo`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/wyvern-sdn/wyvern/internal/demo"
)

func main() {
	stay := flag.Bool("stay", true, "keep everything up until Ctrl-C")
	bin := flag.String("bin", "", "wyvern binary (default: build it)")
	topo := flag.String("topology", "", "write the topology picture here: .svg, .png or .dot (default: an SVG in the temporary directory)")
	flag.Parse()
	if err := demo.Run(context.Background(), demo.Options{Bin: *bin, Stay: *stay, Topology: *topo, Out: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
