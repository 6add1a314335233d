package pipeline

import "testing"

// TestOVSTraceProviderRouted installs providerRouted on a real OVS and
// checks with ofproto/trace that what r1 routes onto a vlan network for
// another chassis leaves by the physnet bridge port tagged with the
// destination network's VLAN id, from the chassis MAC, never r1's MAC and
// never by a tunnel; that what it routes into the geneve network is
// tunnelled; that it delivers locally from its own MAC; and that a frame
// from another chassis' MAC on the physical network is delivered.
func TestOVSTraceProviderRouted(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	inst, ports := traceBridge(t, providerRouted(), testCfgND, map[string]int{"vm1": 10, "vm6": 11, "phys1": ofPhysnet1})
	vm1, vm6, phys := ports["vm1"], ports["vm6"], ports["phys1"]
	const fromVM1 = "in_port=10,dl_src=fa:16:3e:65:00:01,dl_dst=fa:16:3e:aa:01:01,nw_src=10.101.0.11,nw_ttl=64,"
	const fromVM6 = "in_port=11,dl_src=fa:16:3e:01:00:06,dl_dst=fa:16:3e:aa:00:01,nw_src=10.1.0.16,nw_ttl=64,"
	srcChassis := "eth(src=" + chassisMACPhysnet1
	runTraces(t, inst, []traceCase{{
		name: "vm6 (geneve) to vm3 (vlan101 on ch2): tagged 101, from the chassis MAC",
		flow: "icmp," + fromVM6 + "nw_dst=10.101.0.13,icmp_type=8,icmp_code=0",
		ct:   "trk,new",
		want: []string{"push_vlan(vid=101", srcChassis, "dst=fa:16:3e:65:00:03", phys},
		not:  []string{"tnl_push", "src=fa:16:3e:aa:"},
	}, {
		name: "vm1 (vlan101) to vm8 (vlan103 on ch2, host route): tagged 103, from the chassis MAC",
		flow: "icmp," + fromVM1 + "nw_dst=10.103.0.18,icmp_type=8,icmp_code=0",
		ct:   "trk,new",
		want: []string{"push_vlan(vid=103", srcChassis, "dst=fa:16:3e:67:00:08", phys},
		not:  []string{"tnl_push", "src=fa:16:3e:aa:"},
	}, {
		name: "vm1 (vlan101) to vm7 (geneve on ch2): tunnelled",
		flow: "icmp," + fromVM1 + "nw_dst=10.1.0.17,icmp_type=8,icmp_code=0",
		ct:   "trk,new",
		want: []string{"tnl_push", "src=fa:16:3e:aa:00:01"},
		not:  []string{"push_vlan", srcChassis},
	}, {
		name: "vm1 (vlan101) to vm6 (geneve, here): delivered from r1's MAC",
		flow: "icmp," + fromVM1 + "nw_dst=10.1.0.16,icmp_type=8,icmp_code=0",
		ct:   "trk,new",
		want: []string{"src=fa:16:3e:aa:00:01", vm6},
		not:  []string{"push_vlan", "tnl_push"},
	}, {
		name: "ARP from vm1 for its gateway: answered here, never out",
		flow: "arp,in_port=10,dl_src=fa:16:3e:65:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.101.0.11,arp_tpa=10.101.0.1,arp_sha=fa:16:3e:65:00:01",
		want: []string{vm1},
		not:  []string{"push_vlan", "tnl_push"},
	}, {
		name: "IPv6: vm6 (geneve) to vm3 (vlan101 on ch2): tagged 101, from the chassis MAC",
		flow: "icmp6,in_port=11,dl_src=fa:16:3e:01:00:06,dl_dst=fa:16:3e:aa:00:01,ipv6_src=2001:db8:1::16,ipv6_dst=2001:db8:101::13,nw_ttl=64,icmpv6_type=128,icmpv6_code=0",
		ct:   "trk,new",
		want: []string{"push_vlan(vid=101", srcChassis, "dst=fa:16:3e:65:00:03", phys},
		not:  []string{"tnl_push", "src=fa:16:3e:aa:"},
	}, {
		name: "IPv6: neighbour solicitation from vm1 for its gateway: answered here, never out",
		flow: "icmp6,in_port=10,dl_src=fa:16:3e:65:00:01,dl_dst=33:33:ff:00:00:01,ipv6_src=2001:db8:101::11,ipv6_dst=ff02::1:ff00:1,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8:101::1,nd_sll=fa:16:3e:65:00:01",
		want: []string{vm1},
		not:  []string{"push_vlan", "tnl_push"},
	}, {
		name: "from ch2's chassis MAC on VLAN 101 to vm1: delivered",
		flow: "icmp,in_port=20,dl_vlan=101,dl_src=0e:c4:02:00:00:01,dl_dst=fa:16:3e:65:00:01,nw_src=10.1.0.17,nw_dst=10.101.0.11,nw_ttl=63,icmp_type=8,icmp_code=0",
		ct:   "trk,new",
		want: []string{"pop_vlan", vm1},
	}})
}

// TestOVSTraceProviderHandoff: what a router translates on its gateway
// chassis reaches it from a vlan network over the physical network: the
// other chassis sends it tagged to the gateway's chassis MAC, never in a
// tunnel; the gateway takes it back as the router's and SNATs it out. The
// same for IPv6 leaving by the gateway, routed without NAT.
func TestOVSTraceProviderHandoff(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	t.Run("not the gateway", func(t *testing.T) {
		inst, ports := traceBridge(t, providerRoutedSNAT(), testCfg, map[string]int{"vm1": 10, "vm6": 11, "phys1": ofPhysnet1, "ext": 30})
		runTraces(t, inst, []traceCase{{
			name: "vm1 (vlan101) out by r1's gateway on ch2: tagged 101 to ch2's chassis MAC, unrouted",
			flow: "tcp,in_port=10,dl_src=fa:16:3e:65:00:01,dl_dst=fa:16:3e:aa:01:01,nw_src=10.101.0.11,nw_dst=198.51.100.7,nw_ttl=64,tp_src=40000,tp_dst=80",
			ct:   "trk,new",
			want: []string{"push_vlan(vid=101", "eth(src=" + chassisMACPhysnet1 + ",dst=0e:c4:02:00:00:01)", ports["phys1"]},
			not:  []string{"tnl_push", "ttl=63", "nat("},
		}, {
			name: "IPv6 from vm1 (vlan101) out by r1's gateway on ch2: tagged 101 to ch2's chassis MAC, unrouted",
			flow: "icmp6,in_port=10,dl_src=fa:16:3e:65:00:01,dl_dst=fa:16:3e:aa:01:01,ipv6_src=2001:db8:101::11,ipv6_dst=2001:db8:99::1,nw_ttl=64,icmpv6_type=128,icmpv6_code=0",
			ct:   "trk,new",
			want: []string{"push_vlan(vid=101", "eth(src=" + chassisMACPhysnet1 + ",dst=0e:c4:02:00:00:01)", ports["phys1"]},
			not:  []string{"tnl_push", "hlimit=63"},
		}, {
			name: "vm6 (geneve) out by r1's gateway on ch2: tunnelled",
			flow: "tcp,in_port=11,dl_src=fa:16:3e:01:00:06,dl_dst=fa:16:3e:aa:00:01,nw_src=10.1.0.16,nw_dst=198.51.100.7,nw_ttl=64,tp_src=40000,tp_dst=80",
			ct:   "trk,new",
			want: []string{"tnl_push"},
			not:  []string{"push_vlan"},
		}})
	})
	t.Run("the gateway", func(t *testing.T) {
		inst, ports := traceBridge(t, providerRoutedGateway(), testCfg, map[string]int{"vm1": 10, "vm6": 11, "phys1": ofPhysnet1})
		runTraces(t, inst, []traceCase{{
			name: "from vm3 on ch2, to this chassis' MAC on VLAN 101: SNATed out",
			flow: "tcp,in_port=20,dl_vlan=101,dl_src=0e:c4:02:00:00:01,dl_dst=" + chassisMACPhysnet1 + ",nw_src=10.101.0.13,nw_dst=198.51.100.7,nw_ttl=64,tp_src=40000,tp_dst=80",
			ct:   "trk,new",
			want: []string{"pop_vlan", "nat(src=203.0.113.2)", "dst=02:00:cb:00:71:01", ports["phys1"]},
		}, {
			name: "from vm8 on ch2, VLAN 103 (no port here): SNATed out",
			flow: "tcp,in_port=20,dl_vlan=103,dl_src=0e:c4:02:00:00:01,dl_dst=" + chassisMACPhysnet1 + ",nw_src=10.103.0.18,nw_dst=198.51.100.7,nw_ttl=64,tp_src=40000,tp_dst=80",
			ct:   "trk,new",
			want: []string{"pop_vlan", "nat(src=203.0.113.2)", ports["phys1"]},
		}, {
			name: "IPv6 from vm3 on ch2, to this chassis' MAC on VLAN 101: routed out to the upstream router by the same port",
			flow: "icmp6,in_port=20,dl_vlan=101,dl_src=0e:c4:02:00:00:01,dl_dst=" + chassisMACPhysnet1 + ",ipv6_src=2001:db8:101::13,ipv6_dst=2001:db8:99::1,nw_ttl=64,icmpv6_type=128,icmpv6_code=0",
			want: []string{"pop_vlan", "dst=02:00:cb:00:71:06", "hlimit=63", ports["phys1"]},
		}, {
			name: "from another subnet to this chassis' MAC: not the router's",
			flow: "tcp,in_port=20,dl_vlan=101,dl_src=0e:c4:02:00:00:01,dl_dst=" + chassisMACPhysnet1 + ",nw_src=10.9.0.13,nw_dst=198.51.100.7,nw_ttl=64,tp_src=40000,tp_dst=80",
			ct:   "trk,new",
			not:  []string{"nat("},
		}})
	})
}
