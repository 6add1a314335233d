package pipeline

import "testing"

// TestOVSTraceEdge installs an edge-mode chassis' pipeline (edgeFIPView:
// vm1's floating IP served by the edge layer) on a real OVS with vm1 in a
// security group (ssh in, everything out), and checks with ofproto/trace
// that vm1's traffic leaving the router is tunnelled unchanged to the
// edge's endpoint with net1's key, without the router's NAT zone, and that
// what a gateway tunnels in is delivered through the security group.
func TestOVSTraceEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	v := edgeFIPView()
	v.SecurityGroupsEnabled = true
	v.Networks[0].CTZone = 11
	v.Ports[0].SecurityGroups = []string{"ssh"}
	v.SecurityGroups = []SecurityGroup{{ID: "ssh", Key: 1, Rules: []SecurityGroupRule{
		{Direction: Ingress, EtherType: "IPv4", Protocol: 6, PortMin: 22},
		{Direction: Egress, EtherType: "IPv4"},
	}}}
	inst, ports := traceBridge(t, v, testCfg, map[string]int{"vm1": 10})
	vm1 := ports["vm1"]
	if vm1 == "" {
		t.Fatalf("no datapath port for vm1: %v", ports)
	}
	// The underlay's way to the endpoint (in a real underlay, a route to a
	// gateway): a static neighbour, as for the bed's chassis.
	if _, err := inst.Appctl("tnl/neigh/set", "br-phy", "192.0.2.100", "02:00:c0:00:02:64"); err != nil {
		t.Fatal(err)
	}
	const fromVM1 = "in_port=10,dl_src=fa:16:3e:00:01:01,nw_src=10.1.0.11,nw_ttl=64,"
	// A gateway (192.0.2.50) tunnels a client's packet in, rewritten to
	// the fixed address, from the router's MAC to vm1's.
	const fromEdge = "in_port=1,tun_id=0x64,tun_src=192.0.2.50,tun_dst=192.0.2.1,dl_src=" + rtrMAC1 +
		",dl_dst=fa:16:3e:00:01:01,nw_src=198.51.100.7,nw_dst=10.1.0.11,nw_ttl=63,"
	runTraces(t, inst, []traceCase{{
		name: "out through the router: tunnelled to the edge's endpoint on net1's key, unchanged",
		flow: "tcp," + fromVM1 + "dl_dst=" + rtrMAC1 + ",nw_dst=198.51.100.7,tp_src=40000,tp_dst=443",
		ct:   "trk,new",
		want: []string{"ct(commit,zone=11)", "tnl_push", "dst=192.0.2.100", "geneve(vni=0x64)"},
		not:  []string{"zone=61441", "set(ipv4", "set(eth", "dst=192.0.2.2"},
	}, {
		name: "to the external subnet too (another floating IP)",
		flow: "icmp," + fromVM1 + "dl_dst=" + rtrMAC1 + ",nw_dst=203.0.113.50,icmp_type=8,icmp_code=0",
		ct:   "trk,new",
		want: []string{"tnl_push", "dst=192.0.2.100"},
		not:  []string{"zone=61441"},
	}, {
		name: "in from a gateway: ssh allowed by the security group",
		flow: "tcp," + fromEdge + "tp_src=40000,tp_dst=22",
		ct:   "trk,new",
		want: []string{"ct(zone=11)", "ct(commit,zone=11)", vm1},
		not:  []string{"zone=61441"},
	}, {
		name: "in from a gateway: telnet dropped by the security group",
		flow: "tcp," + fromEdge + "tp_src=40000,tp_dst=23",
		ct:   "trk,new",
		want: []string{"ct(zone=11)"},
		not:  []string{"commit", "," + vm1, ")" + vm1},
	}})
}

// TestOVSTraceEdgeOtherEncap is TestOVSTraceEdge with an edge layer of
// VXLAN only (edgeFIPOtherEncapView) on a Geneve network: vm1's traffic
// to the edge leaves VXLAN-encapsulated on net1's key, and what a gateway
// tunnels in on the VXLAN port with that key reaches vm1.
func TestOVSTraceEdgeOtherEncap(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	v := edgeFIPOtherEncapView()
	inst, ports := traceBridge(t, v, testCfg, map[string]int{"vm1": 10})
	vm1 := ports["vm1"]
	if vm1 == "" {
		t.Fatalf("no datapath port for vm1: %v", ports)
	}
	if _, err := inst.Appctl("tnl/neigh/set", "br-phy", "192.0.2.100", "02:00:c0:00:02:64"); err != nil {
		t.Fatal(err)
	}
	const fromVM1 = "in_port=10,dl_src=fa:16:3e:00:01:01,nw_src=10.1.0.11,nw_ttl=64,"
	runTraces(t, inst, []traceCase{{
		name: "out through the router: VXLAN to the edge's endpoint on net1's key",
		flow: "tcp," + fromVM1 + "dl_dst=" + rtrMAC1 + ",nw_dst=198.51.100.7,tp_src=40000,tp_dst=443",
		ct:   "trk,new",
		want: []string{"tnl_push", "dst=192.0.2.100", "vxlan(flags=0x8000000,vni=0x64)"},
		not:  []string{"geneve(", "set(ipv4"},
	}, {
		name: "in from a gateway on the VXLAN port, net1's key: delivered to vm1",
		flow: "tcp,in_port=2,tun_id=0x64,tun_src=192.0.2.50,tun_dst=192.0.2.1,dl_src=" + rtrMAC1 +
			",dl_dst=fa:16:3e:00:01:01,nw_src=198.51.100.7,nw_dst=10.1.0.11,nw_ttl=63,tp_src=40000,tp_dst=22",
		ct:   "trk,new",
		want: []string{vm1},
	}})
}
