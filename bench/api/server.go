package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverProc is one `wyvern server --noauth` process on embedded etcd, on
// free loopback ports, with its own temporary data directory.
type serverProc struct {
	cmd       *exec.Cmd
	dir       string // data dir and log, removed by stop
	API       string // http://127.0.0.1:port
	EtcdURL   string // embedded etcd's client URL (serves /metrics)
	PprofAddr string // host:port, empty without profiling
	exited    chan struct{}
	waitErr   error
}

// freePorts reserves n distinct loopback ports by listening on port 0, then
// releases them for the server to take.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startServer starts the server binary and waits until its API answers.
func startServer(ctx context.Context, bin, tmpRoot string, fsync, pprof bool) (*serverProc, error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmpRoot, "wyvern-bench-api-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	s := &serverProc{
		dir:     dir,
		API:     fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		EtcdURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		exited:  make(chan struct{}),
	}
	args := []string{"server", "--noauth", "--log-level", "warn",
		"--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--data-dir", filepath.Join(dir, "etcd"),
		"--etcd-client-url", s.EtcdURL,
		"--etcd-peer-url", fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
	}
	if !fsync {
		args = append(args, "--unsafe-no-fsync")
	}
	if pprof {
		s.PprofAddr = fmt.Sprintf("127.0.0.1:%d", ports[3])
		args = append(args, "--pprof", s.PprofAddr)
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("server log: %w", err)
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// --noauth makes every caller admin only when no admin password is set.
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "WYVERN_ADMIN_PASSWORD=") {
			env = append(env, e)
		}
	}
	s.cmd.Env = env
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		log := s.logTail()
		s.stop()
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	return s, nil
}

// waitReady polls the API until it answers 200 or the deadline passes.
func (s *serverProc) waitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.API+"/v2.0/networks", nil)
		if resp, err := c.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited before ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("server not ready at %s after %v", s.API, within)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *serverProc) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// alive reports an error if the server has exited.
func (s *serverProc) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("server exited: %v\n%s", s.waitErr, s.logTail())
	default:
		return nil
	}
}

// stop ends the server (SIGTERM, then SIGKILL after 10 s) and removes its
// data directory.
func (s *serverProc) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	os.RemoveAll(s.dir)
}

// stat reads the server's CPU time and memory.
func (s *serverProc) stat() (procStat, error) {
	pid := strconv.Itoa(s.cmd.Process.Pid)
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStat{}, fmt.Errorf("server stat: %w", err)
	}
	cpu, err := parseStat(string(b))
	if err != nil {
		return procStat{}, err
	}
	st, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return procStat{}, fmt.Errorf("server status: %w", err)
	}
	rss, hwm := parseStatus(string(st))
	return procStat{CPU: cpu, RSS: rss, HWM: hwm}, nil
}

// etcdMetrics scrapes the embedded etcd's /metrics (served on its client
// URL by etcd itself: nothing is added to the server for it).
func (s *serverProc) etcdMetrics(ctx context.Context) (metrics, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", s.EtcdURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("etcd metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("etcd metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// cpuProfile fetches a CPU profile of the given length into path.
func (s *serverProc) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	if s.PprofAddr == "" {
		return errors.New("server started without --pprof")
	}
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.PprofAddr, int(d.Seconds()))
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("cpu profile: %s %s", resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	return f.Close()
}
