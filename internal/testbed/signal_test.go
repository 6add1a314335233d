package testbed

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// childReport is what the signalled child prints once its bed is up.
type childReport struct {
	Prefix string
	PIDs   []int
}

func TestMain(m *testing.M) {
	if os.Getenv("TESTBED_SIGNAL_CHILD") != "" {
		os.Exit(signalChild())
	}
	os.Exit(m.Run())
}

// signalChild is a "demo": a bed with a chassis and an agent, cleaned up by
// CloseOnSignal when interrupted.
func signalChild() int {
	bed, err := New(Options{Name: "signal-child"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	bed.CloseOnSignal()
	ch, err := bed.AddChassis("c1")
	if err == nil {
		err = ch.StartProcess("agent", exec.Command("sleep", "300"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = bed.Close()
		return 3
	}
	agent, _ := ch.PID("agent")
	_ = json.NewEncoder(os.Stdout).Encode(childReport{Prefix: bed.Prefix, PIDs: []int{agent, ch.VswitchdPID()}})
	time.Sleep(time.Minute) // until the parent interrupts us
	_ = bed.Close()
	return 4
}

// TestCloseOnSignal interrupts a process holding a bed and checks the bed
// went with it.
func TestCloseOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("testbed: real OVS test bed skipped under -short")
	}
	if err := Require(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TESTBED_SIGNAL_CHILD=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var rep childReport
	if err := json.NewDecoder(bufio.NewReader(out)).Decode(&rep); err != nil {
		t.Fatalf("child report: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGINT) {
		t.Errorf("child exit: %v, want status %d", err, 128+int(syscall.SIGINT))
	}
	assertGone(t, rep.Prefix, rep.PIDs)
}
