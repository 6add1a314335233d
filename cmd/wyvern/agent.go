package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/spf13/cobra"
)

func agentCmd(ctx context.Context, logger func() *slog.Logger) *cobra.Command {
	return &cobra.Command{
		Use:   "agent",
		Short: "Run the local controller of one hypervisor (chassis)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("agent: not built yet")
		},
	}
}
