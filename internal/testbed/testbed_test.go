package testbed

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// addBrInt does by hand what the agent does: br-int (netdev, secure, OF1.3)
// with a Geneve port whose remote and key come from flows.
func addBrInt(t *testing.T, ch *Chassis, tunnel bool) {
	t.Helper()
	args := []string{"add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev",
		"fail_mode=secure", "protocols=OpenFlow13,OpenFlow15", "other_config:disable-in-band=true"}
	if tunnel {
		args = append(args, "--", "add-port", "br-int", "geneve0", "--", "set", "Interface", "geneve0",
			"type=geneve", "options:remote_ip=flow", "options:key=flow")
	}
	if _, err := ch.Vsctl(args...); err != nil {
		t.Fatal(err)
	}
}

func mustAddChassis(t *testing.T, bed *Bed, names ...string) []*Chassis {
	t.Helper()
	chs := make([]*Chassis, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { chs[i], errs[i] = bed.AddChassis(n) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return chs
}

// TestGeneveAcrossChassis pings between VMs on two chassis over a Geneve
// tunnel driven by hand-written flows, checks the underlay saw Geneve and
// no ARP, then closes the bed and checks nothing of it remains.
func TestGeneveAcrossChassis(t *testing.T) {
	bed := ForTest(t)
	chs := mustAddChassis(t, bed, "ch1", "ch2")
	ch1, ch2 := chs[0], chs[1]
	if ch1.TunnelIP == ch2.TunnelIP || !Underlay.Contains(ch1.TunnelIP) {
		t.Fatalf("tunnel IPs %s %s", ch1.TunnelIP, ch2.TunnelIP)
	}

	// AddVM waits for br-int: make it after AddVM has started waiting.
	type res struct {
		vm  *VM
		err error
	}
	pending := make(chan res, 1)
	go func() {
		vm, err := ch1.AddVM("vm1", "02:00:0a:00:00:01", "11111111-aaaa-4bbb-8ccc-000000000001", 1400)
		pending <- res{vm, err}
	}()
	addBrInt(t, ch1, true)
	addBrInt(t, ch2, true)
	r := <-pending
	if r.err != nil {
		t.Fatal(r.err)
	}
	vm1 := r.vm
	vm2, err := ch2.AddVM("vm2", "02:00:0a:00:00:02", "22222222-aaaa-4bbb-8ccc-000000000002", 1400)
	if err != nil {
		t.Fatal(err)
	}
	if vm1.Iface != "tap11111111-aa" {
		t.Errorf("Iface = %q, want Nova's tap name", vm1.Iface)
	}
	ids, err := ch1.Vsctl("get", "Interface", vm1.Iface, "external_ids")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`iface-id="` + vm1.PortID + `"`, `attached-mac="` + vm1.MAC + `"`, "iface-status=active"} {
		if !strings.Contains(ids, want) {
			t.Errorf("external_ids %s lacks %s", ids, want)
		}
	}

	const vni = 100
	program := func(ch, peer *Chassis, vm *VM) { t.Helper(); tunnelFlows(t, ch, peer, vm, vni) }
	program(ch1, ch2, vm1)
	program(ch2, ch1, vm2)
	for _, ch := range chs {
		link, err := ch.Exec("ip", "-o", "link", "show", "br-phy")
		if err != nil || !strings.Contains(link, ch.TunnelMAC) {
			t.Errorf("%s br-phy %q %v, want MAC %s", ch.Name, link, err, ch.TunnelMAC)
		}
	}
	for _, s := range []error{
		vm1.SetAddr("10.0.0.1/24"), vm2.SetAddr("10.0.0.2/24"),
		vm1.SetStaticARP("10.0.0.2", vm2.MAC), vm2.SetStaticARP("10.0.0.1", vm1.MAC),
	} {
		if s != nil {
			t.Fatal(s)
		}
	}

	capCh, err := ch1.CaptureUnderlay()
	if err != nil {
		t.Fatal(err)
	}
	capUl, err := bed.CaptureUnderlay("udp port 6081 or arp")
	if err != nil {
		t.Fatal(err)
	}
	const count = 3
	if n, err := vm1.Ping("10.0.0.2", count, 5*time.Second); err != nil {
		t.Fatalf("ping across chassis: %d replies: %v", n, err)
	}
	geneve := func(p Packet) bool { v, ok := p.Geneve(); return ok && v == vni }
	isPing := func(p Packet) bool {
		s := p.Summary()
		return geneve(p) && strings.Contains(s, "ipv4 10.0.0.") && strings.Contains(s, "icmpv4 Echo")
	}
	// The last reply may still be on its way into the capture files.
	for _, c := range []*Capture{capCh, capUl} {
		if err := c.WaitFor(5*time.Second, 2*count, isPing); err != nil {
			t.Error(err)
		}
	}
	pkts, err := capCh.Stop()
	if err != nil {
		t.Fatal(err)
	}
	ulPkts, err := capUl.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if n := Count(pkts, geneve); n < 2*count {
		t.Errorf("chassis underlay: %d Geneve packets with VNI %d, want >= %d", n, vni, 2*count)
	}
	if n := Count(ulPkts, geneve); n < 2*count {
		t.Errorf("underlay bridge: %d Geneve packets, want >= %d", n, 2*count)
	}
	if n := Count(append(pkts, ulPkts...), Packet.IsARP); n != 0 {
		t.Errorf("%d ARP packets crossed the underlay", n)
	}
	// VMs have IPv6 (MLD, DAD) too: count the pings only.
	pings := Count(pkts, isPing)
	if pings != 2*count {
		t.Errorf("%d Geneve-encapsulated echo requests and replies, want %d", pings, 2*count)
	}
	if t.Failed() {
		if os.Getenv("TESTBED_HOLD") != "" {
			t.Logf("holding bed %s", bed.Prefix)
			time.Sleep(300 * time.Second)
		}
		txt, _ := capCh.Text()
		t.Logf("underlay capture:\n%s", txt)
	}

	// A vswitchd crash loses flows and neighbours; br-phy comes back.
	oldPID := ch2.VswitchdPID()
	if err := ch2.RestartVswitchd(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if ch2.VswitchdPID() == oldPID || alive(oldPID) {
		t.Errorf("vswitchd pid %d -> %d", oldPID, ch2.VswitchdPID())
	}
	if flows, err := ch2.DumpFlows("br-int"); err != nil || len(flows) != 0 {
		t.Errorf("flows after restart %q %v", flows, err)
	}
	program(ch2, ch1, vm2)
	if n, err := vm1.Ping("10.0.0.2", 2, 5*time.Second); err != nil {
		t.Errorf("ping after vswitchd restart: %d replies: %v", n, err)
	}

	// Processes the bed must stop on Close: an "agent" in the root
	// namespace, a straggler left running inside a VM namespace.
	if err := ch1.StartProcess("agent", exec.Command("sleep", "300")); err != nil {
		t.Fatal(err)
	}
	agentPID, running := ch1.PID("agent")
	if !running {
		t.Fatal("agent not running")
	}
	if _, err := vm2.Exec("sh", "-c", "sleep 301 >/dev/null 2>&1 &"); err != nil {
		t.Fatal(err)
	}
	pids := []int{agentPID, ch1.VswitchdPID(), ch2.VswitchdPID()}
	for _, ch := range chs {
		pid, _, err := readPIDFile(filepath.Join(ch.RunDir, "ovsdb-server.pid"))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	out, err := runCmd(5*time.Second, nil, "ip", "netns", "pids", vm2.Netns)
	if err != nil || len(strings.Fields(out)) != 1 {
		t.Fatalf("straggler in %s: %q %v", vm2.Netns, out, err)
	}
	straggler, _ := strconv.Atoi(strings.TrimSpace(out))
	pids = append(pids, straggler)

	start := time.Now()
	if err := bed.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("close took %s", time.Since(start))
	if err := bed.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	assertGone(t, bed.Prefix, pids)
	if _, err := bed.AddChassis("ch3"); err == nil {
		t.Error("AddChassis after Close succeeded")
	}
}

// tunnelFlows installs hand-written Geneve flows between vm's port and the
// tunnel to peer, and a static tunnel neighbour, on ch.
func tunnelFlows(t *testing.T, ch, peer *Chassis, vm *VM, vni int) {
	t.Helper()
	tun, err := ch.OFPort("geneve0")
	if err != nil {
		t.Fatal(err)
	}
	vmPort, err := vm.OFPort()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.AddFlows("br-int",
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=set_field:%d->tun_id,set_field:%s->tun_dst,output:%d",
			vmPort, vni, peer.TunnelIP, tun),
		fmt.Sprintf("table=0,priority=100,in_port=%d,tun_id=%d,actions=output:%d", tun, vni, vmPort),
	); err != nil {
		t.Fatal(err)
	}
	if err := ch.SetTunnelNeighbor(peer.TunnelIP, peer.TunnelMAC); err != nil {
		t.Fatal(err)
	}
	flows, err := ch.DumpFlows("br-int")
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 || !strings.Contains(flows[0]+flows[1], fmt.Sprintf("tun_id=0x%x", vni)) {
		t.Errorf("%s flows: %q", ch.Name, flows)
	}
}

// TestJumboUnderlay carries full 1500-byte VM frames over Geneve on a
// 9000-byte underlay.
func TestJumboUnderlay(t *testing.T) {
	bed := ForTestWith(t, Options{UnderlayMTU: 9000})
	chs := mustAddChassis(t, bed, "a", "b")
	vms := make([]*VM, 2)
	for i, ch := range chs {
		addBrInt(t, ch, true)
		vm, err := ch.AddVM(fmt.Sprintf("vm%d", i), fmt.Sprintf("02:00:0a:00:02:%02x", i+1), fmt.Sprintf("port-%d", i), 1500)
		if err != nil {
			t.Fatal(err)
		}
		if err := vm.SetAddr(fmt.Sprintf("10.0.2.%d/24", i+1)); err != nil {
			t.Fatal(err)
		}
		vms[i] = vm
	}
	for i, ch := range chs {
		tunnelFlows(t, ch, chs[1-i], vms[i], 7)
		if err := vms[i].SetStaticARP(fmt.Sprintf("10.0.2.%d", 2-i), vms[1-i].MAC); err != nil {
			t.Fatal(err)
		}
		if link, err := ch.Exec("ip", "-o", "link", "show", "br-phy"); err != nil || !strings.Contains(link, "mtu 9000") {
			t.Errorf("br-phy %q %v", link, err)
		}
	}
	// 1472 bytes of ICMP payload, don't fragment: a full 1500-byte packet.
	if out, err := vms[0].Exec("ping", "-n", "-M", "do", "-s", "1472", "-c", "2", "-i", "0.2", "-w", "5", "10.0.2.2"); err != nil {
		t.Fatalf("full-size ping over a jumbo underlay: %v\n%s", err, out)
	}
}

// assertGone checks that no namespace, directory or listed process of the
// bed remains.
func assertGone(t *testing.T, prefix string, pids []int) {
	t.Helper()
	out, err := runCmd(5*time.Second, nil, "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, prefix) {
		t.Errorf("namespaces of %s remain:\n%s", prefix, out)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), prefix)); !os.IsNotExist(err) {
		t.Errorf("directory of %s remains: %v", prefix, err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d still runs", pid)
		}
	}
	links, err := runCmd(5*time.Second, nil, "ip", "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(links, prefix) {
		t.Errorf("root namespace links mention %s:\n%s", prefix, links)
	}
}

// TestDHCPClient runs busybox udhcpd in one VM and the bed's DHCP client
// in another on a plain NORMAL br-int, and checks the lease was applied.
func TestDHCPClient(t *testing.T) {
	bed := ForTest(t)
	ch := mustAddChassis(t, bed, "hv")[0]
	addBrInt(t, ch, false)
	if err := ch.AddFlows("br-int", "priority=0,actions=NORMAL"); err != nil {
		t.Fatal(err)
	}
	srv, err := ch.AddVM("srv", "02:00:0a:00:01:01", "p-srv", 1500)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ch.AddVM("cli", "02:00:0a:00:01:02", "p-cli", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetAddr("10.0.1.1/24"); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(srv.RunDir, "udhcpd.conf")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"start 10.0.1.100", "end 10.0.1.150", "interface eth0", "max_leases 10",
		"pidfile " + filepath.Join(srv.RunDir, "udhcpd.pid"),
		"lease_file " + filepath.Join(srv.RunDir, "udhcpd.leases"),
		"option subnet 255.255.255.0", "option router 10.0.1.1", "option dns 10.0.1.53",
		"option domain wyvern.test", "option mtu 1400", "option lease 600",
	}, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.StartProcess("udhcpd", srv.Command("busybox", "udhcpd", "-f", conf)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	lease, err := cli.DHCP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lease.Addr.Bits() != 24 || lease.Addr.Addr().As4()[3] < 100 || !strings.HasPrefix(lease.Addr.String(), "10.0.1.") {
		t.Errorf("lease address %s", lease.Addr)
	}
	if lease.Router.String() != "10.0.1.1" || len(lease.DNS) != 1 || lease.DNS[0].String() != "10.0.1.53" ||
		lease.MTU != 1400 || lease.Domain != "wyvern.test" {
		t.Errorf("lease %+v", lease)
	}
	// The script applied it.
	addr, err := cli.Exec("ip", "-o", "-4", "addr", "show", "dev", "eth0")
	if err != nil || !strings.Contains(addr, lease.Addr.String()) {
		t.Errorf("eth0 addresses %q %v, want %s", addr, err, lease.Addr)
	}
	link, err := cli.Exec("ip", "-o", "link", "show", "dev", "eth0")
	if err != nil || !strings.Contains(link, "mtu 1400") {
		t.Errorf("eth0 %q %v, want mtu 1400", link, err)
	}
	route, err := cli.Exec("ip", "route", "show", "default")
	if err != nil || !strings.Contains(route, "via 10.0.1.1") {
		t.Errorf("default route %q %v", route, err)
	}
	resolv, err := os.ReadFile(filepath.Join(cli.RunDir, "resolv.conf"))
	if err != nil || !strings.Contains(string(resolv), "nameserver 10.0.1.53") {
		t.Errorf("resolv.conf %q %v", resolv, err)
	}
	if n, err := cli.Ping("10.0.1.1", 2, 5*time.Second); err != nil {
		t.Errorf("ping server: %d: %v", n, err)
	}

	// Unplug: the port leaves br-int; Plug puts it back.
	if err := cli.Unplug(); err != nil {
		t.Fatal(err)
	}
	ports, err := ch.Vsctl("list-ports", "br-int")
	if err != nil || strings.Contains(ports, cli.Iface) {
		t.Errorf("ports after unplug %q %v", ports, err)
	}
	if n, _ := cli.Ping("10.0.1.1", 1, time.Second); n != 0 {
		t.Errorf("unplugged VM got %d replies", n)
	}
	if err := cli.Plug(); err != nil {
		t.Fatal(err)
	}
	if n, err := cli.Ping("10.0.1.1", 1, 5*time.Second); err != nil {
		t.Errorf("replugged VM: %d: %v", n, err)
	}
	// Closing one VM removes its namespace only.
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _ := runCmd(5*time.Second, nil, "ip", "netns", "list"); strings.Contains(out, cli.Netns) || !strings.Contains(out, srv.Netns) {
		t.Errorf("after VM close: %s", out)
	}
}

// TestSweep kills nothing of a live bed and removes a bed whose owner is
// gone: namespaces, OVS daemons, recorded processes, directory.
func TestSweep(t *testing.T) {
	live := ForTest(t)
	if testing.Short() {
		return
	}
	dead, err := New(Options{Name: "stale"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dead.Close() })
	ch, err := dead.AddChassis("c")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.StartProcess("agent", exec.Command("sleep", "300")); err != nil {
		t.Fatal(err)
	}
	agent, _ := ch.PID("agent")
	// The owner "died": its record now names a process that is gone.
	if err := os.WriteFile(filepath.Join(dead.Dir, "owner"), []byte("1 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	removed, err := Sweep(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, dead.Prefix) || slices.Contains(removed, live.Prefix) {
		t.Fatalf("Sweep removed %v; stale %s, live %s", removed, dead.Prefix, live.Prefix)
	}
	assertGone(t, dead.Prefix, []int{agent, ch.VswitchdPID()})
	if out, _ := runCmd(5*time.Second, nil, "ip", "netns", "list"); !strings.Contains(out, live.UnderlayNode().Netns) {
		t.Errorf("live bed's underlay gone: %s", out)
	}
	// Close after a sweep has nothing left to do, and does not fail.
	if err := dead.Close(); err != nil {
		t.Errorf("close after sweep: %v", err)
	}
}

// TestHostsAndOutside puts plain hosts on the underlay.
func TestHostsAndOutside(t *testing.T) {
	bed := ForTest(t)
	out, err := bed.Outside()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := bed.Outside(); err != nil || again != out {
		t.Fatalf("second Outside: %v", err)
	}
	h, err := bed.AddHost("peer", netip.MustParsePrefix("192.0.2.9/24"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Ping("192.0.2.254", 2, 5*time.Second); err != nil {
		t.Errorf("ping outside on the underlay: %d: %v", n, err)
	}
	if err := h.SetGateway("192.0.2.254"); err != nil {
		t.Fatal(err)
	}
	if n, err := h.Ping("203.0.113.1", 1, 5*time.Second); err != nil {
		t.Errorf("ping the internet address: %d: %v", n, err)
	}
	if _, err := bed.AddHost("peer", netip.Prefix{}); err == nil {
		t.Error("duplicate host name accepted")
	}
	if _, err := bed.AddChassis("Bad_Name"); err == nil {
		t.Error("bad chassis name accepted")
	}
}
