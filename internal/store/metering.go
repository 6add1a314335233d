package store

import "strconv"

// Metering (Neutron's extension "metering"). Keys, under Prefix:
//
//	metering_labels/<label>        model.MeteringLabel
//	metering_label_rules/<rule>    model.MeteringLabelRule
//	metering_keys/<key>            id of the label or rule holding the datapath key
//	metering/<chassis>             model.MeteringCounters, written by the chassis' agent
//
// Agents watch the labels and rules whole: they are few, and admin's.

// Kinds of the metering objects.
const (
	KindMeteringLabels = "metering_labels"
	KindMeteringRules  = "metering_label_rules"
)

// MeteringKeyKey records which label or rule holds a metering key.
func MeteringKeyKey(key int) string { return Prefix + "metering_keys/" + strconv.Itoa(key) }

// MeteringCountersPrefix holds every chassis' metering counters.
const MeteringCountersPrefix = Prefix + "metering/"

// MeteringCountersKey is the key of a chassis' metering counters.
func MeteringCountersKey(chassis string) string { return MeteringCountersPrefix + chassis }
