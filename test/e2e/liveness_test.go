package e2e

import (
	"testing"
	"time"

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
	if err := l.StartAgent(chs[0]); err != nil {
		t.Fatal(err)
	}
	waitAgent(t, l, "ch1", true, 5*time.Second)
}
