package main

import (
	"bufio"
	"context"
	"fmt"
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

// proc is one child process with its log in dir.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func startProc(dir, name, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "WYVERN_ADMIN_PASSWORD=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// usage is a process' CPU time and resident memory.
type usage struct {
	CPU      time.Duration
	RSS, HWM int64 // bytes
}

func (p *proc) usage() usage {
	if p == nil {
		return usage{}
	}
	return pidUsage(p.cmd.Process.Pid)
}

func pidUsage(pid int) usage {
	var u usage
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		u.CPU = time.Duration(ut+st) * 10 * time.Millisecond
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				u.RSS = kb << 10
			case "VmHWM:":
				u.HWM = kb << 10
			}
		}
	}
	return u
}

func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// metrics reads the sums of a few etcd metrics from its /metrics.
func metrics(ctx context.Context, url string) map[string]float64 {
	out := map[string]float64{}
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		name := l[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			out[name] += v
		}
	}
	return out
}

// backend is etcd and the API server of one measured point.
type backend struct {
	dir                 string
	etcd, server, proxy *proc
	API, EtcdURL        string
	// AgentURL is where the agents connect: etcd, or the grpc-proxy.
	AgentURL string
	External bool
}

// startBackend starts `wyvern server --noauth` on its embedded etcd, or
// on an external etcd process when etcdBin is set, without fsync; with
// proxyBin (an etcd binary), an `etcd grpc-proxy` the agents go through.
func startBackend(ctx context.Context, tmp, wyvernBin, etcdBin, proxyBin string) (*backend, error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmp, "scale-")
	if err != nil {
		return nil, err
	}
	b := &backend{dir: dir, API: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		EtcdURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]), External: etcdBin != ""}
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	args := []string{"server", "--noauth", "--log-level", "warn", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0])}
	if etcdBin != "" {
		b.etcd, err = startProc(dir, "etcd", etcdBin, "--name", "sim", "--data-dir", filepath.Join(dir, "etcd"),
			"--listen-client-urls", b.EtcdURL, "--advertise-client-urls", b.EtcdURL,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "sim="+peer, "--unsafe-no-fsync", "--quota-backend-bytes", "8589934592",
			"--max-txn-ops", "1024", "--log-level", "warn")
		if err != nil {
			return nil, err
		}
		args = append(args, "--etcd-endpoints", b.EtcdURL)
	} else {
		args = append(args, "--data-dir", filepath.Join(dir, "etcd"), "--etcd-client-url", b.EtcdURL,
			"--etcd-peer-url", peer, "--unsafe-no-fsync")
	}
	b.server, err = startProc(dir, "server", wyvernBin, args...)
	if err != nil {
		b.stop()
		return nil, err
	}
	b.AgentURL = b.EtcdURL
	if proxyBin != "" {
		// etcd's gRPC proxy coalesces the agents' identical watches into
		// one watch on etcd.
		listen := fmt.Sprintf("127.0.0.1:%d", ports[3])
		b.proxy, err = startProc(dir, "grpc-proxy", proxyBin, "grpc-proxy", "start", "--endpoints", b.EtcdURL,
			"--listen-addr", listen, "--advertise-client-url", listen)
		if err != nil {
			b.stop()
			return nil, err
		}
		b.AgentURL = "http://" + listen
	}
	return b, nil
}

// etcdUsage is the etcd process' usage (with the embedded etcd, the
// server's: they are one process).
func (b *backend) etcdUsage() usage {
	if b.etcd != nil {
		return b.etcd.usage()
	}
	return b.server.usage()
}

func (b *backend) stop() {
	b.proxy.stop()
	b.server.stop()
	b.etcd.stop()
	os.RemoveAll(b.dir)
}
