package logical

import (
	"crypto/sha256"
	"net"
	"sort"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// Provider networks (vlan, flat) with VMs on them are switched over their
// physical network (pipeline/provider.go): a chassis reaches one through
// the patch port of its bridge mapping for the network's
// provider:physical_network, the same port an external network on that
// physical network uses. A chassis without the mapping switches the
// network between its own ports only.
//
// Routers on them are distributed (pipeline/provroute.go): what a chassis
// routes onto a physical network leaves from its chassis MAC there
// (ChassisMAC), as OVN's ovn-chassis-mac-mappings, never from the
// router's MAC, which every chassis holds at once. Only the sending
// chassis uses its chassis MAC (the receiving one delivers the frame like
// any other) and the gateway chassis of a router (whose traffic to
// translate the other chassis send it there, to its chassis MAC), so it
// is derived here, from the chassis' name, and published nowhere.

// providerPort is br-int's port to the physical network of a vlan or flat
// network on this chassis; 0 for other networks, external ones (the
// routers' way out, View.External) and unmapped physical networks.
func (in *Inputs) providerPort(n *model.Network) uint32 {
	if !pipeline.IsProvider(n.NetworkType) || n.External || n.PhysicalNetwork == "" {
		return 0
	}
	return in.Ext.Ports[n.PhysicalNetwork]
}

// chassisMAC is this chassis' MAC on the physical network of a vlan or
// flat network it reaches (providerPort); nil for the others.
func (in *Inputs) chassisMAC(n *model.Network) net.HardwareAddr {
	if in.providerPort(n) == 0 {
		return nil
	}
	return ChassisMAC(in.Local.Name, n.PhysicalNetwork)
}

// providerMACs are chassis name's MACs on the physical networks this
// chassis reaches, by br-int's port to each.
func (in *Inputs) providerMACs(name string) []pipeline.ProviderMAC {
	physnets := make([]string, 0, len(in.Ext.Ports))
	for p, port := range in.Ext.Ports {
		if port != 0 {
			physnets = append(physnets, p)
		}
	}
	sort.Strings(physnets)
	var out []pipeline.ProviderMAC
	for _, p := range physnets {
		out = append(out, pipeline.ProviderMAC{OFPort: in.Ext.Ports[p], MAC: ChassisMAC(name, p)})
	}
	return out
}

// ChassisMAC is a chassis' MAC on a physical network: the source of what
// its distributed routers route onto that physical network. 0e:57 and 32
// bits of the SHA-256 of the chassis and physical network names: locally
// administered, unicast, different per chassis and physical network, and
// apart from Neutron's fa:16:3e port MACs and the agent's 0a:57 probe
// MAC.
func ChassisMAC(chassis, physnet string) net.HardwareAddr {
	s := sha256.Sum256([]byte("wyvern-chassis-mac\x00" + chassis + "\x00" + physnet))
	return net.HardwareAddr{0x0e, 0x57, s[0], s[1], s[2], s[3]}
}
