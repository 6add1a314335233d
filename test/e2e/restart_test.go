package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
)

// TestRestartLosesNoPacket: a 50 pps ping between VMs on two chassis loses
// nothing while one chassis' agent is killed and restarted, nor while the
// server with its embedded etcd is killed and restarted.
func TestRestartLosesNoPacket(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "r", CIDR: "10.6.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := boot(t, l, chs[0], "a", "p1", n, fixed(sub.ID, "10.6.0.10"))
	_, _ = boot(t, l, chs[1], "b", "p1", n, fixed(sub.ID, "10.6.0.11"))
	mustPing(t, l, a, "10.6.0.11")

	t.Run("agent", func(t *testing.T) {
		wait := fastPing(t, a, "10.6.0.11", 20*time.Millisecond, 300)
		time.Sleep(time.Second) // let the ping run before the fault: timing is the test's subject
		if err := l.KillAgent(chs[0]); err != nil {
			t.Fatal(err)
		}
		if err := l.StartAgent(chs[0]); err != nil {
			t.Fatal(err)
		}
		st := wait()
		if st.received != st.sent {
			t.Fatalf("agent restart lost %d of %d pings\n%s", st.sent-st.received, st.sent, st.out)
		}
		t.Logf("agent restart: %d/%d pings answered", st.received, st.sent)
	})
	t.Run("server and etcd", func(t *testing.T) {
		wait := fastPing(t, a, "10.6.0.11", 20*time.Millisecond, 300)
		time.Sleep(time.Second)
		if err := l.StopServer(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := l.StartServer(); err != nil {
			t.Fatal(err)
		}
		st := wait()
		if st.received != st.sent {
			t.Fatalf("etcd restart lost %d of %d pings\n%s", st.sent-st.received, st.sent, st.out)
		}
		t.Logf("server+etcd restart: %d/%d pings answered", st.received, st.sent)
		// The agents are back on etcd: a new port is served end to end.
		c, _ := boot(t, l, chs[1], "c", "p1", n, fixed(sub.ID, "10.6.0.12"))
		_ = c
		mustPing(t, l, a, "10.6.0.12")
	})
}

// TestVswitchdRestart: when ovs-vswitchd restarts and br-int comes back
// empty, the agent reconnects, reinstalls its flows and pins its tunnel
// neighbours again; traffic resumes by itself.
func TestVswitchdRestart(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "v", CIDR: "10.8.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := boot(t, l, chs[0], "a", "p1", n, fixed(sub.ID, "10.8.0.10"))
	_, _ = boot(t, l, chs[1], "b", "p1", n, fixed(sub.ID, "10.8.0.11"))
	mustPing(t, l, a, "10.8.0.11")
	if err := chs[0].RestartVswitchd(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	mustPing(t, l, a, "10.8.0.11")
}
