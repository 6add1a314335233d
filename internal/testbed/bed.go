package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PrefixBase starts the name of every namespace and directory a bed makes;
// four hex digits follow it (e.g. "wyv3fa2"). Sweep matches it.
const PrefixBase = "wyv"

// ErrClosed is returned when a bed is used after Close.
var ErrClosed = errors.New("testbed: bed closed")

// Binaries are the programs a bed needs for chassis and VMs. Captures also
// need tcpdump, and VM.DHCP busybox.
var Binaries = []string{"ip", "sysctl", "ethtool", "ping", "ovsdb-tool", "ovsdb-server",
	"ovs-vsctl", "ovs-vswitchd", "ovs-ofctl", "ovs-appctl"}

// Schema is where Debian's openvswitch-common installs the database schema.
const Schema = "/usr/share/openvswitch/vswitch.ovsschema"

// Underlay is the underlay network every chassis and host shares; chassis
// N gets address N.
var Underlay = netip.MustParsePrefix("192.0.2.0/24")

// Options configure a bed.
type Options struct {
	// Name labels the bed in logs (e.g. the test name); it is not part of
	// any interface or namespace name.
	Name string
	// Log receives what the bed does; nil discards.
	Log *slog.Logger
	// UnderlayMTU, when set, is the MTU of the underlay (veths, br0 and
	// br-phy), e.g. 9000 for a jumbo underlay carrying 1500-byte VM
	// frames; zero leaves 1500, for VM MTUs up to 1400 with Geneve.
	UnderlayMTU int
	// Timeout bounds each command the bed runs and each readiness wait
	// (br-int to appear, a daemon to answer); zero means 30 s.
	Timeout time.Duration
}

// Bed is one test bed: an underlay and the chassis, VMs and hosts on it.
// Its methods are safe for concurrent use.
type Bed struct {
	// Prefix starts every namespace name of the bed ("wyv" + 4 hex
	// digits); Dir is the bed's directory (os.TempDir()/Prefix), holding
	// one directory per chassis, VM and host.
	Prefix string
	Dir    string

	log      *slog.Logger
	timeout  time.Duration
	ulMTU    int
	underlay *Node

	closeMu sync.Mutex // held during Close, so concurrent Closes wait for the first
	mu      sync.Mutex
	closed  bool
	undos   []*undo
	names   map[string]bool
	nChassis,
	nPorts int
	outside *Host
	// external is set once ExternalBridge exists.
	external bool
}

// undo is one thing to tear down; it runs at most once.
type undo struct {
	what string
	once sync.Once
	fn   func() error
	err  error
}

func (u *undo) run() error {
	u.once.Do(func() {
		if err := u.fn(); err != nil {
			u.err = fmt.Errorf("%s: %w", u.what, err)
		}
	})
	return u.err
}

// Require reports a missing binary, a missing OVS schema or a non-root
// user, with a message saying what to install.
func Require() error {
	for _, b := range Binaries {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("testbed: %s not found (install openvswitch-switch, iproute2, iputils-ping, ethtool, procps; see scripts/deps.sh): %w", b, err)
		}
	}
	if _, err := os.Stat(Schema); err != nil {
		return fmt.Errorf("testbed: OVS schema missing (install openvswitch-common): %w", err)
	}
	if os.Geteuid() != 0 {
		return errors.New("testbed: needs root (network namespaces, veths)")
	}
	return nil
}

// New makes a bed: a unique prefix, its directory and the underlay
// namespace with bridge br0. Close removes all of it; on error New has
// already cleaned up.
func New(opts Options) (*Bed, error) {
	if err := Require(); err != nil {
		return nil, err
	}
	b := &Bed{log: opts.Log, timeout: opts.Timeout, ulMTU: opts.UnderlayMTU, names: map[string]bool{}}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.timeout <= 0 {
		b.timeout = 30 * time.Second
	}
	for i := 0; ; i++ {
		b.Prefix = PrefixBase + randHex(2)
		b.Dir = filepath.Join(os.TempDir(), b.Prefix)
		err := os.Mkdir(b.Dir, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i == 20 {
			return nil, fmt.Errorf("testbed: %w", err)
		}
	}
	b.log = b.log.With("bed", b.Prefix)
	if opts.Name != "" {
		b.log = b.log.With("name", opts.Name)
	}
	dir := b.Dir
	b.undos = append(b.undos, &undo{what: "remove " + dir, fn: func() error { return os.RemoveAll(dir) }})
	if err := writeProcRecord(filepath.Join(b.Dir, "owner"), os.Getpid()); err != nil {
		return nil, errors.Join(fmt.Errorf("testbed: %w", err), b.Close())
	}
	if err := b.makeUnderlay(); err != nil {
		return nil, errors.Join(fmt.Errorf("testbed: underlay: %w", err), b.Close())
	}
	b.log.Info("test bed up", "dir", b.Dir)
	return b, nil
}

// ForTest makes a bed for a test and closes it in t.Cleanup; a failing
// test first logs the tails of the bed's log files. It skips the test
// under -short and fails it when a binary is missing or it does not run as
// root.
func ForTest(t testing.TB) *Bed {
	t.Helper()
	return ForTestWith(t, Options{})
}

// ForTestWith is ForTest with options; an empty Name and a nil Log default
// to the test's name and log.
func ForTestWith(t testing.TB, opts Options) *Bed {
	t.Helper()
	if testing.Short() {
		t.Skip("testbed: real OVS test bed skipped under -short")
	}
	if opts.Name == "" {
		opts.Name = t.Name()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.LogTails(40))
		}
		if err := b.Close(); err != nil {
			t.Errorf("testbed: close: %v", err)
		}
	})
	return b
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Close tears down everything the bed made, newest first: processes (by
// pid), VMs, chassis daemons, namespaces (with their veths), directories.
// It is idempotent, safe after a partial failure and concurrently with
// other methods; later calls to the bed fail with ErrClosed.
func (b *Bed) Close() error {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	b.mu.Lock()
	b.closed = true
	undos := b.undos
	b.undos = nil
	b.mu.Unlock()
	var errs []error
	for i := len(undos) - 1; i >= 0; i-- {
		if err := undos[i].run(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(undos) > 0 {
		b.log.Info("test bed down", "errors", len(errs))
	}
	return errors.Join(errs...)
}

// OnClose registers fn to run when the bed closes, before what was made
// earlier is torn down (e.g. a demo's server or data directory). After
// Close it runs fn at once and returns ErrClosed with fn's error.
func (b *Bed) OnClose(what string, fn func() error) error {
	_, err := b.push(what, fn)
	return err
}

func (b *Bed) push(what string, fn func() error) (*undo, error) {
	u := &undo{what: what, fn: fn}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errors.Join(ErrClosed, u.run())
	}
	b.undos = append(b.undos, u)
	b.mu.Unlock()
	return u, nil
}

// CloseOnSignal closes the bed when the process gets SIGINT, SIGTERM or
// SIGHUP, then exits with 128+signal, so an interrupted demo or benchmark
// leaves nothing behind. The returned stop uninstalls the handler.
func (b *Bed) CloseOnSignal() (stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-c:
			b.log.Warn("signal: closing test bed", "signal", sig.String())
			if err := b.Close(); err != nil {
				b.log.Error("closing test bed", "err", err)
			}
			code := 1
			if s, ok := sig.(syscall.Signal); ok {
				code = 128 + int(s)
			}
			os.Exit(code)
		case <-done:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(c)
			close(done)
		})
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,11}$`)

// claim reserves a node name (chassis, VM and host names share one space:
// each gets a directory of that name in the bed directory).
func (b *Bed) claim(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("testbed: name %q: want 1-12 of [a-z0-9-]", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.names[name] {
		return fmt.Errorf("testbed: name %q already used", name)
	}
	b.names[name] = true
	return nil
}

// newNode makes a namespace "<prefix>-<kind>-<name>" (or "<prefix>-<kind>"
// when name is empty) and a directory, both removed by Close.
func (b *Bed) newNode(kind, name string) (*Node, error) {
	ns, dir := b.Prefix+"-"+kind, filepath.Join(b.Dir, kind)
	if name != "" {
		ns, dir = ns+"-"+name, filepath.Join(b.Dir, name)
	}
	n := &Node{Netns: ns, RunDir: dir, bed: b, procs: map[string]*process{}}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	if _, err := runCmd(b.timeout, nil, "ip", "netns", "add", ns); err != nil {
		return nil, err
	}
	u, err := b.push("namespace "+ns, n.teardown)
	if err != nil {
		return nil, err
	}
	n.undo = u
	if _, err := runCmd(b.timeout, nil, "ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
		return n, err
	}
	return n, nil
}

func (b *Bed) makeUnderlay() error {
	n, err := b.newNode("ul", "")
	if err != nil {
		return err
	}
	b.underlay = n
	for _, c := range [][]string{
		{"ip", "netns", "exec", n.Netns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ip", "-n", n.Netns, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0"},
		{"ip", "-n", n.Netns, "link", "set", "br0", "up"},
	} {
		if _, err := runCmd(b.timeout, nil, c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// UnderlayNode is the underlay namespace; its bridge is br0 (capture
// there to see every chassis' underlay traffic).
func (b *Bed) UnderlayNode() *Node { return b.underlay }

// CaptureUnderlay captures on the underlay bridge, which sees the traffic
// of every chassis and host.
func (b *Bed) CaptureUnderlay(filter ...string) (*Capture, error) {
	return b.underlay.Capture("br0", filter...)
}

// plugUnderlay makes a veth with end inner in namespace ns and the other
// end, named outer, in the underlay bridge. Both ends are up, without
// IPv6 and transmit checksum offload.
func (b *Bed) plugUnderlay(ns, inner, outer string) error {
	return b.plugBridge("br0", ns, inner, outer)
}

// plugBridge is plugUnderlay onto any Linux bridge of the underlay
// namespace (br0, or the external network's ExternalBridge).
func (b *Bed) plugBridge(bridge, ns, inner, outer string) error {
	ul := b.underlay.Netns
	steps := [][]string{
		{"ip", "link", "add", inner, "netns", ns, "type", "veth", "peer", "name", outer, "netns", ul},
		{"ip", "-n", ul, "link", "set", outer, "master", bridge, "up"},
		{"ip", "netns", "exec", ul, "ethtool", "-K", outer, "tx", "off"},
		{"ip", "netns", "exec", ns, "ethtool", "-K", inner, "tx", "off"},
	}
	if b.ulMTU != 0 {
		m := strconv.Itoa(b.ulMTU)
		steps = append(steps,
			[]string{"ip", "-n", ul, "link", "set", outer, "mtu", m},
			[]string{"ip", "-n", ul, "link", "set", bridge, "mtu", m},
			[]string{"ip", "-n", ns, "link", "set", inner, "mtu", m})
	}
	for _, c := range steps {
		if _, err := runCmd(b.timeout, nil, c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// LogTails returns the last n lines of every log file in the bed
// directory, for a failing test's output.
func (b *Bed) LogTails(n int) string {
	var files []string
	_ = filepath.WalkDir(b.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".log") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	var sb strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&sb, "==> %s <==\n%s\n", f, strings.Join(lines, "\n"))
	}
	return sb.String()
}

// Outside is the bed's "outside world": a host on the underlay at
// 192.0.2.254/24 that also owns 203.0.113.1/32 (on lo, standing for the
// internet) and forwards IPv4. It is made on first use.
func (b *Bed) Outside() (*Host, error) {
	b.mu.Lock()
	h := b.outside
	b.mu.Unlock()
	if h != nil {
		return h, nil
	}
	h, err := b.AddHost("outside", netip.MustParsePrefix("192.0.2.254/24"))
	if err != nil {
		return nil, err
	}
	for _, c := range [][]string{
		{"ip", "-n", h.Netns, "addr", "add", "203.0.113.1/32", "dev", "lo"},
		{"ip", "netns", "exec", h.Netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
	} {
		if _, err := runCmd(b.timeout, nil, c[0], c[1:]...); err != nil {
			return nil, err
		}
	}
	b.mu.Lock()
	b.outside = h
	b.mu.Unlock()
	return h, nil
}

// AddHost makes a plain namespace on the underlay: eth0 with addr (in
// 192.0.2.0/24, or another documentation range routed by the test).
func (b *Bed) AddHost(name string, addr netip.Prefix) (*Host, error) {
	if err := b.claim(name); err != nil {
		return nil, err
	}
	n, err := b.newNode("h", name)
	if err != nil {
		return nil, fmt.Errorf("testbed: host %s: %w", name, err)
	}
	b.mu.Lock()
	b.nPorts++
	outer := "h" + strconv.Itoa(b.nPorts)
	b.mu.Unlock()
	h := &Host{Node: n, Name: name, Addr: addr}
	if err := b.plugUnderlay(n.Netns, "eth0", outer); err != nil {
		return nil, fmt.Errorf("testbed: host %s: %w", name, err)
	}
	if _, err := runCmd(b.timeout, nil, "ip", "-n", n.Netns, "link", "set", "eth0", "up"); err != nil {
		return nil, fmt.Errorf("testbed: host %s: %w", name, err)
	}
	if addr.IsValid() {
		if err := h.SetAddr(addr.String()); err != nil {
			return nil, fmt.Errorf("testbed: host %s: %w", name, err)
		}
	}
	b.log.Info("host up", "host", name, "netns", n.Netns, "addr", addr)
	return h, nil
}

func randHex(n int) string {
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		panic(err)
	}
	return hex.EncodeToString(p)
}
