// Package ovstest starts a private Open vSwitch (ovsdb-server and
// ovs-vswitchd on the userspace datapath) for a test, in its own run
// directory and its own network namespace, and tears it down when the test
// ends, even when it fails. Tests of any package use it:
//
//	inst := ovstest.Start(t)
//	db, err := ovs.Open(ctx, "unix:"+inst.DBSock, nil)
//	...
//	out := inst.Ofctl("-O", "OpenFlow13", "dump-flows", inst.Mgmt("br-int"))
//
// It needs root, iproute2 and the openvswitch-switch binaries; when they
// are missing the test fails with a message saying so (it never skips).
package ovstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Schema is where Debian's openvswitch-common installs the database schema.
const Schema = "/usr/share/openvswitch/vswitch.ovsschema"

// Instance is one running private Open vSwitch.
type Instance struct {
	// Dir is the run, log and database directory.
	Dir string
	// DBSock is the ovsdb-server unix socket path (connect with "unix:"+DBSock).
	DBSock string
	// Netns is the network namespace both daemons run in.
	Netns string

	t           testing.TB
	vswitchdPID int
}

// Binaries are the programs Start needs.
var Binaries = []string{"ip", "ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovs-vswitchd", "ovs-ofctl", "ovs-appctl"}

// Require fails the test when a binary it needs is missing or the test does
// not run as root.
func Require(t testing.TB) {
	t.Helper()
	for _, b := range Binaries {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("ovstest: %s not found (install openvswitch-switch and iproute2, see scripts/deps.sh): %v", b, err)
		}
	}
	if _, err := os.Stat(Schema); err != nil {
		t.Fatalf("ovstest: OVS schema missing: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("ovstest: needs root (network namespaces)")
	}
}

// Start starts ovsdb-server and ovs-vswitchd in a new network namespace and
// a new directory; both are stopped, and namespace and directory removed,
// by t.Cleanup.
func Start(t testing.TB) *Instance {
	t.Helper()
	Require(t)
	sweepOnce.Do(sweep)
	suffix := randHex(4)
	// A short directory keeps unix socket paths under the 108-byte limit.
	dir, err := os.MkdirTemp("", "ovs-"+suffix+"-")
	if err != nil {
		t.Fatalf("ovstest: %v", err)
	}
	// The owner file lets a later run remove this instance if this test
	// process dies before its cleanup (killed by a timeout, say).
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(processID(os.Getpid())), 0o644); err != nil {
		t.Fatalf("ovstest: %v", err)
	}
	inst := &Instance{Dir: dir, DBSock: filepath.Join(dir, "db.sock"), Netns: "wyt-" + suffix, t: t}
	t.Cleanup(inst.stop)

	inst.mustRun("ip", "netns", "add", inst.Netns)
	inst.mustRun("ip", "-n", inst.Netns, "link", "set", "lo", "up")
	inst.mustRun("ovsdb-tool", "create", filepath.Join(dir, "conf.db"), Schema)
	inst.mustRun(inst.nsEnv("ovsdb-server", filepath.Join(dir, "conf.db"),
		"--remote=punix:"+inst.DBSock,
		"--pidfile="+filepath.Join(dir, "ovsdb-server.pid"), "--detach",
		"--log-file="+filepath.Join(dir, "ovsdb-server.log"))...)
	inst.mustRun("ovs-vsctl", "--db=unix:"+inst.DBSock, "--no-wait", "init")
	inst.mustRun(inst.nsEnv("ovs-vswitchd", "unix:"+inst.DBSock,
		"--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"), "--detach",
		"--log-file="+filepath.Join(dir, "ovs-vswitchd.log"))...)
	pid, err := readPID(filepath.Join(dir, "ovs-vswitchd.pid"))
	if err != nil {
		t.Fatalf("ovstest: %v", err)
	}
	inst.vswitchdPID = pid
	// --detach returns once the daemon is ready; make sure its control
	// socket answers before handing the instance out.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := inst.Appctl("version"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("ovstest: ovs-vswitchd not answering: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return inst
}

const ownerFile = "owner"

var sweepOnce sync.Once

// sweep stops and removes the instances whose test process is gone: their
// daemons, namespace and directory. It runs once per test process.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "ovs-*-*"))
	for _, dir := range dirs {
		owner, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not an instance, or one being created
		}
		pid, _, _ := strings.Cut(string(owner), " ")
		if n, err := strconv.Atoi(pid); err != nil || processID(n) == string(owner) {
			continue // its test is still running
		}
		for _, f := range []string{"ovs-vswitchd.pid", "ovsdb-server.pid"} {
			if pid, err := readPID(filepath.Join(dir, f)); err == nil {
				_ = killWait(pid)
			}
		}
		if parts := strings.SplitN(filepath.Base(dir), "-", 3); len(parts) == 3 {
			_ = exec.Command("ip", "netns", "del", "wyt-"+parts[1]).Run()
		}
		_ = os.RemoveAll(dir)
	}
}

// processID names a process by its pid and start time, so that a reused
// pid is not taken for the process that created an instance; "" when the
// process does not exist.
func processID(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// Field 22 (start time) counts from after the command name, which
	// may hold spaces but ends with the last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 {
		return ""
	}
	return fmt.Sprintf("%d %s", pid, f[19])
}

// Mgmt is the OpenFlow management socket of a bridge, as ovs-ofctl takes
// it ("unix:" prefix included).
func (i *Instance) Mgmt(bridge string) string {
	return "unix:" + i.MgmtPath(bridge)
}

// MgmtPath is the file system path of a bridge's management socket.
func (i *Instance) MgmtPath(bridge string) string {
	return filepath.Join(i.Dir, bridge+".mgmt")
}

// Ctl is the ovs-vswitchd control socket (for ovs-appctl -t).
func (i *Instance) Ctl() string {
	return filepath.Join(i.Dir, fmt.Sprintf("ovs-vswitchd.%d.ctl", i.vswitchdPID))
}

// Ofctl runs ovs-ofctl with args and returns its standard output.
func (i *Instance) Ofctl(args ...string) (string, error) {
	return run("ovs-ofctl", args...)
}

// Appctl runs ovs-appctl against this instance's ovs-vswitchd.
func (i *Instance) Appctl(args ...string) (string, error) {
	return run("ovs-appctl", append([]string{"-t", i.Ctl()}, args...)...)
}

// Vsctl runs ovs-vsctl against this instance's database.
func (i *Instance) Vsctl(args ...string) (string, error) {
	return run("ovs-vsctl", append([]string{"--db=unix:" + i.DBSock, "--timeout=10"}, args...)...)
}

// Exec runs a command inside the instance's network namespace.
func (i *Instance) Exec(args ...string) (string, error) {
	return run("ip", append([]string{"netns", "exec", i.Netns}, args...)...)
}

func (i *Instance) nsEnv(args ...string) []string {
	return append([]string{"ip", "netns", "exec", i.Netns, "env",
		"OVS_RUNDIR=" + i.Dir, "OVS_LOGDIR=" + i.Dir, "OVS_DBDIR=" + i.Dir}, args...)
}

func (i *Instance) mustRun(args ...string) {
	i.t.Helper()
	if _, err := run(args[0], args[1:]...); err != nil {
		i.t.Fatalf("ovstest: %v", err)
	}
}

func (i *Instance) stop() {
	if i.t.Failed() {
		for _, f := range []string{"ovs-vswitchd.log", "ovsdb-server.log"} {
			if b, err := os.ReadFile(filepath.Join(i.Dir, f)); err == nil {
				i.t.Logf("ovstest: %s (tail):\n%s", f, tail(string(b), 40))
			}
		}
	}
	for _, f := range []string{"ovs-vswitchd.pid", "ovsdb-server.pid"} {
		pid, err := readPID(filepath.Join(i.Dir, f))
		if err != nil {
			continue
		}
		if err := killWait(pid); err != nil {
			i.t.Errorf("ovstest: stopping %s: %v", f, err)
		}
	}
	if out, err := exec.Command("ip", "netns", "del", i.Netns).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "No such file") {
		i.t.Errorf("ovstest: ip netns del %s: %v: %s", i.Netns, err, out)
	}
	if err := os.RemoveAll(i.Dir); err != nil {
		i.t.Errorf("ovstest: %v", err)
	}
}

// killWait sends SIGTERM, waits up to 5 s for the process to go, then
// SIGKILLs it.
func killWait(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := p.Signal(syscall.Signal(0)); err != nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return nil
	}
	return fmt.Errorf("pid %d ignored SIGTERM, killed", pid)
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	return pid, nil
}

func run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), fmt.Errorf("%s: %w", name, err)
	}
	return stdout.String(), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
