package ctl

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/spf13/cobra"
)

var routerKind = &kind{
	name: "router", path: "routers", collection: "routers", key: "router", nameField: "name",
	columns: []column{
		field("ID", "id"), field("NAME", "name"), field("STATUS", "status"),
		field("EXTERNAL GATEWAY", "external_gateway_info.network_id"),
		field("SNAT", "external_gateway_info.enable_snat"),
		field("PROJECT", "project_id"),
	},
	list: func(ctx context.Context, c *gophercloud.ServiceClient, _ listFilter) (pagination.Page, error) {
		return routers.List(c, routers.ListOpts{}).AllPages(ctx)
	},
}

var floatingIPKind = &kind{
	name: "floatingip", path: "floatingips", collection: "floatingips", key: "floatingip", nameField: "floating_ip_address",
	columns: []column{
		field("ID", "id"), field("FLOATING IP", "floating_ip_address"),
		field("FIXED IP", "fixed_ip_address"), field("PORT", "port_id"),
		field("NETWORK", "floating_network_id"), field("STATUS", "status"),
		field("EDGE POOL", "edge_pool"),
	},
	list: func(ctx context.Context, c *gophercloud.ServiceClient, _ listFilter) (pagination.Page, error) {
		return floatingips.List(c, floatingips.ListOpts{}).AllPages(ctx)
	},
}

func (a *app) routerCommand() *cobra.Command {
	cmd := a.resourceCommand(routerKind, "Manage routers", nil)

	var (
		gateway, description string
		disableSNAT          bool
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a router",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.networkClient(ctx)
			if err != nil {
				return err
			}
			opts := routers.CreateOpts{Name: args[0], Description: description}
			if gateway != "" {
				if opts.GatewayInfo, err = a.gatewayInfo(ctx, gateway, disableSNAT); err != nil {
					return err
				}
			} else if disableSNAT {
				return fmt.Errorf("--disable-snat needs --external-gateway")
			}
			return a.printResult(routerKind, routers.Create(ctx, c, opts).Result)
		},
	}
	create.Flags().StringVar(&gateway, "external-gateway", "", "external network (name or id) for the router's gateway")
	create.Flags().BoolVar(&disableSNAT, "disable-snat", false, "no source NAT on the gateway")
	create.Flags().StringVar(&description, "description", "", "description")

	var (
		setGateway  string
		noGateway   bool
		setNoSNAT   bool
		setNewName  string
		setDescribe string
	)
	set := &cobra.Command{
		Use:   "set ROUTER",
		Short: "Change a router: name, description, external gateway",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := a.resolve(ctx, routerKind, args[0])
			if err != nil {
				return err
			}
			opts := routers.UpdateOpts{Name: setNewName}
			if cmd.Flags().Changed("description") {
				opts.Description = &setDescribe
			}
			switch {
			case noGateway && setGateway != "":
				return fmt.Errorf("--external-gateway and --no-external-gateway conflict")
			case noGateway:
				opts.GatewayInfo = &routers.GatewayInfo{}
			case setGateway != "":
				if opts.GatewayInfo, err = a.gatewayInfo(ctx, setGateway, setNoSNAT); err != nil {
					return err
				}
			}
			return a.printResult(routerKind, routers.Update(ctx, a.client, id, opts).Result)
		},
	}
	set.Flags().StringVar(&setGateway, "external-gateway", "", "set the external gateway network (name or id)")
	set.Flags().BoolVar(&noGateway, "no-external-gateway", false, "remove the external gateway")
	set.Flags().BoolVar(&setNoSNAT, "disable-snat", false, "with --external-gateway: no source NAT")
	set.Flags().StringVar(&setNewName, "name", "", "new name")
	set.Flags().StringVar(&setDescribe, "description", "", "new description")

	addSubnet := &cobra.Command{
		Use:   "add-subnet ROUTER SUBNET",
		Short: "Attach a subnet to a router (a port with the subnet's gateway address)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rid, sid, err := a.resolveRouterSubnet(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			r := routers.AddInterface(ctx, a.client, rid, routers.AddInterfaceOpts{SubnetID: sid})
			return a.printInterface(r)
		},
	}
	removeSubnet := &cobra.Command{
		Use:   "remove-subnet ROUTER SUBNET",
		Short: "Detach a subnet from a router",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rid, sid, err := a.resolveRouterSubnet(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			r := routers.RemoveInterface(ctx, a.client, rid, routers.RemoveInterfaceOpts{SubnetID: sid})
			return a.printInterface(r)
		},
	}
	cmd.AddCommand(create, set, addSubnet, removeSubnet)
	return cmd
}

func (a *app) gatewayInfo(ctx context.Context, network string, disableSNAT bool) (*routers.GatewayInfo, error) {
	id, err := a.resolve(ctx, networkKind, network)
	if err != nil {
		return nil, err
	}
	gw := &routers.GatewayInfo{NetworkID: id}
	if disableSNAT {
		off := false
		gw.EnableSNAT = &off
	}
	return gw, nil
}

func (a *app) resolveRouterSubnet(ctx context.Context, router, subnet string) (string, string, error) {
	rid, err := a.resolve(ctx, routerKind, router)
	if err != nil {
		return "", "", err
	}
	sid, err := a.resolve(ctx, subnetKind, subnet)
	return rid, sid, err
}

// printInterface prints the answer of add/remove_router_interface, a bare
// object (id, subnet_id, port_id, ...).
func (a *app) printInterface(r routers.InterfaceResult) error {
	if r.Err != nil {
		return r.Err
	}
	obj, ok := r.Body.(map[string]any)
	if !ok {
		return fmt.Errorf("unexpected router interface body %T", r.Body)
	}
	return a.printObject(obj)
}

func (a *app) floatingIPCommand() *cobra.Command {
	cmd := a.resourceCommand(floatingIPKind, "Manage floating IPs (by id or address)", nil)

	var network, port, fixedIP, address, subnet, description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Allocate a floating IP, optionally associated with a port",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if network == "" {
				return fmt.Errorf("floatingip create needs --network")
			}
			netID, err := a.resolve(ctx, networkKind, network)
			if err != nil {
				return err
			}
			opts := floatingips.CreateOpts{
				FloatingNetworkID: netID,
				FloatingIP:        address,
				FixedIP:           fixedIP,
				Description:       description,
			}
			if port != "" {
				if opts.PortID, err = a.resolve(ctx, portKind, port); err != nil {
					return err
				}
			}
			if subnet != "" {
				if opts.SubnetID, err = a.resolve(ctx, subnetKind, subnet); err != nil {
					return err
				}
			}
			return a.printResult(floatingIPKind, floatingips.Create(ctx, a.client, opts).Result)
		},
	}
	fl := create.Flags()
	fl.StringVar(&network, "network", "", "external network (name or id), required")
	fl.StringVar(&port, "port", "", "associate with this port (name or id)")
	fl.StringVar(&fixedIP, "fixed-ip-address", "", "the port's address to map (when it has several)")
	fl.StringVar(&address, "floating-ip-address", "", "the floating address (default: allocated)")
	fl.StringVar(&subnet, "subnet", "", "allocate from this subnet of the external network")
	fl.StringVar(&description, "description", "", "description")

	var setPort, setFixed string
	set := &cobra.Command{
		Use:   "set FLOATINGIP --port PORT",
		Short: "Associate a floating IP with a port",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if setPort == "" {
				return fmt.Errorf("floatingip set needs --port")
			}
			id, err := a.resolve(ctx, floatingIPKind, args[0])
			if err != nil {
				return err
			}
			pid, err := a.resolve(ctx, portKind, setPort)
			if err != nil {
				return err
			}
			r := floatingips.Update(ctx, a.client, id, floatingips.UpdateOpts{PortID: &pid, FixedIP: setFixed})
			return a.printResult(floatingIPKind, r.Result)
		},
	}
	set.Flags().StringVar(&setPort, "port", "", "port (name or id)")
	set.Flags().StringVar(&setFixed, "fixed-ip-address", "", "the port's address to map (when it has several)")

	unset := &cobra.Command{
		Use:   "unset FLOATINGIP",
		Short: "Disassociate a floating IP from its port",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := a.resolve(ctx, floatingIPKind, args[0])
			if err != nil {
				return err
			}
			none := ""
			r := floatingips.Update(ctx, a.client, id, floatingips.UpdateOpts{PortID: &none})
			return a.printResult(floatingIPKind, r.Result)
		},
	}
	cmd.AddCommand(create, set, unset)
	cmd.AddCommand(a.steerCommands()...)
	return cmd
}
