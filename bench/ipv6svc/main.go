// Command ipv6svc measures how fast the local agent answers a VM's IPv6
// service requests: router solicitation → router advertisement, and
// DHCPv6 SOLICIT → ADVERTISE (request sent to reply received, p50/p99),
// beside DHCPv4 DISCOVER → OFFER on the same path as the baseline: all
// three are a packet-in to the agent and a packet-out back.
//
// It runs a real `wyvern server` and one `wyvern-agent` on a test bed
// (internal/lab: real OVS, userspace datapath), a network with an IPv4
// subnet and a dhcpv6-stateful IPv6 subnet behind a router, and one VM.
// Inside the VM's namespace this same program (re-executed with
// probeEnv) sends the requests from an AF_PACKET socket on eth0, one at a
// time, and times each to its reply. Rounds interleave the three kinds.
// It must run as root.
//
//	go build -o bench/out/ ./cmd/wyvern ./cmd/wyvern-agent ./bench/ipv6svc
//	bench/out/ipv6svc -wyvern bench/out/wyvern -wyvern-agent bench/out/wyvern-agent -out bench/results/ipv6svc-$(date +%F).md
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv6"

	"github.com/wyvern-sdn/wyvern/bench/internal/benchbed"
	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ra"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// probeEnv makes the program a probe inside a VM namespace: "<kind> <n>
// <interval>"; it prints one latency in microseconds per line, "lost" for
// a request without a reply within a second.
const probeEnv = "WYVERN_BENCH_IPV6SVC_PROBE"

var kinds = []string{"dhcpv4", "rs", "dhcpv6"}

type config struct {
	Rounds, N     int
	Interval      time.Duration
	Out, Command  string
	Wyvern, Agent string
	Built         string
	Verbose       bool
}

func main() {
	if spec := os.Getenv(probeEnv); spec != "" {
		os.Exit(probe(spec))
	}
	var cfg config
	flag.IntVar(&cfg.Rounds, "rounds", 5, "rounds (each sends n requests of every kind)")
	flag.IntVar(&cfg.N, "n", 200, "requests of each kind per round")
	flag.DurationVar(&cfg.Interval, "interval", 5*time.Millisecond, "pause between a reply and the next request")
	flag.StringVar(&cfg.Out, "out", "", "Markdown results file (default: stdout)")
	flag.StringVar(&cfg.Command, "command", "", "the command line to record in the report")
	flag.StringVar(&cfg.Wyvern, "wyvern", "", "wyvern binary (server)")
	flag.StringVar(&cfg.Agent, "wyvern-agent", "", "wyvern-agent binary")
	flag.StringVar(&cfg.Built, "built", "", "what the binaries were built from, for the report")
	flag.BoolVar(&cfg.Verbose, "v", false, "log the test bed's actions")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "ipv6svc:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.Wyvern == "" || cfg.Agent == "" || cfg.Rounds < 1 || cfg.N < 1 {
		return fmt.Errorf("bad settings %+v: -wyvern and -wyvern-agent are required", cfg)
	}
	if err := testbed.Require(); err != nil {
		return err
	}
	log := benchbed.Start(cfg.Verbose)
	m := machine.Describe()
	load := machine.LoadAvg()
	samples := map[string][]time.Duration{}
	lost := map[string]int{}
	err := benchbed.Run("bench-ipv6svc", "", nil, log, func(bed *testbed.Bed) error {
		vm, err := setup(cfg, bed)
		if err != nil {
			return err
		}
		for r := 0; r < cfg.Rounds; r++ {
			for _, k := range kinds {
				got, l, err := runProbe(vm, k, cfg.N, cfg.Interval)
				if err != nil {
					return fmt.Errorf("round %d, %s: %w", r+1, k, err)
				}
				samples[k] = append(samples[k], got...)
				lost[k] += l
			}
			progress("round %d done", r+1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return machine.WritePage(cfg.Out, report(cfg, m, load, samples, lost))
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s ipv6svc: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// setup starts Wyvern on the bed with the topology and the VM, and waits
// until the VM gets an answer of each kind.
func setup(cfg config, bed *testbed.Bed) (*testbed.VM, error) {
	l, err := lab.Start(bed, cfg.Wyvern, lab.Options{AgentBin: cfg.Agent})
	if err != nil {
		return nil, err
	}
	ch, err := l.AddChassis("ch1")
	if err != nil {
		return nil, err
	}
	n, s4, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.71.0.0/24"})
	if err != nil {
		return nil, err
	}
	var s6 struct{ Subnet model.Subnet }
	if err := l.Do("POST", "/v2.0/subnets", "p1", map[string]any{"subnet": map[string]any{
		"network_id": n.ID, "cidr": "2001:db8:71::/64", "ip_version": 6, "ipv6_ra_mode": "dhcpv6-stateful",
		"ipv6_address_mode": "dhcpv6-stateful", "dns_nameservers": []string{"2001:db8::53"}}}, &s6); err != nil {
		return nil, err
	}
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", "p1", map[string]any{"router": map[string]any{"name": "r"}}, &r); err != nil {
		return nil, err
	}
	for _, s := range []string{s4.ID, s6.Subnet.ID} {
		if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", "p1", map[string]any{"subnet_id": s}, nil); err != nil {
			return nil, err
		}
	}
	vm, p, err := l.Boot(ch, "vm", "p1", n.ID, nil)
	if err != nil {
		return nil, err
	}
	if _, err := l.WaitPort(p.ID, 20*time.Second, func(p model.Port) bool { return p.Status == model.StatusActive }); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range kinds {
		for {
			got, _, err := runProbe(vm, k, 1, 0)
			if err == nil && len(got) == 1 {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("no %s answer after 30s: %v\n%s", k, err, bed.LogTails(20))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return vm, nil
}

// runProbe runs the probe in the VM's namespace.
func runProbe(vm *testbed.VM, kind string, n int, interval time.Duration) ([]time.Duration, int, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command("ip", "netns", "exec", vm.Netns, self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s", probeEnv, kind, n, interval))
	out, err := cmd.Output()
	if err != nil {
		return nil, 0, fmt.Errorf("probe: %w", err)
	}
	return benchbed.ParseProbe(out, "lost")
}

// probe sends n requests of a kind out of eth0 and prints their latency.
func probe(spec string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "probe:", err); return 2 }
	f := strings.Fields(spec)
	if len(f) != 3 {
		return fail(fmt.Errorf("bad spec %q", spec))
	}
	n, err1 := strconv.Atoi(f[1])
	interval, err2 := time.ParseDuration(f[2])
	ifi, err3 := net.InterfaceByName("eth0")
	if err := errors.Join(err1, err2, err3); err != nil {
		return fail(err)
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		return fail(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail(err)
	}
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return fail(err)
	}
	mac := ifi.HardwareAddr
	buf := make([]byte, 9000)
	for i := 0; i < n; i++ {
		frame, match, err := request(f[0], mac, uint32(i))
		if err != nil {
			return fail(err)
		}
		start := time.Now()
		if err := syscall.Sendto(fd, frame, 0, &syscall.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}); err != nil {
			return fail(err)
		}
		answered := false
		for !answered && time.Since(start) < time.Second {
			k, _, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil {
				continue // timeout: check the deadline
			}
			if match(buf[:k]) {
				fmt.Println(time.Since(start).Microseconds())
				answered = true
			}
		}
		if !answered {
			fmt.Println("lost")
		}
		time.Sleep(interval)
	}
	return 0
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// request builds a request of a kind from mac and a matcher of its reply.
func request(kind string, mac net.HardwareAddr, seq uint32) ([]byte, func([]byte) bool, error) {
	lla := ra.LinkLocal(mac)
	var layersOut []gopacket.SerializableLayer
	var match func(gopacket.Packet) bool
	switch kind {
	case "rs":
		ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: lla.AsSlice(), DstIP: net.ParseIP("ff02::2")}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterSolicitation, 0)}
		_ = icmp.SetNetworkLayerForChecksum(ip6)
		layersOut = []gopacket.SerializableLayer{eth(mac, "33:33:00:00:00:02", layers.EthernetTypeIPv6), ip6, icmp,
			&layers.ICMPv6RouterSolicitation{Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: mac}}}}
		match = func(p gopacket.Packet) bool {
			ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			return ok && p.Layer(layers.LayerTypeICMPv6RouterAdvertisement) != nil && ip.DstIP.Equal(lla.AsSlice())
		}
	case "dhcpv6":
		sol, err := dhcpv6.NewSolicit(mac)
		if err != nil {
			return nil, nil, err
		}
		copy(sol.TransactionID[:], []byte{byte(seq >> 16), byte(seq >> 8), byte(seq)})
		xid := sol.TransactionID
		ip6 := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolUDP, SrcIP: lla.AsSlice(), DstIP: net.ParseIP("ff02::1:2")}
		udp := &layers.UDP{SrcPort: 546, DstPort: 547}
		_ = udp.SetNetworkLayerForChecksum(ip6)
		layersOut = []gopacket.SerializableLayer{eth(mac, "33:33:00:01:00:02", layers.EthernetTypeIPv6), ip6, udp, gopacket.Payload(sol.ToBytes())}
		match = func(p gopacket.Packet) bool {
			u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if !ok || u.SrcPort != 547 {
				return false
			}
			m, err := dhcpv6.MessageFromBytes(u.Payload)
			return err == nil && m.Type() == dhcpv6.MessageTypeAdvertise && m.TransactionID == xid
		}
	case "dhcpv4":
		d, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithTransactionID(dhcpv4.TransactionID{byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq)}))
		if err != nil {
			return nil, nil, err
		}
		xid := d.TransactionID
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero.To4(), DstIP: net.IPv4bcast.To4()}
		udp := &layers.UDP{SrcPort: 68, DstPort: 67}
		_ = udp.SetNetworkLayerForChecksum(ip4)
		layersOut = []gopacket.SerializableLayer{eth(mac, "ff:ff:ff:ff:ff:ff", layers.EthernetTypeIPv4), ip4, udp, gopacket.Payload(d.ToBytes())}
		match = func(p gopacket.Packet) bool {
			u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if !ok || u.SrcPort != 67 {
				return false
			}
			m, err := dhcpv4.FromBytes(u.Payload)
			return err == nil && m.MessageType() == dhcpv4.MessageTypeOffer && m.TransactionID == xid
		}
	default:
		return nil, nil, fmt.Errorf("unknown kind %q", kind)
	}
	b := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(b, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, layersOut...); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), func(f []byte) bool {
		return match(gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.NoCopy))
	}, nil
}

func eth(src net.HardwareAddr, dst string, t layers.EthernetType) *layers.Ethernet {
	d, _ := net.ParseMAC(dst)
	return &layers.Ethernet{SrcMAC: src, DstMAC: d, EthernetType: t}
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64)
}

func report(cfg config, m machine.Machine, load string, samples map[string][]time.Duration, lost map[string]int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# IPv6 services: answer latency (%s)\n\n", time.Now().Format("2006-01-02"))
	w("Request sent from a VM's eth0 (AF_PACKET) to its reply received there, through OVS (userspace datapath), a packet-in to the local `wyvern-agent`, its answer and a packet-out. DHCPv4 DISCOVER → OFFER takes the same path and is the baseline, measured in the same rounds.\n\n")
	w("Command: `%s`\n\n", cfg.Command)
	w("%d rounds × %d requests of each kind, interleaved by kind within a round, %s between a reply and the next request.\n\n", cfg.Rounds, cfg.N, cfg.Interval)
	w("| request → reply | samples | lost | p50 ms | p99 ms | max ms | p50 ÷ DHCPv4's | p99 ÷ DHCPv4's |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	names := map[string]string{"dhcpv4": "DHCPv4 DISCOVER → OFFER (baseline)", "rs": "router solicitation → advertisement", "dhcpv6": "DHCPv6 SOLICIT → ADVERTISE"}
	b4 := samples["dhcpv4"]
	for _, k := range kinds {
		s := samples[k]
		r50, r99 := "—", "—"
		if k != "dhcpv4" && pct(b4, 0.5) > 0 {
			r50 = strconv.FormatFloat(float64(pct(s, 0.5))/float64(pct(b4, 0.5)), 'f', 2, 64)
			r99 = strconv.FormatFloat(float64(pct(s, 0.99))/float64(pct(b4, 0.99)), 'f', 2, 64)
		}
		w("| %s | %d | %d | %s | %s | %s | %s | %s |\n", names[k], len(s), lost[k], ms(pct(s, 0.5)), ms(pct(s, 0.99)), ms(pct(s, 1)), r50, r99)
	}
	w("\n## Machine\n\n- CPUs: %s; load average at start: %s (shared machine)\n- %s; kernel %s; %s; Wyvern built from %s\n", m.CPUs, load, m.OVS, m.Kernel, m.Go, cfg.Built)
	return b.String()
}
