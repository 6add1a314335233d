package faults

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// etcdBin is Debian's etcd-server.
const etcdBin = "/usr/bin/etcd"

// cluster is a 3-member etcd cluster of real etcd processes on loopback
// ports, owned by a bed (stopped when it closes).
type cluster struct {
	t       *testing.T
	node    *testbed.Node
	names   []string
	clients []string // client URL by member index
	args    [][]string
}

// startCluster runs n members and waits until they have a leader.
func startCluster(t *testing.T, bed *testbed.Bed, n int) *cluster {
	t.Helper()
	if _, err := os.Stat(etcdBin); err != nil {
		t.Fatalf("%s missing (scripts/deps.sh installs etcd-server): %v", etcdBin, err)
	}
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm" // etcd 3.4 cannot skip fsync; memory keeps it fast
	}
	dir, err := os.MkdirTemp(base, "wyvern-faults-etcd-")
	if err != nil {
		t.Fatal(err)
	}
	if err := bed.OnClose("etcd data", func() error { return os.RemoveAll(dir) }); err != nil {
		t.Fatal(err)
	}
	// Free ports are picked, then bound by etcd: another test on the
	// machine may take one in between, and the cluster is then made
	// again on new ports.
	for attempt := 0; ; attempt++ {
		c := &cluster{t: t, node: bed.UnderlayNode()}
		sub := filepath.Join(dir, fmt.Sprintf("try%d", attempt))
		c.configure(sub, n)
		for i := range c.names {
			c.start(i)
		}
		err := c.waitUp(30 * time.Second)
		if err == nil {
			return c
		}
		for i := range c.names {
			c.kill(i, syscall.SIGKILL)
		}
		if attempt == 2 {
			t.Fatal(err)
		}
		t.Logf("etcd cluster on try %d: %v; again on other ports", attempt, err)
	}
}

// configure picks the members' names, ports and flags.
func (c *cluster) configure(dir string, n int) {
	token := filepath.Base(filepath.Dir(dir)) + "-" + filepath.Base(dir)
	var peers []string
	peerURLs := make([]string, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%d", i+1)
		c.names = append(c.names, name)
		c.clients = append(c.clients, "http://"+freeAddr(c.t))
		peerURLs[i] = "http://" + freeAddr(c.t)
		peers = append(peers, name+"="+peerURLs[i])
	}
	for i, name := range c.names {
		c.args = append(c.args, []string{"--name", name, "--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", c.clients[i], "--advertise-client-urls", c.clients[i],
			"--listen-peer-urls", peerURLs[i], "--initial-advertise-peer-urls", peerURLs[i],
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token, "--logger", "zap", "--log-level", "warn"})
	}
}

// waitUp waits until the members are healthy, failing early when one
// exits (a port taken).
func (c *cluster) waitUp(d time.Duration) error {
	deadline := time.Now().Add(d)
	for !c.healthy() {
		for i := range c.names {
			if _, running := c.node.PID(c.proc(i)); !running {
				return fmt.Errorf("member %s exited (see its log)", c.names[i])
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd cluster not healthy after %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func (c *cluster) proc(i int) string { return "etcd-" + c.names[i] }

func (c *cluster) start(i int) {
	c.t.Helper()
	if err := c.node.StartProcess(c.proc(i), exec.Command(etcdBin, c.args[i]...)); err != nil {
		c.t.Fatal(err)
	}
}

// kill stops member i with sig and waits until it is gone.
func (c *cluster) kill(i int, sig syscall.Signal) {
	c.t.Helper()
	if err := c.node.StopProcess(c.proc(i), sig); err != nil {
		c.t.Fatal(err)
	}
}

// signal sends sig (SIGSTOP, SIGCONT) to member i.
func (c *cluster) signal(i int, sig syscall.Signal) {
	c.t.Helper()
	pid, running := c.node.PID(c.proc(i))
	if !running {
		c.t.Fatalf("member %s is not running", c.names[i])
	}
	if err := syscall.Kill(pid, sig); err != nil {
		c.t.Fatal(err)
	}
}

// leader returns the index of the leader, waiting for an election.
func (c *cluster) leader(d time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		ep, err := storetest.Leader(ctx, c.clients)
		cancel()
		if err == nil {
			for i, u := range c.clients {
				if u == ep {
					return i
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no etcd leader after %s: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitHealthy waits until every member answers and all follow the same
// leader.
func (c *cluster) waitHealthy(d time.Duration) {
	c.t.Helper()
	waitFor(c.t, d, "etcd cluster healthy", c.healthy)
}

func (c *cluster) healthy() bool {
	var leaders []uint64
	for _, u := range c.clients {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, leader, err := storetest.MemberStatus(ctx, u)
		cancel()
		if err == nil && leader != 0 {
			leaders = append(leaders, leader)
		}
	}
	return len(leaders) == len(c.clients) && allSame(leaders)
}

func allSame(xs []uint64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// cutProxy forwards TCP connections to the first backend that accepts;
// Cut stops every byte in both directions (the connections stay open, as
// across a partition), Heal lets them flow again.
type cutProxy struct {
	ln       net.Listener
	backends []string
	mu       sync.Mutex
	cond     *sync.Cond
	cut      bool
	conns    map[net.Conn]bool
	closed   bool
}

func newCutProxy(t *testing.T, backends []string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, backends: backends, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *cutProxy) handle(c net.Conn) {
	var b net.Conn
	for _, addr := range p.backends {
		var err error
		if b, err = net.DialTimeout("tcp", strings.TrimPrefix(addr, "http://"), time.Second); err == nil {
			break
		}
	}
	if b == nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	p.conns[c], p.conns[b] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pipe(b, c); done <- struct{}{} }()
	go func() { p.pipe(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// pipe copies src to dst, holding every chunk while the proxy is cut.
func (p *cutProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.cut && !p.closed {
				p.cond.Wait()
			}
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}
