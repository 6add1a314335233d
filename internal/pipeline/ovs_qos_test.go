package pipeline

import "testing"

// TestOVSTraceQoS checks on a real OVS that a port's QoS reaches the
// datapath: vm1's packets pass its egress meter and carry DSCP 46, the
// packets delivered to vm1 pass its ingress meter, vm2 (no policy)
// meets no meter.
func TestOVSTraceQoS(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	v := traceView()
	v.Ports[0].QoS = &PortQoS{EgressKbps: 10000, EgressBurstKbits: 8000, IngressKbps: 20000, IngressBurstKbits: 16000, MarkDSCP: true, DSCP: 46}
	inst, ports := traceBridge(t, v, testCfgND, map[string]int{"vm1": 10, "vm2": 11})
	vm1, vm2 := ports["vm1"], ports["vm2"]
	runTraces(t, inst, []traceCase{{
		name: "vm1's IPv4 is metered and marked",
		flow: "in_port=10,tcp,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,nw_src=10.0.0.11,nw_dst=10.0.0.12,nw_ttl=64,tcp_src=1000,tcp_dst=80",
		want: []string{"meter(", "tos=0xb8", vm2},
	}, {
		name: "vm1's IPv6 is metered and marked",
		flow: "in_port=10,tcp6,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,ipv6_src=2001:db8::11,ipv6_dst=2001:db8::12,nw_ttl=64,tcp_src=1000,tcp_dst=80",
		want: []string{"meter(", "tclass=0xb8", vm2},
	}, {
		name: "vm1's ARP is metered, not marked",
		flow: "in_port=10,arp,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_sha=fa:16:3e:00:00:01,arp_spa=10.0.0.11,arp_tpa=10.0.0.77",
		want: []string{"meter(", vm2},
		not:  []string{"tos=", "tclass="},
	}, {
		name: "unicast to vm1 passes its ingress meter",
		flow: "in_port=11,tcp,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,nw_src=10.0.0.12,nw_dst=10.0.0.11,nw_ttl=64,tcp_src=80,tcp_dst=1000",
		want: []string{"meter(", vm1},
		not:  []string{"tos=0xb8"},
	}, {
		name: "vm2 meets no meter",
		flow: "in_port=11,tcp,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:03,nw_src=10.0.0.12,nw_dst=10.0.0.13,nw_ttl=64,tcp_src=80,tcp_dst=1000",
		want: []string{"tnl_push"},
		not:  []string{"meter(", "tos=0xb8"},
	}})
}
