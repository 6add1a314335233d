package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runCmd runs a command with a timeout and returns its standard output;
// the error carries the command line and its standard error.
func runCmd(timeout time.Duration, stdin io.Reader, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	// A backgrounded child holding the pipes must not hang us.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s", ctx.Err(), timeout)
		}
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// procIdentity reads a process' start time (field 22 of /proc/PID/stat, in
// clock ticks since boot) and state. A pid with the same start time is the
// same process, so pids can be checked against reuse.
func procIdentity(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return start, f[0][0], nil
}

// alive reports whether pid runs (a zombie counts as gone: the process
// has exited, only its parent has not reaped it).
func alive(pid int) bool {
	_, state, err := procIdentity(pid)
	return err == nil && state != 'Z' && state != 'X'
}

// sameProcess reports whether pid still is the process that started at
// start and has not exited.
func sameProcess(pid int, start uint64) bool {
	s, state, err := procIdentity(pid)
	return err == nil && s == start && state != 'Z' && state != 'X'
}

// killPID stops a process that is not our child (a --detach daemon): it
// sends sig, waits up to grace for it to go, then SIGKILLs it. want, when
// set, guards against pid reuse: the process is left alone unless its
// start time matches.
func killPID(pid int, start uint64, sig syscall.Signal, grace time.Duration) error {
	if pid <= 0 {
		return nil
	}
	if start != 0 && !sameProcess(pid, start) {
		return nil
	}
	if !alive(pid) {
		return nil
	}
	if err := syscall.Kill(pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	if waitGone(pid, grace) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	if !waitGone(pid, 5*time.Second) {
		return fmt.Errorf("pid %d survives SIGKILL", pid)
	}
	return nil
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPIDFile reads a pid file ("1234\n") or one of our process records
// ("1234 98765\n": pid and start time).
func readPIDFile(path string) (pid int, start uint64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, 0, fmt.Errorf("%s: empty", path)
	}
	pid, err = strconv.Atoi(f[0])
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(f) > 1 {
		if start, err = strconv.ParseUint(f[1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	return pid, start, nil
}

// writeProcRecord records a pid with its start time, so that Sweep can
// kill it after the bed's owner died, without hitting a reused pid.
func writeProcRecord(path string, pid int) error {
	start, _, err := procIdentity(pid)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(fmt.Sprintf("%d %d\n", pid, start)), 0o644)
}

// poll calls cond every 20 ms until it returns true or d passes; it then
// returns the last error cond reported.
func poll(d time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("timed out after %s waiting for %s: %w", d, what, err)
			}
			return fmt.Errorf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
