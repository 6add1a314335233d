package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseIperf(t *testing.T) {
	r, err := parseIperf([]byte(`{"start":{},"end":{"sum_sent":{"bits_per_second":1.3e9,"retransmits":42},
		"sum_received":{"bits_per_second":1.25e9}}}`))
	if err != nil || math.Abs(r.Gbps-1.25) > 1e-9 || r.Retransmits != 42 {
		t.Fatalf("got %+v, %v; want 1.25 Gbit/s received, 42 retransmits", r, err)
	}
	if _, err := parseIperf([]byte(`{"start":{},"end":{},"error":"unable to connect to server: Connection refused"}`)); err == nil ||
		!strings.Contains(err.Error(), "refused") {
		t.Fatalf("iperf3 error: got %v", err)
	}
	if _, err := parseIperf([]byte(`{"end":{}}`)); err == nil {
		t.Fatal("nothing received must be an error")
	}
	if _, err := parseIperf(nil); err == nil {
		t.Fatal("no output must be an error")
	}
}

func TestParsePing(t *testing.T) {
	out := `PING 10.2.0.20 (10.2.0.20) 56(84) bytes of data.
64 bytes from 10.2.0.20: icmp_seq=1 ttl=63 time=0.512 ms
64 bytes from 10.2.0.20: icmp_seq=2 ttl=63 time=0.301 ms
64 bytes from 10.2.0.20: icmp_seq=4 ttl=63 time=0.333 ms

--- 10.2.0.20 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 61ms
rtt min/avg/max/mdev = 0.301/0.382/0.512/0.093 ms`
	got := parsePing(out)
	if len(got) != 3 || got[0] != 0.512 || got[2] != 0.333 {
		t.Fatalf("got %v", got)
	}
	if m := median(got); m != 0.333 {
		t.Fatalf("median %v, want 0.333", m)
	}
}

func TestMedianSummary(t *testing.T) {
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatalf("median %v", m)
	}
	if m := median(nil); m != 0 {
		t.Fatalf("median of nothing %v", m)
	}
	if s := summary([]float64{1.2, 0.9, 1.0}, "%.2f"); s != "1.00 (0.90–1.20)" {
		t.Fatalf("summary %q", s)
	}
}

// A dump of ch1 (routed, stateful security groups) recorded with OVS 3.1.
const sgDump = `flow-dump from the main thread:
ct_state(+new-inv+trk),recirc_id(0x7),in_port(9),packet_type(ns=0,id=0),eth(src=fa:16:3e:cc:c9:60,dst=fa:16:3e:2a:d6:d5),eth_type(0x0800),ipv4(dst=10.2.0.20,proto=6,tos=0/0x3,ttl=64,frag=no), packets:100, bytes:7400, used:1.700s, flags:S, actions:ct(commit,zone=30334),set(eth(src=fa:16:3e:01:3a:85,dst=fa:16:3e:d3:9e:26)),set(ipv4(ttl=63)),tnl_push(tnl_port(6),header(size=50,type=5,eth(dst=02:00:c0:00:02:02,src=02:00:c0:00:02:01,dl_type=0x0800),ipv4(src=192.0.2.1,dst=192.0.2.2,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(vni=0xc2f)),out_port(2)),1
recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth(src=02:00:c0:00:02:02,dst=02:00:c0:00:02:01),eth_type(0x0800),ipv4(dst=192.0.2.1,proto=17,frag=no),udp(dst=6081), packets:56802, bytes:7316232, used:0.003s, actions:tnl_pop(6)
ct_state(-new-inv-trk),recirc_id(0),in_port(9),packet_type(ns=0,id=0),eth(src=fa:16:3e:cc:c9:60),eth_type(0x0800),ipv4(src=10.1.0.20,dst=10.2.0.20/128.0.0.0,proto=6,frag=no), packets:134648, bytes:189955762, used:0.003s, flags:SP., actions:ct(zone=30334),recirc(0x7)
tunnel(tun_id=0x767e,src=192.0.2.2,dst=192.0.2.1,geneve(),flags(-df-csum+key)),ct_state(-new-inv+trk),recirc_id(0x8),in_port(6),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:56727, bytes:4472082, used:0.003s, flags:SP., actions:9
recirc_id(0),in_port(9),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(src=40312,dst=5201), packets:1, bytes:74, used:0.1s, actions:9
recirc_id(0),in_port(9),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(src=40312/0xff00), packets:1, bytes:74, used:0.1s, actions:9
`

func TestClassifyIdle(t *testing.T) {
	s := classifyFlows(`recirc_id(0),in_port(10),packet_type(ns=0,id=0),eth_type(0x86dd),ipv6(tclass=0/0x3,frag=no), packets:0, bytes:0, used:never, actions:12
recirc_id(0),in_port(10),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:10, bytes:980, used:0.1s, actions:12`)
	if s.Total != 2 || s.Idle != 1 {
		t.Fatalf("got %+v, want 2 flows, 1 idle", s)
	}
}

func TestClassifyFlows(t *testing.T) {
	s := classifyFlows(sgDump)
	if s.Total != 6 {
		t.Fatalf("total %d, want 6", s.Total)
	}
	if s.ByRecirc["0"] != 4 || s.ByRecirc["7"] != 1 || s.ByRecirc["8"] != 1 {
		t.Fatalf("by recirculation %v", s.ByRecirc)
	}
	// The tunnel header's udp(src=0,...) is in the actions, not a match.
	if s.ExactSrcPort != 1 {
		t.Fatalf("exact source port flows %d, want 1", s.ExactSrcPort)
	}
	if s.CT != 2 {
		t.Fatalf("ct flows %d, want 2", s.CT)
	}
	if s.Idle != 0 {
		t.Fatalf("idle flows %d, want 0", s.Idle)
	}
	if s.ByInPort["9"] != 4 || s.ByInPort["1"] != 1 || s.ByInPort["6"] != 1 {
		t.Fatalf("by input port %v", s.ByInPort)
	}
	names := parseDPPorts(`netdev@ovs-netdev:
  lookups: hit:10 missed:2 lost:0
  flows: 6
  port 0: ovs-netdev (tap)
  port 1: ul0
  port 6: genev_sys_6081 (geneve: packet_type=ptap)
  port 9: tapbvm1
`)
	if got := inPorts(s.ByInPort, names); got != "tapbvm1: 4, genev_sys_6081: 1, ul0: 1" {
		t.Fatalf("inPorts %q", got)
	}
	if got := recircs(s.ByRecirc); got != "0: 4, 7: 1, 8: 1" {
		t.Fatalf("recircs %q", got)
	}
}

func TestParsePMDStats(t *testing.T) {
	out := `main thread:
  packets received: 442732
  packet recirculations: 561088
  avg. datapath passes per packet: 2.27
  emc hits: 948642
  smc hits: 0
  megaflow hits: 55170
  avg. subtable lookups per megaflow hit: 1.42
  miss with success upcall: 8
  miss with failed upcall: 0
`
	s := parsePMDStats(out)
	if s.Packets != 442732 || s.Recirculations != 561088 || s.Upcalls != 8 || s.MegaflowHits != 55170 || s.EMCHits != 948642 {
		t.Fatalf("got %+v", s)
	}
	if p := s.PassesPerPacket(); math.Abs(p-2.267) > 0.001 {
		t.Fatalf("passes per packet %v", p)
	}
}

func TestOwnFlows(t *testing.T) {
	names := map[string]string{"1": "ul0", "6": "genev_sys_6081", "9": "tap-s", "8": "tap-a", "10": "genev_sys_6082"}
	o := ownership{Ports: map[string]bool{"tap-s": true, "tap-d": true, "genev_sys_6081": true},
		MACs: map[string]bool{"fa:16:3e:cc:c9:60": true, "fa:16:3e:2a:d6:d5": true}}
	all := []string{"fa:16:3e:cc:c9:60", "fa:16:3e:2a:d6:d5", "fa:16:3e:34:22:de"}
	// sgDump: 4 flows from tap-s or geneve for s, the tnl_pop of 6081
	// (ul0), one from tap-s matching nothing foreign; none foreign but
	// the straggler added below.
	dump := sgDump + `tunnel(tun_id=0x767e,src=192.0.2.2,dst=192.0.2.1,geneve(),flags(-df-csum+key)),recirc_id(0),in_port(6),eth(dst=fa:16:3E:34:22:de),eth_type(0x0800),ipv4(proto=6,frag=no), packets:74, bytes:3996, used:1.044s, actions:8
recirc_id(0),in_port(8),eth_type(0x0800), packets:3, bytes:222, used:1.0s, actions:6
recirc_id(0),in_port(1),eth(src=02:00:c0:00:02:02,dst=02:00:c0:00:02:01),eth_type(0x0800),ipv4(dst=192.0.2.1,proto=17,frag=no),udp(dst=6082), packets:5, bytes:700, used:0.003s, actions:tnl_pop(10)
`
	if got := ownFlows(dump, names, o, all); got != 6 {
		t.Fatalf("own flows %d, want 6 (of %d)", got, classifyFlows(dump).Total)
	}
}
