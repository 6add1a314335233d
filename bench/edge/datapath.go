package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// The edge path's TCP and RTT against a baseline of hand-written flows on
// the same bed, run side by side (anchors.md's method: iperf3 5 s one
// stream, RTT = p50 of 100 pings, interleaved, ratio = path ÷ baseline in
// the same round).
//
// Edge path: client → router (ECMP over the general gateways) → a
// gateway's br-edge (Wyvern's stateless NAT flows, Geneve) → hv1's br-int
// (Wyvern's pipeline: tunnel in, router, the VM's port) → the VM; the
// replies: br-int (edge mode: tunnel to the anycast endpoint) → tnet
// (ECMP over the gateways' BGP routes) → a gateway's br-edge (NAT) → the
// router → the client.
//
// Baseline: the same hops, the same vswitchd processes, ports and
// tunnels, with hand-written minimal flows at the top of table 0 (a cookie
// neither reconciler owns): a second address (baseFIP) that the router
// routes statically over the same gateways (ECMP); on each gateway's
// br-edge one flow rewrites it to a baseline VM's address and tunnels it
// to hv1, one NATs the replies back; on hv1's br-int one flow delivers
// the tunnel's key to the baseline VM, one tunnels its packets to the
// anycast endpoint.

const (
	baseCookie = "0xba5e"
	baseKey    = 65520 // a tunnel key no network uses
	basePrio   = 65000
	baseVMMAC  = "fa:16:3e:b0:00:02"
	baseGWMAC  = "fa:16:3e:b0:00:fe"
)

var (
	baseFIP  = netip.MustParseAddr("10.200.7.253")
	baseVMIP = netip.MustParsePrefix("10.9.0.2/24")
	baseGW   = netip.MustParseAddr("10.9.0.1")
)

// offloaded are the hosts whose eth0 loses its transmit offloads before
// the data-path measurement (set by runOnBed: the client, the router and
// tnet).
var offloaded []*testbed.Host

// dpRound is one round: the edge path and the baseline, back to back.
type dpRound struct {
	EdgeTCP, BaseTCP float64 // Gbit/s
	EdgeRTT, BaseRTT float64 // ms, p50
	// EdgeRetr, BaseRetr are the TCP sender's retransmissions.
	EdgeRetr, BaseRetr int
}

// setupBaseline installs the baseline's VM and flows; vmMTU is the edge
// VM's MTU.
func setupBaseline(hv *testbed.Chassis, rtr *testbed.Host, gws []*gw, vmMTU int) (*testbed.VM, error) {
	bvm, err := hv.AddVMUnplugged("bvm", baseVMMAC, vmMTU)
	if err != nil {
		return nil, err
	}
	if _, err := hv.Vsctl("add-port", "br-int", bvm.Iface); err != nil {
		return nil, err
	}
	if err := bvm.SetAddr(baseVMIP.String()); err != nil {
		return nil, err
	}
	if err := bvm.SetGateway(baseGW.String()); err != nil {
		return nil, err
	}
	if err := bvm.SetStaticARP(baseGW.String(), baseGWMAC); err != nil {
		return nil, err
	}
	vmPort, err := hv.OFPort(bvm.Iface)
	if err != nil {
		return nil, err
	}
	hvGen, err := hv.OFPort("geneve0")
	if err != nil {
		return nil, err
	}
	if err := hv.AddFlows("br-int",
		fmt.Sprintf("cookie=%s,table=0,priority=%d,in_port=%d,tun_id=%d actions=output:%d", baseCookie, basePrio, hvGen, baseKey, vmPort),
		fmt.Sprintf("cookie=%s,table=0,priority=%d,in_port=%d,ip actions=set_field:%d->tun_id,set_field:%s->tun_dst,output:%d",
			baseCookie, basePrio, vmPort, baseKey, edgeEndpoint, hvGen)); err != nil {
		return nil, err
	}
	rmac, err := rtr.MAC()
	if err != nil {
		return nil, err
	}
	route := []string{"ip", "route", "replace", netip.PrefixFrom(baseFIP, 32).String()}
	for _, g := range gws {
		up, err := g.OFPort(testbed.ExternalIface)
		if err != nil {
			return nil, err
		}
		gen, err := g.OFPort("geneve0")
		if err != nil {
			return nil, err
		}
		out, err := g.Exec("ip", "-br", "link", "show", "br-edge")
		if err != nil {
			return nil, err
		}
		f := strings.Fields(out)
		if len(f) < 3 {
			return nil, fmt.Errorf("%s: MAC of br-edge: %q", g.Name, out)
		}
		upMAC := f[2]
		if err := g.AddFlows("br-edge",
			fmt.Sprintf("cookie=%s,table=0,priority=%d,in_port=%d,ip,dl_dst=%s,nw_dst=%s actions=set_field:%s->eth_src,set_field:%s->eth_dst,"+
				"set_field:%s->ip_dst,dec_ttl,set_field:%d->tun_id,set_field:%s->tun_dst,output:%d",
				baseCookie, basePrio, up, upMAC, baseFIP, baseGWMAC, baseVMMAC, baseVMIP.Addr(), baseKey, hv.TunnelIP, gen),
			fmt.Sprintf("cookie=%s,table=0,priority=%d,in_port=%d,tun_id=%d,ip,nw_src=%s actions=set_field:%s->eth_src,set_field:%s->eth_dst,"+
				"set_field:%s->ip_src,dec_ttl,output:%d",
				baseCookie, basePrio, gen, baseKey, baseVMIP.Addr(), upMAC, rmac, baseFIP, up)); err != nil {
			return nil, err
		}
		route = append(route, "nexthop", "via", g.uplink.String())
	}
	if _, err := rtr.Exec(route...); err != nil {
		return nil, err
	}
	return bvm, nil
}

// dataPath runs rounds of iperf3 and ping to the edge VM's floating IP
// and to the baseline, side by side.
func dataPath(cfg config, client *testbed.Host, vm, bvm *testbed.VM, addr string) ([]dpRound, error) {
	// No TCP segmentation offload on the external hosts' veths (the
	// routers forward what the client sends): the userspace datapath
	// takes frames of the MTU only, and a large TSO frame reaching a
	// gateway's uplink would be lost (the dataplane benchmark turns it
	// off on its external veths too).
	for _, h := range offloaded {
		if _, err := h.Exec("ethtool", "-K", "eth0", "tx", "off"); err != nil {
			return nil, err
		}
	}
	for _, v := range []*testbed.VM{vm, bvm} {
		if err := v.StartProcess("iperf3", v.Command("iperf3", "-s")); err != nil {
			return nil, err
		}
	}
	// Both answer before anything is timed.
	for _, a := range []string{addr, baseFIP.String()} {
		if n, _ := client.Ping(a, 3, 5*time.Second); n == 0 {
			return nil, fmt.Errorf("%s does not answer the client", a)
		}
	}
	var out []dpRound
	for i := 0; i < cfg.DPRounds; i++ {
		var r dpRound
		order := []bool{true, false}
		if i%2 == 1 {
			order = []bool{false, true}
		}
		for _, edge := range order {
			a := addr
			if !edge {
				a = baseFIP.String()
			}
			gbps, retr, err := iperf(client, a, cfg.DPSeconds)
			if err != nil {
				return nil, fmt.Errorf("iperf3 to %s: %w", a, err)
			}
			rtt, err := rttP50(client, a)
			if err != nil {
				return nil, fmt.Errorf("ping %s: %w", a, err)
			}
			if edge {
				r.EdgeTCP, r.EdgeRTT, r.EdgeRetr = gbps, rtt, retr
			} else {
				r.BaseTCP, r.BaseRTT, r.BaseRetr = gbps, rtt, retr
			}
		}
		progress("data path round %d: TCP edge %.3f / baseline %.3f Gbit/s (retransmits %d / %d), RTT p50 edge %.3f / baseline %.3f ms",
			i+1, r.EdgeTCP, r.BaseTCP, r.EdgeRetr, r.BaseRetr, r.EdgeRTT, r.BaseRTT)
		out = append(out, r)
	}
	return out, nil
}

// iperf runs one iperf3 test (one stream, seconds long) from the client
// to the server at addr and returns the received rate in Gbit/s.
func iperf(client *testbed.Host, addr string, seconds int) (float64, int, error) {
	var last error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := client.Exec("iperf3", "-c", addr, "-t", strconv.Itoa(seconds), "-J")
		if err != nil {
			last = fmt.Errorf("%w: %s", err, firstLine(out))
			if strings.Contains(out, "connect") || strings.Contains(out, "busy") { // the server is not ready yet
				continue
			}
			return 0, 0, last
		}
		var res struct {
			Error string `json:"error"`
			End   struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
				SumSent struct {
					Retransmits int `json:"retransmits"`
				} `json:"sum_sent"`
			} `json:"end"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			return 0, 0, fmt.Errorf("iperf3 output: %w", err)
		}
		if res.Error != "" {
			last = errors.New(res.Error)
			continue
		}
		return res.End.SumReceived.BitsPerSecond / 1e9, res.End.SumSent.Retransmits, nil
	}
	return 0, 0, last
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

var pingTime = regexp.MustCompile(`time=([0-9.]+) ms`)

// rttP50 is the median RTT of 100 pings 10 ms apart.
func rttP50(client *testbed.Host, addr string) (float64, error) {
	out, _ := client.Exec("ping", "-n", "-c", "100", "-i", "0.01", "-W", "1", addr)
	var ms []float64
	for _, m := range pingTime.FindAllStringSubmatch(out, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err == nil {
			ms = append(ms, v)
		}
	}
	if len(ms) < 90 {
		return 0, fmt.Errorf("%d/100 replies", len(ms))
	}
	slices.Sort(ms)
	return ms[len(ms)/2], nil
}

// medianRatio is the median over rounds of f(round).
func medianRatio(rs []dpRound, f func(dpRound) float64) float64 {
	var xs []float64
	for _, r := range rs {
		xs = append(xs, f(r))
	}
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
