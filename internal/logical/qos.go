package logical

import (
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// PortQoS is what the QoS policy in force on a port asks of the data
// plane: the port's own policy, else its network's (as Neutron, not for
// the network's own ports: router, DHCP). nil: none, or a policy with
// nothing to enforce.
//
// A bandwidth_limit rule's max_burst_kbps is the meter's burst in kbit;
// 0 gives 80 % of max_kbps, as Neutron's Open vSwitch agent does.
func PortQoS(p *model.Port, n *model.Network, policies map[string]*model.QoSPolicy) *pipeline.PortQoS {
	id := ""
	switch {
	case p.QoSPolicyID != nil && *p.QoSPolicyID != "":
		id = *p.QoSPolicyID
	case n != nil && n.QoSPolicyID != nil && !strings.HasPrefix(p.DeviceOwner, "network:"):
		id = *n.QoSPolicyID
	}
	pol := policies[id]
	if pol == nil {
		return nil
	}
	var q pipeline.PortQoS
	for _, r := range pol.Rules {
		switch r.Type {
		case model.RuleBandwidthLimit:
			rate, b := uint32(r.MaxKbps), uint32(r.MaxBurstKbps)
			if b == 0 {
				b = uint32(max(uint64(rate)*8/10, 1))
			}
			if r.Direction == model.DirectionIngress {
				q.IngressKbps, q.IngressBurstKbits = rate, b
			} else {
				q.EgressKbps, q.EgressBurstKbits = rate, b
			}
		case model.RuleDSCPMarking:
			q.MarkDSCP, q.DSCP = true, uint8(r.DSCPMark)
		}
	}
	if q == (pipeline.PortQoS{}) {
		return nil
	}
	return &q
}
