package store

// QoS keys (Neutron's qos extension):
//
//	qos_policies/<policy>   model.QoSPolicy, its rules inside it
//	qos_bound/<policy>      the networks and ports the policy is attached
//	                        to ("network:<id>", "port:<id>"), kept in the
//	                        transaction that attaches or detaches it
//	qos_default/<project>   the id of the project's default policy
//
// Agents watch qos_policies/ whole: policies are few and small.
const (
	KindQoSPolicies = "qos_policies"
	KindQoSBound    = "qos_bound"
	KindQoSDefault  = "qos_default"
)

// QoSPolicyKey is the key of a QoS policy.
func QoSPolicyKey(id string) string { return Prefix + KindQoSPolicies + "/" + id }

// QoSBoundKey is the key listing what a QoS policy is attached to.
func QoSBoundKey(id string) string { return Prefix + KindQoSBound + "/" + id }

// QoSDefaultKey is the key naming a project's default QoS policy.
func QoSDefaultKey(project string) string { return Prefix + KindQoSDefault + "/" + project }
