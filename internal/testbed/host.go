package testbed

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host is a namespace with one interface, eth0: a VM, or a host on the
// underlay. Its methods act on eth0.
type Host struct {
	*Node
	// Name is the name given at creation.
	Name string
	// Addr is the address given at creation (hosts); VMs start without
	// one, use SetAddr or DHCP.
	Addr netip.Prefix
}

// SetAddr adds an address ("10.0.0.5/24") to eth0.
func (h *Host) SetAddr(cidr string) error {
	_, err := runCmd(h.bed.timeout, nil, "ip", "-n", h.Netns, "addr", "add", cidr, "dev", "eth0")
	return err
}

// SetGateway sets the default route via gw on eth0.
func (h *Host) SetGateway(gw string) error {
	_, err := runCmd(h.bed.timeout, nil, "ip", "-n", h.Netns, "route", "replace", "default", "via", gw, "dev", "eth0")
	return err
}

// SetStaticARP sets a permanent neighbour entry on eth0, so no ARP is
// needed to reach ip.
func (h *Host) SetStaticARP(ip, mac string) error {
	_, err := runCmd(h.bed.timeout, nil, "ip", "-n", h.Netns, "neigh", "replace", ip, "lladdr", mac, "dev", "eth0", "nud", "permanent")
	return err
}

// DisableIPv6 turns IPv6 off on eth0 (no MLD, DAD or router
// solicitations), for tests that count every packet.
func (h *Host) DisableIPv6() error {
	_, err := h.Exec("sysctl", "-q", "-w", "net.ipv6.conf.eth0.disable_ipv6=1")
	return err
}

var pingRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)

// Ping pings dst from the namespace, one probe every 200 ms, until count
// replies came back or timeout passed (ping -c count -w timeout). It
// returns the replies received; the error is nil only when all count came
// back.
func (h *Host) Ping(dst string, count int, timeout time.Duration) (received int, err error) {
	if count <= 0 {
		count = 1
	}
	secs := int(math.Ceil(timeout.Seconds()))
	if secs < 1 {
		secs = 1
	}
	out, runErr := runCmd(timeout+h.bed.timeout, nil, "ip", "netns", "exec", h.Netns,
		"ping", "-n", "-q", "-i", "0.2", "-c", strconv.Itoa(count), "-w", strconv.Itoa(secs), dst)
	m := pingRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("ping %s from %s: %w: %s", dst, h.Name, runErr, out)
	}
	received, _ = strconv.Atoi(m[2])
	if received < count {
		return received, fmt.Errorf("ping %s from %s: %d/%d replies within %s", dst, h.Name, received, count, timeout)
	}
	return received, nil
}

// Lease is what a DHCP client obtained and applied.
type Lease struct {
	Addr   netip.Prefix
	Router netip.Addr // zero when none was offered
	DNS    []netip.Addr
	MTU    int // 0 when none was offered
	Domain string
	// StaticRoutes are classless static routes (option 121) as
	// "dest/len gateway" pairs.
	StaticRoutes []string
	// Env is everything the client handed its script (busybox udhcpc
	// variables: ip, mask, router, dns, mtu, serverid, lease, ...).
	Env map[string]string
}

//go:embed udhcpc.sh
var udhcpcScript string

// DHCP runs a stock DHCP client on eth0 (busybox udhcpc) until it obtains
// a lease or ctx ends. Its script applies the lease like a distribution's
// default script: address, MTU, default route (or classless static routes
// when offered), resolv.conf in RunDir. The client's log is RunDir/dhcp.log.
func (h *Host) DHCP(ctx context.Context) (*Lease, error) {
	if _, err := exec.LookPath("busybox"); err != nil {
		return nil, fmt.Errorf("testbed: DHCP needs busybox (udhcpc): %w", err)
	}
	script := filepath.Join(h.RunDir, "udhcpc.sh")
	envFile := filepath.Join(h.RunDir, "dhcp.env")
	body := strings.NewReplacer("@ENV@", envFile, "@DIR@", h.RunDir).Replace(udhcpcScript)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	_ = os.Remove(envFile)
	cmd := h.Command("busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "1000", "-T", "1",
		"-s", script, "-O", "mtu", "-O", "staticroutes", "-O", "domain", "-x", "hostname:"+h.Name)
	if err := h.StartProcess("dhcp", cmd); err != nil {
		return nil, err
	}
	h.mu.Lock()
	p := h.procs["dhcp"]
	h.mu.Unlock()
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.stop(syscall.SIGTERM)
		return nil, fmt.Errorf("testbed: DHCP on %s: %w", h.Name, ctx.Err())
	}
	if st := p.cmd.ProcessState; st != nil && !st.Success() {
		return nil, fmt.Errorf("testbed: DHCP on %s: udhcpc %s", h.Name, st)
	}
	return readLease(envFile)
}

func readLease(path string) (*Lease, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("testbed: no lease: %w", err)
	}
	defer f.Close()
	l := &Lease{Env: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			l.Env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("testbed: lease: %w", err)
	}
	e := l.Env
	ip, err := netip.ParseAddr(e["ip"])
	if err != nil {
		return nil, fmt.Errorf("testbed: lease has no address: %w", err)
	}
	bits, err := strconv.Atoi(e["mask"])
	if err != nil {
		return nil, fmt.Errorf("testbed: lease mask %q: %w", e["mask"], err)
	}
	l.Addr = netip.PrefixFrom(ip, bits)
	if r := strings.Fields(e["router"]); len(r) > 0 {
		if l.Router, err = netip.ParseAddr(r[0]); err != nil {
			return nil, fmt.Errorf("testbed: lease router: %w", err)
		}
	}
	for _, d := range strings.Fields(e["dns"]) {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, fmt.Errorf("testbed: lease dns: %w", err)
		}
		l.DNS = append(l.DNS, a)
	}
	if m := e["mtu"]; m != "" {
		if l.MTU, err = strconv.Atoi(m); err != nil {
			return nil, fmt.Errorf("testbed: lease mtu: %w", err)
		}
	}
	l.Domain = e["domain"]
	sr := strings.Fields(e["staticroutes"])
	for i := 0; i+1 < len(sr); i += 2 {
		l.StaticRoutes = append(l.StaticRoutes, sr[i]+" "+sr[i+1])
	}
	if len(sr)%2 != 0 {
		return nil, errors.New("testbed: lease staticroutes: odd field count")
	}
	return l, nil
}
