package ctl

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/spf13/cobra"
)

var portKind = &kind{
	name: "port", path: "ports", collection: "ports", key: "port", nameField: "name",
	columns: []column{
		field("ID", "id"), field("NAME", "name"), field("NETWORK", "network_id"),
		field("MAC", "mac_address"),
		{header: "FIXED IPS", value: fixedIPs},
		field("STATUS", "status"), field("DEVICE OWNER", "device_owner"),
	},
	list: func(ctx context.Context, c *gophercloud.ServiceClient, f listFilter) (pagination.Page, error) {
		return ports.List(c, ports.ListOpts{NetworkID: f.networkID, DeviceID: f.deviceID}).AllPages(ctx)
	},
}

// fixedIPs renders a port's fixed_ips as its addresses.
func fixedIPs(obj map[string]any) string {
	list, _ := obj["fixed_ips"].([]any)
	var addrs []string
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			addrs = append(addrs, formatValue(m["ip_address"]))
		}
	}
	return strings.Join(addrs, ", ")
}

func (a *app) portCommand() *cobra.Command {
	cmd := a.resourceCommand(portKind, "Manage ports", func(cmd *cobra.Command) func(context.Context) (listFilter, error) {
		byNet := a.networkFilter(cmd)
		var router string
		cmd.Flags().StringVar(&router, "router", "", "only the ports of this router (name or id)")
		return func(ctx context.Context) (listFilter, error) {
			f, err := byNet(ctx)
			if err == nil && router != "" {
				f.deviceID, err = a.resolve(ctx, routerKind, router)
			}
			return f, err
		}
	})
	var (
		network, mac, description, deviceID, deviceOwner string
		fixed, groups                                    []string
		noGroups, disable                                bool
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a port",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if network == "" {
				return fmt.Errorf("port create needs --network")
			}
			netID, err := a.resolve(ctx, networkKind, network)
			if err != nil {
				return err
			}
			opts := ports.CreateOpts{
				NetworkID:   netID,
				Name:        args[0],
				Description: description,
				DeviceID:    deviceID,
				DeviceOwner: deviceOwner,
			}
			if mac != "" {
				if _, err := net.ParseMAC(mac); err != nil {
					return fmt.Errorf("--mac: %w", err)
				}
				opts.MACAddress = mac
			}
			if disable {
				up := false
				opts.AdminStateUp = &up
			}
			var ips []ports.IP
			for _, f := range fixed {
				kv, err := parseKV(f, "subnet", "ip-address")
				if err != nil {
					return fmt.Errorf("--fixed-ip: %w", err)
				}
				var ip ports.IP
				if s := kv["subnet"]; s != "" {
					if ip.SubnetID, err = a.resolve(ctx, subnetKind, s); err != nil {
						return err
					}
				}
				if addr := kv["ip-address"]; addr != "" {
					if _, err := netip.ParseAddr(addr); err != nil {
						return fmt.Errorf("--fixed-ip: %w", err)
					}
					ip.IPAddress = addr
				}
				ips = append(ips, ip)
			}
			if len(ips) > 0 {
				opts.FixedIPs = ips
			}
			switch {
			case noGroups && len(groups) > 0:
				return fmt.Errorf("--security-group and --no-security-group conflict")
			case noGroups:
				opts.SecurityGroups = &[]string{}
			case len(groups) > 0:
				ids := make([]string, 0, len(groups))
				for _, g := range groups {
					id, err := a.resolve(ctx, securityGroupKind, g)
					if err != nil {
						return err
					}
					ids = append(ids, id)
				}
				opts.SecurityGroups = &ids
			}
			return a.printResult(portKind, ports.Create(ctx, a.client, opts).Result)
		},
	}
	fl := create.Flags()
	fl.StringVar(&network, "network", "", "network (name or id), required")
	fl.StringArrayVar(&fixed, "fixed-ip", nil, "subnet=SUBNET,ip-address=IP (either key may be left out; repeatable)")
	fl.StringVar(&mac, "mac", "", "MAC address (default: allocated)")
	fl.StringArrayVar(&groups, "security-group", nil, "security group (name or id; repeatable; default: the project's default group)")
	fl.BoolVar(&noGroups, "no-security-group", false, "no security group")
	fl.StringVar(&deviceID, "device-id", "", "device id")
	fl.StringVar(&deviceOwner, "device-owner", "", "device owner, e.g. compute:nova")
	fl.BoolVar(&disable, "disable", false, "administratively down")
	fl.StringVar(&description, "description", "", "description")
	cmd.AddCommand(create)
	return cmd
}
