package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metering (Neutron's metering labels): what this chassis counted for
// each label rule, from its counting flows' stats. A rule's cloud-wide
// total is the sum over the chassis (each counts the traffic it NATs).
var (
	AgentMeteringPackets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_agent_metering_packets_total",
		Help: "Packets counted by a metering label rule on this chassis, by label, rule and direction (ingress, egress).",
	}, []string{"label", "rule", "direction"})
	AgentMeteringBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_agent_metering_bytes_total",
		Help: "Bytes counted by a metering label rule on this chassis, by label, rule and direction (ingress, egress).",
	}, []string{"label", "rule", "direction"})
)
