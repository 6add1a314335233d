package main

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

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/bench/internal/portup"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// Where Debian's ovn-common installs the OVN schemas.
const (
	nbSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	sbSchema = "/usr/share/ovn/ovn-sb.ovsschema"
)

// ovnBinaries are the programs the OVN side needs (Debian ovn-central and
// ovn-host).
var ovnBinaries = []string{"ovn-northd", "ovn-controller", "ovn-nbctl", "ovn-sbctl", "ovsdb-server", "ovsdb-tool"}

// The security groups every port is in, as ML2/OVN writes Neutron's
// default group: a port group per security group with its ACLs, and
// neutron_pg_drop, which drops what no group admits.
const (
	pgDefault = "pg_default"
	pgDrop    = "neutron_pg_drop"
)

// ovnBench is one run of the workload on OVN, on a bed of its own: NB and
// SB ovsdb-servers, ovn-northd and an ovn-nbctl daemon in the root
// namespace (files in the underlay node's directory), and one
// ovn-controller per chassis on the chassis' own Open vSwitch.
type ovnBench struct {
	cfg    config
	bed    *testbed.Bed
	dir    string
	nb, sb string // unix: endpoints
	nbctlD string // the ovn-nbctl daemon's control socket (OVN_NB_DAEMON)
	env    []string
	res    *portup.RunResult
	chs    []*testbed.Chassis
	probes []probe
	ports  int
}

type probe struct {
	vm      *testbed.VM
	ip, mac string
}

func ovnRequire() error {
	for _, b := range ovnBinaries {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s not found (install Debian's ovn-central and ovn-host; ./bench/run.sh vs-ovn does): %w", b, err)
		}
	}
	for _, s := range []string{nbSchema, sbSchema} {
		if _, err := os.Stat(s); err != nil {
			return fmt.Errorf("OVN schema missing (install ovn-common): %w", err)
		}
	}
	return nil
}

// runOVN is one run of the workload on OVN on bed.
func runOVN(cfg config, bed *testbed.Bed) (*portup.RunResult, error) {
	o := &ovnBench{cfg: cfg, bed: bed, res: &portup.RunResult{Load: machine.LoadAvg()}}
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"OVN: set up", o.setup},
		{"OVN: snapshot", func() error { return o.snapshot(&o.res.AtStart) }},
		{fmt.Sprintf("OVN: bring-up 0→%d", cfg.Ports), func() error { return o.bringUpMany(0, cfg.Ports, &o.res.Small) }},
		{"OVN: snapshot", func() error { return o.snapshot(&o.res.AtSmall) }},
		{"OVN: bulk", o.bulk},
		{"OVN: snapshot", func() error { return o.snapshot(&o.res.AtBulk) }},
		{fmt.Sprintf("OVN: bring-up of %d more", cfg.More), func() error { return o.bringUpMany(cfg.Ports, cfg.Ports+cfg.More, &o.res.Large) }},
		{"OVN: snapshot", func() error { return o.snapshot(&o.res.AtLarge) }},
		{"OVN: control plugs", o.controlPlug},
		{"OVN: restart", o.restart},
	} {
		rep.Step("%s", step.name)
		if err := step.fn(); err != nil {
			rep.Done("failed")
			return nil, fmt.Errorf("%s: %w", step.name, err)
		}
		rep.Done("ok")
	}
	return o.res, nil
}

// daemonEnv points OVS's and OVN's run, log and database directories at
// dir, so that pid files and control sockets land there.
func daemonEnv(dir string) []string {
	env := os.Environ()
	for _, k := range []string{"OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVN_RUNDIR", "OVN_LOGDIR", "OVN_DBDIR"} {
		env = append(env, k+"="+dir)
	}
	return env
}

// run runs a command in the root namespace with the central environment.
func (o *ovnBench) run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = o.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// nbctl runs ovn-nbctl through the daemon (a persistent NB connection, as
// Neutron's ML2/OVN keeps one; a plain ovn-nbctl would fetch the whole
// database on every call).
func (o *ovnBench) nbctl(args ...string) (string, error) {
	return o.run("ovn-nbctl", append([]string{"--timeout=60"}, args...)...)
}

func (o *ovnBench) sbctl(args ...string) (string, error) {
	return o.run("ovn-sbctl", append([]string{"--db=" + o.sb, "--timeout=60"}, args...)...)
}

// poll calls f every interval until it returns true, an error, or d
// passes.
func poll(d, interval time.Duration, what string, f func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		ok, err := f()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: not within %s: %w", what, d, err)
			}
			return fmt.Errorf("%s: not within %s", what, d)
		}
		time.Sleep(interval)
	}
}

func (o *ovnBench) setup() error {
	ul := o.bed.UnderlayNode()
	o.dir = filepath.Join(ul.RunDir, "ovn")
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	o.env = daemonEnv(o.dir)
	o.nb, o.sb = "unix:"+filepath.Join(o.dir, "nb.sock"), "unix:"+filepath.Join(o.dir, "sb.sock")
	for _, db := range []struct{ name, schema, sock string }{{"nb", nbSchema, o.nb}, {"sb", sbSchema, o.sb}} {
		file := filepath.Join(o.dir, "ovn"+db.name+".db")
		if _, err := o.run("ovsdb-tool", "create", file, db.schema); err != nil {
			return err
		}
		cmd := exec.Command("ovsdb-server", file, "--remote=p"+db.sock,
			"--unixctl="+filepath.Join(o.dir, "ovsdb-"+db.name+".ctl"), "-vconsole:info", "-vsyslog:off")
		cmd.Env = o.env
		if err := ul.StartProcess("ovsdb-"+db.name, cmd); err != nil {
			return err
		}
		sock := strings.TrimPrefix(db.sock, "unix:")
		if err := poll(30*time.Second, 20*time.Millisecond, "ovsdb-server "+db.name, func() (bool, error) {
			_, err := os.Stat(sock)
			return err == nil, err
		}); err != nil {
			return err
		}
	}
	cmd := exec.Command("ovn-northd", "--ovnnb-db="+o.nb, "--ovnsb-db="+o.sb,
		"--unixctl="+filepath.Join(o.dir, "ovn-northd.ctl"), "-vconsole:info", "-vsyslog:off")
	cmd.Env = o.env
	if err := ul.StartProcess("ovn-northd", cmd); err != nil {
		return err
	}
	// The ovn-nbctl daemon (only --detach starts one): owned through its
	// pid file, stopped when the bed closes.
	pidfile := filepath.Join(o.dir, "ovn-nbctl.pid")
	// It runs inside the underlay namespace, so that testbed.Sweep finds it
	// should this program die before removing the bed.
	out, err := o.run("ip", "netns", "exec", ul.Netns, "ovn-nbctl", "--db="+o.nb, "--pidfile="+pidfile, "--detach", "--log-file="+filepath.Join(o.dir, "ovn-nbctl.log"), "-vsyslog:off")
	if err != nil {
		return err
	}
	if err := o.bed.OnClose("ovn-nbctl daemon", func() error { return killPidfile(pidfile) }); err != nil {
		return err
	}
	o.nbctlD = strings.TrimSpace(out)
	o.env = append(o.env, "OVN_NB_DAEMON="+o.nbctlD)
	if _, err := o.nbctl("--may-exist", "ls-add", "measured"); err != nil {
		return err
	}
	if cfg := o.cfg; cfg.OVNSG {
		if err := o.securityGroups(); err != nil {
			return err
		}
	}

	// The chassis: each its own vswitchd (the bed's), br-int made here as
	// the Wyvern agent makes it, and an ovn-controller.
	for i := 1; i <= 3; i++ {
		ch, err := o.bed.AddChassis("ch" + strconv.Itoa(i))
		if err != nil {
			return err
		}
		if _, err := ch.Vsctl("--may-exist", "add-br", "br-int", "--", "set", "Bridge", "br-int",
			"datapath_type=netdev", "fail_mode=secure", "other_config:disable-in-band=true",
			"protocols=OpenFlow13,OpenFlow15", "--", "set", "Open_vSwitch", ".",
			"external_ids:system-id="+ch.Name, "external_ids:ovn-remote="+o.sb,
			"external_ids:ovn-encap-type=geneve", "external_ids:ovn-encap-ip="+ch.TunnelIP.String(),
			"external_ids:ovn-bridge-datapath-type=netdev"); err != nil {
			return err
		}
		if err := ch.WaitBridge("br-int"); err != nil {
			return err
		}
		if err := o.startController(ch); err != nil {
			return err
		}
		o.chs = append(o.chs, ch)
	}
	// Static tunnel neighbours (recipe.md, pitfall 2), as the Wyvern agents
	// set them.
	for _, ch := range o.chs {
		for _, peer := range o.chs {
			if peer != ch {
				if err := ch.SetTunnelNeighbor(peer.TunnelIP, peer.TunnelMAC); err != nil {
					return err
				}
			}
		}
	}
	if err := poll(60*time.Second, 100*time.Millisecond, "3 chassis in the SB database", func() (bool, error) {
		out, err := o.sbctl("--bare", "--columns=name", "list", "Chassis")
		return err == nil && len(strings.Fields(out)) == 3, err
	}); err != nil {
		return err
	}

	// The probes: one VM per chassis on the measured network.
	for i, ch := range o.chs {
		ip := portup.ProbeAddr(i)
		mac := fmt.Sprintf("fa:16:3e:fd:00:%02x", i+1)
		name := "probe" + strconv.Itoa(i+1)
		if err := o.createPort("measured", name, mac, ip); err != nil {
			return err
		}
		vm, err := ch.AddVM(name, mac, name, portup.VMMTU)
		if err != nil {
			return err
		}
		if err := poll(30*time.Second, 50*time.Millisecond, name+" up", func() (bool, error) {
			out, err := o.nbctl("get", "Logical_Switch_Port", name, "up")
			return err == nil && strings.TrimSpace(out) == "true", err
		}); err != nil {
			return err
		}
		if err := vm.SetAddr(ip + "/22"); err != nil {
			return err
		}
		o.probes = append(o.probes, probe{vm: vm, ip: ip, mac: mac})
		o.ports++
	}
	return nil
}

// startController starts ch's ovn-controller on its own Open vSwitch.
func (o *ovnBench) startController(ch *testbed.Chassis) error {
	cmd := ch.Command("ovn-controller", ch.DBSock(), "-vconsole:info", "-vsyslog:off")
	cmd.Env = daemonEnv(ch.RunDir)
	return ch.StartProcess("ovn-controller", cmd)
}

// killPidfile stops the process of a pid file (SIGTERM, then SIGKILL).
func killPidfile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("pid file %s: %q", path, b)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil // gone
	}
	for i := 0; i < 50; i++ {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return nil
}

// securityGroups writes Neutron's default security group as ML2/OVN does:
// egress admitted (stateful), ingress admitted from members of the group,
// and everything else dropped.
func (o *ovnBench) securityGroups() error {
	args := []string{"pg-add", pgDefault, "--", "pg-add", pgDrop}
	for _, a := range []struct{ dir, prio, match, verdict string }{
		{"from-lport", "1002", "inport == @" + pgDefault + " && ip4", "allow-related"},
		{"from-lport", "1002", "inport == @" + pgDefault + " && ip6", "allow-related"},
		{"to-lport", "1002", "outport == @" + pgDefault + " && ip4 && ip4.src == $" + pgDefault + "_ip4", "allow-related"},
		{"to-lport", "1002", "outport == @" + pgDefault + " && ip6 && ip6.src == $" + pgDefault + "_ip6", "allow-related"},
		{"from-lport", "1001", "inport == @" + pgDrop + " && ip", "drop"},
		{"to-lport", "1001", "outport == @" + pgDrop + " && ip", "drop"},
	} {
		pg := pgDefault
		if a.verdict == "drop" {
			pg = pgDrop
		}
		args = append(args, "--", "--type=port-group", "acl-add", pg, a.dir, a.prio, a.match, a.verdict)
	}
	_, err := o.nbctl(args...)
	return err
}

// portArgs are the ovn-nbctl arguments creating one port as ML2/OVN
// does in one transaction: addresses and port security (MAC + IP), and,
// with sg, membership of the default group's and the drop port group.
func portArgs(ls, name, mac, ip string, n int, sg bool) []string {
	id := "@p" + strconv.Itoa(n)
	addr := `"` + mac + " " + ip + `"`
	args := []string{"--", "--id=" + id, "create", "Logical_Switch_Port", "name=" + name,
		"addresses=" + addr, "port_security=" + addr,
		"--", "add", "Logical_Switch", ls, "ports", id}
	if sg {
		args = append(args, "--", "add", "Port_Group", pgDefault, "ports", id,
			"--", "add", "Port_Group", pgDrop, "ports", id)
	}
	return args
}

// createPort is the API call of a bring-up: one NB transaction.
func (o *ovnBench) createPort(ls, name, mac, ip string) error {
	_, err := o.nbctl(portArgs(ls, name, mac, ip, 0, o.cfg.OVNSG)...)
	return err
}

func (o *ovnBench) bringUpMany(from, to int, out *[]portup.PortTiming) error {
	for k := from; k < to; k++ {
		t, err := o.bringUp(k)
		if err != nil {
			return fmt.Errorf("port %d: %w", k, err)
		}
		*out = append(*out, t)
		o.ports++
		rep.Count(k-from+1, to-from)
	}
	return nil
}

// bringUp measures port k as bench/bringup does: on chassis k mod 3,
// pinged by the probe on the next chassis.
func (o *ovnBench) bringUp(k int) (portup.PortTiming, error) {
	ch := o.chs[k%3]
	pr := o.probes[(k+1)%3]
	ip := portup.MeasuredAddr(k)
	mac := portup.MeasuredMAC(k)
	name := "m" + strconv.Itoa(k)
	t := portup.PortTiming{Port: name, Chassis: ch.Name, ProbeChassis: pr.vm.Chassis.Name}

	// Untimed: the VM namespace, addresses, static ARP both ways, and the
	// probe already pinging.
	vm, err := ch.AddVMUnplugged(name, mac, portup.VMMTU)
	if err != nil {
		return t, err
	}
	if err := vm.SetAddr(ip + "/22"); err != nil {
		return t, err
	}
	if err := vm.SetStaticARP(pr.ip, pr.mac); err != nil {
		return t, err
	}
	if err := pr.vm.SetStaticARP(ip, mac); err != nil {
		return t, err
	}
	png, err := portup.StartPing(pr.vm, "-D", "-n", "-i", "0.01", "-w", "20", ip)
	if err != nil {
		return t, err
	}
	defer png.Stop()
	if _, err := png.WaitLine("PING", 10*time.Second); err != nil {
		return t, err
	}

	// Timed: create, plug, first reply.
	t.T0 = time.Now()
	if err := o.createPort("measured", name, mac, ip); err != nil {
		return t, fmt.Errorf("create: %w", err)
	}
	t.Created = time.Since(t.T0)
	vm.PortID = name
	if _, err := ch.Vsctl("--may-exist", "add-port", "br-int", vm.Iface, "--",
		"set", "Interface", vm.Iface,
		"external_ids:iface-id="+name,
		"external_ids:attached-mac="+mac,
		"external_ids:iface-status=active"); err != nil {
		return t, fmt.Errorf("plug: %w", err)
	}
	t.Plugged = time.Since(t.T0)
	line, err := png.WaitLine("bytes from", 15*time.Second)
	if err != nil {
		flows, _ := ch.DumpFlows("br-int")
		rflows, _ := pr.vm.Chassis.DumpFlows("br-int")
		return t, fmt.Errorf("%w (port %s on %s, probe on %s; %d flows there, %d on the probe's chassis)",
			err, name, ch.Name, pr.vm.Chassis.Name, len(flows), len(rflows))
	}
	r, ok := portup.ParseReply(line)
	if !ok {
		return t, fmt.Errorf("unparsable reply %q", line)
	}
	t.FirstReply = r.At.Sub(t.T0)
	return t, nil
}

// snapshot counts br-int flows and reads ovn-controller's memory and CPU
// on every chassis.
func (o *ovnBench) snapshot(s *portup.Snapshot) error {
	s.Ports = o.ports
	s.Flows, s.RSS, s.HWM, s.Anon = map[string]int{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	s.CPU = map[string]time.Duration{}
	for _, ch := range o.chs {
		flows, err := ch.DumpFlows("br-int")
		if err != nil {
			return err
		}
		s.Flows[ch.Name] = len(flows)
		if ch == o.chs[0] {
			s.ByTable = map[int]int{}
			for _, f := range flows {
				s.ByTable[portup.FlowTable(f)]++
			}
		}
		pid, ok := ch.PID("ovn-controller")
		if !ok {
			return fmt.Errorf("ovn-controller of %s is not running", ch.Name)
		}
		if s.RSS[ch.Name], s.HWM[ch.Name], s.Anon[ch.Name], err = portup.ProcMem(pid); err != nil {
			return err
		}
		if s.CPU[ch.Name], err = machine.ProcCPU(pid); err != nil {
			return err
		}
	}
	time.Sleep(portup.IdleWait) // the idle reading's subject, not a readiness guess
	s.IdleRSS = map[string]int64{}
	for _, ch := range o.chs {
		pid, ok := ch.PID("ovn-controller")
		if !ok {
			return fmt.Errorf("ovn-controller of %s is not running", ch.Name)
		}
		rss, _, _, err := portup.ProcMem(pid)
		if err != nil {
			return err
		}
		s.IdleRSS[ch.Name] = rss
	}
	note("  OVN, %d ports: flows %v, ovn-controller RSS kB %v", s.Ports, s.Flows, s.RSS)
	return nil
}

// bulk adds the rest of the 1,000-port topology as bench/bringup does: a
// router joining the measured network and ExtraNets more networks of
// ExtraPorts ports each, OVS internal ports spread over the chassis and
// plugged all at once; then waits until every chassis holds an output
// flow (local or to a tunnel) for every one of them.
func (o *ovnBench) bulk() error {
	cfg := o.cfg
	if _, err := o.nbctl("lr-add", "r1"); err != nil {
		return err
	}
	type subnet struct{ ls, gw string }
	subnets := []subnet{{"measured", "10.10.0.1/22"}}
	for j := 0; j < cfg.ExtraNets; j++ {
		ls := "bulk" + strconv.Itoa(j)
		if _, err := o.nbctl("ls-add", ls); err != nil {
			return err
		}
		subnets = append(subnets, subnet{ls, fmt.Sprintf("10.20.%d.1/24", j)})
	}
	for i, s := range subnets {
		lrp, rp := "lrp-"+s.ls, "rp-"+s.ls
		if _, err := o.nbctl("lrp-add", "r1", lrp, fmt.Sprintf("fa:16:3e:fc:00:%02x", i), s.gw,
			"--", "lsp-add", s.ls, rp, "--", "lsp-set-type", rp, "router",
			"--", "lsp-set-addresses", rp, "router", "--", "lsp-set-options", rp, "router-port="+lrp); err != nil {
			return fmt.Errorf("router interface: %w", err)
		}
	}

	// The ports, 50 a transaction (not timed against Wyvern's API).
	total := cfg.ExtraNets * cfg.ExtraPorts
	mac := func(k int) string { return fmt.Sprintf("fa:16:3e:fb:%02x:%02x", k>>8, k&0xff) }
	start := time.Now()
	for lo := 0; lo < total; lo += 50 {
		var args []string
		for k := lo; k < min(lo+50, total); k++ {
			j, i := k/cfg.ExtraPorts, k%cfg.ExtraPorts
			args = append(args, portArgs("bulk"+strconv.Itoa(j), "x"+strconv.Itoa(k), mac(k),
				fmt.Sprintf("10.20.%d.%d", j, 10+i), k, cfg.OVNSG)...)
		}
		if _, err := o.nbctl(args...); err != nil {
			return fmt.Errorf("create bulk ports: %w", err)
		}
	}
	o.res.Bulk = portup.BulkResult{Ports: total, APICreate: time.Since(start), PerChassis: map[string]time.Duration{}}

	// Every port's tunnel keys, once northd has bound them to datapaths.
	var want []string
	if err := poll(2*time.Minute, 200*time.Millisecond, "the bulk ports in the SB database", func() (bool, error) {
		var err error
		want, err = o.bulkKeys(total)
		return err == nil && len(want) == total, err
	}); err != nil {
		return err
	}

	// Plug them all: one ovs-vsctl transaction per chassis, in parallel.
	t0 := time.Now()
	var wg sync.WaitGroup
	var plugMu sync.Mutex
	var plugErr error
	for i, ch := range o.chs {
		var args []string
		for k := i; k < total; k += len(o.chs) {
			name := "x" + strconv.Itoa(k)
			args = append(args, "--", "add-port", "br-int", name, "--", "set", "Interface", name, "type=internal",
				"external_ids:iface-id="+name, "external_ids:attached-mac="+mac(k),
				"external_ids:iface-status=active")
		}
		wg.Add(1)
		go func(ch *testbed.Chassis) {
			defer wg.Done()
			_, err := ch.Vsctl(args...)
			plugMu.Lock()
			defer plugMu.Unlock()
			if err != nil && plugErr == nil {
				plugErr = err
			}
			o.res.Bulk.Plug = max(o.res.Bulk.Plug, time.Since(t0))
		}(ch)
	}
	wg.Wait()
	if plugErr != nil {
		return fmt.Errorf("plug bulk ports: %w", plugErr)
	}
	o.ports += total

	deadline := time.Now().Add(3 * time.Minute)
	left := map[*testbed.Chassis]bool{}
	for _, ch := range o.chs {
		left[ch] = true
	}
	for len(left) > 0 {
		for ch := range left {
			missing, err := missingOutput(ch, want)
			if err != nil {
				return err
			}
			if missing == 0 {
				delete(left, ch)
				d := time.Since(t0)
				o.res.Bulk.PerChassis[ch.Name] = d
				o.res.Bulk.Detected = max(o.res.Bulk.Detected, d)
				continue
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s still misses output flows for %d of %d bulk ports", ch.Name, missing, total)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	o.res.Bulk.Synced = o.res.Bulk.Detected
	note("  OVN bulk: %d ports created in %s, plugged in %s, all chassis synced %s after the plug",
		total, o.res.Bulk.APICreate.Round(time.Millisecond), o.res.Bulk.Plug.Round(time.Millisecond),
		o.res.Bulk.Detected.Round(time.Millisecond))
	return nil
}

// bulkKeys returns "reg15=0x<port key>,metadata=0x<datapath key>" of every
// bulk port (x<k>) the SB database holds: how OVN's output flows (local
// delivery and tunnel output) match a logical port.
func (o *ovnBench) bulkKeys(total int) ([]string, error) {
	dps, err := o.sbctl("--format=csv", "--data=bare", "--no-headings", "--columns=_uuid,tunnel_key", "list", "Datapath_Binding")
	if err != nil {
		return nil, err
	}
	dpKey := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(dps), "\n") {
		if f := strings.Split(l, ","); len(f) == 2 {
			dpKey[f[0]] = f[1]
		}
	}
	pbs, err := o.sbctl("--format=csv", "--data=bare", "--no-headings", "--columns=logical_port,tunnel_key,datapath", "list", "Port_Binding")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(pbs), "\n") {
		f := strings.Split(l, ",")
		if len(f) != 3 || !strings.HasPrefix(f[0], "x") {
			continue
		}
		pk, err1 := strconv.Atoi(f[1])
		dk, err2 := strconv.Atoi(dpKey[f[2]])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, fmt.Sprintf("reg15=%#x,metadata=%#x", pk, dk))
	}
	return out, nil
}

// OVN 23.03's physical tables: a logical port's tunnel output and its
// local delivery (ovn/controller/lflow.h).
const (
	ovnRemoteOutput = 39
	ovnLogToPhy     = 65
)

// missingOutput counts the ports of want (reg15/metadata matches) for
// which ch has no output flow: delivery to a local port or to a tunnel.
func missingOutput(ch *testbed.Chassis, want []string) (int, error) {
	flows, err := ch.DumpFlows("br-int")
	if err != nil {
		return 0, err
	}
	have := outputKeys(flows)
	n := 0
	for _, w := range want {
		if !have[w] {
			n++
		}
	}
	return n, nil
}

// outputKeys are the logical ports ("reg15=0x..,metadata=0x..") that
// flows deliver locally or send to a tunnel.
func outputKeys(flows []string) map[string]bool {
	have := map[string]bool{}
	for _, f := range flows {
		if t := portup.FlowTable(f); t != ovnRemoteOutput && t != ovnLogToPhy {
			continue
		}
		i := strings.Index(f, "reg15=")
		if i < 0 || !strings.Contains(f, "output:") {
			continue
		}
		v := f[i:]
		if j := strings.IndexByte(v, ' '); j >= 0 {
			v = v[:j]
		}
		// "reg15=0x5,metadata=0x2" possibly followed by more matches.
		parts := strings.SplitN(v, ",", 3)
		if len(parts) >= 2 && strings.HasPrefix(parts[1], "metadata=") {
			have[parts[0]+","+parts[1]] = true
		}
	}
	return have
}

// controlPlug times plugs of ports OVN does not know, with every
// ovn-controller running and with every one stopped, as bench/bringup does.
func (o *ovnBench) controlPlug() error {
	return portup.ControlPlug(o.chs, "ovn-controller", &o.res.Control)
}

// restart is the restart test of bench/bringup: 50 pps for 10 s from the
// probe on the first chassis to measured port 1 on the second; the first
// chassis' ovn-controller is killed (kill -9) at 2 s and started again at
// 4 s, with OVN's defaults (no ovn-ofctrl-wait-before-clear).
func (o *ovnBench) restart() error {
	ch := o.chs[0]
	png, err := portup.StartPing(o.probes[0].vm, "-D", "-n", "-i", "0.02", "-c", "500", "-W", "1", portup.MeasuredAddr(1))
	if err != nil {
		return err
	}
	defer png.Stop()
	if _, err := png.WaitLine("PING", 10*time.Second); err != nil {
		return err
	}
	began := time.Now()
	time.Sleep(2 * time.Second) // the fault's timing is the test's subject
	if err := ch.StopProcess("ovn-controller", syscall.SIGKILL); err != nil {
		return err
	}
	time.Sleep(time.Until(began.Add(4 * time.Second)))
	started := time.Now()
	if err := o.startController(ch); err != nil {
		return err
	}
	if err := png.Wait(30 * time.Second); err != nil {
		return err
	}
	pr, err := portup.ParsePingRun(png.Output())
	if err != nil {
		return err
	}
	o.res.Restart = portup.RestartResult{Chassis: ch.Name, PingRun: pr}
	// Still down when the ping ended: how long until the path is back.
	if _, atEnd := pr.Outage(20 * time.Millisecond); atEnd {
		back, err := portup.StartPing(o.probes[0].vm, "-D", "-n", "-i", "0.02", "-w", "120", portup.MeasuredAddr(1))
		if err != nil {
			return err
		}
		defer back.Stop()
		line, err := back.WaitLine("bytes from", 2*time.Minute)
		if err != nil {
			return fmt.Errorf("the path is not back 2 minutes after the restart: %w", err)
		}
		if r, ok := portup.ParseReply(line); ok {
			o.res.Restart.Back = r.At.Sub(started)
		}
	}
	note("  OVN restart of %s's ovn-controller: %d/%d replies, longest gap %s; path back %s after its start",
		ch.Name, pr.Received, pr.Sent, pr.MaxGap.Round(time.Millisecond), o.res.Restart.Back.Round(time.Millisecond))
	return nil
}
