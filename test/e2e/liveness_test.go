package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ctl"
	"github.com/wyvern-sdn/wyvern/internal/lab"
)

type agentList struct {
	Agents []struct {
		Host  string `json:"host"`
		Alive bool   `json:"alive"`
	} `json:"agents"`
}

// waitAgent waits until the API reports the chassis' agent alive (or not).
func waitAgent(t *testing.T, l *lab.Lab, host string, alive bool, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var out agentList
		if err := l.Do("GET", "/v2.0/agents", "", nil, &out); err != nil {
			t.Fatal(err)
		}
		for _, a := range out.Agents {
			if a.Host == host && a.Alive == alive {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent on %s not alive=%v after %s: %+v", host, alive, d, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChassisLiveness: a chassis whose agent dies shows as down in the
// Neutron agents API once its lease expires, and up again when it returns.
func TestChassisLiveness(t *testing.T) {
	l := newLab(t, lab.Options{AgentArgs: []string{"--lease-ttl", "2s"}})
	chs := chassis(t, l, 2)
	waitAgent(t, l, "ch1", true, 5*time.Second)
	if err := l.KillAgent(chs[0]); err != nil {
		t.Fatal(err)
	}
	waitAgent(t, l, "ch1", false, 10*time.Second)
	waitAgent(t, l, "ch2", true, time.Second)
	// wyvernctl status shows the same.
	var out, errb strings.Builder
	rc := ctl.Main(context.Background(), []string{"--noauth", "--url", l.APIURL, "status"}, &out, &errb, func(string) string { return "" })
	if rc != 0 {
		t.Fatalf("wyvernctl status: %d: %s", rc, errb.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "ch1" && f[1] != "false" || len(f) >= 2 && f[0] == "ch2" && f[1] != "true" {
			t.Fatalf("wyvernctl status:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "ch1") || !strings.Contains(out.String(), "ch2") {
		t.Fatalf("wyvernctl status lacks a chassis:\n%s", out.String())
	}
	if err := l.StartAgent(chs[0]); err != nil {
		t.Fatal(err)
	}
	waitAgent(t, l, "ch1", true, 5*time.Second)
}
