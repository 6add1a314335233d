package pipeline

import (
	"net/netip"
	"testing"
)

// TestOVSTracePortSecurity checks on a real OVS that port security drops
// every spoof and passes legitimate traffic: vm1 (port security, dual
// stack, an address pair 10.0.0.128/25 with its own MAC), vm2 (port
// security off), vm4 (port security, IPv4 only, on DHCP).
func TestOVSTracePortSecurity(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	v := traceView()
	v.Ports[0].AllowedAddressPairs = []AddressPair{{Prefix: netip.MustParsePrefix("10.0.0.128/25"), MAC: mac("fa:16:3e:00:00:ff")}}
	v.Ports[1].PortSecurity = false
	v.Ports = append(v.Ports, Port{ID: "vm4", NetworkID: "net1", Key: 4, MAC: mac("fa:16:3e:00:00:04"),
		IPs: addrs("10.0.0.14"), PortSecurity: true, Chassis: "ch1", OFPort: 12})
	inst, ports := traceBridge(t, v, testCfgND, map[string]int{"vm1": 10, "vm2": 11, "vm4": 12})
	vm1, vm2, vm4 := ports["vm1"], ports["vm2"], ports["vm4"]
	drop := []string{"drop"}
	const (
		m1   = "dl_src=fa:16:3e:00:00:01"
		m1ff = "dl_src=fa:16:3e:00:00:ff"
		m4   = "dl_src=fa:16:3e:00:00:04"
		bc   = "dl_dst=ff:ff:ff:ff:ff:ff"
		toV2 = "dl_dst=fa:16:3e:00:00:02"
		// A multicast destination (IPv6 all nodes): flooded (vm1, vm2,
		// vm4 and the tunnel, less the sender) when it passes port
		// security. (Unknown unicast is dropped: every port here has port
		// security, so no MAC of the network is unknown.)
		unk = "dl_dst=33:33:00:00:00:01"
	)
	dhcp := "udp,nw_src=0.0.0.0,nw_dst=255.255.255.255,udp_src=68,udp_dst=67,nw_ttl=64"
	ns := func(src, sll string) string {
		return "icmp6,dl_dst=33:33:ff:00:00:77,ipv6_src=" + src + ",ipv6_dst=ff02::1:ff00:77,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8::77,nd_sll=" + sll
	}
	na := func(src, target, tll string) string {
		return "icmp6,dl_dst=33:33:00:00:00:01,ipv6_src=" + src + ",ipv6_dst=ff02::1,nw_ttl=255,icmpv6_type=136,icmpv6_code=0,nd_target=" + target + ",nd_tll=" + tll
	}
	runTraces(t, inst, []traceCase{{
		// vm2 has port security off: it may own MACs the model does not
		// know, so it alone gets unknown unicast (vm3 on ch2 has port
		// security: nothing is tunnelled).
		name:  "unknown unicast goes only to the port without port security",
		flow:  "in_port=10,icmp," + m1 + ",dl_dst=fa:16:3e:00:00:77,nw_src=10.0.0.11,nw_dst=10.0.0.77,nw_ttl=64",
		exact: []string{vm2},
	}, {
		name:  "unknown unicast from the port without port security is dropped",
		flow:  "in_port=11,icmp,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:77,nw_src=10.0.0.12,nw_dst=10.0.0.77,nw_ttl=64",
		exact: drop,
	}, {
		name:  "IPv4 from own MAC and address passes",
		flow:  "in_port=10,icmp," + m1 + "," + toV2 + ",nw_src=10.0.0.11,nw_dst=10.0.0.12,nw_ttl=64",
		exact: []string{vm2},
	}, {
		name:  "IPv4 from another MAC is dropped",
		flow:  "in_port=10,icmp,dl_src=fa:16:3e:00:00:09," + toV2 + ",nw_src=10.0.0.11,nw_dst=10.0.0.12,nw_ttl=64",
		exact: drop,
	}, {
		name:  "IPv4 from an address pair's prefix and MAC passes",
		flow:  "in_port=10,icmp," + m1ff + "," + toV2 + ",nw_src=10.0.0.130,nw_dst=10.0.0.12,nw_ttl=64",
		exact: []string{vm2},
	}, {
		name:  "an address pair's prefix from the port's own MAC is dropped",
		flow:  "in_port=10,icmp," + m1 + "," + toV2 + ",nw_src=10.0.0.130,nw_dst=10.0.0.12,nw_ttl=64",
		exact: drop,
	}, {
		name:  "the port's address from an address pair's MAC is dropped",
		flow:  "in_port=10,icmp," + m1ff + "," + toV2 + ",nw_src=10.0.0.11,nw_dst=10.0.0.12,nw_ttl=64",
		exact: drop,
	}, {
		name:  "another port's MAC is dropped",
		flow:  "in_port=12,icmp,dl_src=fa:16:3e:00:00:01," + toV2 + ",nw_src=10.0.0.14,nw_dst=10.0.0.12,nw_ttl=64",
		exact: drop,
	}, {
		name:  "ARP with own sha and spa passes",
		flow:  "in_port=12,arp," + m4 + "," + bc + ",arp_op=1,arp_sha=fa:16:3e:00:00:04,arp_spa=10.0.0.14,arp_tpa=10.0.0.77",
		exact: []string{vm1, vm2},
	}, {
		name:  "ARP probe from 0.0.0.0 passes",
		flow:  "in_port=12,arp," + m4 + "," + bc + ",arp_op=1,arp_sha=fa:16:3e:00:00:04,arp_spa=0.0.0.0,arp_tpa=10.0.0.77",
		exact: []string{vm1, vm2},
	}, {
		name:  "ARP with a spoofed sha is dropped",
		flow:  "in_port=12,arp," + m4 + "," + bc + ",arp_op=1,arp_sha=fa:16:3e:00:00:09,arp_spa=10.0.0.14,arp_tpa=10.0.0.77",
		exact: drop,
	}, {
		name:  "ARP probe with a spoofed sha is dropped",
		flow:  "in_port=12,arp," + m4 + "," + bc + ",arp_op=1,arp_sha=fa:16:3e:00:00:09,arp_spa=0.0.0.0,arp_tpa=10.0.0.77",
		exact: drop,
	}, {
		name:  "ARP with a spoofed spa is dropped",
		flow:  "in_port=12,arp," + m4 + "," + bc + ",arp_op=2,arp_sha=fa:16:3e:00:00:04,arp_spa=10.0.0.12,arp_tpa=10.0.0.11",
		exact: drop,
	}, {
		name: "DHCP discover goes to the controller",
		flow: "in_port=12," + m4 + "," + bc + "," + dhcp,
		want: []string{"controller(reason=1", "controller_id=7"},
	}, {
		name:  "DHCP discover from a spoofed MAC is dropped",
		flow:  "in_port=12,dl_src=fa:16:3e:00:00:09," + bc + "," + dhcp,
		exact: drop,
	}, {
		name: "DHCP discover from a port without port security goes to the controller",
		flow: "in_port=11,dl_src=fa:16:3e:00:00:02," + bc + "," + dhcp,
		want: []string{"controller(reason=1", "controller_id=7"},
	}, {
		name:  "DHCP server reply from a VM is dropped",
		flow:  "in_port=12,udp," + m4 + "," + bc + ",nw_src=10.0.0.14,nw_dst=255.255.255.255,udp_src=67,udp_dst=68,nw_ttl=64",
		exact: drop,
	}, {
		name:  "a port without port security sends from any MAC and address",
		flow:  "in_port=11,icmp,dl_src=fa:16:3e:00:00:09,dl_dst=fa:16:3e:00:00:04,nw_src=10.0.0.99,nw_dst=10.0.0.14,nw_ttl=64",
		exact: []string{vm4},
	}, {
		name: "IPv6 from link-local passes",
		flow: "in_port=10,udp6," + m1 + "," + unk + ",ipv6_src=fe80::1,ipv6_dst=fe80::2,udp_src=1,udp_dst=2,nw_ttl=64",
		want: []string{vm2 + ",", vm4},
	}, {
		name: "IPv6 from own global address passes",
		flow: "in_port=10,udp6," + m1 + "," + unk + ",ipv6_src=2001:db8::11,ipv6_dst=2001:db8::12,udp_src=1,udp_dst=2,nw_ttl=64",
		want: []string{vm2 + ",", vm4},
	}, {
		name:  "IPv6 from another global address is dropped",
		flow:  "in_port=10,udp6," + m1 + "," + unk + ",ipv6_src=2001:db8::12,ipv6_dst=2001:db8::13,udp_src=1,udp_dst=2,nw_ttl=64",
		exact: drop,
	}, {
		name: "IPv6 link-local from an IPv4-only port passes",
		flow: "in_port=12,udp6," + m4 + "," + unk + ",ipv6_src=fe80::4,ipv6_dst=fe80::2,udp_src=1,udp_dst=2,nw_ttl=64",
		want: []string{vm1 + ",", vm2},
	}, {
		name:  "IPv6 global from an IPv4-only port is dropped",
		flow:  "in_port=12,udp6," + m4 + "," + unk + ",ipv6_src=2001:db8::14,ipv6_dst=2001:db8::12,udp_src=1,udp_dst=2,nw_ttl=64",
		exact: drop,
	}, {
		name:  "router advertisement is dropped",
		flow:  "in_port=12,icmp6," + m4 + ",dl_dst=33:33:00:00:00:01,ipv6_src=fe80::4,ipv6_dst=ff02::1,nw_ttl=255,icmpv6_type=134,icmpv6_code=0",
		exact: drop,
	}, {
		name: "MLDv2 report from :: passes",
		flow: "in_port=12,icmp6," + m4 + ",dl_dst=33:33:00:00:00:16,ipv6_src=::,ipv6_dst=ff02::16,nw_ttl=1,icmpv6_type=143,icmpv6_code=0",
		want: []string{vm1},
	}, {
		name: "DAD solicitation from :: passes",
		flow: "in_port=12," + m4 + "," + ns("::", "00:00:00:00:00:00"),
		want: []string{vm1},
	}, {
		name:  "DAD solicitation with a link-layer option is dropped",
		flow:  "in_port=12," + m4 + "," + ns("::", "fa:16:3e:00:00:04"),
		exact: drop,
	}, {
		name: "link-local solicitation with own link-layer address passes",
		flow: "in_port=12," + m4 + "," + ns("fe80::4", "fa:16:3e:00:00:04"),
		want: []string{vm1},
	}, {
		name: "link-local solicitation without link-layer option passes",
		flow: "in_port=12," + m4 + "," + ns("fe80::4", "00:00:00:00:00:00"),
		want: []string{vm1},
	}, {
		name:  "solicitation with another link-layer address is dropped",
		flow:  "in_port=12," + m4 + "," + ns("fe80::4", "fa:16:3e:00:00:02"),
		exact: drop,
	}, {
		name:  "solicitation from another global address is dropped",
		flow:  "in_port=12," + m4 + "," + ns("2001:db8::12", "fa:16:3e:00:00:04"),
		exact: drop,
	}, {
		name: "solicitation from own global address passes",
		flow: "in_port=10," + m1 + "," + ns("2001:db8::11", "fa:16:3e:00:00:01"),
		want: []string{vm4},
	}, {
		name: "link-local advertisement with own link-layer address passes",
		flow: "in_port=12," + m4 + "," + na("fe80::4", "fe80::4", "fa:16:3e:00:00:04"),
		want: []string{vm1},
	}, {
		name:  "link-local advertisement with another link-layer address is dropped",
		flow:  "in_port=12," + m4 + "," + na("fe80::4", "fe80::4", "fa:16:3e:00:00:02"),
		exact: drop,
	}, {
		name:  "advertisement for another port's address is dropped",
		flow:  "in_port=12," + m4 + "," + na("fe80::4", "2001:db8::12", "fa:16:3e:00:00:04"),
		exact: drop,
	}, {
		name: "advertisement for own global address passes",
		flow: "in_port=10," + m1 + "," + na("2001:db8::11", "2001:db8::11", "fa:16:3e:00:00:01"),
		want: []string{vm4},
	}, {
		name:  "advertisement for own address from an address pair's MAC with its link-layer address is dropped",
		flow:  "in_port=10," + m1ff + "," + na("2001:db8::11", "2001:db8::11", "fa:16:3e:00:00:ff"),
		exact: drop,
	}})
}
