package ctl

import (
	"fmt"

	"github.com/spf13/cobra"
)

// meteringCommand shows the metering labels' counters, summed over the
// chassis (GET /v2.0/metering/counters, extension
// wyvern-metering-counters): per label by default, per rule with --rules.
func (a *app) meteringCommand() *cobra.Command {
	var rules bool
	cmd := &cobra.Command{
		Use:   "metering [--rules]",
		Short: "Show the metering labels' packets and bytes, summed over every chassis (admin)",
		Long: "Show what the metering labels counted: for each label, the packets and bytes of its rules " +
			"in each direction, summed over every chassis (each counts the traffic its routers' gateways " +
			"NAT there); excluded rules' traffic is not in a label's totals. --rules shows every rule, " +
			"with what an excluded rule kept out.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.networkClient(ctx)
			if err != nil {
				return err
			}
			var body struct {
				Counters []map[string]any `json:"metering_counters"`
			}
			resp, err := c.Get(ctx, c.ServiceURL("metering", "counters"), &body, nil)
			if err != nil {
				return fmt.Errorf("metering counters: %w", err)
			}
			resp.Body.Close()
			if rules {
				return a.printList([]column{
					field("LABEL", "metering_label_name"), field("RULE", "metering_label_rule_id"),
					field("DIRECTION", "direction"), field("REMOTE PREFIX", "remote_ip_prefix"),
					field("SOURCE", "source_ip_prefix"), field("DESTINATION", "destination_ip_prefix"),
					field("EXCLUDED", "excluded"), field("PACKETS", "packets"), field("BYTES", "bytes"),
					field("BY CHASSIS", "chassis"),
				}, body.Counters)
			}
			return a.printList([]column{
				field("LABEL", "name"), field("ID", "id"),
				field("IN PACKETS", "ingress.packets"), field("IN BYTES", "ingress.bytes"),
				field("OUT PACKETS", "egress.packets"), field("OUT BYTES", "egress.bytes"),
			}, labelTotals(body.Counters))
		},
	}
	cmd.Flags().BoolVar(&rules, "rules", false, "show every rule's counters and each chassis' share")
	return cmd
}

// labelTotals sums the counted (not excluded) rules of each label, by
// direction, in the order the labels first appear.
func labelTotals(rows []map[string]any) []map[string]any {
	var out []map[string]any
	byID := map[string]map[string]any{}
	for _, r := range rows {
		id, _ := r["metering_label_id"].(string)
		l := byID[id]
		if l == nil {
			zero := func() map[string]any { return map[string]any{"packets": 0.0, "bytes": 0.0} }
			l = map[string]any{"id": id, "name": r["metering_label_name"], "ingress": zero(), "egress": zero()}
			byID[id] = l
			out = append(out, l)
		}
		dir, ok := l[fmt.Sprint(r["direction"])].(map[string]any)
		if !ok || r["excluded"] == true {
			continue
		}
		for _, k := range []string{"packets", "bytes"} {
			n, _ := r[k].(float64)
			dir[k] = dir[k].(float64) + n
		}
	}
	return out
}
