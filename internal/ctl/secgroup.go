package ctl

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/spf13/cobra"
)

var securityGroupKind = &kind{
	name: "security-group", path: "security-groups", collection: "security_groups", key: "security_group", nameField: "name",
	columns: []column{
		field("ID", "id"), field("NAME", "name"), field("DESCRIPTION", "description"),
		field("PROJECT", "project_id"),
	},
	list: func(ctx context.Context, c *gophercloud.ServiceClient, _ listFilter) (pagination.Page, error) {
		return groups.List(c, groups.ListOpts{}).AllPages(ctx)
	},
}

var securityGroupRuleKind = &kind{
	name: "security-group-rule", path: "security-group-rules", collection: "security_group_rules", key: "security_group_rule",
	columns: []column{
		field("ID", "id"), field("GROUP", "security_group_id"), field("DIRECTION", "direction"),
		field("ETHERTYPE", "ethertype"), field("PROTOCOL", "protocol"),
		{header: "PORT RANGE", value: portRange},
		field("REMOTE IP", "remote_ip_prefix"), field("REMOTE GROUP", "remote_group_id"),
	},
	list: func(ctx context.Context, c *gophercloud.ServiceClient, f listFilter) (pagination.Page, error) {
		return rules.List(c, rules.ListOpts{SecGroupID: f.securityGroupID}).AllPages(ctx)
	},
}

// portRange renders a rule's port range as "min:max" (or one port).
func portRange(obj map[string]any) string {
	lo, hi := formatValue(obj["port_range_min"]), formatValue(obj["port_range_max"])
	switch {
	case lo == "" && hi == "":
		return ""
	case lo == hi:
		return lo
	}
	return lo + ":" + hi
}

func (a *app) securityGroupCommand() *cobra.Command {
	cmd := a.resourceCommand(securityGroupKind, "Manage security groups", nil)
	var (
		description string
		stateless   bool
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a security group (with the default egress rules)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.networkClient(ctx)
			if err != nil {
				return err
			}
			opts := groups.CreateOpts{Name: args[0], Description: description}
			if stateless {
				f := false
				opts.Stateful = &f
			}
			return a.printResult(securityGroupKind, groups.Create(ctx, c, opts).Result)
		},
	}
	create.Flags().StringVar(&description, "description", "", "description")
	create.Flags().BoolVar(&stateless, "stateless", false, "a stateless group (no connection tracking)")
	cmd.AddCommand(create)
	return cmd
}

func (a *app) securityGroupRuleCommand() *cobra.Command {
	cmd := a.resourceCommand(securityGroupRuleKind, "Manage security group rules", func(cmd *cobra.Command) func(context.Context) (listFilter, error) {
		var group string
		cmd.Flags().StringVar(&group, "security-group", "", "only the rules of this group (name or id)")
		return func(ctx context.Context) (listFilter, error) {
			if group == "" {
				return listFilter{}, nil
			}
			id, err := a.resolve(ctx, securityGroupKind, group)
			return listFilter{securityGroupID: id}, err
		}
	})
	var (
		protocol, ports, remoteIP, remoteGroup, ethertype, description string
		ingress, egress                                                bool
	)
	create := &cobra.Command{
		Use:   "create SECURITY-GROUP",
		Short: "Add a rule to a security group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ingress && egress {
				return fmt.Errorf("--ingress and --egress conflict")
			}
			if remoteIP != "" && remoteGroup != "" {
				return fmt.Errorf("--remote-ip and --remote-group conflict")
			}
			sg, err := a.resolve(ctx, securityGroupKind, args[0])
			if err != nil {
				return err
			}
			opts := rules.CreateOpts{
				SecGroupID:  sg,
				Direction:   rules.DirIngress,
				EtherType:   rules.EtherType4,
				Description: description,
			}
			if egress {
				opts.Direction = rules.DirEgress
			}
			if remoteIP != "" {
				p, err := netip.ParsePrefix(remoteIP)
				if err != nil {
					addr, aerr := netip.ParseAddr(remoteIP)
					if aerr != nil {
						return fmt.Errorf("--remote-ip: %w", err)
					}
					p = netip.PrefixFrom(addr, addr.BitLen())
				}
				opts.RemoteIPPrefix = p.String()
				if p.Addr().Is6() {
					opts.EtherType = rules.EtherType6
				}
			}
			switch strings.ToLower(ethertype) {
			case "":
			case "ipv4":
				opts.EtherType = rules.EtherType4
			case "ipv6":
				opts.EtherType = rules.EtherType6
			default:
				return fmt.Errorf("--ethertype %q: want IPv4 or IPv6", ethertype)
			}
			if remoteGroup != "" {
				if opts.RemoteGroupID, err = a.resolve(ctx, securityGroupKind, remoteGroup); err != nil {
					return err
				}
			}
			if p := strings.ToLower(protocol); p != "" && p != "any" {
				opts.Protocol = rules.RuleProtocol(p)
			}
			if ports != "" {
				if opts.Protocol == "" {
					return fmt.Errorf("--port-range needs --protocol")
				}
				lo, hi, err := parsePortRange(ports)
				if err != nil {
					return err
				}
				opts.PortRangeMin, opts.PortRangeMax = lo, hi
			}
			return a.printResult(securityGroupRuleKind, rules.Create(ctx, a.client, opts).Result)
		},
	}
	fl := create.Flags()
	fl.StringVar(&protocol, "protocol", "", "tcp, udp, icmp, ipv6-icmp, a number, or any (default any)")
	fl.StringVar(&ports, "port-range", "", "PORT or MIN:MAX (for icmp: TYPE or TYPE:CODE)")
	fl.StringVar(&remoteIP, "remote-ip", "", "remote CIDR (default: any)")
	fl.StringVar(&remoteGroup, "remote-group", "", "remote security group (name or id)")
	fl.BoolVar(&ingress, "ingress", false, "an ingress rule (the default)")
	fl.BoolVar(&egress, "egress", false, "an egress rule")
	fl.StringVar(&ethertype, "ethertype", "", "IPv4 (default) or IPv6")
	fl.StringVar(&description, "description", "", "description")
	cmd.AddCommand(create)
	return cmd
}

func parsePortRange(s string) (int, int, error) {
	loS, hiS, ranged := strings.Cut(s, ":")
	lo, err := strconv.Atoi(loS)
	if err != nil {
		return 0, 0, fmt.Errorf("--port-range %q: %w", s, err)
	}
	hi := lo
	if ranged {
		if hi, err = strconv.Atoi(hiS); err != nil {
			return 0, 0, fmt.Errorf("--port-range %q: %w", s, err)
		}
	}
	if lo < 0 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("--port-range %q: want 0 <= MIN <= MAX <= 65535", s)
	}
	return lo, hi, nil
}
