package trace

import (
	"fmt"

	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// provider explains how a packet on a vlan or flat network reaches a port
// on another chassis: out of the source chassis' bridge mapping for the
// network's physical network, tagged with its VLAN id (pushed there,
// popped on the destination chassis) or untagged, never by a tunnel
// (pipeline/provider.go). It fills out and reports whether the packet gets
// there: both chassis must map the physical network.
func (tr *tracer) provider(n *model.Network, dst *model.Port, out *Output) bool {
	x, here := tr.x, tr.src.HostID
	out.PhysicalNetwork = n.PhysicalNetwork
	tag, in := "untagged (flat network)", "switches it"
	if n.NetworkType == "vlan" {
		out.VLAN = n.SegmentationID
		tag, in = fmt.Sprintf("802.1Q VLAN %d pushed", n.SegmentationID), "pops the tag and switches it"
	}
	s := Step{Stage: StageProvider, Chassis: here, Verdict: Pass}
	for _, name := range []string{here, dst.HostID} {
		c := x.chassis[name]
		switch {
		case c == nil:
			s.Notes = append(s.Notes, "chassis "+name+" is not in the agents list (its bridge mappings are unknown; listing agents needs admin)")
		case c.BridgeMappings[n.PhysicalNetwork] == "":
			s.Verdict = Drop
			s.Detail = fmt.Sprintf("chassis %s has no bridge mapping for physical network %s of network %s: its ports on it reach only ports on the same chassis",
				name, n.PhysicalNetwork, x.netLabel(n.ID))
			tr.step(s)
			tr.res.Output = out
			tr.stop(Drop, "a chassis does not map the network's physical network")
			return false
		case !c.Alive:
			s.Notes = append(s.Notes, "the agent of "+name+" is not alive")
		}
	}
	bridge := "its bridge"
	if c := x.chassis[here]; c != nil {
		bridge = c.BridgeMappings[n.PhysicalNetwork]
	}
	s.Detail = fmt.Sprintf("out to physical network %s by %s, %s, to chassis %s (no tunnel); %s %s on network %s",
		n.PhysicalNetwork, bridge, tag, dst.HostID, dst.HostID, in, x.netLabel(n.ID))
	if rt := tr.res.Route; rt != nil && rt.EthSrc != "" {
		// Routed: never from the router's MAC, which every chassis holds
		// (pipeline/provroute.go).
		s.Notes = append(s.Notes, fmt.Sprintf("routed: eth src %s, chassis %s's MAC on physical network %s, in place of the router's %s",
			logical.ChassisMAC(here, n.PhysicalNetwork), here, n.PhysicalNetwork, rt.EthSrc))
	}
	tr.step(s)
	return true
}

// isProvider reports a vlan or flat network with VMs on it (not an
// external network, the routers' way out).
func isProvider(n *model.Network) bool {
	return (n.NetworkType == "vlan" || n.NetworkType == "flat") && !n.External
}

// providerFlood notes where a flood on a vlan or flat network also goes:
// out to its physical network (which may hold hosts Wyvern does not know),
// tagged on a vlan network. nil for other networks.
func (tr *tracer) providerFlood(netID string) []string {
	n := tr.x.nets[netID]
	if n == nil || !isProvider(n) {
		return nil
	}
	tag := "untagged"
	if n.NetworkType == "vlan" {
		tag = fmt.Sprintf("tagged with VLAN %d", n.SegmentationID)
	}
	return []string{fmt.Sprintf("%s network: also sent out to physical network %s, %s (never into a tunnel)", n.NetworkType, n.PhysicalNetwork, tag)}
}

// providerHandoff notes how a packet from a vlan or flat network reaches
// the chassis that translates it when that is another chassis: over the
// physical network, to its chassis MAC (pipeline/provroute.go); "" when
// it is not so. false: that chassis does not map the physical network,
// and the packet is lost.
func (tr *tracer) providerHandoff(nat string) (string, bool) {
	n, here := tr.x.nets[tr.src.NetworkID], tr.src.HostID
	if nat == "" || nat == here || n == nil || !isProvider(n) {
		return "", true
	}
	if c := tr.x.chassis[nat]; c != nil && c.BridgeMappings[n.PhysicalNetwork] == "" {
		return fmt.Sprintf("the router's active gateway chassis %s has no bridge mapping for physical network %s of network %s: what it translates cannot reach it from there",
			nat, n.PhysicalNetwork, tr.x.netLabel(n.ID)), false
	}
	tag := "untagged"
	if n.NetworkType == "vlan" {
		tag = fmt.Sprintf("tagged %d", n.SegmentationID)
	}
	return fmt.Sprintf("handed to %s over physical network %s, %s, unrouted, to its chassis MAC %s (a %s network has no tunnel key)",
		nat, n.PhysicalNetwork, tag, logical.ChassisMAC(nat, n.PhysicalNetwork), n.NetworkType), true
}
