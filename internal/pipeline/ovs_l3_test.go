package pipeline

import (
	"strings"
	"testing"
)

// l3TraceView is floatingIP (vm1 here on net1 with floating IP
// 203.0.113.10, router r1 to net2, gateway on ch2) with security groups on
// vm1: ssh in from anywhere, everything out.
func l3TraceView() *View {
	v := floatingIP()
	v.SecurityGroupsEnabled = true
	v.Networks[0].CTZone = 11
	v.Ports[0].SecurityGroups = []string{"ssh"}
	v.SecurityGroups = []SecurityGroup{{ID: "ssh", Key: 1, Rules: []SecurityGroupRule{
		{Direction: Ingress, EtherType: "IPv4", Protocol: 6, PortMin: 22},
		{Direction: Egress, EtherType: "IPv4"},
	}}}
	return v
}

// TestOVSTraceL3 installs the routed, NAT and security group pipeline on
// a real OVS and checks routing, the router's ICMP echo, security group
// allow/deny and floating IP DNAT with ofproto/trace (conntrack
// recirculations followed, with the given ct_state for each).
func TestOVSTraceL3(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	inst, ports := traceBridge(t, l3TraceView(), testCfg, map[string]int{"vm1": 10, "ext": 20})
	vm1, ext := ports["vm1"], ports["ext"]
	if vm1 == "" || ext == "" {
		t.Fatalf("no datapath ports for vm1, ext: %v", ports)
	}
	const fromVM1 = "in_port=10,dl_src=fa:16:3e:00:01:01,nw_src=10.1.0.11,nw_ttl=64,"
	const fromCh2 = "in_port=1,tun_id=0x64,tun_src=192.0.2.2,tun_dst=192.0.2.1,dl_src=fa:16:3e:00:01:03,dl_dst=fa:16:3e:00:01:01,nw_src=10.1.0.13,nw_dst=10.1.0.11,nw_ttl=64,"
	runTraces(t, inst, []traceCase{{
		name: "routed packet leaves in the tunnel to ch2 with net2's VNI",
		flow: "tcp," + fromVM1 + "dl_dst=" + rtrMAC1 + ",nw_dst=10.2.0.14,tp_src=1000,tp_dst=80",
		ct:   "trk,new",
		want: []string{"ct(commit,zone=11)", "set(eth(src=" + rtrMAC2 + ",dst=fa:16:3e:00:02:04))", "ttl=63",
			"tnl_push", "dst=192.0.2.2", "geneve(vni=0xc8)"},
	}, {
		name: "the router answers a ping to its address",
		flow: "icmp," + fromVM1 + "dl_dst=" + rtrMAC1 + ",nw_dst=10.1.0.1,icmp_type=8,icmp_code=0",
		ct:   "trk,new",
		want: []string{"set(eth(src=" + rtrMAC1 + ",dst=fa:16:3e:00:01:01))", "src=10.1.0.1,dst=10.1.0.11", "icmp(type=0", ")," + vm1},
		not:  []string{"tnl_push"},
	}, {
		name: "security group allows ssh in",
		flow: "tcp," + fromCh2 + "tp_src=40000,tp_dst=22",
		ct:   "trk,new",
		want: []string{"ct(zone=11)", "ct(commit,zone=11)", vm1},
	}, {
		name: "security group drops telnet in",
		flow: "tcp," + fromCh2 + "tp_src=40000,tp_dst=23",
		ct:   "trk,new",
		want: []string{"ct(zone=11)"},
		not:  []string{"commit", "," + vm1, ")" + vm1},
	}, {
		name: "replies of connections pass whatever the port",
		flow: "tcp," + fromCh2 + "tp_src=23,tp_dst=40000",
		ct:   "trk,est",
		want: []string{"ct(zone=11)", vm1},
		not:  []string{"commit"},
	}, {
		name: "floating IP: DNAT to the fixed address",
		flow: "tcp,in_port=20,dl_src=02:00:cb:00:71:01,dl_dst=" + rtrGW + ",nw_src=198.51.100.7,nw_dst=203.0.113.10,nw_ttl=64,tp_src=40000,tp_dst=22",
		ct:   "trk,new",
		want: []string{"ct(zone=61441,nat)", "ct(commit,zone=61441,nat(dst=10.1.0.11))"},
	}, {
		name: "floating IP: routed to vm1 through its security group (ssh allowed)",
		flow: "tcp,in_port=20,dl_src=02:00:cb:00:71:01,dl_dst=" + rtrGW + ",nw_src=198.51.100.7,nw_dst=203.0.113.10,nw_ttl=64,tp_src=40000,tp_dst=22",
		ct:   "trk,new",
		want: []string{"ct(zone=11)", "ct(commit,zone=11)", vm1},
	}, {
		name: "floating IP: routed to vm1 through its security group (telnet dropped)",
		flow: "tcp,in_port=20,dl_src=02:00:cb:00:71:01,dl_dst=" + rtrGW + ",nw_src=198.51.100.7,nw_dst=203.0.113.10,nw_ttl=64,tp_src=40000,tp_dst=23",
		ct:   "trk,new",
		want: []string{"ct(zone=11)"},
		not:  []string{"commit,zone=11", "," + vm1, ")" + vm1},
	}})
}

// allDatapathActions joins the datapath actions of every pass of a trace
// (one per conntrack recirculation) with " | ".
func allDatapathActions(trace string) string {
	var acts []string
	for _, l := range strings.Split(trace, "\n") {
		if a, ok := strings.CutPrefix(strings.TrimSpace(l), "Datapath actions: "); ok {
			acts = append(acts, a)
		}
	}
	return strings.Join(acts, " | ")
}

// TestOVSTraceNeighbour checks routing through Neighbour and the egress
// network's L2 stage, and the ARP responder built on the same table, on a
// real OVS: routedLocalNetworks has vm1 (net1) and vm2 (net2) here, vm3
// (net1) and vm4 (net2) on ch2, vm5 (net1) unbound.
func TestOVSTraceNeighbour(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	inst, ports := traceBridge(t, routedLocalNetworks(), testCfg, map[string]int{"vm1": 10, "vm2": 11})
	vm2 := ports["vm2"]
	const fromVM1 = "in_port=10,dl_src=fa:16:3e:00:01:01,dl_dst=" + rtrMAC1 + ",nw_src=10.1.0.11,nw_ttl=64,"
	const fromVM2 = "in_port=11,dl_src=fa:16:3e:00:02:02,dl_dst=" + rtrMAC2 + ",nw_src=10.2.0.12,nw_ttl=64,"
	const arpFromVM2 = "in_port=11,arp,dl_src=fa:16:3e:00:02:02,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_sha=fa:16:3e:00:02:02,"
	runTraces(t, inst, []traceCase{{
		name: "routed to a local port of the other network",
		flow: "tcp," + fromVM1 + "nw_dst=10.2.0.12,tp_src=1000,tp_dst=80",
		want: []string{"set(eth(src=" + rtrMAC2 + ",dst=fa:16:3e:00:02:02))", "ttl=63", vm2},
		not:  []string{"tnl_push"},
	}, {
		name: "routed to a remote port: one tunnel hop with the egress network's VNI",
		flow: "tcp," + fromVM1 + "nw_dst=10.2.0.14,tp_src=1000,tp_dst=80",
		want: []string{"set(eth(src=" + rtrMAC2 + ",dst=fa:16:3e:00:02:04))", "ttl=63", "tnl_push", "dst=192.0.2.2", "geneve(vni=0xc8)"},
		not:  []string{"vni=0x64"},
	}, {
		name: "routed back the other way to a remote port",
		flow: "tcp," + fromVM2 + "nw_dst=10.1.0.13,tp_src=1000,tp_dst=80",
		want: []string{"set(eth(src=" + rtrMAC1 + ",dst=fa:16:3e:00:01:03))", "tnl_push", "geneve(vni=0x64)"},
	}, {
		name:  "an unknown address of a connected subnet is dropped, not flooded",
		flow:  "tcp," + fromVM1 + "nw_dst=10.2.0.77,tp_src=1000,tp_dst=80",
		exact: []string{"drop"},
	}, {
		name:  "an unbound port is not reached",
		flow:  "tcp," + fromVM2 + "nw_dst=10.1.0.15,tp_src=1000,tp_dst=80",
		exact: []string{"drop"},
	}, {
		name:  "the router's own address on the other network: dropped, no loop",
		flow:  "tcp," + fromVM1 + "nw_dst=10.2.0.1,tp_src=1000,tp_dst=80",
		exact: []string{"drop"},
	}, {
		name: "ARP for the router's address is answered",
		flow: arpFromVM2 + "arp_spa=10.2.0.12,arp_tpa=10.2.0.1",
		want: []string{"set(eth(src=" + rtrMAC2 + ",dst=fa:16:3e:00:02:02))", "op=2,sha=" + rtrMAC2 + ",tha=fa:16:3e:00:02:02", "sip=10.2.0.1,tip=10.2.0.12", ")," + vm2},
	}, {
		name: "ARP for a remote port is answered here",
		flow: arpFromVM2 + "arp_spa=10.2.0.12,arp_tpa=10.2.0.14",
		want: []string{"set(eth(src=fa:16:3e:00:02:04,dst=fa:16:3e:00:02:02))", "op=2,sha=fa:16:3e:00:02:04", "sip=10.2.0.14,tip=10.2.0.12", ")," + vm2},
		not:  []string{"tnl_push"},
	}, {
		name:  "ARP for an address of another network is not answered",
		flow:  arpFromVM2 + "arp_spa=10.2.0.12,arp_tpa=10.1.0.13",
		exact: []string{"drop"},
	}, {
		name:  "ARP for an unknown address stays on this chassis",
		flow:  arpFromVM2 + "arp_spa=10.2.0.12,arp_tpa=10.2.0.77",
		exact: []string{"drop"},
	}, {
		name:  "the owner's probe of its own address is not answered",
		flow:  arpFromVM2 + "arp_spa=0.0.0.0,arp_tpa=10.2.0.12",
		exact: []string{"drop"},
	}, {
		name: "a local port's probe reaches the other local ports of its network",
		flow: "in_port=10,arp,dl_src=fa:16:3e:00:01:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_sha=fa:16:3e:00:01:01,arp_spa=0.0.0.0,arp_tpa=10.1.0.11",
		not:  []string{"op=2", "tnl_push", vm2},
	}})
}
