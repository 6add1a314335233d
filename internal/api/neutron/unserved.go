package neutron

import "github.com/wyvern-sdn/wyvern/internal/model"

// This file refuses what the API could store but the data plane does not
// serve, so that nothing is accepted and silently ignored: on vlan and
// flat networks, router interfaces (routers are served on geneve and
// vxlan networks only: distributed routing would put the router's MAC on
// the physical network from every chassis at once); on an external one
// any port but a flat network's router gateways and floating IPs (an
// external network is only the routers' way out), and a vlan or flat
// network with such ports does not become external. VMs on vlan and flat
// networks are served (pipeline/provider.go). IPv6 on external networks
// is served: a router's gateway routes its IPv6 subnets without NAT
// (pipeline/ipv6gw.go); floating IPs are IPv4 only (floatingips.go).

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
	if routerOwner(deviceOwner) {
		return BadRequest("Router interfaces on %s network %s are not supported: routers are served on geneve and vxlan networks only (VMs on vlan and flat networks are switched over their physical network, without routing)",
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
