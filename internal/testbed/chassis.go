package testbed

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Chassis is a simulated hypervisor: a namespace running its own
// ovsdb-server and ovs-vswitchd (userspace datapath) from RunDir, with
// br-phy holding the underlay veth ul0 and the tunnel address. The bed
// makes no br-int and no tunnel port: the agent does.
type Chassis struct {
	*Node
	// Name is the name given to AddChassis.
	Name string
	// Index N numbers chassis from 1; the tunnel address is 192.0.2.N.
	Index int
	// TunnelIP is br-phy's underlay address; TunnelMAC br-phy's MAC, the
	// one peers put in tnl/neigh/set.
	TunnelIP  netip.Addr
	TunnelMAC string

	vswitchdPID int
	daemons     *undo
}

// Close stops the chassis' processes and OVS daemons and deletes its
// namespace now rather than at Bed.Close. Close its VMs first.
func (ch *Chassis) Close() error {
	n := ch.Node
	n.mu.Lock()
	procs := make([]*process, 0, len(n.procs))
	for _, p := range n.procs {
		procs = append(procs, p)
	}
	n.mu.Unlock()
	var errs []error
	for _, p := range procs {
		if p.undo != nil {
			errs = append(errs, p.undo.run())
		}
	}
	if ch.daemons != nil {
		errs = append(errs, ch.daemons.run())
	}
	return errors.Join(append(errs, n.teardownUndo())...)
}

// UnderlayIface is the name of a chassis' underlay veth, a port of br-phy.
const UnderlayIface = "ul0"

// AddChassis makes a chassis and waits until its vswitchd answers and
// routes the underlay through br-phy.
func (b *Bed) AddChassis(name string) (*Chassis, error) {
	if err := b.claim(name); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.nChassis++
	idx := b.nChassis
	b.mu.Unlock()
	if idx > 250 {
		return nil, errors.New("testbed: at most 250 chassis")
	}
	ch, err := b.addChassis(name, idx)
	if err != nil {
		return nil, fmt.Errorf("testbed: chassis %s: %w", name, err)
	}
	b.log.Info("chassis up", "chassis", name, "netns", ch.Netns, "tunnel_ip", ch.TunnelIP, "dir", ch.RunDir)
	return ch, nil
}

func (b *Bed) addChassis(name string, idx int) (*Chassis, error) {
	n, err := b.newNode("c", name)
	if err != nil {
		return nil, err
	}
	ch := &Chassis{
		Node:      n,
		Name:      name,
		Index:     idx,
		TunnelIP:  netip.AddrFrom4([4]byte{192, 0, 2, byte(idx)}),
		TunnelMAC: fmt.Sprintf("02:00:c0:00:02:%02x", idx),
	}
	if ch.daemons, err = b.push("OVS daemons of "+name, ch.stopDaemons); err != nil {
		return nil, err
	}
	d := n.RunDir
	env := []string{"ip", "netns", "exec", n.Netns, "env", "OVS_RUNDIR=" + d, "OVS_LOGDIR=" + d, "OVS_DBDIR=" + d}
	for _, s := range [][]string{
		// No IPv6 on chassis devices: nothing but tunnels on the underlay.
		{"ip", "netns", "exec", n.Netns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ovsdb-tool", "create", filepath.Join(d, "conf.db"), Schema},
		append(env, "ovsdb-server", filepath.Join(d, "conf.db"),
			"--remote=punix:"+filepath.Join(d, "db.sock"),
			"--pidfile="+filepath.Join(d, "ovsdb-server.pid"), "--detach",
			"--log-file="+filepath.Join(d, "ovsdb-server.log")),
	} {
		if _, err := runCmd(b.timeout, nil, s[0], s[1:]...); err != nil {
			return ch, err
		}
	}
	if err := recordDaemon(d, "ovsdb-server"); err != nil {
		return ch, err
	}
	if _, err := ch.Vsctl("--no-wait", "init"); err != nil {
		return ch, err
	}
	if err := ch.startVswitchd(); err != nil {
		return ch, err
	}

	// The underlay, with recipe.md's pitfalls: the kernel must not answer
	// ARP on ul0 (OVS would learn the veth's MAC as tunnel neighbour).
	if err := b.plugUnderlay(n.Netns, UnderlayIface, "c"+strconv.Itoa(idx)); err != nil {
		return ch, err
	}
	for _, s := range [][]string{
		{"ip", "-n", n.Netns, "link", "set", UnderlayIface, "arp", "off", "up"},
		{"ip", "netns", "exec", n.Netns, "sysctl", "-q", "-w",
			"net.ipv4.conf." + UnderlayIface + ".arp_ignore=8", "net.ipv6.conf." + UnderlayIface + ".disable_ipv6=1"},
	} {
		if _, err := runCmd(b.timeout, nil, s[0], s[1:]...); err != nil {
			return ch, err
		}
	}
	args := []string{"add-br", "br-phy", "--", "set", "Bridge", "br-phy", "datapath_type=netdev",
		"other_config:hwaddr=" + ch.TunnelMAC, "--", "add-port", "br-phy", UnderlayIface}
	if b.ulMTU != 0 {
		args = append(args, "--", "set", "Interface", "br-phy", "mtu_request="+strconv.Itoa(b.ulMTU))
	}
	if _, err := ch.Vsctl(args...); err != nil {
		return ch, err
	}
	if err := ch.configureBrPhy(); err != nil {
		return ch, err
	}
	return ch, nil
}

// startVswitchd starts ovs-vswitchd in the chassis namespace and waits
// for it to answer.
func (ch *Chassis) startVswitchd() error {
	d := ch.RunDir
	if _, err := runCmd(ch.bed.timeout, nil, "ip", "netns", "exec", ch.Netns, "env",
		"OVS_RUNDIR="+d, "OVS_LOGDIR="+d, "OVS_DBDIR="+d,
		"ovs-vswitchd", "unix:"+filepath.Join(d, "db.sock"),
		"--pidfile="+filepath.Join(d, "ovs-vswitchd.pid"), "--detach",
		"--log-file="+filepath.Join(d, "ovs-vswitchd.log")); err != nil {
		return err
	}
	if err := recordDaemon(d, "ovs-vswitchd"); err != nil {
		return err
	}
	pid, _, err := readPIDFile(filepath.Join(d, "ovs-vswitchd.pid"))
	if err != nil {
		return err
	}
	ch.mu.Lock()
	ch.vswitchdPID = pid
	ch.mu.Unlock()
	return poll(ch.bed.timeout, "ovs-vswitchd to answer", func() (bool, error) {
		_, err := ch.Appctl("version")
		return err == nil, err
	})
}

// configureBrPhy gives br-phy (a tap device vswitchd makes) the tunnel
// address and waits until vswitchd routes the underlay through it.
func (ch *Chassis) configureBrPhy() error {
	b := ch.bed
	if err := poll(b.timeout, "br-phy device", func() (bool, error) {
		_, err := runCmd(b.timeout, nil, "ip", "-n", ch.Netns, "link", "show", "br-phy")
		return err == nil, err
	}); err != nil {
		return err
	}
	for _, s := range [][]string{
		{"ip", "-n", ch.Netns, "addr", "replace", ch.TunnelIP.String() + "/24", "dev", "br-phy"},
		{"ip", "-n", ch.Netns, "link", "set", "br-phy", "up"},
	} {
		if _, err := runCmd(b.timeout, nil, s[0], s[1:]...); err != nil {
			return err
		}
	}
	// vswitchd learns the underlay route from the kernel; tunnels need it.
	return poll(b.timeout, "the underlay route in ovs/route/show", func() (bool, error) {
		out, err := ch.Appctl("ovs/route/show")
		return err == nil && strings.Contains(out, Underlay.String()+" dev br-phy"), err
	})
}

// RestartVswitchd stops ovs-vswitchd with sig (SIGKILL for a crash,
// SIGTERM for a clean stop), starts it again on the same database and
// waits until br-phy carries the tunnel address again. Flows, static
// tunnel neighbours and OpenFlow connections are lost, as in production:
// the agent must restore them. CtlSock changes with the new pid.
func (ch *Chassis) RestartVswitchd(sig syscall.Signal) error {
	pid, start, err := readPIDFile(filepath.Join(ch.RunDir, "ovs-vswitchd.proc"))
	if err == nil {
		err = killPID(pid, start, sig, 5*time.Second)
	}
	if err == nil {
		err = ch.startVswitchd()
	}
	if err == nil {
		err = ch.configureBrPhy()
	}
	if err != nil {
		return fmt.Errorf("testbed: restart vswitchd on %s: %w", ch.Name, err)
	}
	ch.bed.log.Info("ovs-vswitchd restarted", "chassis", ch.Name, "pid", ch.VswitchdPID())
	return nil
}

// recordDaemon turns a --detach daemon's pid file into our process record
// (pid and start time), which stopDaemons and Sweep trust.
func recordDaemon(dir, name string) error {
	pid, _, err := readPIDFile(filepath.Join(dir, name+".pid"))
	if err != nil {
		return err
	}
	return writeProcRecord(filepath.Join(dir, name+".proc"), pid)
}

// stopDaemons stops ovs-vswitchd, then ovsdb-server.
func (ch *Chassis) stopDaemons() error {
	var errs []error
	for _, name := range []string{"ovs-vswitchd", "ovsdb-server"} {
		rec := filepath.Join(ch.RunDir, name+".proc")
		pid, start, err := readPIDFile(rec)
		if err != nil {
			continue // never started
		}
		if err := killPID(pid, start, syscall.SIGTERM, 5*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		_ = os.Remove(rec)
	}
	return errors.Join(errs...)
}

// DBSock is the OVSDB endpoint of the chassis ("unix:<RunDir>/db.sock").
func (ch *Chassis) DBSock() string { return "unix:" + filepath.Join(ch.RunDir, "db.sock") }

// MgmtSock is the path of a bridge's OpenFlow management socket
// (<RunDir>/<bridge>.mgmt); ovs-ofctl takes "unix:" + it (see Mgmt).
func (ch *Chassis) MgmtSock(bridge string) string { return filepath.Join(ch.RunDir, bridge+".mgmt") }

// Mgmt is a bridge's management socket as ovs-ofctl takes it.
func (ch *Chassis) Mgmt(bridge string) string { return "unix:" + ch.MgmtSock(bridge) }

// CtlSock is ovs-vswitchd's control socket (ovs-appctl -t).
func (ch *Chassis) CtlSock() string {
	return filepath.Join(ch.RunDir, fmt.Sprintf("ovs-vswitchd.%d.ctl", ch.VswitchdPID()))
}

// VswitchdPID is the pid of the chassis' ovs-vswitchd.
func (ch *Chassis) VswitchdPID() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.vswitchdPID
}

// Vsctl runs ovs-vsctl against the chassis' database.
func (ch *Chassis) Vsctl(args ...string) (string, error) {
	return runCmd(ch.bed.timeout, nil, "ovs-vsctl",
		append([]string{"--db=" + ch.DBSock(), "--timeout=" + strconv.Itoa(int(ch.bed.timeout.Seconds()))}, args...)...)
}

// Ofctl runs ovs-ofctl -O OpenFlow13 with args (name the bridge with
// Mgmt).
func (ch *Chassis) Ofctl(args ...string) (string, error) {
	return runCmd(ch.bed.timeout, nil, "ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...)
}

// AddFlows adds flows (ovs-ofctl text, one per element) to a bridge.
func (ch *Chassis) AddFlows(bridge string, flows ...string) error {
	_, err := runCmd(ch.bed.timeout, strings.NewReader(strings.Join(flows, "\n")+"\n"),
		"ovs-ofctl", "-O", "OpenFlow13", "add-flows", ch.Mgmt(bridge), "-")
	return err
}

// Appctl runs ovs-appctl against the chassis' ovs-vswitchd.
func (ch *Chassis) Appctl(args ...string) (string, error) {
	return runCmd(ch.bed.timeout, nil, "ovs-appctl", append([]string{"-t", ch.CtlSock()}, args...)...)
}

// DumpFlows returns a bridge's flows, normalised for comparison: no
// statistics, no header, sorted.
func (ch *Chassis) DumpFlows(bridge string) ([]string, error) {
	out, err := ch.Ofctl("--no-stats", "--no-names", "dump-flows", ch.Mgmt(bridge))
	if err != nil {
		return nil, err
	}
	var flows []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "OFPST_FLOW") || strings.HasPrefix(l, "NXST_FLOW") {
			continue
		}
		flows = append(flows, l)
	}
	sort.Strings(flows)
	return flows, nil
}

// OFPort returns an interface's OpenFlow port number, waiting for
// vswitchd to assign one.
func (ch *Chassis) OFPort(iface string) (int, error) {
	var port int
	err := poll(ch.bed.timeout, "ofport of "+iface, func() (bool, error) {
		out, err := ch.Vsctl("get", "Interface", iface, "ofport")
		if err != nil {
			return false, err
		}
		port, err = strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			return false, fmt.Errorf("ofport %q: %w", out, err)
		}
		return port > 0, nil
	})
	return port, err
}

// SetTunnelNeighbor sets a static tunnel neighbour on br-phy (recipe.md
// pitfall 2): tunnelled packets to ip go to mac without ARP.
func (ch *Chassis) SetTunnelNeighbor(ip netip.Addr, mac string) error {
	_, err := ch.Appctl("tnl/neigh/set", "br-phy", ip.String(), mac)
	return err
}

// WaitBridge waits for a bridge (br-int, made by the agent) to exist and
// answer on its management socket.
func (ch *Chassis) WaitBridge(bridge string) error {
	return poll(ch.bed.timeout, bridge+" on "+ch.Name, func() (bool, error) {
		if _, err := ch.Vsctl("br-exists", bridge); err != nil {
			return false, err
		}
		_, err := os.Stat(ch.MgmtSock(bridge))
		return err == nil, err
	})
}

// CaptureUnderlay captures on the chassis' underlay veth (ul0): every
// tunnel packet the chassis sends or receives, and any ARP.
func (ch *Chassis) CaptureUnderlay(filter ...string) (*Capture, error) {
	return ch.Capture(UnderlayIface, filter...)
}
