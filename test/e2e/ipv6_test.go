package e2e

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ra"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
	"github.com/wyvern-sdn/wyvern/internal/trace"
)

// rawFrameEnv makes the test binary send raw Ethernet frames instead of
// running the tests (runRawFrameHelper), inside a VM's namespace.
const rawFrameEnv = "WYVERN_E2E_FRAME"

// runRawFrameHelper sends a frame out of an interface count times, 100 ms
// apart. Its arguments (in rawFrameEnv): <iface> <frame hex> <count>.
func runRawFrameHelper(spec string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "rawframe:", err); return 2 }
	args := strings.Fields(spec)
	if len(args) != 3 {
		return fail(fmt.Errorf("bad spec %q", spec))
	}
	ifi, err := net.InterfaceByName(args[0])
	frame, err2 := hex.DecodeString(args[1])
	count, err3 := strconv.Atoi(args[2])
	if err := errors.Join(err, err2, err3); err != nil {
		return fail(err)
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
	if err != nil {
		return fail(err)
	}
	defer syscall.Close(fd)
	addr := &syscall.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	copy(addr.Addr[:], frame[:6])
	for i := 0; i < count; i++ {
		if err := syscall.Sendto(fd, frame, 0, addr); err != nil {
			return fail(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0
}

// sendFrames sends frame out of vm's eth0 count times.
func sendFrames(t *testing.T, vm *testbed.VM, frame []byte, count int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := vm.Command(self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=eth0 %x %d", rawFrameEnv, frame, count))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("send frames from %s: %v: %s", vm.Name, err, out)
	}
}

// subnet6 adds an IPv6 subnet to a network with both IPv6 modes set to
// mode and an IPv6 DNS server.
func subnet6(t *testing.T, l *lab.Lab, project, netID, cidr, mode string) model.Subnet {
	t.Helper()
	var sub struct{ Subnet model.Subnet }
	if err := l.Do("POST", "/v2.0/subnets", project, map[string]any{"subnet": map[string]any{
		"network_id": netID, "cidr": cidr, "ip_version": 6, "ipv6_ra_mode": mode, "ipv6_address_mode": mode,
		"dns_nameservers": []string{"2001:db8::53"}}}, &sub); err != nil {
		t.Fatal(err)
	}
	return sub.Subnet
}

// addrOn is the port's fixed address on a subnet.
func addrOn(t *testing.T, p model.Port, sub model.Subnet) string {
	t.Helper()
	for _, f := range p.FixedIPs {
		if f.SubnetID == sub.ID {
			return f.IPAddress
		}
	}
	t.Fatalf("port %s has no address on %s: %v", p.ID, sub.CIDR, p.FixedIPs)
	return ""
}

// boot6 boots a VM for a port with extra attributes, waits for the port
// to be ACTIVE, and configures its IPv4 address on v4 statically (IPv6
// is left to the VM's kernel and the agent's advertisements).
func boot6(t *testing.T, l *lab.Lab, ch *testbed.Chassis, name string, n model.Network, v4 model.Subnet, extra map[string]any) (*testbed.VM, model.Port) {
	t.Helper()
	vm, p, err := l.Boot(ch, name, "p1", n.ID, extra)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitPort(p.ID, 10*time.Second, func(p model.Port) bool {
		return p.Status == model.StatusActive && p.HostID == ch.Name
	}); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetAddr(addrOn(t, p, v4) + "/24"); err != nil {
		t.Fatal(err)
	}
	return vm, p
}

// waitAddr6 waits until the VM's eth0 has the global address want
// (prefix length any), usable (not tentative).
func waitAddr6(t *testing.T, l *lab.Lab, vm *testbed.VM, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := vm.Exec("ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global")
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " "+want+"/") && !strings.Contains(line, "tentative") {
				return
			}
		}
		if time.Now().After(deadline) {
			routes, _ := vm.Exec("ip", "-6", "route")
			flows, _ := vm.Chassis.Ofctl("dump-flows", "br-int")
			t.Fatalf("%s has no usable %s after 30s:\n%s\n%s\nflows:\n%s\n%s", vm.Name, want, out, routes, flows, l.Bed.LogTails(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLinkLocal waits until the VM's link-local address is usable.
func waitLinkLocal(t *testing.T, vm *testbed.VM) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := vm.Exec("ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
		if strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no usable link-local address: %s", vm.Name, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dhclient6 runs `dhclient -6` on the VM's eth0 until it is bound and
// returns the address its script was given; the script adds it. With
// stateless, it runs `dhclient -6 -S` (information request only) and
// returns the DNS servers it was given.
func dhclient6(t *testing.T, vm *testbed.VM, stateless bool) string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
env > %[1]s/env.$reason
if [ -n "$new_ip6_address" ]; then
	ip -6 addr add "$new_ip6_address/${new_ip6_prefixlen:-128}" dev "$interface" nodad
	echo "$new_ip6_address" > %[1]s/addr.tmp && mv %[1]s/addr.tmp %[1]s/addr
elif [ -n "$new_dhcp6_name_servers" ]; then
	# dhclient -S (information request only) reports no address.
	echo "$new_dhcp6_name_servers" > %[1]s/addr.tmp && mv %[1]s/addr.tmp %[1]s/addr
fi
exit 0
`, dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte("request dhcp6.name-servers, dhcp6.domain-search;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"dhclient", "-6", "-d", "-v", "-cf", conf, "-sf", script,
		"-lf", filepath.Join(dir, "leases"), "-pf", filepath.Join(dir, "pid")}
	if stateless {
		args = append(args, "-S")
	}
	cmd := vm.Command(append(args, "eth0")...)
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := vm.StartProcess("dhclient6", cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vm.StopProcess("dhclient6", syscall.SIGTERM) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "addr")); err == nil {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("dhclient -6 in %s not bound after 30s:\n%s", vm.Name, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIPv6 serves Neutron's IPv6 from the local agents, with real
// kernels as clients: a dual-stack network with a slaac subnet and one
// with a dhcpv6-stateful subnet, behind a router, VMs on two chassis.
//   - A VM's kernel takes, from the agent's router advertisement, the
//     SLAAC address the API reports (EUI-64); dhclient -6 takes the
//     stateful address the API reports.
//   - ping -6 and TCP work across chassis on one subnet, and across the
//     two subnets through the router (its link-local address the
//     default route, as advertised), IPv4 alongside on the same ports.
//   - Security group rules with ethertype IPv6 allow and deny.
//   - A VM spoofing another IPv6 source, or sending a router
//     advertisement, gets nothing through.
func TestIPv6(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	n1, s1, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.61.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	n2, s2, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n2", CIDR: "10.62.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	s1v6 := subnet6(t, l, "p1", n1.ID, "2001:db8:61::/64", "slaac")
	s2v6 := subnet6(t, l, "p1", n2.ID, "2001:db8:62::/64", "dhcpv6-stateful")
	n3, s3, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n3", CIDR: "10.63.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	s3v6 := subnet6(t, l, "p1", n3.ID, "2001:db8:63::/64", "dhcpv6-stateless")
	router(t, l, "p1", s1, s2, s1v6, s2v6)

	a, pa := boot6(t, l, chs[0], "a", n1, s1, nil)
	b, pb := boot6(t, l, chs[1], "b", n1, s1, nil)
	c, pc := boot6(t, l, chs[1], "c", n2, s2, nil)
	a6, b6, c6 := addrOn(t, pa, s1v6), addrOn(t, pb, s1v6), addrOn(t, pc, s2v6)
	mac, _ := net.ParseMAC(pa.MACAddress)
	if want := eui64(t, "2001:db8:61::/64", mac); a6 != want {
		t.Fatalf("API address %s, want the EUI-64 address %s", a6, want)
	}

	t.Run("slaac", func(t *testing.T) {
		waitAddr6(t, l, a, a6)
		waitAddr6(t, l, b, b6)
		routes, _ := a.Exec("ip", "-6", "route", "show", "default")
		rtr := ra.LinkLocal(routerMACOn(t, l, n1.ID, s1v6)).String()
		if !strings.Contains(routes, "via "+rtr) {
			t.Fatalf("a's default route is not via the router's link-local %s:\n%s", rtr, routes)
		}
	})
	t.Run("dhcpv6-stateful", func(t *testing.T) {
		waitLinkLocal(t, c)
		if got := dhclient6(t, c, false); got != c6 {
			t.Fatalf("dhclient -6 got %s, the API says %s", got, c6)
		}
		waitAddr6(t, l, c, c6)
		if ra, _ := c.Exec("ip", "-6", "route", "show", "2001:db8:62::/64"); !strings.Contains(ra, "expires") {
			t.Fatalf("c has no on-link route from the advertisement:\n%s", ra)
		}
	})
	t.Run("dhcpv6-stateless", func(t *testing.T) {
		// No router on n3: the agent advertises the prefix as a router of
		// no default route; the kernel takes its SLAAC address and
		// dhclient -6 -S the options.
		e, pe := boot6(t, l, chs[0], "e", n3, s3, nil)
		waitAddr6(t, l, e, addrOn(t, pe, s3v6))
		if routes, _ := e.Exec("ip", "-6", "route", "show", "default"); routes != "" {
			t.Fatalf("e took a default route from a network without a router:\n%s", routes)
		}
		waitLinkLocal(t, e)
		if got := dhclient6(t, e, true); got != "2001:db8::53" {
			t.Fatalf("dhclient -6 -S got DNS %q, want 2001:db8::53", got)
		}
	})
	t.Run("same subnet across chassis", func(t *testing.T) {
		mustPing(t, l, a, b6)
		mustPing(t, l, b, a6)
		tcpServe(t, b, 5061)
		if !tcpConnect(a, b6, 5061, 10*time.Second) {
			t.Fatal("TCP a→b over IPv6 failed")
		}
	})
	t.Run("routed across subnets and chassis", func(t *testing.T) {
		mustPing(t, l, a, "2001:db8:61::1") // the router answers
		mustPing(t, l, a, c6)
		mustPing(t, l, c, a6)
		tcpServe(t, c, 5062)
		if !tcpConnect(a, c6, 5062, 10*time.Second) {
			t.Fatal("TCP a→c over IPv6 through the router failed")
		}
	})
	t.Run("wyvernctl trace", func(t *testing.T) {
		out, _ := wyvernctlTrace(t, l, chs[0], pa.ID, fmt.Sprintf("tcp, dst [%s]:5062", c6))
		r := out.Logical
		if r.Verdict != trace.Delivered || r.Route == nil || r.Route.Kind != "host" || r.Dest == nil || r.Dest.ID != pc.ID {
			t.Fatalf("trace a → c: verdict %s, route %+v, dest %+v", r.Verdict, r.Route, r.Dest)
		}
		if o := r.Output; o == nil || !o.Tunnelled || o.VNI != n2.SegmentationID {
			t.Fatalf("trace a → c: output %+v, want the tunnel with n2's VNI", o)
		}
	})
	t.Run("dual stack", func(t *testing.T) {
		mustPing(t, l, a, addrOn(t, pb, s1))
		mustPing(t, l, a, b6)
	})
	t.Run("security groups", func(t *testing.T) {
		var sg struct {
			SecurityGroup model.SecurityGroup `json:"security_group"`
		}
		if err := l.Do("POST", "/v2.0/security-groups", "p1", map[string]any{"security_group": map[string]any{"name": "web6"}}, &sg); err != nil {
			t.Fatal(err)
		}
		if err := l.Do("POST", "/v2.0/security-group-rules", "p1", map[string]any{"security_group_rule": map[string]any{
			"security_group_id": sg.SecurityGroup.ID, "direction": "ingress", "ethertype": "IPv6",
			"protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080}}, nil); err != nil {
			t.Fatal(err)
		}
		d, pd := boot6(t, l, chs[1], "d", n1, s1, map[string]any{"security_groups": []string{sg.SecurityGroup.ID}})
		d6 := addrOn(t, pd, s1v6)
		waitAddr6(t, l, d, d6)
		tcpServe(t, d, 8080)
		tcpServe(t, d, 9090)
		if !tcpConnect(a, d6, 8080, 10*time.Second) {
			t.Fatal("TCP to port 8080, allowed by an IPv6 rule, failed")
		}
		if tcpConnect(a, d6, 9090, 3*time.Second) {
			t.Fatal("TCP to port 9090 got through: no rule allows it")
		}
		mustNotPing(t, a, d6)
		if tcpConnect(a, addrOn(t, pd, s1), 8080, 3*time.Second) {
			t.Fatal("IPv4 TCP to 8080 got through: the rule is IPv6 only")
		}
	})
	t.Run("spoofing and rogue router advertisements", func(t *testing.T) {
		if _, err := a.Exec("ip", "-6", "addr", "add", "2001:db8:61::99/64", "dev", "eth0", "nodad"); err != nil {
			t.Fatal(err)
		}
		out, _ := a.Exec("ping", "-n", "-c", "3", "-i", "0.2", "-w", "3", "-I", "2001:db8:61::99", b6)
		if !strings.Contains(out, " 0 received") {
			t.Fatalf("a spoofing 2001:db8:61::99 got replies from b:\n%s", out)
		}
		if _, err := a.Exec("ip", "-6", "addr", "del", "2001:db8:61::99/64", "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
		capture, err := b.Capture("eth0", "icmp6")
		if err != nil {
			t.Fatal(err)
		}
		rogue, err := ra.Build(ra.Advert{SrcMAC: mac, SrcIP: ra.LinkLocal(mac), RouterLifetime: 1800 * time.Second,
			Prefixes: []ra.Prefix{{Prefix: netip.MustParsePrefix("2001:db8:bad::/64"), OnLink: true, Autonomous: true}}},
			net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, ra.AllNodes)
		if err != nil {
			t.Fatal(err)
		}
		sendFrames(t, a, rogue, 5)
		mustPing(t, l, a, b6) // the path works: the RAs had their chance
		pkts, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if n := testbed.Count(pkts, func(p testbed.Packet) bool {
			icmp, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
			eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			return ok && eth != nil && icmp.TypeCode.Type() == layers.ICMPv6TypeRouterAdvertisement && eth.SrcMAC.String() == mac.String()
		}); n != 0 {
			t.Fatalf("b received %d router advertisements from a", n)
		}
		if routes, _ := b.Exec("ip", "-6", "route"); strings.Contains(routes, "2001:db8:bad") {
			t.Fatalf("b took the rogue prefix:\n%s", routes)
		}
	})
}

// eui64 is the SLAAC address of mac on a /64.
func eui64(t *testing.T, prefix string, mac net.HardwareAddr) string {
	t.Helper()
	p := netip.MustParsePrefix(prefix).Addr().As16()
	lla := ra.LinkLocal(mac).As16()
	copy(p[8:], lla[8:])
	return netip.AddrFrom16(p).String()
}

// routerMACOn is the MAC of the router interface port on a subnet.
func routerMACOn(t *testing.T, l *lab.Lab, netID string, sub model.Subnet) net.HardwareAddr {
	t.Helper()
	var ps struct{ Ports []model.Port }
	if err := l.Do("GET", "/v2.0/ports?network_id="+netID+"&device_owner=network:router_interface", "", nil, &ps); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps.Ports {
		for _, f := range p.FixedIPs {
			if f.SubnetID == sub.ID {
				m, err := net.ParseMAC(p.MACAddress)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
	}
	t.Fatalf("no router interface on %s", sub.CIDR)
	return nil
}
