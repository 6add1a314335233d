package model

// QoS (Neutron's qos extension, issue 11): policies and their rules. A
// policy is kept whole, its rules inside it, so a rule change is one write
// of one key; networks and ports name it by qos_policy_id, the port's
// taking precedence over its network's.

// Rule types, as Neutron names them.
const (
	RuleBandwidthLimit   = "bandwidth_limit"
	RuleDSCPMarking      = "dscp_marking"
	RuleMinimumBandwidth = "minimum_bandwidth"
)

// Rule directions. Neutron's directions are the VM's: egress is what the
// VM sends, ingress what it receives.
const (
	DirectionEgress  = "egress"
	DirectionIngress = "ingress"
)

// ServedRuleTypes are the rule types the data plane enforces (GET
// /v2.0/qos/rule-types). A minimum_bandwidth rule is stored and shown,
// but a policy holding one cannot apply to a port or network.
var ServedRuleTypes = []string{RuleBandwidthLimit, RuleDSCPMarking}

// ValidDSCPMarks are the DSCP marks Neutron accepts
// (neutron_lib.constants.VALID_DSCP_MARKS).
var ValidDSCPMarks = []int{0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 46, 48, 56}

// QoSPolicy is a QoS policy with its rules.
type QoSPolicy struct {
	Standard
	Shared    bool      `json:"shared"`
	IsDefault bool      `json:"is_default"`
	Rules     []QoSRule `json:"rules"`
}

// QoSRule is one rule of a policy; the fields used depend on Type.
type QoSRule struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// bandwidth_limit: MaxKbps, MaxBurstKbps, Direction.
	MaxKbps      int `json:"max_kbps,omitempty"`
	MaxBurstKbps int `json:"max_burst_kbps,omitempty"`
	// dscp_marking: DSCPMark.
	DSCPMark int `json:"dscp_mark,omitempty"`
	// minimum_bandwidth: MinKbps, Direction.
	MinKbps   int    `json:"min_kbps,omitempty"`
	Direction string `json:"direction,omitempty"`
}

// Rule returns the policy's rule of a type and direction ("" for
// dscp_marking); nil when it has none.
func (p *QoSPolicy) Rule(typ, direction string) *QoSRule {
	for i := range p.Rules {
		if r := &p.Rules[i]; r.Type == typ && r.Direction == direction {
			return r
		}
	}
	return nil
}
