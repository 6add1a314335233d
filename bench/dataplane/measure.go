package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// result is everything the run measured.
type result struct {
	Rounds    []round
	Megaflows []megaflowTest
	FIPs      map[string]string // VM → its floating IP
	Load      string            // load average at the start
	Took      time.Duration
}

// round is one measurement of every Wyvern path, each beside its
// baseline.
type round struct {
	Load  string   // load average at its start
	Order []string // the order the paths were measured in
	// By is a Wyvern path's sample; Base the sample of its baseline
	// measured next to it, by the Wyvern path's key.
	By, Base map[string]sample
}

// sample is one path's figures in one round.
type sample struct {
	Gbps        float64 // receiver's throughput
	Retransmits int     // TCP retransmissions the sender counted
	RTT         float64 // p50 of the pings, ms
	Lost        int     // pings unanswered
	// CPUPerGB is the ovs-vswitchd CPU time (user + system, ms) of the
	// path's chassis (sender and receiver summed) per GB received by
	// iperf3: the datapath's cost, which other jobs on the machine
	// disturb far less than the rate.
	CPUPerGB float64
}

// iperfResult is what iperf3 -J reports.
type iperfResult struct {
	Gbps        float64
	Bytes       float64 // received
	Retransmits int
}

// iperfJSON is the part of iperf3's -J output used here.
type iperfJSON struct {
	End struct {
		SumSent struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   int     `json:"retransmits"`
		} `json:"sum_sent"`
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Bytes         float64 `json:"bytes"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

func parseIperf(out []byte) (iperfResult, error) {
	var j iperfJSON
	if err := json.Unmarshal(out, &j); err != nil {
		return iperfResult{}, fmt.Errorf("iperf3 output: %w", err)
	}
	if j.Error != "" {
		return iperfResult{}, fmt.Errorf("iperf3: %s", j.Error)
	}
	if j.End.SumReceived.BitsPerSecond <= 0 {
		return iperfResult{}, errors.New("iperf3: nothing received")
	}
	return iperfResult{Gbps: j.End.SumReceived.BitsPerSecond / 1e9, Bytes: j.End.SumReceived.Bytes,
		Retransmits: j.End.SumSent.Retransmits}, nil
}

// iperfCmd is the client command of a path: seconds long, parallel
// streams, JSON output.
func iperfCmd(ctx context.Context, p *path, seconds, parallel int) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", "netns", "exec", p.Client.Netns, "iperf3", "-c", p.Dst,
		"-p", strconv.Itoa(iperfPort), "-t", strconv.Itoa(seconds), "-P", strconv.Itoa(parallel), "-J")
}

// iperf runs the client of a path. A refused connection (the server not
// listening yet) is retried for a few seconds.
func iperf(p *path, seconds, parallel int) (iperfResult, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+20)*time.Second)
		out, err := iperfCmd(ctx, p, seconds, parallel).Output()
		cancel()
		r, perr := parseIperf(out)
		if perr == nil {
			return r, nil
		}
		if time.Now().After(deadline) || !strings.Contains(perr.Error(), "refused") {
			return r, fmt.Errorf("%s → %s: %w (%v)", p.Client.Name, p.Dst, perr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var rttRE = regexp.MustCompile(`time=([0-9.]+) ms`)

// parsePing returns the round-trip times (ms) of ping's reply lines.
func parsePing(out string) []float64 {
	var rtts []float64
	for _, m := range rttRE.FindAllStringSubmatch(out, -1) {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			rtts = append(rtts, v)
		}
	}
	return rtts
}

// rtt pings the path's destination cfg.Pings times and returns the p50
// and the number unanswered; more than a tenth lost is an error.
func (b *bench) rtt(p *path) (p50 float64, lost int, err error) {
	interval := strconv.FormatFloat(b.cfg.PingInterval.Seconds(), 'f', 3, 64)
	out, runErr := p.Client.Exec("ping", "-n", "-i", interval, "-c", strconv.Itoa(b.cfg.Pings), "-W", "1", p.Dst)
	rtts := parsePing(out)
	lost = b.cfg.Pings - len(rtts)
	if lost*10 > b.cfg.Pings {
		return 0, lost, fmt.Errorf("ping %s → %s: %d of %d lost: %v", p.Client.Name, p.Dst, lost, b.cfg.Pings, runErr)
	}
	return median(rtts), lost, nil
}

// rounds measures, per round, each Wyvern path right next to its
// baseline (baseline first in odd rounds, path first in even ones), the
// pairs in an order rotated by one each round: a ratio divides a path by
// the baseline measured just before or after it.
func (b *bench) rounds() error {
	var wyvern []*path
	for _, p := range b.paths {
		if baseOf(p.Key) != "" {
			wyvern = append(wyvern, p)
		}
	}
	for r := 0; r < b.cfg.Rounds; r++ {
		rd := round{Load: machine.LoadAvg(), By: map[string]sample{}, Base: map[string]sample{}}
		for i := range wyvern {
			p := wyvern[(i+r)%len(wyvern)]
			pair := []*path{b.path(baseOf(p.Key)), p}
			if r%2 == 1 {
				pair[0], pair[1] = pair[1], pair[0]
			}
			for _, q := range pair {
				s, err := b.measure(q)
				if err != nil {
					return fmt.Errorf("round %d, path %s: %w", r+1, q.Key, err)
				}
				rd.Order = append(rd.Order, q.Key)
				if q == p {
					rd.By[p.Key] = s
				} else {
					rd.Base[p.Key] = s
				}
			}
		}
		b.res.Rounds = append(b.res.Rounds, rd)
		var parts []string
		for _, p := range wyvern {
			s, bs := rd.By[p.Key], rd.Base[p.Key]
			parts = append(parts, fmt.Sprintf("%s %.2f/%.2f Gbit/s %.3f/%.3f ms", p.Key, s.Gbps, bs.Gbps, s.RTT, bs.RTT))
		}
		note("  round %d/%d (load %s), path/baseline: %s", r+1, b.cfg.Rounds, rd.Load, strings.Join(parts, ", "))
		rep.Count(r+1, b.cfg.Rounds)
	}
	return nil
}

// measure is one path's TCP throughput with the vswitchd CPU it took,
// then its RTT.
func (b *bench) measure(p *path) (sample, error) {
	before, err := p.vswitchdCPU()
	if err != nil {
		return sample{}, err
	}
	ip, err := iperf(p, b.cfg.Seconds, 1)
	if err != nil {
		return sample{}, err
	}
	after, err := p.vswitchdCPU()
	if err != nil {
		return sample{}, err
	}
	rtt, lost, err := b.rtt(p)
	if err != nil {
		return sample{}, err
	}
	s := sample{Gbps: ip.Gbps, Retransmits: ip.Retransmits, RTT: rtt, Lost: lost}
	if ip.Bytes > 0 {
		s.CPUPerGB = float64(after-before) / float64(time.Millisecond) / (ip.Bytes / 1e9)
	}
	return s, nil
}

// vswitchdCPU is the CPU time of the path's chassis' ovs-vswitchd
// processes, summed.
func (p *path) vswitchdCPU() (time.Duration, error) {
	var sum time.Duration
	for _, ch := range []*testbed.Chassis{p.Sender, p.Receiver} {
		if ch == nil {
			continue
		}
		d, err := machine.ProcCPU(ch.VswitchdPID())
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// megaflowTest is the datapath flows seen during a many-connection test
// of one path.
type megaflowTest struct {
	Path    string
	Conns   int
	Gbps    float64 // aggregate
	Sender  datapathView
	Recv    datapathView
	HasSend bool
}

// datapathView is one chassis' datapath during the test.
type datapathView struct {
	Chassis string
	Ports   map[string]string // datapath port number → name
	// Own counts the flows of this path (ownFlows): the rest are
	// stragglers of earlier tests.
	Own int
	flowStats
	pmdStats
}

var dpPortRE = regexp.MustCompile(`(?m)^\s*port ([0-9]+): ([^ \n]+)`)

// parseDPPorts maps datapath port numbers to names from
// `ovs-appctl dpctl/show`.
func parseDPPorts(out string) map[string]string {
	m := map[string]string{}
	for _, p := range dpPortRE.FindAllStringSubmatch(out, -1) {
		m[p[1]] = p[2]
	}
	return m
}

// megaflows runs cfg.Conns parallel connections on the routed+sg path
// (the one the issue asks for) and, for comparison, on the baseline and
// the other Wyvern paths, and counts the datapath flows of the sending
// and receiving chassis while the connections run.
func (b *bench) megaflows() error {
	for _, key := range []string{"base", "switch", "routed", "routed+sg", "outside-base", "fip+sg"} {
		p := b.path(key)
		m, err := b.megaflowTest(p)
		if err != nil {
			return fmt.Errorf("path %s: %w", key, err)
		}
		b.res.Megaflows = append(b.res.Megaflows, m)
		note("  %s, %d connections: %.2f Gbit/s, megaflows sender %d (the path's %d), receiver %d (the path's %d)",
			key, m.Conns, m.Gbps, m.Sender.Total, m.Sender.Own, m.Recv.Total, m.Recv.Own)
	}
	return nil
}

func (b *bench) path(key string) *path {
	for _, p := range b.paths {
		if p.Key == key {
			return p
		}
	}
	panic("no path " + key)
}

func (b *bench) megaflowTest(p *path) (megaflowTest, error) {
	m := megaflowTest{Path: p.Key, Conns: b.cfg.Conns, HasSend: p.Sender != nil}
	chs := []*testbed.Chassis{p.Receiver}
	if p.Sender != nil {
		chs = append(chs, p.Sender)
	}
	// Start from a quiet, empty datapath (it is only a cache) and zeroed
	// counters, so that the counts are this test's: the previous test's
	// sockets may still be draining.
	for _, ch := range chs {
		if err := waitQuiet(ch, 10*time.Second); err != nil {
			return m, err
		}
		if _, err := ch.Appctl("dpctl/del-flows"); err != nil {
			return m, err
		}
		if _, err := ch.Appctl("dpif-netdev/pmd-stats-clear"); err != nil {
			return m, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.cfg.ConnSeconds+30)*time.Second)
	defer cancel()
	cmd := iperfCmd(ctx, p, b.cfg.ConnSeconds, b.cfg.Conns)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return m, err
	}
	// Sample the datapath at 30%, 60% and 90% of the test, while every
	// connection is open (the timing is the subject here, not a
	// readiness wait), and keep each chassis' largest dump.
	views := map[*testbed.Chassis]datapathView{}
	for _, at := range []float64{0.3, 0.6, 0.9} {
		time.Sleep(time.Until(start.Add(time.Duration(float64(b.cfg.ConnSeconds) * at * float64(time.Second)))))
		for _, ch := range chs {
			dump, err := ch.Appctl("dpctl/dump-flows")
			if err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				return m, err
			}
			if fs := classifyFlows(dump); fs.Total > views[ch].Total || views[ch].ByRecirc == nil {
				show, err := ch.Appctl("dpctl/show")
				if err != nil {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					return m, err
				}
				b.saveDump(p.Key, ch.Name, show+dump)
				names := parseDPPorts(show)
				views[ch] = datapathView{Chassis: ch.Name, Ports: names, flowStats: fs,
					Own: ownFlows(dump, names, p.Own, b.allMACs)}
			}
		}
	}
	werr := cmd.Wait()
	r, err := parseIperf([]byte(stdout.String()))
	if err != nil {
		return m, fmt.Errorf("%w (%v)", err, werr)
	}
	m.Gbps = r.Gbps
	for _, ch := range chs {
		out, err := ch.Appctl("dpif-netdev/pmd-stats-show")
		if err != nil {
			return m, err
		}
		b.saveDump(p.Key, ch.Name+"-pmd-stats", out)
		v := views[ch]
		v.pmdStats = parsePMDStats(out)
		views[ch] = v
	}
	m.Recv = views[p.Receiver]
	if p.Sender != nil {
		m.Sender = views[p.Sender]
	}
	return m, nil
}

// waitQuiet waits until a chassis' datapath receives no packet for
// 500 ms (the previous test's sockets drain for a while). Past d it gives
// up quietly: stray packets only add idle flows, counted apart.
func waitQuiet(ch *testbed.Chassis, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if _, err := ch.Appctl("dpif-netdev/pmd-stats-clear"); err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
		out, err := ch.Appctl("dpif-netdev/pmd-stats-show")
		if err != nil {
			return err
		}
		if parsePMDStats(out).Packets == 0 || time.Now().After(deadline) {
			return nil
		}
	}
}

// saveDump keeps a datapath dump in the bed directory (-logs copies it).
func (b *bench) saveDump(key, chassis, dump string) {
	name := fmt.Sprintf("megaflows-%s-%s.txt", strings.ReplaceAll(key, "+", "-"), chassis)
	_ = os.WriteFile(filepath.Join(b.l.Bed.Dir, name), []byte(dump), 0o644)
}

// ownFlows counts the flows of a dump that belong to a path: not those
// entering from another path's VM, tunnel or external veth (or from a
// bridge's internal port), nor those matching another VM's MAC. names maps
// datapath port numbers to names; all lists every VM's MAC.
func ownFlows(dump string, names map[string]string, o ownership, all []string) int {
	foreignMAC := map[string]bool{}
	for _, mac := range all {
		if mac = strings.ToLower(mac); !o.MACs[mac] {
			foreignMAC[mac] = true
		}
	}
	n := 0
	for _, line := range strings.Split(dump, "\n") {
		i := strings.Index(line, "actions:")
		if i < 0 {
			continue
		}
		match := line[:i]
		name := ""
		if m := inPortRE.FindStringSubmatch(match); m != nil {
			name = names[m[1]]
		}
		mine := true
		switch {
		case name == testbed.UnderlayIface:
			// Tunnel packets before decapsulation: whose tunnel?
			if m := udpDstRE.FindStringSubmatch(match); m != nil {
				mine = o.Ports["genev_sys_"+m[1]]
			}
		case o.Ports[name]:
		default:
			mine = false
		}
		for _, m := range macRE.FindAllString(match, -1) {
			if foreignMAC[strings.ToLower(m)] {
				mine = false
			}
		}
		if mine {
			n++
		}
	}
	return n
}

var (
	udpDstRE = regexp.MustCompile(`udp\((?:src=[^,)]*,)?dst=([0-9]+)`)
	macRE    = regexp.MustCompile(`[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}`)
)

// flowStats classifies the lines of `ovs-appctl dpctl/dump-flows`.
type flowStats struct {
	Total int
	// ByRecirc counts flows per recirculation id: 0 is a packet's first
	// pass; every ct(table=...), tunnel pop or other recirculation
	// starts another pass with its own id.
	ByRecirc map[string]int
	// ExactSrcPort counts flows matching one exact TCP/UDP source port:
	// per-connection megaflows.
	ExactSrcPort int
	// ByInPort counts flows per datapath input port number.
	ByInPort map[string]int
	// CT counts flows whose actions send the packet to conntrack.
	CT int
	// Idle counts flows that carried no packet since installed (made by
	// one upcall whose packet the slow path forwarded, e.g. a stray
	// packet of an earlier test).
	Idle int
}

var (
	recircRE = regexp.MustCompile(`recirc_id\((0x[0-9a-f]+|[0-9]+)\)`)
	inPortRE = regexp.MustCompile(`(?:^|[,(])in_port\(([0-9]+)\)`)
	l4SrcRE  = regexp.MustCompile(`(?:tcp|udp)\(src=([0-9]+)(/0x[0-9a-f]+)?`)
)

func classifyFlows(dump string) flowStats {
	s := flowStats{ByRecirc: map[string]int{}, ByInPort: map[string]int{}}
	for _, line := range strings.Split(dump, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || !strings.Contains(line, "actions:") {
			continue
		}
		s.Total++
		i := strings.Index(line, "actions:")
		match, actions := line[:i], line[i:]
		rid := "0"
		if m := recircRE.FindStringSubmatch(match); m != nil {
			rid = m[1]
			if v, err := strconv.ParseUint(strings.TrimPrefix(rid, "0x"), 16, 32); err == nil && strings.HasPrefix(rid, "0x") {
				rid = strconv.FormatUint(v, 10)
			}
		}
		s.ByRecirc[rid]++
		if m := inPortRE.FindStringSubmatch(match); m != nil {
			s.ByInPort[m[1]]++
		}
		if m := l4SrcRE.FindStringSubmatch(match); m != nil && (m[2] == "" || strings.EqualFold(m[2], "/0xffff")) {
			s.ExactSrcPort++
		}
		if strings.Contains(match, " packets:0,") {
			s.Idle++
		}
		if strings.Contains(actions, "ct(") {
			s.CT++
		}
	}
	return s
}

// pmdStats sums `dpif-netdev/pmd-stats-show` over the datapath's threads.
type pmdStats struct {
	Packets, Recirculations, MegaflowHits, EMCHits, Upcalls, FailedUpcalls int64
}

// PassesPerPacket is the average number of datapath passes of a packet
// received (1 + recirculations per packet).
func (s pmdStats) PassesPerPacket() float64 {
	if s.Packets == 0 {
		return 0
	}
	return float64(s.Packets+s.Recirculations) / float64(s.Packets)
}

func parsePMDStats(out string) pmdStats {
	var s pmdStats
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.Fields(v + " x")[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "packets received":
			s.Packets += n
		case "packet recirculations":
			s.Recirculations += n
		case "megaflow hits":
			s.MegaflowHits += n
		case "emc hits":
			s.EMCHits += n
		case "miss with success upcall":
			s.Upcalls += n
		case "miss with failed upcall":
			s.FailedUpcalls += n
		}
	}
	return s
}
