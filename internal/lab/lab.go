// Package lab runs Wyvern for real on a testbed: a `wyvern server` on an
// embedded etcd, a `wyvern agent` per chassis, and a small Neutron client to
// drive them. End-to-end tests, the demo and the benchmarks share it.
package lab

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
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

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pki"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// Lab is a running Wyvern on a test bed.
type Lab struct {
	Bed     *testbed.Bed
	Bin     string // the wyvern binary
	APIURL  string
	EtcdURL string // comma-separated when several (Options.EtcdEndpoints)
	Store   *store.Store
	dir     string
	agents  map[string]*testbed.Chassis
	// agentArgs are each chassis' own extra agent flags (StartAgentWith),
	// reused by a restart.
	agentArgs map[string][]string
	opts      Options
	// serverArgs start the server; a restart reuses them.
	serverArgs []string
	client     *http.Client
}

// Options tunes a lab.
type Options struct {
	// ServerArgs are extra `wyvern server` flags.
	ServerArgs []string
	// AgentBin, when set, is the agent binary (cmd/wyvern-agent, which
	// takes the agent's flags without a subcommand); else the agents run
	// `wyvern agent`.
	AgentBin string
	// AgentArgs are extra `wyvern agent` flags; "{chassis}" in them is
	// replaced by the chassis name (e.g. a profile file per agent).
	AgentArgs []string
	// TLS deploys as in production: a CA made with package pki, the API
	// over HTTPS, the embedded etcd's client and peer listeners over TLS
	// refusing clients without a certificate, and each agent dialing etcd
	// with its own chassis certificate.
	TLS bool
	// EtcdAuth (with TLS) turns on etcd's users and roles (wyvern server
	// --etcd-auth): the lab's store connects with the server's
	// certificate (etcd's admin), and each chassis is enrolled, as
	// `wyvernctl chassis add` does, before its agent starts.
	EtcdAuth bool
	// EtcdEndpoints, when set, run the server on that external etcd
	// (--etcd-endpoints, e.g. a cluster of several members) instead of an
	// embedded one; agents and the lab's store dial them all. Not with TLS.
	EtcdEndpoints []string
}

// Build compiles ./cmd/wyvern from the module at root into dir.
func Build(root, dir string) (string, error) {
	return BuildCommand(root, dir, "wyvern")
}

// BuildCommand builds ./cmd/<name> of the module at root into dir and
// returns the binary's path.
func BuildCommand(root, dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lab: build %s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// Binaries are the programs an end-to-end test package runs.
type Binaries struct {
	Wyvern string // cmd/wyvern: server and gateway
	Agent  string // cmd/wyvern-agent, as hypervisors run it
}

// BuildBinaries is an end-to-end package's set-up: it sweeps the
// namespaces and switches that dead test processes left, then builds the
// binaries of the module above the working directory into a fresh
// temporary directory named after prefix. cleanup removes them.
func BuildBinaries(prefix string) (b Binaries, cleanup func(), err error) {
	if _, err := testbed.Sweep(nil); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return b, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	root, err := ModuleRoot()
	if err == nil {
		b.Wyvern, err = Build(root, dir)
	}
	if err == nil {
		b.Agent, err = BuildCommand(root, dir, "wyvern-agent")
	}
	if err != nil {
		cleanup()
		return b, nil, err
	}
	return b, cleanup, nil
}

// ModuleRoot finds the directory of go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("lab: go.mod not found")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	ps, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// freePorts picks n distinct free ports, holding each open until all are
// picked: the kernel may hand a port just closed out again.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// Start runs a server (noauth, embedded etcd) whose processes the bed owns.
func Start(bed *testbed.Bed, bin string, opts Options) (*Lab, error) {
	dir, err := os.MkdirTemp("", "wyvern-lab-")
	if err != nil {
		return nil, err
	}
	if err := bed.OnClose("lab dir", func() error { return os.RemoveAll(dir) }); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
	}
	l := &Lab{Bed: bed, Bin: bin, dir: dir, opts: opts, agents: map[string]*testbed.Chassis{}, agentArgs: map[string][]string{},
		APIURL:  fmt.Sprintf("%s://127.0.0.1:%d", scheme, ports[0]),
		EtcdURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, ports[1]),
		client:  &http.Client{Timeout: 30 * time.Second}}
	l.serverArgs = []string{"server", "--noauth", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--etcd-client-url", l.EtcdURL,
		"--etcd-peer-url", fmt.Sprintf("%s://127.0.0.1:%d", scheme, ports[2])}
	endpoints := []string{l.EtcdURL}
	if len(opts.EtcdEndpoints) > 0 {
		if opts.TLS {
			return nil, errors.New("lab: EtcdEndpoints with TLS is not supported")
		}
		endpoints = opts.EtcdEndpoints
		l.EtcdURL = strings.Join(endpoints, ",")
		l.serverArgs = []string{"server", "--noauth", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"--etcd-endpoints", l.EtcdURL}
	}
	if opts.EtcdAuth && !opts.TLS {
		return nil, errors.New("lab: EtcdAuth needs TLS (users are the certificates' common names)")
	}
	var storeTLS *tls.Config
	if opts.TLS {
		if storeTLS, err = l.setUpTLS(); err != nil {
			return nil, err
		}
	}
	l.serverArgs = append(l.serverArgs, opts.ServerArgs...)
	if err := l.startServer(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l.Store, err = store.DialTLS(ctx, endpoints, storeTLS)
	if err != nil {
		return nil, err
	}
	_ = bed.OnClose("lab store", func() error { return l.Store.Close() })
	return l, nil
}

// PKIDir is the directory of the lab's CA and certificates (Options.TLS).
func (l *Lab) PKIDir() string { return filepath.Join(l.dir, "pki") }

// setUpTLS makes the lab's CA, adds the server's TLS flags and returns the
// test's own etcd client configuration (certificate "lab").
func (l *Lab) setUpTLS() (*tls.Config, error) {
	made, err := pki.Generate(l.PKIDir(), pki.Spec{Hosts: []string{"127.0.0.1", "localhost"}, Clients: []string{"lab"}})
	if err != nil {
		return nil, err
	}
	srv := made.Server
	l.serverArgs = append(l.serverArgs, "--cert-file", srv.CertFile, "--key-file", srv.KeyFile,
		"--etcd-cert-file", srv.CertFile, "--etcd-key-file", srv.KeyFile, "--etcd-trusted-ca-file", made.CA, "--etcd-client-cert-auth",
		"--etcd-peer-cert-file", srv.CertFile, "--etcd-peer-key-file", srv.KeyFile, "--etcd-peer-trusted-ca-file", made.CA, "--etcd-peer-client-cert-auth")
	api, err := pki.Files{CAFile: made.CA}.Client()
	if err != nil {
		return nil, err
	}
	l.client.Transport = &http.Transport{TLSClientConfig: api}
	if l.opts.EtcdAuth {
		l.serverArgs = append(l.serverArgs, "--etcd-auth")
		return made.Server.Client()
	}
	return made.Clients["lab"].Client()
}

// EtcdClientFlags are the etcd TLS flags of a process named name (a chassis
// or gateway), issuing its certificate on first use; none without TLS.
func (l *Lab) EtcdClientFlags(name string) ([]string, error) {
	if !l.opts.TLS {
		return nil, nil
	}
	dir := l.PKIDir()
	f := pki.Files{CertFile: filepath.Join(dir, name+".pem"), KeyFile: filepath.Join(dir, name+"-key.pem"), CAFile: filepath.Join(dir, "ca.pem")}
	if _, err := os.Stat(f.CertFile); err != nil {
		if f, err = pki.AddClient(dir, name, 0); err != nil {
			return nil, err
		}
	}
	return []string{"--etcd-cacert", f.CAFile, "--etcd-cert", f.CertFile, "--etcd-key", f.KeyFile}, nil
}

func (l *Lab) startServer() error {
	if err := l.Bed.UnderlayNode().StartProcess("wyvern-server", exec.Command(l.Bin, l.serverArgs...)); err != nil {
		return err
	}
	return l.waitAPI(30 * time.Second)
}

// StartExtraServer starts one more `wyvern server` on the lab's etcd (the
// same flags, its own API port): several stateless servers on one store,
// as deployed behind a load balancer. Only with Options.EtcdEndpoints (an
// embedded etcd belongs to the first server). It returns the API URL.
func (l *Lab) StartExtraServer(name string) (string, error) {
	if len(l.opts.EtcdEndpoints) == 0 {
		return "", errors.New("lab: an extra server needs Options.EtcdEndpoints")
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	args := append([]string(nil), l.serverArgs...)
	for i := range args {
		if args[i] == "--listen" && i+1 < len(args) {
			args[i+1] = fmt.Sprintf("127.0.0.1:%d", port)
		}
	}
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := l.Bed.UnderlayNode().StartProcess(name, exec.Command(l.Bin, args...)); err != nil {
		return "", err
	}
	return u, l.waitURL(u, 30*time.Second)
}

// StopServer kills the server (and its embedded etcd) with sig.
func (l *Lab) StopServer(sig syscall.Signal) error {
	return l.Bed.UnderlayNode().StopProcess("wyvern-server", sig)
}

// StartServer starts the server again on the same data directory.
func (l *Lab) StartServer() error { return l.startServer() }

func (l *Lab) waitAPI(d time.Duration) error { return l.waitURL(l.APIURL, d) }

func (l *Lab) waitURL(base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := l.client.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: server not ready after %s: %v\n%s", d, err, l.Bed.LogTails(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AddChassis creates a chassis and starts its agent; it returns once the
// agent has made br-int and registered its chassis.
func (l *Lab) AddChassis(name string) (*testbed.Chassis, error) {
	return l.AddChassisWith(name, nil, nil)
}

// AddChassisWith is AddChassis with a set-up step between the chassis'
// creation and its agent's start (e.g. making br-ex), and extra agent
// flags for this chassis only (e.g. --bridge-mappings, --gateway).
func (l *Lab) AddChassisWith(name string, setup func(*testbed.Chassis) error, args []string) (*testbed.Chassis, error) {
	ch, err := l.Bed.AddChassis(name)
	if err != nil {
		return nil, err
	}
	if setup != nil {
		if err := setup(ch); err != nil {
			return nil, err
		}
	}
	if err := l.StartAgentWith(ch, args...); err != nil {
		return nil, err
	}
	return ch, nil
}

// StartAgent (re)starts the agent of a chassis, with the flags it was last
// started with, and waits until it is registered.
func (l *Lab) StartAgent(ch *testbed.Chassis) error {
	return l.StartAgentWith(ch, l.agentArgs[ch.Name]...)
}

// StartAgentWith (re)starts the agent of a chassis with extra flags (after
// Options.AgentArgs) and waits until it is registered.
func (l *Lab) StartAgentWith(ch *testbed.Chassis, extra ...string) error {
	l.agentArgs[ch.Name] = extra
	if err := l.StartAgentProcess(ch); err != nil {
		return err
	}
	if err := ch.WaitBridge("br-int"); err != nil {
		return err
	}
	return l.WaitChassis(ch.Name, true, 20*time.Second)
}

// StartAgentProcess starts the agent of a chassis with the flags it was
// last started with, then once flags (for this start only: a later flag
// overrides an earlier one), without waiting for it (a test that kills it
// while it starts up).
func (l *Lab) StartAgentProcess(ch *testbed.Chassis, once ...string) error {
	extra := append(append([]string(nil), l.agentArgs[ch.Name]...), once...)
	bin, args := l.Bin, []string{"agent"}
	if l.opts.AgentBin != "" {
		bin, args = l.opts.AgentBin, nil
	}
	args = append(args, "--etcd-endpoints", l.EtcdURL, "--chassis", ch.Name,
		"--tunnel-ip", ch.TunnelIP.String(), "--tunnel-mac", ch.TunnelMAC,
		"--ovsdb", ch.DBSock(), "--ovs-rundir", ch.RunDir, "--datapath-type", "netdev",
		"--log-level", "debug")
	tlsArgs, err := l.EtcdClientFlags(ch.Name)
	if err != nil {
		return err
	}
	args = append(args, tlsArgs...)
	if l.opts.EtcdAuth {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := l.Store.Enroll(ctx, ch.Name, store.RoleChassis, "")
		cancel()
		if err != nil {
			return fmt.Errorf("lab: enroll %s: %w", ch.Name, err)
		}
	}
	for _, a := range l.opts.AgentArgs {
		args = append(args, strings.ReplaceAll(a, "{chassis}", ch.Name))
	}
	args = append(args, extra...)
	if err := ch.StartProcess("wyvern-agent", exec.Command(bin, args...)); err != nil {
		return err
	}
	l.agents[ch.Name] = ch
	return nil
}

// KillAgent kills a chassis' agent with SIGKILL.
func (l *Lab) KillAgent(ch *testbed.Chassis) error {
	return ch.StopProcess("wyvern-agent", syscall.SIGKILL)
}

// WaitChassis waits until the chassis is (or is no longer) registered.
func (l *Lab) WaitChassis(name string, up bool, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		_, err := l.Store.Get(context.Background(), store.AliveKey(name), nil)
		if (err == nil) == up {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: chassis %s up=%v not reached after %s\n%s", name, up, d, l.Bed.LogTails(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// APIError is a non-2xx answer of the API.
type APIError struct {
	Status int
	Body   string
}

func (e *APIError) Error() string { return fmt.Sprintf("API %d: %s", e.Status, e.Body) }

// Do calls the Neutron API as project (noauth: X-Project-Id) and decodes
// the answer into out when non-nil.
func (l *Lab) Do(method, path, project string, body, out any) error {
	return l.DoAt(l.APIURL, method, path, project, body, out)
}

// DoAt is Do against the server at base (StartExtraServer).
func (l *Lab) DoAt(base, method, path, project string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if project != "" {
		req.Header.Set("X-Project-Id", project)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &APIError{Status: resp.StatusCode, Body: string(raw)}
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// NetworkSpec describes a network with one IPv4 subnet.
type NetworkSpec struct {
	Project, Name, Type, CIDR string
	PortSecurity              *bool
}

// CreateNetwork creates a network and its subnet.
func (l *Lab) CreateNetwork(s NetworkSpec) (model.Network, model.Subnet, error) {
	var n struct{ Network model.Network }
	body := map[string]any{"name": s.Name}
	if s.Type != "" {
		body["provider:network_type"] = s.Type
	}
	if s.PortSecurity != nil {
		body["port_security_enabled"] = *s.PortSecurity
	}
	if err := l.Do("POST", "/v2.0/networks", s.Project, map[string]any{"network": body}, &n); err != nil {
		return model.Network{}, model.Subnet{}, err
	}
	var sub struct{ Subnet model.Subnet }
	err := l.Do("POST", "/v2.0/subnets", s.Project, map[string]any{"subnet": map[string]any{
		"network_id": n.Network.ID, "cidr": s.CIDR, "ip_version": 4, "name": s.Name + "-subnet",
		"dns_nameservers": []string{"198.51.100.53"}}}, &sub)
	return n.Network, sub.Subnet, err
}

// CreatePort creates a port on a network; extra attributes are merged in.
func (l *Lab) CreatePort(project, netID string, extra map[string]any) (model.Port, error) {
	body := map[string]any{"network_id": netID}
	for k, v := range extra {
		body[k] = v
	}
	var p struct{ Port model.Port }
	err := l.Do("POST", "/v2.0/ports", project, map[string]any{"port": body}, &p)
	return p.Port, err
}

// Port reads a port.
func (l *Lab) Port(id string) (model.Port, error) {
	var p struct{ Port model.Port }
	err := l.Do("GET", "/v2.0/ports/"+id, "", nil, &p)
	return p.Port, err
}

// WaitPort waits until cond holds for the port.
func (l *Lab) WaitPort(id string, d time.Duration, cond func(model.Port) bool) (model.Port, error) {
	deadline := time.Now().Add(d)
	for {
		p, err := l.Port(id)
		if err == nil && cond(p) {
			return p, nil
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("lab: port %s: condition not met after %s (last: status=%s host=%s err=%v)", id, d, p.Status, p.HostID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Boot creates a port and plugs a VM for it on ch.
func (l *Lab) Boot(ch *testbed.Chassis, name, project, netID string, extra map[string]any) (*testbed.VM, model.Port, error) {
	p, err := l.CreatePort(project, netID, extra)
	if err != nil {
		return nil, p, err
	}
	vm, err := ch.AddVM(name, p.MACAddress, p.ID, 1400)
	return vm, p, err
}

// FixedIP is the first fixed address of a port.
func FixedIP(p model.Port) string {
	if len(p.FixedIPs) == 0 {
		return ""
	}
	return p.FixedIPs[0].IPAddress
}

// Itoa is strconv.Itoa, for callers building names.
func Itoa(i int) string { return strconv.Itoa(i) }
