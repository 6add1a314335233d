package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs the README's demo end to end (without staying up) and
// checks its summary: every check passed, and the topology file is an SVG.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo; skipped with -short")
	}
	var out strings.Builder
	topo := filepath.Join(t.TempDir(), "topology.svg")
	if err := Run(context.Background(), Options{Out: &out, Topology: topo}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"DHCP gave",
		"✓ overlapping networks",
		"✓ routing on the source chassis",
		"5/5 routed pings, each crossed the underlay once",
		"✓ floating IP from outside",
		"✓ SNAT out",
		"✓ security group 80 vs 81",
		"✓ agent kill -9, 0 lost",
		"✓ trace allowed and refused",
		"tcp/80: delivered; tcp/81: drop",
		"✓ topology picture",
		"8/8 checks passed",
		"/console/   (user admin, password demo",
		"[9/9] topology picture and console: ok",
		"nothing left behind",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(text, "✗") || strings.Contains(text, "FAILED") {
		t.Errorf("demo reported a failure")
	}
	if b, err := os.ReadFile(topo); err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "blue&#45;router") {
		t.Errorf("topology file: %v %.200s", err, b)
	}
	if t.Failed() {
		t.Log(text)
	}
}
