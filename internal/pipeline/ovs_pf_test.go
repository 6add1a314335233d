package pipeline

import "testing"

// TestOVSTracePortForwarding installs portForwarding (with l3TraceView's
// security group on vm1: ssh in) on a real OVS and follows packets to the
// forwarded floating IP with ofproto/trace: a forwarded port is DNATed to
// vm1's address and port and delivered; a port not forwarded is dropped.
func TestOVSTracePortForwarding(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	v := l3TraceView()
	v.PortForwardings = portForwarding().PortForwardings
	inst, ports := traceBridge(t, v, testCfg, map[string]int{"vm1": 10, "ext": 20})
	vm1 := ports["vm1"]
	if vm1 == "" {
		t.Fatalf("no datapath port for vm1: %v", ports)
	}
	const toFIP = "in_port=20,dl_src=02:00:cb:00:71:01,dl_dst=fa:16:3e:ee:00:20,nw_src=198.51.100.7,nw_dst=203.0.113.20,nw_ttl=64,"
	runTraces(t, inst, []traceCase{{
		name: "tcp/2222 is DNATed to vm1's port 22 and delivered",
		flow: "tcp," + toFIP + "tp_src=40000,tp_dst=2222",
		ct:   "trk,new",
		want: []string{"ct(zone=61441,nat)", "ct(commit,zone=61441,nat(dst=10.1.0.11:22))", "ct(commit,zone=11)", vm1},
	}, {
		name: "udp/5353 is DNATed to vm1's port 53",
		flow: "udp," + toFIP + "udp_src=40000,udp_dst=5353",
		ct:   "trk,new",
		want: []string{"ct(commit,zone=61441,nat(dst=10.1.0.11:53))"},
	}, {
		name: "tcp/1250 (in the range 1200:1299 onto the same ports) is DNATed, its port kept",
		flow: "tcp," + toFIP + "tp_src=40000,tp_dst=1250",
		ct:   "trk,new",
		want: []string{"ct(commit,zone=61441,nat(dst=10.1.0.11))"},
	}, {
		name: "udp/6002 (in the range 6000:6003 onto one port) is DNATed to port 6000",
		flow: "udp," + toFIP + "udp_src=40000,udp_dst=6002",
		ct:   "trk,new",
		want: []string{"ct(commit,zone=61441,nat(dst=10.1.0.11:6000))"},
	}, {
		name: "tcp/1300 (past the range) is not forwarded",
		flow: "tcp," + toFIP + "tp_src=40000,tp_dst=1300",
		ct:   "trk,new",
		not:  []string{"commit"},
	}, {
		name: "tcp/2223 is not forwarded: dropped",
		flow: "tcp," + toFIP + "tp_src=40000,tp_dst=2223",
		ct:   "trk,new",
		want: []string{"ct(zone=61441,nat)"},
		not:  []string{"commit", "," + vm1, ")" + vm1},
	}})
}
