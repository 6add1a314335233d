package trace

import (
	"fmt"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// StageQoS is the QoS step: a port's egress meter and DSCP mark on the
// source chassis (table QoS), its ingress meter on the destination's
// (its L2Lookup flow), from the policy in force on the port
// (logical.PortQoS: the agent's own translation).
const StageQoS = "qos"

// portQoS is what the QoS policy in force on p asks, and the policy's id.
func (x *index) portQoS(p *model.Port) (*pipeline.PortQoS, string) {
	if len(x.t.QoSPolicies) == 0 {
		return nil, ""
	}
	pols := make(map[string]*model.QoSPolicy, len(x.t.QoSPolicies))
	for i := range x.t.QoSPolicies {
		pols[x.t.QoSPolicies[i].ID] = &x.t.QoSPolicies[i]
	}
	q := logical.PortQoS(p, x.nets[p.NetworkID], pols)
	if q == nil {
		return nil, ""
	}
	id := ""
	if p.QoSPolicyID != nil {
		id = *p.QoSPolicyID
	} else if n := x.nets[p.NetworkID]; n != nil && n.QoSPolicyID != nil {
		id = *n.QoSPolicyID + " (the network's)"
	}
	return q, id
}

// qosEgress explains the source port's egress limit and DSCP mark.
func (tr *tracer) qosEgress() {
	q, pol := tr.x.portQoS(tr.src)
	if q == nil || q.EgressKbps == 0 && !q.MarkDSCP {
		return
	}
	var what []string
	if q.EgressKbps > 0 {
		what = append(what, fmt.Sprintf("egress meter: %d kbit/s, burst %d kbit (over it: dropped)", q.EgressKbps, q.EgressBurstKbits))
	}
	if q.MarkDSCP {
		if tr.pkt.Proto == "arp" {
			what = append(what, fmt.Sprintf("DSCP %d is set on IP packets only (not this ARP)", q.DSCP))
		} else {
			what = append(what, fmt.Sprintf("DSCP set to %d (ToS 0x%02x)", q.DSCP, q.DSCP<<2))
		}
	}
	tr.step(Step{Stage: StageQoS, Chassis: tr.src.HostID, Verdict: Pass,
		Detail: fmt.Sprintf("QoS policy %s on port %s: %s", pol, portLabel(tr.src), strings.Join(what, "; "))})
}

// qosIngress explains the destination port's ingress limit.
func (tr *tracer) qosIngress(dst *model.Port) {
	q, pol := tr.x.portQoS(dst)
	if q == nil || q.IngressKbps == 0 {
		return
	}
	tr.step(Step{Stage: StageQoS, Chassis: dst.HostID, Verdict: Pass,
		Detail: fmt.Sprintf("QoS policy %s on port %s: ingress meter: %d kbit/s, burst %d kbit (over it: dropped)", pol, portLabel(dst), q.IngressKbps, q.IngressBurstKbits)})
}
