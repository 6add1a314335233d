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
