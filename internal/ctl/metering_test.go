package ctl

import (
	"reflect"
	"testing"
)

func TestLabelTotals(t *testing.T) {
	rows := []map[string]any{
		{"metering_label_id": "l1", "metering_label_name": "web", "direction": "egress", "packets": 10.0, "bytes": 1000.0},
		{"metering_label_id": "l1", "metering_label_name": "web", "direction": "egress", "excluded": true, "packets": 3.0, "bytes": 300.0},
		{"metering_label_id": "l1", "metering_label_name": "web", "direction": "ingress", "packets": 2.0, "bytes": 200.0},
		{"metering_label_id": "l1", "metering_label_name": "web", "direction": "egress", "packets": 1.0, "bytes": 100.0},
		{"metering_label_id": "l2", "metering_label_name": "idle", "direction": "ingress", "packets": 0.0, "bytes": 0.0},
	}
	want := []map[string]any{
		{"id": "l1", "name": "web", "ingress": map[string]any{"packets": 2.0, "bytes": 200.0}, "egress": map[string]any{"packets": 11.0, "bytes": 1100.0}},
		{"id": "l2", "name": "idle", "ingress": map[string]any{"packets": 0.0, "bytes": 0.0}, "egress": map[string]any{"packets": 0.0, "bytes": 0.0}},
	}
	if got := labelTotals(rows); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
