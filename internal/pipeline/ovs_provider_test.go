package pipeline

import "testing"

// TestOVSTraceProvider installs the provider scenarios' pipelines on a real
// OVS, the bridge ports of physnet1 and physnet2 standing in as internal
// ports, and checks with ofproto/trace that a vlan network's traffic
// leaves tagged with its VLAN id and never by a tunnel, that tagged frames
// from the physical network are popped and go through the destination's
// security groups, that other VLANs are dropped, and that a flat
// network's traffic leaves and enters untagged.
func TestOVSTraceProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	t.Run("vlan", func(t *testing.T) {
		inst, ports := traceBridge(t, providerVLAN(), testCfg, map[string]int{"vm1": 10, "phys1": ofPhysnet1})
		vm1, phys := ports["vm1"], ports["phys1"]
		const fromVM1 = "in_port=10,dl_src=fa:16:3e:65:00:01,nw_src=10.101.0.11,nw_ttl=64,"
		const fromPhys = "in_port=20,dl_vlan=101,dl_src=fa:16:3e:65:00:03,dl_dst=fa:16:3e:65:00:01,nw_src=10.101.0.13,nw_dst=10.101.0.11,nw_ttl=64,"
		runTraces(t, inst, []traceCase{{
			name: "vm1 to vm3 on ch2: tagged 101 out of the physnet bridge, no tunnel",
			flow: "icmp," + fromVM1 + "dl_dst=fa:16:3e:65:00:03,nw_dst=10.101.0.13,icmp_type=8,icmp_code=0",
			ct:   "trk,new",
			want: []string{"push_vlan(vid=101", phys},
			not:  []string{"tnl_push"},
		}, {
			name: "ARP for an address Wyvern does not know: out tagged too",
			flow: "arp,in_port=10,dl_src=fa:16:3e:65:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.101.0.11,arp_tpa=10.101.0.99,arp_sha=fa:16:3e:65:00:01",
			want: []string{"push_vlan(vid=101", phys},
			not:  []string{"tnl_push"},
		}, {
			name: "from the physical network, VLAN 101, tcp/80: popped, allowed by the group",
			flow: "tcp," + fromPhys + "tp_src=40000,tp_dst=80",
			ct:   "trk,new",
			want: []string{"pop_vlan", "ct(commit,zone=21)", vm1},
		}, {
			name: "from the physical network, VLAN 101, tcp/81: refused by the group",
			flow: "tcp," + fromPhys + "tp_src=40000,tp_dst=81",
			ct:   "trk,new",
			want: []string{"ct(zone=21)"},
			not:  []string{"commit", "," + vm1, ")" + vm1},
		}, {
			name:  "VLAN 102 has no network here: dropped",
			flow:  "icmp,in_port=20,dl_vlan=102,dl_src=fa:16:3e:66:00:04,dl_dst=fa:16:3e:65:00:01,nw_src=10.102.0.14,nw_dst=10.101.0.11,icmp_type=8,icmp_code=0",
			exact: []string{"drop"},
		}, {
			name:  "untagged from the physical network: no network here, dropped",
			flow:  "icmp,in_port=20,dl_src=fa:16:3e:65:00:03,dl_dst=fa:16:3e:65:00:01,nw_src=10.101.0.13,nw_dst=10.101.0.11,icmp_type=8,icmp_code=0",
			exact: []string{"drop"},
		}})
	})
	t.Run("flat", func(t *testing.T) {
		inst, ports := traceBridge(t, providerFlat(), testCfg, map[string]int{"vm1": 10, "vm2": 11, "phys2": ofPhysnet2})
		vm1, vm2, phys := ports["vm1"], ports["vm2"], ports["phys2"]
		runTraces(t, inst, []traceCase{{
			name:  "vm1 to vm3 on ch2: untagged out of the physnet bridge",
			flow:  "icmp,in_port=10,dl_src=fa:16:3e:c8:00:01,dl_dst=fa:16:3e:c8:00:03,nw_src=10.200.0.11,nw_dst=10.200.0.13,nw_ttl=64,icmp_type=8,icmp_code=0",
			exact: []string{phys},
		}, {
			name:  "from the physical network to vm1",
			flow:  "icmp,in_port=21,dl_src=fa:16:3e:c8:00:03,dl_dst=fa:16:3e:c8:00:01,nw_src=10.200.0.13,nw_dst=10.200.0.11,nw_ttl=64,icmp_type=8,icmp_code=0",
			exact: []string{vm1},
		}, {
			name:  "unknown unicast from the physical network: only vm2 (port security off)",
			flow:  "icmp,in_port=21,dl_src=02:00:00:00:00:99,dl_dst=02:00:00:00:00:98,nw_src=10.200.0.99,nw_dst=10.200.0.98,nw_ttl=64,icmp_type=8,icmp_code=0",
			exact: []string{vm2},
		}, {
			name:  "broadcast from the physical network: the local ports, not back out",
			flow:  "arp,in_port=21,dl_src=02:00:00:00:00:99,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.200.0.99,arp_tpa=10.200.0.11,arp_sha=02:00:00:00:00:99",
			exact: []string{vm1, vm2},
		}, {
			name:  "tagged from the physical network: dropped",
			flow:  "icmp,in_port=21,dl_vlan=7,dl_src=fa:16:3e:c8:00:03,dl_dst=fa:16:3e:c8:00:01,nw_src=10.200.0.13,nw_dst=10.200.0.11,icmp_type=8,icmp_code=0",
			exact: []string{"drop"},
		}})
	})
}
