// Command wyvern-demo brings up a Wyvern server, two simulated hypervisors
// with agents and VMs in network namespaces, and shows the VMs getting
// addresses by DHCP and talking. Run it as root: `make demo`.
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
	flag.Parse()
	if err := demo.Run(context.Background(), demo.Options{Bin: *bin, Stay: *stay, Out: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
