package ctl

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/spf13/cobra"
)

var networkKind = &kind{
	name: "network", path: "networks", collection: "networks", key: "network", nameField: "name",
	columns: []column{
		field("ID", "id"), field("NAME", "name"), field("STATUS", "status"),
		field("SUBNETS", "subnets"), field("EXTERNAL", "router:external"), field("SHARED", "shared"),
	},
	list: func(ctx context.Context, c *gophercloud.ServiceClient, _ listFilter) (pagination.Page, error) {
		return networks.List(c, networks.ListOpts{}).AllPages(ctx)
	},
}

var subnetKind = &kind{
	name: "subnet", path: "subnets", collection: "subnets", key: "subnet", nameField: "name",
	columns: []column{
		field("ID", "id"), field("NAME", "name"), field("NETWORK", "network_id"),
		field("CIDR", "cidr"), field("GATEWAY", "gateway_ip"), field("DHCP", "enable_dhcp"),
	},
	list: func(ctx context.Context, c *gophercloud.ServiceClient, f listFilter) (pagination.Page, error) {
		return subnets.List(c, subnets.ListOpts{NetworkID: f.networkID}).AllPages(ctx)
	},
}

// networkFilter adds --network to a list command.
func (a *app) networkFilter(cmd *cobra.Command) func(ctx context.Context) (listFilter, error) {
	var network string
	cmd.Flags().StringVar(&network, "network", "", "only those on this network (name or id)")
	return func(ctx context.Context) (listFilter, error) {
		if network == "" {
			return listFilter{}, nil
		}
		id, err := a.resolve(ctx, networkKind, network)
		return listFilter{networkID: id}, err
	}
}

func (a *app) networkCommand() *cobra.Command {
	cmd := a.resourceCommand(networkKind, "Manage networks", nil)
	var (
		isExternal, shared, disable bool
		description                 string
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.networkClient(ctx)
			if err != nil {
				return err
			}
			opts := networks.CreateOpts{Name: args[0], Description: description}
			if cmd.Flags().Changed("shared") {
				opts.Shared = &shared
			}
			if disable {
				up := false
				opts.AdminStateUp = &up
			}
			var b networks.CreateOptsBuilder = opts
			if cmd.Flags().Changed("external") {
				b = external.CreateOptsExt{CreateOptsBuilder: opts, External: &isExternal}
			}
			return a.printResult(networkKind, networks.Create(ctx, c, b).Result)
		},
	}
	create.Flags().BoolVar(&isExternal, "external", false, "an external network (router gateways, floating IPs; admin only)")
	create.Flags().BoolVar(&shared, "shared", false, "shared with every project (admin only)")
	create.Flags().BoolVar(&disable, "disable", false, "administratively down")
	create.Flags().StringVar(&description, "description", "", "description")
	cmd.AddCommand(create)
	return cmd
}

func (a *app) subnetCommand() *cobra.Command {
	cmd := a.resourceCommand(subnetKind, "Manage subnets", a.networkFilter)
	var (
		network, cidr, gateway, description string
		noDHCP                              bool
		dns, pools                          []string
		ipVersion                           int
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a subnet",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if network == "" || cidr == "" {
				return fmt.Errorf("subnet create needs --network and --cidr")
			}
			prefix, err := netip.ParsePrefix(cidr)
			if err != nil {
				return fmt.Errorf("--cidr: %w", err)
			}
			netID, err := a.resolve(ctx, networkKind, network)
			if err != nil {
				return err
			}
			opts := subnets.CreateOpts{
				NetworkID:      netID,
				Name:           args[0],
				Description:    description,
				CIDR:           prefix.String(),
				IPVersion:      gophercloud.IPv4,
				DNSNameservers: dns,
			}
			if prefix.Addr().Is6() {
				opts.IPVersion = gophercloud.IPv6
			}
			if ipVersion != 0 {
				opts.IPVersion = gophercloud.IPVersion(ipVersion)
			}
			switch gateway {
			case "", "auto":
			case "none":
				none := ""
				opts.GatewayIP = &none
			default:
				if _, err := netip.ParseAddr(gateway); err != nil {
					return fmt.Errorf("--gateway: %w", err)
				}
				opts.GatewayIP = &gateway
			}
			if noDHCP {
				off := false
				opts.EnableDHCP = &off
			}
			for _, p := range pools {
				kv, err := parseKV(p, "start", "end")
				if err != nil {
					return fmt.Errorf("--allocation-pool: %w", err)
				}
				opts.AllocationPools = append(opts.AllocationPools, subnets.AllocationPool{Start: kv["start"], End: kv["end"]})
			}
			return a.printResult(subnetKind, subnets.Create(ctx, a.client, opts).Result)
		},
	}
	fl := create.Flags()
	fl.StringVar(&network, "network", "", "network (name or id), required")
	fl.StringVar(&cidr, "cidr", "", "subnet range, e.g. 10.0.0.0/24, required")
	fl.StringVar(&gateway, "gateway", "", "gateway address, \"auto\" (the first address, default) or \"none\"")
	fl.BoolVar(&noDHCP, "no-dhcp", false, "disable DHCP")
	fl.StringSliceVar(&dns, "dns", nil, "DNS name server (repeatable or comma-separated)")
	fl.StringArrayVar(&pools, "allocation-pool", nil, "start=IP,end=IP (repeatable)")
	fl.IntVar(&ipVersion, "ip-version", 0, "4 or 6 (default: from --cidr)")
	fl.StringVar(&description, "description", "", "description")
	cmd.AddCommand(create)
	return cmd
}

// parseKV parses "k1=v1,k2=v2" allowing only the given keys.
func parseKV(s string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("%q: want key=value", part)
		}
		found := false
		for _, a := range allowed {
			found = found || a == k
		}
		if !found {
			return nil, fmt.Errorf("%q: unknown key %q (want %s)", s, k, strings.Join(allowed, ", "))
		}
		out[k] = v
	}
	return out, nil
}
