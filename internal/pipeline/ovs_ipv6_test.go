package pipeline

import "testing"

// TestOVSTraceIPv6 installs the dual-stack routed pipeline (ipv6Routed) on
// a real OVS and checks the IPv6 services and routing with ofproto/trace.
func TestOVSTraceIPv6(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	inst, ports := traceBridge(t, ipv6Routed(), testCfgND, map[string]int{"vm1": 10})
	vm1 := ports["vm1"]
	if vm1 == "" {
		t.Fatalf("no datapath port for vm1: %v", ports)
	}
	const fromVM1 = "in_port=10,dl_src=fa:16:3e:00:01:01,"
	const lla1 = "fe80::f816:3eff:fe00:101" // vm1's link-local address
	const rtrLLA = "fe80::f816:3eff:feff:1" // the router's on net1
	runTraces(t, inst, []traceCase{{
		name: "a router solicitation goes to the controller",
		flow: "icmp6," + fromVM1 + "dl_dst=33:33:00:00:00:02,ipv6_src=" + lla1 + ",ipv6_dst=ff02::2,nw_ttl=255,icmpv6_type=133,icmpv6_code=0",
		want: []string{"controller(reason=1", "controller_id=7"},
		not:  []string{"tnl_push"},
	}, {
		name:  "a router advertisement from a VM is dropped",
		flow:  "icmp6," + fromVM1 + "dl_dst=33:33:00:00:00:01,ipv6_src=" + lla1 + ",ipv6_dst=ff02::1,nw_ttl=255,icmpv6_type=134,icmpv6_code=0",
		exact: []string{"drop"},
	}, {
		name: "a solicitation for the router's link-local address is answered with the Router flag",
		flow: "icmp6," + fromVM1 + "dl_dst=33:33:ff:ff:00:01,ipv6_src=" + lla1 + ",ipv6_dst=ff02::1:ffff:1,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=" + rtrLLA + ",nd_sll=fa:16:3e:00:01:01",
		want: []string{"set(eth(src=" + rtrMAC1 + ",dst=fa:16:3e:00:01:01))", "set(ipv6(src=" + rtrLLA + ",dst=" + lla1 + "))",
			"nd_reserved=0xe0000000", "set(nd(tll=" + rtrMAC1 + "))", ")," + vm1},
		not: []string{"tnl_push"},
	}, {
		name: "echo to the router's address is answered",
		flow: "icmp6," + fromVM1 + "dl_dst=" + rtrMAC1 + ",ipv6_src=2001:db8:1::11,ipv6_dst=2001:db8:1::1,nw_ttl=64,icmpv6_type=128,icmpv6_code=0",
		want: []string{"set(ipv6(src=2001:db8:1::1,dst=2001:db8:1::11))", "set(icmpv6(type=129,code=0))", ")," + vm1},
	}, {
		name: "routed IPv6 leaves in the tunnel to ch2 with net2's VNI, hop limit decremented",
		flow: "tcp6," + fromVM1 + "dl_dst=" + rtrMAC1 + ",ipv6_src=2001:db8:1::11,ipv6_dst=2001:db8:2::14,nw_ttl=64,tp_src=1000,tp_dst=80",
		want: []string{"tnl_push", "dst=192.0.2.2", "geneve(vni=0xc8)", "eth(src=" + rtrMAC2 + ",dst=fa:16:3e:00:02:04)", "hlimit=63"},
	}, {
		name: "the extra route goes to its nexthop",
		flow: "tcp6," + fromVM1 + "dl_dst=" + rtrMAC1 + ",ipv6_src=2001:db8:1::11,ipv6_dst=2001:db8:9::7,nw_ttl=64,tp_src=1000,tp_dst=80",
		want: []string{"geneve(vni=0xc8)", "dst=fa:16:3e:00:02:04"},
	}, {
		name:  "an address of a connected subnet no port holds is dropped",
		flow:  "tcp6," + fromVM1 + "dl_dst=" + rtrMAC1 + ",ipv6_src=2001:db8:1::11,ipv6_dst=2001:db8:2::99,nw_ttl=64,tp_src=1000,tp_dst=80",
		exact: []string{"drop"},
	}, {
		name:  "a spoofed IPv6 source is dropped",
		flow:  "tcp6," + fromVM1 + "dl_dst=" + rtrMAC1 + ",ipv6_src=2001:db8:1::99,ipv6_dst=2001:db8:2::14,nw_ttl=64,tp_src=1000,tp_dst=80",
		exact: []string{"drop"},
	}})
}
