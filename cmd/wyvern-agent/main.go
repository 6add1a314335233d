// Command wyvern-agent is Wyvern's local controller for a hypervisor: the
// same program as `wyvern agent`, without the API server and the etcd
// server in the binary (smaller, and less memory at run time).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wyvern-sdn/wyvern/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := cli.Agent(ctx, nil)
	cmd.Use = "wyvern-agent"
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "wyvern-agent:", err)
		os.Exit(1)
	}
}
