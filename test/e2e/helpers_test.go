package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// chassis starts n chassis with agents.
func chassis(t *testing.T, l *lab.Lab, n int) []*testbed.Chassis {
	t.Helper()
	out := make([]*testbed.Chassis, n)
	for i := range out {
		ch, err := l.AddChassis("ch" + lab.Itoa(i+1))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ch
	}
	return out
}

// boot creates a port (with extra attributes), plugs a VM for it, waits
// until the port is ACTIVE on that chassis, and configures the VM's
// address statically (DHCP is tested on its own).
func boot(t *testing.T, l *lab.Lab, ch *testbed.Chassis, name, project string, n model.Network, extra map[string]any) (*testbed.VM, model.Port) {
	t.Helper()
	vm, p, err := l.Boot(ch, name, project, n.ID, extra)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitPort(p.ID, 10*time.Second, func(p model.Port) bool {
		return p.Status == model.StatusActive && p.HostID == ch.Name
	}); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetAddr(lab.FixedIP(p) + "/24"); err != nil {
		t.Fatal(err)
	}
	return vm, p
}

// mustPing fails the test unless every echo is answered.
func mustPing(t *testing.T, l *lab.Lab, vm *testbed.VM, dst string) {
	t.Helper()
	if got, err := vm.Ping(dst, 2, 10*time.Second); err != nil {
		flows, _ := vm.Chassis.Ofctl("dump-flows", "br-int")
		neigh, _ := vm.Exec("ip", "neigh")
		addrs, _ := vm.Exec("ip", "addr")
		t.Logf("flows of %s:\n%s\nneighbours of %s:\n%s\n%s", vm.Chassis.Name, flows, vm.Name, neigh, addrs)
		t.Fatalf("%s → %s: %d replies: %v\n%s", vm.Name, dst, got, err, l.Bed.LogTails(15))
	}
}

// mustNotPing fails the test if any echo is answered.
func mustNotPing(t *testing.T, vm *testbed.VM, dst string) {
	t.Helper()
	if got, _ := vm.Ping(dst, 3, 3*time.Second); got != 0 {
		t.Fatalf("%s → %s: %d replies, want none", vm.Name, dst, got)
	}
}

// flowsMention reports the br-int flows of ch containing s.
func flowsMention(t *testing.T, ch *testbed.Chassis, s string) []string {
	t.Helper()
	flows, err := ch.DumpFlows("br-int")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range flows {
		if strings.Contains(f, s) {
			out = append(out, f)
		}
	}
	return out
}

// waitNoFlows waits until no br-int flow of ch contains s.
func waitNoFlows(t *testing.T, ch *testbed.Chassis, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := flowsMention(t, ch, s)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still has %d flows mentioning %s:\n%s", ch.Name, len(left), s, strings.Join(left, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pingStats is the outcome of a long ping run.
type pingStats struct {
	sent, received int
	out            string
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// fastPing starts `ping -i interval -c count` in the VM and returns a
// function that waits for it and parses the summary.
func fastPing(t *testing.T, vm *testbed.VM, dst string, interval time.Duration, count int) func() pingStats {
	t.Helper()
	cmd := vm.Command("ping", "-n", "-i", fmt.Sprintf("%.3f", interval.Seconds()), "-c", strconv.Itoa(count), "-W", "1", dst)
	var buf strings.Builder
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return func() pingStats {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count)*interval+20*time.Second)
		defer cancel()
		select {
		case <-done:
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
		}
		m := pingSummary.FindStringSubmatch(buf.String())
		if m == nil {
			t.Fatalf("no ping summary:\n%s", buf.String())
		}
		s, _ := strconv.Atoi(m[1])
		r, _ := strconv.Atoi(m[2])
		return pingStats{sent: s, received: r, out: buf.String()}
	}
}
