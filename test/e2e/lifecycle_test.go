package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

func trim(s string) string { return strings.TrimSpace(s) }

// TestPortLifecycleAndSelectiveDistribution: unplugging sets a port DOWN;
// deleting it removes its flows on every chassis; a chassis with no port on
// a network holds no flow of it.
func TestPortLifecycleAndSelectiveDistribution(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 3)
	n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "x", CIDR: "10.5.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := boot(t, l, chs[0], "a", "p1", n, fixed(sub.ID, "10.5.0.10"))
	b, bp := boot(t, l, chs[1], "b", "p1", n, fixed(sub.ID, "10.5.0.11"))
	mustPing(t, l, a, "10.5.0.11")

	// ch3 has no port on x: no flow mentions x's ports or its tunnel key.
	for _, s := range []string{bp.MACAddress, "10.5.0.10", "10.5.0.11"} {
		if fl := flowsMention(t, chs[2], s); len(fl) > 0 {
			t.Fatalf("ch3 holds flows of network x (%s):\n%s", s, strings.Join(fl, "\n"))
		}
	}
	if !containsAny(flowsMention(t, chs[0], bp.MACAddress)) {
		t.Fatalf("ch1 has no flow for the remote port %s", bp.MACAddress)
	}

	// Unplug: DOWN.
	if err := b.Unplug(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitPort(bp.ID, 10*time.Second, func(p model.Port) bool { return p.Status == model.StatusDown }); err != nil {
		t.Fatal(err)
	}
	// Delete: its flows go from every chassis.
	if err := l.Do("DELETE", "/v2.0/ports/"+bp.ID, "p1", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, ch := range chs {
		waitNoFlows(t, ch, bp.MACAddress)
	}
	mustNotPing(t, a, "10.5.0.11")
}

func containsAny(s []string) bool { return len(s) > 0 }
