// Package demo is Wyvern's guided tour, what `make demo` runs. Everything
// in it is real: a server on the embedded etcd, two simulated hypervisors
// (Open vSwitch in network namespaces) with their agents, one of them a
// gateway to an "outside" network, VMs that get their addresses from the
// agents' DHCP, and real packets. It shows, step by step with a progress
// line each and a summary at the end:
//
//   - two projects with networks on the same CIDR, pinging across
//     hypervisors over Geneve;
//   - a router between two subnets: a routed ping that crosses the underlay
//     once, routed on the source chassis;
//   - the outside reaching a VM through its floating IP, and SNAT out;
//   - a security group that admits TCP port 80 and refuses 81;
//   - an agent killed with kill -9 and restarted under a running ping,
//     losing nothing;
//   - `wyvernctl trace` of an allowed and of a refused packet;
//   - the topology picture written to a file, and the console's URL.
package demo

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/ctl"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/progress"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// Options control the demo.
type Options struct {
	// Bin is the wyvern binary; empty builds it from the module.
	Bin string
	// Stay keeps everything up until interrupted, for poking around.
	Stay bool
	// Topology is where the topology picture is written, as SVG, or PNG
	// or DOT by its extension; empty: an SVG in the temporary directory.
	Topology string
	Out      io.Writer
}

// ConsolePassword is the console's (and Keystone's) admin password in the
// demo.
const ConsolePassword = "demo"

// check is one line of the summary.
type check struct {
	name, detail string
	ok           bool
}

// demo is one run's state.
type demo struct {
	o      Options
	p      *progress.Reporter
	l      *lab.Lab
	checks []check
	// blue1IP is the web server's address, for the hints.
	blue1IP string
}

// say prints a line of detail.
func (d *demo) say(format string, args ...any) { d.p.Printf("    "+format, args...) }

// record adds a check to the summary and ends its step with the result.
func (d *demo) record(name string, ok bool, detail string) {
	d.checks = append(d.checks, check{name: name, ok: ok, detail: detail})
	mark := "ok"
	if !ok {
		mark = "FAILED"
	}
	d.p.Done("%s — %s", mark, detail)
}

// steps is the number of progress steps of a run.
const steps = 9

// Run runs the demo and tears everything down before returning. It
// returns an error if a step could not run or a check failed.
func Run(ctx context.Context, o Options) (err error) {
	out := o.Out
	if err := testbed.Require(); err != nil {
		return fmt.Errorf("demo needs root and Open vSwitch (run scripts/deps.sh): %w", err)
	}
	d := &demo{o: o, p: progress.New(out, steps)}
	if d.o.Bin == "" {
		root, err := lab.ModuleRoot()
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "wyvern-demo-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		// Before the steps: the build's time would skew their ETA.
		fmt.Fprintln(out, "• building wyvern ...")
		if d.o.Bin, err = lab.Build(root, dir); err != nil {
			return err
		}
	}
	bed, err := testbed.New(testbed.Options{Name: "demo"})
	if err != nil {
		return err
	}
	stop := bed.CloseOnSignal()
	defer func() {
		stop()
		fmt.Fprintln(out, "• tearing down: processes, namespaces, OVS instances ...")
		if cerr := bed.Close(); cerr != nil && err == nil {
			err = cerr
		}
		fmt.Fprintln(out, "• done: nothing left behind.")
	}()
	start := time.Now()
	if err := d.run(ctx, bed); err != nil {
		d.p.Done("FAILED")
		return err
	}
	took := time.Since(start).Round(100 * time.Millisecond)
	failed := d.summary(took)
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(d.checks))
	}
	if !o.Stay {
		return nil
	}
	fmt.Fprintln(out, "Press Ctrl-C to tear everything down.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-ctx.Done():
	}
	return nil
}

// summary prints the checks and how to poke at the running demo; it
// returns how many checks failed.
func (d *demo) summary(took time.Duration) int {
	out := d.o.Out
	failed := 0
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Summary")
	for _, c := range d.checks {
		mark := "✓"
		if !c.ok {
			mark = "✗"
			failed++
		}
		fmt.Fprintf(out, "  %s %-34s %s\n", mark, c.name, c.detail)
	}
	fmt.Fprintf(out, "  %d/%d checks passed; the scripted part took %s.\n", len(d.checks)-failed, len(d.checks), took)
	fmt.Fprintln(out)
	l := d.l
	fmt.Fprintf(out, "Console:  %s/console/   (user admin, password %s, project admin)\n", l.APIURL, ConsolePassword)
	fmt.Fprintf(out, "Metrics:  %s/metrics   health: %s/healthz %s/readyz\n", l.APIURL, l.APIURL, l.APIURL)
	if d.o.Stay {
		fmt.Fprintln(out, "Poke at it (in another shell, as root):")
		fmt.Fprintf(out, "  go run ./cmd/wyvernctl --noauth --url %s network list\n", l.APIURL)
		fmt.Fprintf(out, "  go run ./cmd/wyvernctl --noauth --url %s trace db1 'tcp, dst %s:81'\n", l.APIURL, d.blue1IP)
		fmt.Fprintf(out, "  go run ./cmd/wyvernctl --noauth --url %s topology -o png --file cloud.png\n", l.APIURL)
	}
	return failed
}

// vm is a booted VM with its port and address.
type vm struct {
	*testbed.VM
	port model.Port
	ip   string
}

func (d *demo) run(ctx context.Context, bed *testbed.Bed) error {
	p := d.p
	// 1. The server, the outside network and the hypervisors.
	p.Step("server, outside network and hypervisors")
	l, err := lab.Start(bed, d.o.Bin, lab.Options{ServerArgs: []string{"--admin-password", ConsolePassword}})
	if err != nil {
		return err
	}
	d.l = l
	d.say("wyvern server: Neutron API + Keystone + console on %s, embedded etcd on %s", l.APIURL, l.EtcdURL)
	outside, err := bed.AddExternalHost("outside", netip.MustParsePrefix("203.0.113.1/24"))
	if err != nil {
		return err
	}
	omac, err := outside.MAC()
	if err != nil {
		return err
	}
	brEx := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-ex") }
	hv1, err := l.AddChassisWith("hv1", brEx, []string{"--bridge-mappings", "physnet1:br-ex",
		"--external-nexthop-mac", "physnet1=" + omac, "--gateway"})
	if err != nil {
		return err
	}
	hv2, err := l.AddChassis("hv2")
	if err != nil {
		return err
	}
	for _, ch := range []*testbed.Chassis{hv1, hv2} {
		d.say("hypervisor %s: Open vSwitch in netns %s, underlay %s, agent registered", ch.Name, ch.Netns, ch.TunnelIP)
	}
	d.say("hv1 is also the gateway to the outside (203.0.113.0/24, host \"outside\" at 203.0.113.1)")
	p.Done("ok")

	// 2. Two projects on the same CIDR.
	p.Step("two projects on one CIDR, DHCP and pings")
	var nets = map[string]model.Network{}
	var subs = map[string]model.Subnet{}
	for _, project := range []string{"blue", "red"} {
		n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: project, Name: project + "-net", CIDR: "10.0.0.0/24"})
		if err != nil {
			return err
		}
		nets[project], subs[project] = n, sub
		d.say("project %-4s network %s (%s, VNI %d) subnet %s", project, n.Name, n.NetworkType, n.SegmentationID, sub.CIDR)
	}
	web, err := d.group("web", "ingress ICMP and TCP 80 from anywhere",
		map[string]any{"protocol": "icmp"}, map[string]any{"protocol": "tcp", "port_range_min": 80, "port_range_max": 80})
	if err != nil {
		return err
	}
	app, err := d.group("app", "ingress ICMP from anywhere", map[string]any{"protocol": "icmp"})
	if err != nil {
		return err
	}
	vms := map[string]*vm{}
	boot := func(ch *testbed.Chassis, name, project string, n model.Network, groups ...string) (*vm, error) {
		extra := map[string]any{"name": name, "device_owner": "compute:nova"}
		if len(groups) > 0 {
			extra["security_groups"] = groups
		}
		v, port, err := l.Boot(ch, name, project, n.ID, extra)
		if err != nil {
			return nil, err
		}
		if port, err = l.WaitPort(port.ID, 10*time.Second, func(p model.Port) bool { return p.Status == model.StatusActive }); err != nil {
			return nil, err
		}
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		lease, err := v.DHCP(dctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s DHCP: %w", name, err)
		}
		if lease.Router.IsValid() {
			if err := v.SetGateway(lease.Router.String()); err != nil {
				return nil, err
			}
		}
		d.say("VM %-6s on %s: port %s ACTIVE, DHCP gave %s (router %s, MTU %d) from the local agent",
			name, ch.Name, port.ID[:8], lease.Addr, lease.Router, lease.MTU)
		out := &vm{VM: v, port: port, ip: lease.Addr.Addr().String()}
		vms[name] = out
		return out, nil
	}
	// blue1 is the web server: only the "web" group (ICMP, TCP 80).
	if _, err := boot(hv1, "blue1", "blue", nets["blue"], web); err != nil {
		return err
	}
	if _, err := boot(hv2, "blue2", "blue", nets["blue"], app); err != nil {
		return err
	}
	if _, err := boot(hv1, "red1", "red", nets["red"]); err != nil {
		return err
	}
	if _, err := boot(hv2, "red2", "red", nets["red"]); err != nil {
		return err
	}
	pings, okPings := 0, true
	for _, pair := range [][2]string{{"blue2", "blue1"}, {"blue1", "blue2"}, {"red1", "red2"}, {"red2", "red1"}} {
		a, b := vms[pair[0]], vms[pair[1]]
		got, err := a.Ping(b.ip, 3, 10*time.Second)
		status := "ok"
		if err != nil {
			status, okPings = "FAILED: "+err.Error(), false
		}
		pings += got
		d.say("%-6s (%s) → %-6s (%s): %d/3 replies  %s", a.Name, a.Chassis.Name, b.Name, b.Chassis.Name, got, status)
	}
	d.record("overlapping networks", okPings, fmt.Sprintf("blue and red both on 10.0.0.0/24, %d/12 pings across hypervisors", pings))

	// 3. A router between two subnets, routing on the source chassis.
	p.Step("router between two subnets")
	ext, err := d.external()
	if err != nil {
		return err
	}
	db, dbSub, err := l.CreateNetwork(lab.NetworkSpec{Project: "blue", Name: "blue-db", CIDR: "10.0.1.0/24"})
	if err != nil {
		return err
	}
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "blue", map[string]any{"router": map[string]any{"name": "blue-router",
		"external_gateway_info": map[string]any{"network_id": ext.ID}}}, &r); err != nil {
		return err
	}
	for _, s := range []model.Subnet{subs["blue"], dbSub} {
		if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "blue", map[string]any{"subnet_id": s.ID}, nil); err != nil {
			return err
		}
	}
	gwIP := ""
	if r.Router.Gateway != nil && len(r.Router.Gateway.ExternalFixedIPs) > 0 {
		gwIP = r.Router.Gateway.ExternalFixedIPs[0].IPAddress
	}
	d.say("router blue-router joins blue-net 10.0.0.0/24 and blue-db 10.0.1.0/24; gateway %s on the outside network", gwIP)
	db1, err := boot(hv2, "db1", "blue", db, app)
	if err != nil {
		return err
	}
	blue1 := vms["blue1"]
	d.blue1IP = blue1.ip
	if n, err := blue1.Ping(db1.ip, 1, 10*time.Second); n == 0 { // warm up ARP and flows
		return fmt.Errorf("routed ping blue1 → db1: %w", err)
	}
	capture, err := bed.CaptureUnderlay()
	if err != nil {
		return err
	}
	got, perr := blue1.Ping(db1.ip, 5, 10*time.Second)
	pkts, err := capture.Stop()
	if err != nil {
		return err
	}
	requests := func(vni int) int {
		return testbed.Count(pkts, func(p testbed.Packet) bool {
			v, ok := p.Geneve()
			icmp, isICMP := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			return ok && int(v) == vni && isICMP && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest
		})
	}
	onDB, onBlue := requests(db.SegmentationID), requests(nets["blue"].SegmentationID)
	d.say("blue1 (hv1, 10.0.0.x) → db1 (hv2, %s): %d/5 replies; on the underlay: %d requests with blue-db's VNI %d, %d with blue-net's",
		db1.ip, got, onDB, db.SegmentationID, onBlue)
	d.record("routing on the source chassis", perr == nil && got == 5 && onDB == 5 && onBlue == 0,
		fmt.Sprintf("%d/5 routed pings, each crossed the underlay once, routed on hv1", got))

	// 4. Floating IP from the outside.
	p.Step("floating IP from the outside")
	var f struct {
		FloatingIP model.FloatingIP `json:"floatingip"`
	}
	if err := l.Do("POST", "/v2.0/floatingips", "blue", map[string]any{"floatingip": map[string]any{
		"floating_network_id": ext.ID, "port_id": blue1.port.ID}}, &f); err != nil {
		return err
	}
	fip := f.FloatingIP.FloatingIPAddress
	took, ok := waitPing(outside, fip, 15*time.Second)
	d.say("outside (203.0.113.1) → %s (blue1's floating IP): first reply after %s", fip, took.Round(time.Millisecond))
	d.record("floating IP from outside", ok, fmt.Sprintf("outside pings blue1 at %s (NATed on hv1)", fip))

	// 5. SNAT out.
	p.Step("SNAT to the outside")
	ocap, err := outside.Capture("eth0", "icmp")
	if err != nil {
		return err
	}
	got, perr = db1.Ping("203.0.113.1", 3, 10*time.Second)
	opkts, err := ocap.Stop()
	if err != nil {
		return err
	}
	sources := map[string]int{}
	for _, pk := range opkts {
		ip, ok := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		icmp, ok2 := pk.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if ok && ok2 && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest {
			sources[ip.SrcIP.String()]++
		}
	}
	d.say("db1 (no floating IP) → outside: %d/3 replies; the outside saw them from %v", got, keys(sources))
	d.record("SNAT out", perr == nil && got == 3 && len(sources) == 1 && sources[gwIP] > 0,
		fmt.Sprintf("db1 reaches the outside as the router's %s", gwIP))

	// 6. Security group: 80 admitted, 81 refused.
	p.Step("security group: TCP 80 admitted, 81 refused")
	for _, port := range []int{80, 81} {
		cmd := blue1.Command("busybox", "nc", "-ll", "-p", strconv.Itoa(port), "-e", "echo", "hello from blue1:"+strconv.Itoa(port))
		if err := cmd.Start(); err != nil {
			return err
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	}
	ok80 := tcpHello(outside, fip, 80, 10*time.Second)
	ok81 := tcpHello(outside, fip, 81, 2*time.Second)
	d.say("outside → %s:80: %s; → %s:81: %s (both ports listen on blue1)", fip, answer(ok80), fip, answer(ok81))
	d.record("security group 80 vs 81", ok80 && !ok81, "group web admits tcp/80 and refuses tcp/81")

	// 7. kill -9 an agent under a running ping.
	p.Step("agent kill -9 and restart under ping")
	ping := startPing(blue1.VM, vms["blue2"].ip, 20*time.Millisecond, 200)
	time.Sleep(time.Second) // the ping runs before the fault: timing is what this shows
	if err := l.KillAgent(hv2); err != nil {
		return err
	}
	if err := l.StartAgent(hv2); err != nil {
		return err
	}
	sent, recv, perr := ping()
	d.say("blue1 → blue2 at 50 pps while hv2's agent was killed (SIGKILL) and restarted: %d/%d answered", recv, sent)
	d.record("agent kill -9, 0 lost", perr == nil && sent > 0 && recv == sent, fmt.Sprintf("%d sent, %d lost", sent, sent-recv))

	// 8. Traces.
	p.Step("wyvernctl trace: allowed and refused")
	allowed, err := d.trace("db1", "tcp, dst "+blue1.ip+":80")
	if err != nil {
		return err
	}
	refused, err := d.trace("db1", "tcp, dst "+blue1.ip+":81")
	if err != nil {
		return err
	}
	for _, t := range []struct{ what, out string }{{"tcp/80", allowed}, {"tcp/81", refused}} {
		d.say("wyvernctl trace db1 'tcp, dst %s:%s':", blue1.ip, strings.TrimPrefix(t.what, "tcp/"))
		for _, line := range strings.Split(strings.TrimSpace(t.out), "\n") {
			if traceStep.MatchString(line) || strings.HasPrefix(line, "Verdict:") {
				d.say("  %s", line)
			}
		}
	}
	d.record("trace allowed and refused", verdict(allowed) == "delivered" && verdict(refused) == "drop",
		fmt.Sprintf("db1 → blue1 tcp/80: %s; tcp/81: %s", verdict(allowed), verdict(refused)))

	// 9. The topology picture and the console.
	p.Step("topology picture and console")
	file := d.o.Topology
	if file == "" {
		file = filepath.Join(os.TempDir(), "wyvern-demo-topology.svg")
	}
	var out, errOut strings.Builder
	format := "svg"
	switch filepath.Ext(file) {
	case ".png":
		format = "png"
	case ".dot", ".gv":
		format = "dot"
	}
	rc := ctl.Main(ctx, []string{"--noauth", "--url", l.APIURL, "topology", "-o", format, "--file", file}, &out, &errOut, func(string) string { return "" })
	info, serr := os.Stat(file)
	d.say("wyvernctl topology -o %s --file %s", format, file)
	d.say("console: %s/console/ (admin / %s)", l.APIURL, ConsolePassword)
	ok = rc == 0 && serr == nil && info.Size() > 0
	detail := file
	if !ok {
		detail += ": " + strings.TrimSpace(errOut.String())
	}
	d.record("topology picture", ok, detail)
	return nil
}

// group creates a security group of project blue with ingress IPv4
// rules (anything goes out, as for every new group).
func (d *demo) group(name, says string, rules ...map[string]any) (string, error) {
	var g struct {
		SecurityGroup model.SecurityGroup `json:"security_group"`
	}
	if err := d.l.Do("POST", "/v2.0/security-groups", "blue", map[string]any{"security_group": map[string]any{"name": name}}, &g); err != nil {
		return "", err
	}
	for _, r := range rules {
		r["security_group_id"], r["direction"], r["ethertype"] = g.SecurityGroup.ID, "ingress", "IPv4"
		if err := d.l.Do("POST", "/v2.0/security-group-rules", "blue", map[string]any{"security_group_rule": r}, nil); err != nil {
			return "", err
		}
	}
	d.say("security group %s (project blue): %s", name, says)
	return g.SecurityGroup.ID, nil
}

// external creates the outside network: flat on physnet1, 203.0.113.0/24,
// the outside host as its gateway.
func (d *demo) external() (model.Network, error) {
	var n struct{ Network model.Network }
	if err := d.l.Do("POST", "/v2.0/networks", "admin", map[string]any{"network": map[string]any{
		"name": "outside", "router:external": true, "provider:network_type": "flat",
		"provider:physical_network": "physnet1"}}, &n); err != nil {
		return n.Network, err
	}
	return n.Network, d.l.Do("POST", "/v2.0/subnets", "admin", map[string]any{"subnet": map[string]any{
		"network_id": n.Network.ID, "cidr": "203.0.113.0/24", "ip_version": 4, "gateway_ip": "203.0.113.1",
		"enable_dhcp": false, "allocation_pools": []map[string]string{{"start": "203.0.113.10", "end": "203.0.113.99"}}}}, nil)
}

// trace runs wyvernctl trace and returns its text.
func (d *demo) trace(port, packet string) (string, error) {
	var out, errOut strings.Builder
	rc := ctl.Main(context.Background(), []string{"--noauth", "--url", d.l.APIURL, "trace", port, packet}, &out, &errOut, func(string) string { return "" })
	if rc != 0 {
		return "", fmt.Errorf("wyvernctl trace %s %q: %s", port, packet, errOut.String())
	}
	return out.String(), nil
}

var (
	verdictRE = regexp.MustCompile(`(?m)^Verdict: (\w+)`)
	// traceStep is a numbered step of a trace's text.
	traceStep = regexp.MustCompile(`^\s*\d+\. `)
)

func verdict(trace string) string {
	if m := verdictRE.FindStringSubmatch(trace); m != nil {
		return m[1]
	}
	return "?"
}

// waitPing pings dst from h until a reply comes back.
func waitPing(h *testbed.Host, dst string, d time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < d {
		if n, _ := h.Ping(dst, 1, time.Second); n == 1 {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}

// tcpHello reports whether a TCP connection to dst:port gets the server's
// greeting within timeout.
func tcpHello(h *testbed.Host, dst string, port int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, _ := h.Exec("busybox", "timeout", "2", "busybox", "nc", "-w", "1", dst, strconv.Itoa(port))
		if strings.Contains(out, "hello") {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func answer(ok bool) string {
	if ok {
		return "connected"
	}
	return "no answer"
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// startPing starts `ping -i interval -c count` in the VM and returns a
// function that waits for it and returns what it sent and received.
func startPing(v *testbed.VM, dst string, interval time.Duration, count int) func() (sent, recv int, err error) {
	cmd := v.Command("ping", "-n", "-i", fmt.Sprintf("%.3f", interval.Seconds()), "-c", strconv.Itoa(count), "-W", "1", dst)
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return func() (int, int, error) { return 0, 0, err }
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return func() (int, int, error) {
		select {
		case <-done:
		case <-time.After(time.Duration(count)*interval + 20*time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		m := pingSummary.FindStringSubmatch(buf.String())
		if m == nil {
			return 0, 0, fmt.Errorf("no ping summary: %s", buf.String())
		}
		s, _ := strconv.Atoi(m[1])
		r, _ := strconv.Atoi(m[2])
		return s, r, nil
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
