package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Node is one network namespace of the bed with its own directory:
// the underlay, a chassis, a VM or a host.
type Node struct {
	// Netns is the network namespace name (ip netns).
	Netns string
	// RunDir is the node's private directory: logs, pid files, sockets.
	RunDir string

	bed   *Bed
	undo  *undo // teardown, registered with the bed
	mu    sync.Mutex
	procs map[string]*process
}

// Close stops the node's processes and deletes its namespace now rather
// than at Bed.Close.
func (n *Node) Close() error { return n.teardownUndo() }

func (n *Node) teardownUndo() error {
	if n.undo == nil {
		return nil
	}
	return n.undo.run()
}

// process is a command the bed started and owns.
type process struct {
	cmd    *exec.Cmd
	group  bool // signal its process group
	done   chan struct{}
	record string // file with pid and start time, for Sweep
	undo   *undo
}

// Exec runs a command inside the node's namespace and returns its
// standard output; the error carries its standard error.
func (n *Node) Exec(args ...string) (string, error) {
	return runCmd(n.bed.timeout, nil, "ip", append([]string{"netns", "exec", n.Netns}, args...)...)
}

// Command returns a command that runs inside the node's namespace (for
// StartProcess, or to run with a context).
func (n *Node) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Netns}, args...)...)
}

// StartProcess starts cmd and owns it: unless cmd has its own output, its
// standard output and error go to RunDir/<name>.log (appended, so a
// restarted process keeps one log); Close or StopProcess stop it. cmd runs
// where it says: in the root namespace as given, or inside the node with
// cmd built by Command. Unless cmd sets SysProcAttr, it gets its own
// process group and stopping it signals the whole group.
func (n *Node) StartProcess(name string, cmd *exec.Cmd) error {
	if name == "" || strings.ContainsAny(name, "/ ") {
		return fmt.Errorf("testbed: process name %q", name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.procs[name]; p != nil && !p.exited() {
		return fmt.Errorf("testbed: process %s already running in %s", name, n.Netns)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), record: filepath.Join(n.RunDir, name+".proc")}
	var logf *os.File
	if cmd.Stdout == nil && cmd.Stderr == nil {
		f, err := os.OpenFile(filepath.Join(n.RunDir, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
		logf = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		p.group = true
	}
	if err := cmd.Start(); err != nil {
		if logf != nil {
			logf.Close()
		}
		return fmt.Errorf("testbed: start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		if logf != nil {
			logf.Close()
		}
		close(p.done)
	}()
	if err := writeProcRecord(p.record, cmd.Process.Pid); err != nil && !p.exited() {
		n.bed.log.Warn("process record", "err", err)
	}
	u, err := n.bed.push(fmt.Sprintf("process %s (pid %d) of %s", name, cmd.Process.Pid, n.Netns),
		func() error { return p.stop(syscall.SIGTERM) })
	if err != nil {
		return err
	}
	p.undo = u
	n.procs[name] = p
	n.bed.log.Info("process started", "netns", n.Netns, "name", name, "pid", cmd.Process.Pid, "cmd", cmd.String())
	return nil
}

// StopProcess sends sig to a process StartProcess started (its group, by
// default) and waits for it to exit, SIGKILLing it after 5 s. The name can
// then be started again (a restart test). Stopping an exited or unknown
// process is not an error.
func (n *Node) StopProcess(name string, sig syscall.Signal) error {
	n.mu.Lock()
	p := n.procs[name]
	n.mu.Unlock()
	if p == nil || p.cmd == nil {
		return nil
	}
	return p.stop(sig)
}

// PID returns the pid of a started process and whether it still runs.
func (n *Node) PID(name string) (pid int, running bool) {
	n.mu.Lock()
	p := n.procs[name]
	n.mu.Unlock()
	if p == nil || p.cmd == nil {
		return 0, false
	}
	return p.cmd.Process.Pid, !p.exited()
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) signal(sig syscall.Signal) {
	if p.group {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	} else {
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *process) stop(sig syscall.Signal) error {
	defer os.Remove(p.record)
	if !p.exited() {
		p.signal(sig)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.signal(syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				return fmt.Errorf("pid %d survives SIGKILL", p.cmd.Process.Pid)
			}
		}
	}
	if p.group {
		// Children left in the group (e.g. a script's helpers) go too.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	return nil
}

// teardown stops the node's processes and whatever else still runs in its
// namespace (only the bed puts processes there), then deletes the
// namespace; its veths go with it.
func (n *Node) teardown() error {
	n.mu.Lock()
	procs := make([]*process, 0, len(n.procs))
	for _, p := range n.procs {
		procs = append(procs, p)
	}
	n.mu.Unlock()
	var errs []error
	for _, p := range procs {
		if p.undo == nil {
			continue // a name reserved, never started
		}
		if err := p.undo.run(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := killNetnsPIDs(n.Netns, n.bed.timeout); err != nil {
		errs = append(errs, err)
	}
	if err := deleteNetns(n.Netns, n.bed.timeout); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killNetnsPIDs SIGKILLs every process inside namespace ns.
func killNetnsPIDs(ns string, timeout time.Duration) error {
	out, err := runCmd(timeout, nil, "ip", "netns", "pids", ns)
	if err != nil {
		if strings.Contains(err.Error(), "No such file") || strings.Contains(err.Error(), "not exist") {
			return nil
		}
		return err
	}
	var errs []error
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid == os.Getpid() {
			continue
		}
		start, _, err := procIdentity(pid)
		if err != nil {
			continue
		}
		if err := killPID(pid, start, syscall.SIGKILL, 5*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("netns %s: %w", ns, err))
		}
	}
	return errors.Join(errs...)
}

func deleteNetns(ns string, timeout time.Duration) error {
	_, err := runCmd(timeout, nil, "ip", "netns", "del", ns)
	if err != nil && (strings.Contains(err.Error(), "No such file") || strings.Contains(err.Error(), "not exist")) {
		return nil
	}
	return err
}
