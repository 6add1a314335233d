package logical

import (
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// Provider networks (vlan, flat) with VMs on them are switched over their
// physical network (pipeline/provider.go): a chassis reaches one through
// the patch port of its bridge mapping for the network's
// provider:physical_network, the same port an external network on that
// physical network uses. A chassis without the mapping switches the
// network between its own ports only.

// providerPort is br-int's port to the physical network of a vlan or flat
// network on this chassis; 0 for other networks, external ones (the
// routers' way out, View.External) and unmapped physical networks.
func (in *Inputs) providerPort(n *model.Network) uint32 {
	if !pipeline.IsProvider(n.NetworkType) || n.External || n.PhysicalNetwork == "" {
		return 0
	}
	return in.Ext.Ports[n.PhysicalNetwork]
}
