package ctl

import (
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/spf13/cobra"
)

// Hot-address steering on the floating-IP edge: `floatingip steer` moves
// a floating IP to another pool of edge gateways (the admin-only
// edge_pool attribute), `floatingip moves` lists its moves (manual and
// automatic) from edge_pool_moves.

// steerOpts is the update body of a steer: edge_pool alone, null for the
// default pool.
type steerOpts struct{ pool string }

func (o steerOpts) ToFloatingIPUpdateMap() (map[string]any, error) {
	var v any
	if o.pool != "" {
		v = o.pool
	}
	return map[string]any{"floatingip": map[string]any{"edge_pool": v}}, nil
}

var moveColumns = []column{
	field("AT", "at"), field("FROM", "from"), field("TO", "pool"), field("REASON", "reason"),
	field("BY", "by"), field("RATE (PPS)", "rate_pps"),
}

// steerCommands are floatingip's steer and moves.
func (a *app) steerCommands() []*cobra.Command {
	var pool string
	var back bool
	steer := &cobra.Command{
		Use:   "steer FLOATINGIP (--pool POOL | --default)",
		Short: "Move a floating IP to another pool of edge gateways (admin)",
		Long: "Move a floating IP onto the gateways of another pool, e.g. a scrubbing pool for an address under " +
			"attack: the gateways of its current pool withdraw its route and those of the new pool announce it. " +
			"The pool must be one a running gateway belongs to. --default moves it back to the default pool.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if (pool == "") == !back {
				return fmt.Errorf("floatingip steer needs exactly one of --pool and --default")
			}
			id, err := a.resolve(ctx, floatingIPKind, args[0])
			if err != nil {
				return err
			}
			var r gophercloud.Result
			b, _ := steerOpts{pool: pool}.ToFloatingIPUpdateMap()
			resp, err := a.client.Put(ctx, a.client.ServiceURL(floatingIPKind.path, id), b, &r.Body, &gophercloud.RequestOpts{OkCodes: []int{200}})
			_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
			return a.printResult(floatingIPKind, r)
		},
	}
	steer.Flags().StringVar(&pool, "pool", "", "the gateway pool to move the floating IP to")
	steer.Flags().BoolVar(&back, "default", false, "move the floating IP back to the default pool")

	moves := &cobra.Command{
		Use:   "moves FLOATINGIP",
		Short: "List a floating IP's moves between edge gateway pools, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := a.resolve(ctx, floatingIPKind, args[0])
			if err != nil {
				return err
			}
			obj, err := floatingIPKind.object(floatingIPKind.get(ctx, a.client, id))
			if err != nil {
				return err
			}
			raw, _ := obj["edge_pool_moves"].([]any)
			items := make([]map[string]any, 0, len(raw))
			for _, m := range raw {
				if mm, ok := m.(map[string]any); ok {
					items = append(items, mm)
				}
			}
			if a.output != "json" {
				fmt.Fprintf(a.stdout, "floating IP %v is in edge pool %v\n", obj["floating_ip_address"], obj["edge_pool"])
			}
			return a.printList(moveColumns, items)
		},
	}
	return []*cobra.Command{steer, moves}
}
