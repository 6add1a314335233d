// Command wyvern runs Wyvern's daemons: `wyvern server` (Neutron and
// Keystone APIs on etcd), `wyvern agent` (the per-hypervisor controller) and
// `wyvern gateway` (a floating-IP edge host: stateless NAT and BGP).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "wyvern",
		Short:         "Wyvern: a distributed control plane for cloud virtual networks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	logger := cli.LogLevelFlag(root)
	root.AddCommand(serverCmd(ctx, logger), cli.Agent(ctx, logger), gatewayCmd(ctx, logger), certsCmd(os.Stdout))
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "wyvern:", err)
		os.Exit(1)
	}
}

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
