package ovstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSweep: an instance whose test process died is stopped and removed;
// one whose test is alive is left alone.
func TestSweep(t *testing.T) {
	Require(t)
	// A process that has exited: its id can no longer match.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	deadOwner := strconv.Itoa(gone.Process.Pid) + " 1"

	exits := map[*exec.Cmd]chan struct{}{}
	mk := func(owner string) (dir, netns string, daemon *exec.Cmd) {
		suffix := randHex(4)
		dir, err := os.MkdirTemp("", "ovs-"+suffix+"-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		netns = "wyt-" + suffix
		if out, err := exec.Command("ip", "netns", "add", netns).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", netns).Run() })
		daemon = exec.Command("sleep", "60")
		if err := daemon.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = daemon.Wait(); close(exited) }()
		t.Cleanup(func() { _ = daemon.Process.Kill(); <-exited })
		exits[daemon] = exited
		if err := os.WriteFile(filepath.Join(dir, "ovsdb-server.pid"), []byte(strconv.Itoa(daemon.Process.Pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir, netns, daemon
	}
	staleDir, staleNetns, staleDaemon := mk(deadOwner)
	liveDir, liveNetns, _ := mk(processID(os.Getpid()))

	sweep()

	if _, err := os.Stat(staleDir); !os.IsNotExist(err) {
		t.Errorf("stale instance directory left: %v", err)
	}
	if nsExists(t, staleNetns) {
		t.Errorf("stale namespace %s left", staleNetns)
	}
	select {
	case <-exits[staleDaemon]:
	case <-time.After(5 * time.Second):
		t.Errorf("stale daemon %d still running", staleDaemon.Process.Pid)
	}
	if _, err := os.Stat(liveDir); err != nil {
		t.Errorf("live instance directory removed: %v", err)
	}
	if !nsExists(t, liveNetns) {
		t.Errorf("live namespace %s removed", liveNetns)
	}
}

func nsExists(t *testing.T, name string) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}
