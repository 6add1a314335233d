package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTopologyDOT: wyvernctl topology -o dot draws what the API lists:
// the networks, the router joining them, the ports under their chassis.
func TestTopologyDOT(t *testing.T) {
	f := newFakeNeutron(t)
	seedTrace(f)
	out := mustRun(t, f, "topology", "-o", "dot")
	for _, want := range []string{
		"digraph wyvern {",
		`"net_n1" [shape=box`,
		`"router_r1" -> "net_n2" [label="10.2.0.1"]`,
		`subgraph "cluster_chassis_ch1"`,
		`"port_vm1" [shape=box`,
		`"net_n1" -> "port_vm1";`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("topology lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "port_ri1") {
		t.Errorf("a router interface drawn as a port:\n%s", out)
	}
}

// TestTopologySVGFile: the default format is SVG, written with --file; a
// format topology does not draw is refused.
func TestTopologySVGFile(t *testing.T) {
	f := newFakeNeutron(t)
	seedTrace(f)
	file := filepath.Join(t.TempDir(), "cloud.svg")
	mustRun(t, f, "topology", "--file", file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "vm2") {
		t.Errorf("not the SVG of the topology: %.200s", b)
	}
	code, _, errOut := run(t, f, nil, "topology", "-o", "json")
	if code == 0 || !strings.Contains(errOut, "want svg, png or dot") {
		t.Errorf("-o json: exit %d, %q", code, errOut)
	}
	if code, _, _ := run(t, f, nil, "network", "list", "-o", "svg"); code == 0 {
		t.Error("network list -o svg accepted")
	}
}
