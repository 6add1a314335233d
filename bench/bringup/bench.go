package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/bench/internal/portup"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// probe is a VM pinging measured ports on other chassis.
type probe struct {
	vm      *testbed.VM
	ip, mac string
}

type bench struct {
	cfg     config
	l       *lab.Lab
	res     *runResult
	chs     []*testbed.Chassis
	probes  []probe
	net     model.Network
	sub     model.Subnet
	vms     map[int]*testbed.VM
	ctx     context.Context
	cancel  func()
	ports   int // ports in the topology
	bulkMAC []string

	mu    sync.Mutex
	seen  map[string]time.Time // port id → first event in etcd
	bound map[string]time.Time // port id → first event with a host
}

func (b *bench) setup() error {
	b.ctx, b.cancel = context.WithCancel(context.Background())
	_ = b.l.Bed.OnClose("bench watch", func() error { b.cancel(); return nil })
	b.vms = map[int]*testbed.VM{}
	b.seen, b.bound = map[string]time.Time{}, map[string]time.Time{}
	for i := 1; i <= 3; i++ {
		ch, err := b.l.AddChassis("ch" + strconv.Itoa(i))
		if err != nil {
			return err
		}
		b.chs = append(b.chs, ch)
	}
	if err := b.l.Do("PUT", "/v2.0/quotas/"+project, "", map[string]any{"quota": map[string]any{
		"port": -1, "network": -1, "subnet": -1, "router": -1}}, nil); err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	var err error
	b.net, b.sub, err = b.l.CreateNetwork(lab.NetworkSpec{Project: project, Name: "measured", CIDR: measuredCIDR})
	if err != nil {
		return err
	}
	go b.watchPorts(b.net.ID)
	for i, ch := range b.chs {
		ip := portup.ProbeAddr(i)
		vm, p, err := b.l.Boot(ch, "probe"+strconv.Itoa(i+1), project, b.net.ID, fixedIP(b.sub.ID, ip))
		if err != nil {
			return err
		}
		if _, err := b.l.WaitPort(p.ID, 20*time.Second, func(p model.Port) bool {
			return p.Status == model.StatusActive && p.HostID == ch.Name
		}); err != nil {
			return err
		}
		if err := vm.SetAddr(ip + "/22"); err != nil {
			return err
		}
		b.probes = append(b.probes, probe{vm: vm, ip: ip, mac: p.MACAddress})
		b.ports++
	}
	return nil
}

func fixedIP(subnet, ip string) map[string]any {
	return map[string]any{"fixed_ips": []map[string]string{{"subnet_id": subnet, "ip_address": ip}}}
}

// watchPorts notes when each port of the measured network first appears
// in etcd and when its binding lands: the mirror of its chassis' binding
// in the network's scope, where the other agents see it (or, from a
// server that predates binding keys, the binding in the port record).
func (b *bench) watchPorts(netID string) {
	ch := make(chan store.Event, 64)
	go b.l.Store.Inform(b.ctx, 0, store.PortsOf(netID), ch, nil)
	go b.l.Store.Inform(b.ctx, 1, store.ScopedOf(netID), ch, nil)
	for {
		var e store.Event
		select {
		case <-b.ctx.Done():
			return
		case e = <-ch:
		}
		if e.Reset || e.Delete {
			continue // only changes after the watch starts are timed
		}
		now := time.Now()
		for _, kv := range e.KVs {
			if _, id, ok := store.ParseBindingMirror(kv.Key); ok {
				b.mu.Lock()
				if _, ok := b.bound[id]; !ok {
					b.bound[id] = now
				}
				b.mu.Unlock()
				continue
			}
			if e.Tag == 1 {
				continue
			}
			var p model.Port
			if json.Unmarshal(kv.Value, &p) != nil {
				continue
			}
			b.mu.Lock()
			if _, ok := b.seen[p.ID]; !ok {
				b.seen[p.ID] = now
			}
			if _, ok := b.bound[p.ID]; !ok && p.HostID != "" {
				b.bound[p.ID] = now
			}
			b.mu.Unlock()
		}
	}
}

func (b *bench) bringUpMany(from, to int, out *[]portTiming) error {
	for k := from; k < to; k++ {
		t, err := b.bringUp(k)
		if err != nil {
			return fmt.Errorf("port %d: %w", k, err)
		}
		*out = append(*out, t)
		b.ports++
		rep.Count(k-from+1, to-from)
	}
	return nil
}

// bringUp measures port k: on chassis k mod 3, pinged by the probe on the
// next chassis.
func (b *bench) bringUp(k int) (portTiming, error) {
	ch := b.chs[k%3]
	pr := b.probes[(k+1)%3]
	ip := measuredAddr(k)
	mac := portup.MeasuredMAC(k)
	t := portTiming{Chassis: ch.Name, ProbeChassis: pr.vm.Chassis.Name}

	// Untimed: the VM namespace, addresses, static ARP both ways, and the
	// probe already pinging.
	vm, err := ch.AddVMUnplugged("m"+strconv.Itoa(k), mac, vmMTU)
	if err != nil {
		return t, err
	}
	b.vms[k] = vm
	if err := vm.SetAddr(ip + "/22"); err != nil {
		return t, err
	}
	if err := vm.SetStaticARP(pr.ip, pr.mac); err != nil {
		return t, err
	}
	if err := pr.vm.SetStaticARP(ip, mac); err != nil {
		return t, err
	}
	png, err := startPing(pr.vm, "-D", "-n", "-i", "0.01", "-w", "20", ip)
	if err != nil {
		return t, err
	}
	defer png.Stop()
	if _, err := png.WaitLine("PING", 10*time.Second); err != nil {
		return t, err
	}

	// Timed: create, plug, first reply.
	t.T0 = time.Now()
	extra := fixedIP(b.sub.ID, ip)
	extra["mac_address"] = mac
	extra["name"] = vm.Name
	p, err := b.l.CreatePort(project, b.net.ID, extra)
	if err != nil {
		return t, fmt.Errorf("create: %w", err)
	}
	t.Created = time.Since(t.T0)
	t.Port, vm.PortID = p.ID, p.ID
	if _, err := ch.Vsctl("--may-exist", "add-port", "br-int", vm.Iface, "--",
		"set", "Interface", vm.Iface,
		"external_ids:iface-id="+p.ID,
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
			err, p.ID, ch.Name, pr.vm.Chassis.Name, len(flows), len(rflows))
	}
	rep, ok := parseReply(line)
	if !ok {
		return t, fmt.Errorf("unparsable reply %q", line)
	}
	t.FirstReply = rep.At.Sub(t.T0)
	return t, nil
}

// snapshot counts br-int flows and reads agent memory on every chassis.
func (b *bench) snapshot(s *snapshot) error {
	s.Ports = b.ports
	s.Flows, s.RSS, s.HWM, s.Anon = map[string]int{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	s.CPU = map[string]time.Duration{}
	for _, ch := range b.chs {
		flows, err := ch.DumpFlows("br-int")
		if err != nil {
			return err
		}
		s.Flows[ch.Name] = len(flows)
		if ch == b.chs[0] {
			s.ByTable = map[int]int{}
			for _, f := range flows {
				s.ByTable[flowTable(f)]++
			}
		}
		pid, ok := ch.PID("wyvern-agent")
		if !ok {
			return fmt.Errorf("agent of %s is not running", ch.Name)
		}
		if s.RSS[ch.Name], s.HWM[ch.Name], s.Anon[ch.Name], err = procMem(pid); err != nil {
			return err
		}
		if s.CPU[ch.Name], err = machine.ProcCPU(pid); err != nil {
			return err
		}
	}
	// The same reading once the agents have been idle for a while (the
	// wait is the measurement's subject, not a readiness guess).
	time.Sleep(idleWait)
	s.IdleRSS = map[string]int64{}
	for _, ch := range b.chs {
		pid, ok := ch.PID("wyvern-agent")
		if !ok {
			return fmt.Errorf("agent of %s is not running", ch.Name)
		}
		rss, _, _, err := procMem(pid)
		if err != nil {
			return err
		}
		s.IdleRSS[ch.Name] = rss
	}
	note("  %d ports: flows %v, agent RSS kB %v (anonymous %v; after %s idle %v)", s.Ports, s.Flows, s.RSS, s.Anon, idleWait, s.IdleRSS)
	return nil
}

// bulk adds the rest of the 1,000-port topology: a router joining the
// measured network and ExtraNets more networks of ExtraPorts ports each,
// the ports being OVS internal ports spread over the chassis, plugged all
// at once.
func (b *bench) bulk() error {
	var router struct{ Router model.Router }
	if err := b.l.Do("POST", "/v2.0/routers", project, map[string]any{"router": map[string]any{"name": "r1"}}, &router); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	subnets := []string{b.sub.ID}
	var nets []model.Network
	for j := 0; j < b.cfg.ExtraNets; j++ {
		n, s, err := b.l.CreateNetwork(lab.NetworkSpec{Project: project, Name: "bulk" + strconv.Itoa(j),
			CIDR: fmt.Sprintf("10.20.%d.0/24", j)})
		if err != nil {
			return err
		}
		nets = append(nets, n)
		subnets = append(subnets, s.ID)
	}
	for _, s := range subnets {
		if err := b.l.Do("PUT", "/v2.0/routers/"+router.Router.ID+"/add_router_interface", project,
			map[string]any{"subnet_id": s}, nil); err != nil {
			return fmt.Errorf("router interface: %w", err)
		}
	}

	// The ports, through the API (8 clients).
	total := b.cfg.ExtraNets * b.cfg.ExtraPorts
	ports := make([]model.Port, total)
	errs := make(chan error, 8)
	next := make(chan int)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				p, err := b.l.CreatePort(project, nets[k/b.cfg.ExtraPorts].ID, map[string]any{"name": "x" + strconv.Itoa(k)})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				ports[k] = p
			}
		}()
	}
	for k := 0; k < total; k++ {
		next <- k
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("create bulk ports: %w", err)
	default:
	}
	b.res.Bulk = bulkResult{Ports: total, APICreate: time.Since(start), PerChassis: map[string]time.Duration{}}
	want := make([]string, total)
	for k, p := range ports {
		want[k] = p.MACAddress
	}
	b.bulkMAC = want

	// Plug them all: one ovs-vsctl transaction per chassis, in parallel.
	offsets := b.logOffsets()
	t0 := time.Now()
	var plugErr error
	var plugMu sync.Mutex
	for i, ch := range b.chs {
		var args []string
		for k := i; k < total; k += len(b.chs) {
			name := "x" + strconv.Itoa(k)
			args = append(args, "--", "add-port", "br-int", name, "--", "set", "Interface", name, "type=internal",
				"external_ids:iface-id="+ports[k].ID, "external_ids:attached-mac="+ports[k].MACAddress,
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
			if d := time.Since(t0); d > b.res.Bulk.Plug {
				b.res.Bulk.Plug = d
			}
		}(ch)
	}
	wg.Wait()
	if plugErr != nil {
		return fmt.Errorf("plug bulk ports: %w", plugErr)
	}
	b.ports += total

	// Wait until every chassis has an L2 flow (bound, local or remote)
	// for every bulk port.
	deadline := time.Now().Add(3 * time.Minute)
	left := map[*testbed.Chassis]bool{}
	for _, ch := range b.chs {
		left[ch] = true
	}
	for len(left) > 0 {
		for ch := range left {
			missing, err := missingL2(ch, want)
			if err != nil {
				return err
			}
			if missing == 0 {
				delete(left, ch)
				detected := time.Now()
				b.res.Bulk.Detected = detected.Sub(t0)
				lines, _, err := readAgentLog(agentLog(ch), offsets[ch.Name], "flows updated", "flows installed")
				if err != nil {
					return err
				}
				d := b.res.Bulk.Detected
				if l, ok := lastBefore(lines, detected); ok && l.Time.After(t0) {
					d = l.Time.Sub(t0)
				}
				b.res.Bulk.PerChassis[ch.Name] = d
				b.res.Bulk.Synced = max(b.res.Bulk.Synced, d)
				continue
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s still misses flows for %d of %d bulk ports", ch.Name, missing, total)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	note("  bulk: %d ports created in %s, plugged in %s, all chassis synced %s after the plug (%v)",
		total, b.res.Bulk.APICreate.Round(time.Millisecond), b.res.Bulk.Plug.Round(time.Millisecond),
		b.res.Bulk.Synced.Round(time.Millisecond), b.res.Bulk.PerChassis)
	return nil
}

// missingL2 counts the MACs in want that no L2 flow of ch sends anywhere.
func missingL2(ch *testbed.Chassis, want []string) (int, error) {
	flows, err := ch.DumpFlows("br-int")
	if err != nil {
		return 0, err
	}
	have := map[string]bool{}
	for _, f := range flows {
		i := strings.Index(f, "dl_dst=")
		if i < 0 {
			continue
		}
		v := f[i+len("dl_dst="):]
		if j := strings.IndexAny(v, ", "); j >= 0 {
			v = v[:j]
		}
		have[v] = true
	}
	n := 0
	for _, m := range want {
		if !have[m] {
			n++
		}
	}
	return n, nil
}

func agentLog(ch *testbed.Chassis) string { return filepath.Join(ch.RunDir, "wyvern-agent.log") }

func (b *bench) logOffsets() map[string]int64 {
	out := map[string]int64{}
	for _, ch := range b.chs {
		if fi, err := os.Stat(agentLog(ch)); err == nil {
			out[ch.Name] = fi.Size()
		}
	}
	return out
}

// restartAgent kills ch's agent with SIGKILL (kill -9), starts it again
// at restartAt (at once when that has passed), then times its full resync
// from the process start.
func (b *bench) restartAgent(ch *testbed.Chassis, restartAt time.Time) (resyncResult, error) {
	r := resyncResult{Chassis: ch.Name}
	if err := b.l.KillAgent(ch); err != nil {
		return r, err
	}
	time.Sleep(time.Until(restartAt)) // the outage's length is the test's subject
	fi, err := os.Stat(agentLog(ch))
	if err != nil {
		return r, err
	}
	off := fi.Size()
	start := time.Now()
	if err := b.l.StartAgent(ch); err != nil {
		return r, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		lines, _, err := readAgentLog(agentLog(ch), off, "agent started", "flows installed")
		if err != nil {
			return r, err
		}
		for _, l := range lines {
			switch l.Msg {
			case "agent started":
				r.Started = l.Time.Sub(start)
			case "flows installed":
				r.Wall, r.AgentTook, r.Flows = l.Time.Sub(start), l.Took, l.Flows
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("agent of %s: no \"flows installed\" within a minute of its restart", ch.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resync restarts the agent of the second chassis with the full topology.
func (b *bench) resync() error {
	before, err := b.chs[1].DumpFlows("br-int")
	if err != nil {
		return err
	}
	r, err := b.restartAgent(b.chs[1], time.Time{})
	if err != nil {
		return err
	}
	b.res.Resync = r
	after, err := b.chs[1].DumpFlows("br-int")
	if err != nil {
		return err
	}
	note("  resync of %s: %d flows installed %s after the process start (agent: took %s); flows before %d, after %d",
		r.Chassis, r.Flows, r.Wall.Round(time.Millisecond), r.AgentTook.Round(time.Millisecond), len(before), len(after))
	return nil
}

// restart is the restart test (bench/vsovn runs it on OVN too): 50 pps for 10 s from the probe
// on the first chassis to a measured VM on the second; the first chassis'
// agent is killed at 2 s and started again at 4 s.
func (b *bench) restart() error {
	ch := b.chs[0]
	dst := measuredAddr(1) // port 1 lives on the second chassis
	png, err := startPing(b.probes[0].vm, "-D", "-n", "-i", "0.02", "-c", "500", "-W", "1", dst)
	if err != nil {
		return err
	}
	defer png.Stop()
	if _, err := png.WaitLine("PING", 10*time.Second); err != nil {
		return err
	}
	began := time.Now()
	time.Sleep(2 * time.Second) // the fault's timing is the test's subject
	r, err := b.restartAgent(ch, began.Add(4*time.Second))
	if err != nil {
		return err
	}
	if err := png.Wait(30 * time.Second); err != nil {
		return err
	}
	pr, err := parsePingRun(png.Output())
	if err != nil {
		return err
	}
	b.res.Restart = restartResult{Chassis: ch.Name, PingRun: pr, Resync: r}
	note("  restart of %s's agent: %d/%d replies, longest gap %s, missing %v; resync %s",
		ch.Name, pr.Received, pr.Sent, pr.MaxGap.Round(time.Millisecond), pr.MissingSeqs, r.Wall.Round(time.Millisecond))
	return nil
}

// breakdown fills in each bring-up sample's bind time (etcd watch) and
// the agents' flow updates (their debug logs).
func (b *bench) breakdown() error {
	logs := map[string][]logLine{}
	for _, ch := range b.chs {
		lines, _, err := readAgentLog(agentLog(ch), 0, "flows updated", "flows installed")
		if err != nil {
			return err
		}
		sort.Slice(lines, func(i, j int) bool { return lines[i].Time.Before(lines[j].Time) })
		logs[ch.Name] = lines
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, set := range [][]portTiming{b.res.Small, b.res.Large} {
		for i := range set {
			t := &set[i]
			plugStart := t.T0.Add(t.Created)
			// The port's creation alone makes every agent on the network
			// add a flow or two (its ARP answer); the plug adds the
			// local port's port security, L2 and output flows.
			if l, ok := firstAfter(logs[t.Chassis], plugStart, func(l logLine) bool { return l.Add >= 4 || l.Flows >= 0 }); ok {
				t.LocalFlows, t.LocalTook = l.Time.Sub(t.T0), l.Took
			}
			bound, ok := b.bound[t.Port]
			if !ok {
				continue
			}
			t.Bound = bound.Sub(t.T0)
			if l, ok := firstAfter(logs[t.ProbeChassis], bound, func(logLine) bool { return true }); ok {
				t.RemoteFlows, t.RemoteTook = l.Time.Sub(t.T0), l.Took
			}
		}
	}
	return nil
}
