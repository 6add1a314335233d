package model

import "time"

// MeteringLabel is a metering label (Neutron's extension "metering"): a
// name for traffic counted on routers. A label applies to every router of
// its project, a shared label to every router; what it counts is given by
// its rules. Labels and rules are admin objects in Neutron's policy.
type MeteringLabel struct {
	Standard
	Shared bool `json:"shared"`
	// Key is the label's datapath key (1..MeteringKeyMax, from the pool
	// of the rules' keys), allocated with the label and not shown by the
	// API: the pipeline's metering flows name the label by it.
	Key int `json:"wyvern:key,omitempty"`
}

// MeteringLabelRule is a rule of a metering label: the traffic of a
// direction, relative to the router (ingress: entering the router from its
// external network; egress: leaving the router to it), whose address on
// the external side is in RemoteIPPrefix, or (extension
// metering_source_and_destination_fields, not with RemoteIPPrefix) whose
// source and destination are in SourceIPPrefix and DestinationIPPrefix as
// the router sees them: an internal address before SNAT going out, after
// DNAT coming in. An empty prefix matches any address. An excluded rule
// removes what it matches from the label's count.
type MeteringLabelRule struct {
	Standard
	MeteringLabelID     string `json:"metering_label_id"`
	Direction           string `json:"direction"`
	RemoteIPPrefix      string `json:"remote_ip_prefix"`
	SourceIPPrefix      string `json:"source_ip_prefix,omitempty"`
	DestinationIPPrefix string `json:"destination_ip_prefix,omitempty"`
	Excluded            bool   `json:"excluded"`
	// Key is the rule's datapath key, in the cookie of its counting flow,
	// allocated with the rule and not shown by the API.
	Key int `json:"wyvern:key,omitempty"`
}

// MeteringKeyMax is the largest key of a metering label or rule (16 bits:
// the reserved bits of a flow cookie carry a rule's key).
const MeteringKeyMax = 0xffff

// MeteringCounters is what an agent counted for each metering label rule
// on its chassis since it started: the totals of the rules' flows,
// written under metering/<chassis> (store.MeteringCountersKey).
type MeteringCounters struct {
	// Rules holds the counters by rule id.
	Rules     map[string]MeteringCounter `json:"rules"`
	UpdatedAt time.Time                  `json:"updated_at"`
}

// MeteringCounter is one rule's counters, with its label.
type MeteringCounter struct {
	LabelID string `json:"label_id"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}
