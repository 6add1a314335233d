package ctl

import (
	"fmt"

	"github.com/spf13/cobra"
)

// statusCommand lists the chassis (Neutron agents) and whether their
// agents are alive.
func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the chassis and whether their agents are alive (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.networkClient(ctx)
			if err != nil {
				return err
			}
			var body struct {
				Agents []map[string]any `json:"agents"`
			}
			resp, err := c.Get(ctx, c.ServiceURL("agents"), &body, nil)
			if err != nil {
				return fmt.Errorf("list agents: %w", err)
			}
			resp.Body.Close()
			cols := []column{
				field("CHASSIS", "host"), field("ALIVE", "alive"), field("TYPE", "agent_type"),
				field("STARTED", "started_at"), field("CONFIGURATION", "configurations"),
			}
			return a.printList(cols, body.Agents)
		},
	}
}
