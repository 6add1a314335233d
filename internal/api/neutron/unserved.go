package neutron

import (
	"errors"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// This file refuses what the API could store but the data plane does not
// serve, so that nothing is accepted and silently ignored:
//   - on an external vlan or flat network any port but a flat network's
//     router gateways and floating IPs (an external network is only the
//     routers' way out), and a vlan or flat network with such ports does
//     not become external. VMs on vlan and flat networks are served
//     (pipeline/provider.go), and so are router interfaces on the ones
//     that are not external, routed by every chassis onto the physical
//     network from its chassis MAC, what leaves by the router's active
//     gateway chassis (IPv4 to translate: SNAT, centralized floating IPs;
//     IPv6) handed to it over the physical network, to its chassis MAC
//     (pipeline/provroute.go);
//   - a floating IP for a port on a vlan or flat network bound on a
//     chassis in edge mode: the edge gateways reach a port through a
//     tunnel on its network's key, which such a network does not have.
//
// IPv6 on external networks is served: a router's gateway routes its IPv6
// subnets without NAT (pipeline/ipv6gw.go); floating IPs are IPv4 only
// (floatingips.go).

// refuseProviderPort refuses a port the data plane would not serve on a
// vlan or flat network.
func refuseProviderPort(n *model.Network, deviceOwner string) error {
	if n.NetworkType != "vlan" && n.NetworkType != "flat" {
		return nil
	}
	if n.External {
		switch deviceOwner {
		case model.OwnerRouterGateway, model.OwnerFloatingIP:
			if n.NetworkType == "flat" {
				return nil
			}
		}
		return BadRequest("Ports on external %s network %s are not supported: an external network only carries routers' gateways and floating IPs, on flat networks (VMs are served on vlan and flat networks that are not external)",
			n.NetworkType, n.ID)
	}
	return nil
}

// refuseExternalProvider refuses making a vlan or flat network with ports
// other than router gateways and floating IPs external: its VMs would no
// longer be switched. ports are the network's ports.
func refuseExternalProvider(n *model.Network, ports []model.Port) error {
	if !n.External || n.NetworkType != "vlan" && n.NetworkType != "flat" {
		return nil
	}
	for i := range ports {
		if err := refuseProviderPort(n, ports[i].DeviceOwner); err != nil {
			return BadRequest("Network %s has port %s (device_owner %q): a %s network with VMs cannot become external",
				n.ID, ports[i].ID, ports[i].DeviceOwner, n.NetworkType)
		}
	}
	return nil
}

// refuseEdgeProviderFIP refuses a floating IP for a port on a vlan or flat
// network bound on a chassis in edge mode (refuseEdge, portforwardings.go,
// finds the chassis the same way).
func refuseEdgeProviderFIP(tx *store.Tx, port *model.Port) error {
	n, err := loadNetwork(tx, port.NetworkID)
	if err != nil || n == nil || n.NetworkType != "vlan" && n.NetworkType != "flat" {
		return err
	}
	if err := refuseEdge(tx, port); err != nil {
		if e := (*Error)(nil); !errors.As(err, &e) {
			return err // the store's
		}
		return BadRequest("Port %s on %s network %s is bound on a chassis whose floating IPs the edge gateways serve (fip_mode edge): they reach ports through a tunnel on the network's key, which a %s network does not have. Use a port on a chassis in distributed mode",
			port.ID, n.NetworkType, n.ID, n.NetworkType)
	}
	return nil
}
