package pipeline

import "testing"

// TestOVSTraceIPv6Gateway installs the IPv6 gateway pipelines
// (ipv6Gateway: the active gateway here; ipv6GatewayRemote: on ch2) on a
// real OVS and checks with ofproto/trace that the gateway answers
// neighbour solicitations for its address on the external network, routes
// IPv6 out to the upstream router and in to the ports without NAT, punts
// the upstream router's advertisements, and that another chassis hands
// its ports' IPv6 to the gateway through the tunnel.
func TestOVSTraceIPv6Gateway(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	const fromVM1 = "in_port=10,dl_src=fa:16:3e:00:01:01,dl_dst=" + rtrMAC1 + ",ipv6_src=2001:db8:1::11,nw_ttl=64,"
	const fromExt = "in_port=20,dl_src=" + upstreamMAC6 + ",ipv6_src=2001:db8:99::5,"
	const gwLLA = "fe80::f816:3eff:feff:99"
	t.Run("active gateway", func(t *testing.T) {
		inst, ports := traceBridge(t, ipv6Gateway(), testCfgND, map[string]int{"vm1": 10, "ext": 20})
		vm1, ext := ports["vm1"], ports["ext"]
		if vm1 == "" || ext == "" {
			t.Fatalf("no datapath ports for vm1, ext: %v", ports)
		}
		runTraces(t, inst, []traceCase{{
			name: "the upstream router's solicitation for the gateway address is answered",
			flow: "icmp6,in_port=20,dl_src=" + upstreamMAC6 + ",dl_dst=33:33:ff:00:00:02,ipv6_src=" + upstream6 +
				",ipv6_dst=ff02::1:ff00:2,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8:ffff::2,nd_sll=" + upstreamMAC6,
			want: []string{"set(eth(src=" + rtrGW + ",dst=" + upstreamMAC6 + "))", "set(ipv6(src=2001:db8:ffff::2,dst=" + upstream6 + "))",
				"set(nd(tll=" + rtrGW + "))", ")," + ext},
		}, {
			name:  "duplicate address detection is not answered",
			flow:  "icmp6,in_port=20,dl_src=" + upstreamMAC6 + ",dl_dst=33:33:ff:00:00:02,ipv6_src=::,ipv6_dst=ff02::1:ff00:2,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8:ffff::2",
			exact: []string{"drop"},
		}, {
			name: "echo to the gateway's link-local address is answered",
			flow: "icmp6," + fromExt + "dl_dst=" + rtrGW + ",ipv6_dst=" + gwLLA + ",nw_ttl=64,icmpv6_type=128,icmpv6_code=0",
			want: []string{"set(ipv6(src=" + gwLLA + ",dst=2001:db8:99::5))", "set(icmpv6(type=129,code=0))", ")," + ext},
		}, {
			name: "the upstream router's advertisement goes to the controller",
			flow: "icmp6,in_port=20,dl_src=" + upstreamMAC6 + ",dl_dst=" + rtrGW + ",ipv6_src=" + upstream6 +
				",ipv6_dst=2001:db8:ffff::2,nw_ttl=255,icmpv6_type=136,icmpv6_code=0,nd_target=" + upstream6 + ",nd_tll=" + upstreamMAC6,
			want: []string{"controller(reason=1", "controller_id=7"},
		}, {
			name: "IPv6 leaves to the upstream router, source unchanged, hop limit decremented",
			flow: "tcp6," + fromVM1 + "ipv6_dst=2001:db8:99::5,tp_src=1000,tp_dst=80",
			want: []string{"set(eth(src=" + rtrGW + ",dst=" + upstreamMAC6 + "))", "hlimit=63", ")," + ext},
			not:  []string{"tnl_push", "ct(", "src=2001:db8:ffff::2"},
		}, {
			name: "IPv6 from outside reaches a port on another chassis through the tunnel",
			flow: "tcp6," + fromExt + "dl_dst=" + rtrGW + ",ipv6_dst=2001:db8:1::13,nw_ttl=64,tp_src=80,tp_dst=1000",
			want: []string{"tnl_push", "dst=192.0.2.2", "geneve(vni=0x64)", "eth(src=" + rtrMAC1 + ",dst=fa:16:3e:00:01:03)", "hlimit=63"},
			not:  []string{"ct(zone=61441"},
		}, {
			name: "IPv6 from outside reaches a local port",
			flow: "tcp6," + fromExt + "dl_dst=" + rtrGW + ",ipv6_dst=2001:db8:1::11,nw_ttl=64,tp_src=80,tp_dst=1000",
			want: []string{"set(eth(src=" + rtrMAC1 + ",dst=fa:16:3e:00:01:01))", "hlimit=63", ")," + vm1},
		}, {
			name:  "IPv6 from outside to the external subnet is dropped",
			flow:  "tcp6," + fromExt + "dl_dst=" + rtrGW + ",ipv6_dst=2001:db8:ffff::7,nw_ttl=64,tp_src=80,tp_dst=1000",
			exact: []string{"drop"},
		}, {
			name: "IPv6 handed over by another chassis leaves to the upstream router",
			flow: "tcp6,in_port=1,tun_id=0xc8,tun_src=192.0.2.2,tun_dst=192.0.2.1,dl_src=fa:16:3e:00:02:04,dl_dst=" + rtrMAC2 +
				",ipv6_src=2001:db8:2::14,ipv6_dst=2001:db8:99::5,nw_ttl=64,tp_src=1000,tp_dst=80",
			want: []string{"set(eth(src=" + rtrGW + ",dst=" + upstreamMAC6 + "))", "hlimit=63", ")," + ext},
		}})
	})
	t.Run("gateway on another chassis", func(t *testing.T) {
		inst, ports := traceBridge(t, ipv6GatewayRemote(), testCfgND, map[string]int{"vm1": 10, "ext": 20})
		if ports["vm1"] == "" || ports["ext"] == "" {
			t.Fatalf("no datapath ports for vm1, ext: %v", ports)
		}
		runTraces(t, inst, []traceCase{{
			name: "IPv6 out goes unrouted to the active gateway in the tunnel",
			flow: "tcp6," + fromVM1 + "ipv6_dst=2001:db8:99::5,tp_src=1000,tp_dst=80",
			want: []string{"tnl_push", "dst=192.0.2.2", "geneve(vni=0x64)"},
			not:  []string{"set(eth", "hlimit", "set(ipv6"}, // still to the router's MAC, not routed here
		}, {
			name: "the gateway address is not answered here",
			flow: "icmp6,in_port=20,dl_src=" + upstreamMAC6 + ",dl_dst=33:33:ff:00:00:02,ipv6_src=" + upstream6 +
				",ipv6_dst=ff02::1:ff00:2,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8:ffff::2",
			exact: []string{"drop"},
		}})
	})
}
