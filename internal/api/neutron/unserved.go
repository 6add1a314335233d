package neutron

import (
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// This file refuses what the API could store but the data plane does not
// serve, so that nothing is accepted and silently ignored:
//   - IPv6 on external networks: routers route IPv6 between their tenant
//     subnets only (no external IPv6 gateway, no IPv6 NAT), so an
//     external network takes no IPv6 subnet, and a network with one
//     cannot become external;
//   - ports on vlan and flat networks other than the gateways and
//     floating IPs of a flat external network: the agent switches those
//     networks neither across chassis nor to VMs, and pushes no VLAN tag
//     (a flat external network is only a router's way out).

// refuseIPv6External refuses an IPv6 subnet on an external network.
func refuseIPv6External(n *model.Network, sub *model.Subnet) error {
	if n.External && sub.IPVersion == 6 {
		return BadRequest("IPv6 subnets on external networks are not supported: routers route IPv6 between their internal subnets only, with no external IPv6 gateway")
	}
	return nil
}

// refuseExternalWithIPv6 refuses making a network with an IPv6 subnet
// external.
func refuseExternalWithIPv6(tx *store.Tx, n *model.Network) error {
	if !n.External {
		return nil
	}
	for _, id := range n.Subnets {
		sub, err := loadSubnetOn(tx, n.ID, id)
		if err != nil {
			return err
		}
		if sub != nil && sub.IPVersion == 6 {
			return BadRequest("Network %s has IPv6 subnet %s: IPv6 on external networks is not supported", n.ID, id)
		}
	}
	return nil
}

// refuseProviderPort refuses a port the data plane would not serve on a
// vlan or flat network.
func refuseProviderPort(n *model.Network, deviceOwner string) error {
	if n.NetworkType != "vlan" && n.NetworkType != "flat" {
		return nil
	}
	switch deviceOwner {
	case model.OwnerRouterGateway, model.OwnerFloatingIP:
		if n.External && n.NetworkType == "flat" {
			return nil
		}
	}
	return BadRequest("Ports on %s network %s are not supported: VMs and router interfaces are served on geneve and vxlan networks, and a flat external network only carries routers' gateways and floating IPs (no VLAN tag is pushed or popped)",
		n.NetworkType, n.ID)
}
