package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/machine"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// scaling is one row of the CPU measurement: k gateways carrying a
// many-flow UDP stream.
type scaling struct {
	Gateways int
	Sent     int
	Seconds  float64 // the sender's duration
	// Packets and CPU (ovs-vswitchd, less its idle rate) per gateway.
	Packets []int
	CPU     []time.Duration
}

// cpuScaling measures the gateways' datapath CPU per packet with 1, 2
// and 3 gateways announcing addr: the general gateways are restarted
// without automatic steering (the stream is far above its threshold),
// then started one by one. The stream is cfg.CPURate pps of 64-byte UDP
// datagrams from 256 source ports (the router's L4 hash spreads them) for
// cfg.CPUSeconds.
func cpuScaling(cfg config, f *frr, client *testbed.Host, gws []*gw, etcd, addr string) ([]scaling, error) {
	for _, g := range gws {
		if err := g.StopProcess("wyvern-gateway", syscall.SIGKILL); err != nil {
			return nil, err
		}
		g.extra = nil
	}
	if _, err := waitFIB(f, addr, 0, 10*time.Second); err != nil {
		return nil, err
	}
	var out []scaling
	for k := 1; k <= len(gws); k++ {
		if err := gws[k-1].start(cfg.Wyvern, etcd); err != nil {
			return nil, err
		}
		if _, err := waitFIB(f, addr, k, 30*time.Second); err != nil {
			return nil, err
		}
		s, err := cpuRound(cfg, client, gws[:k], addr)
		if err != nil {
			return nil, err
		}
		progress("%d gateway(s): %d packets sent in %.1f s; per gateway packets %v, CPU %v", k, s.Sent, s.Seconds, s.Packets, roundAll(s.CPU))
		out = append(out, s)
	}
	return out, nil
}

func cpuRound(cfg config, client *testbed.Host, gws []*gw, addr string) (scaling, error) {
	s := scaling{Gateways: len(gws), Sent: cfg.CPURate * cfg.CPUSeconds}
	cpu := func() ([]time.Duration, error) {
		out := make([]time.Duration, len(gws))
		for i, g := range gws {
			var err error
			if out[i], err = machine.ProcCPU(g.VswitchdPID()); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	packets := func() []int {
		out := make([]int, len(gws))
		for i, g := range gws {
			out[i] = g.inboundPackets(addr)
		}
		return out
	}
	// The idle rate first, over 2 s.
	idle0, err := cpu()
	if err != nil {
		return s, err
	}
	idleStart := time.Now()
	time.Sleep(2 * time.Second) // the idle measurement window
	idle1, err := cpu()
	if err != nil {
		return s, err
	}
	idleFor := time.Since(idleStart)
	p0, c0 := packets(), idle1
	script := fmt.Sprintf("import socket, time\n"+
		"socks = []\nfor p in range(256):\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    s.bind(('%s', 42000 + p))\n    socks.append(s)\n"+
		"n, rate, dst, payload = %d, %d, ('%s', 9), b'x' * 64\nt0 = time.time()\n"+
		"for i in range(n):\n    socks[i & 255].sendto(payload, dst)\n"+
		"    if i %% 100 == 99:\n        d = t0 + (i + 1) / rate - time.time()\n        if d > 0:\n            time.sleep(d)\n"+
		"print(time.time() - t0)\n", clientAddr.Addr(), s.Sent, cfg.CPURate, addr)
	start := time.Now()
	o, err := client.Exec("python3", "-c", script)
	if err != nil {
		return s, fmt.Errorf("stream: %v: %s", err, o)
	}
	if s.Seconds, err = strconv.ParseFloat(strings.TrimSpace(o), 64); err != nil {
		return s, fmt.Errorf("stream's duration %q: %w", o, err)
	}
	// Flow counters lag the datapath (revalidators): wait until they
	// stop moving, at most 5 s.
	last := -1
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		n := 0
		for _, p := range packets() {
			n += p
		}
		if n == last {
			break
		}
		last = n
	}
	took := time.Since(start)
	p1, c1 := packets(), []time.Duration(nil)
	if c1, err = cpu(); err != nil {
		return s, err
	}
	for i := range gws {
		idleRate := float64(idle1[i]-idle0[i]) / float64(idleFor)
		s.Packets = append(s.Packets, p1[i]-p0[i])
		s.CPU = append(s.CPU, max(0, c1[i]-c0[i]-time.Duration(idleRate*float64(took))))
	}
	return s, nil
}
