package pipeline

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// aclTraceView is securityGroups (vm1 in web only, vm2 in web and db, zone
// 11) plus vm4 and vm6, also in web only (a flood loads their ACL word
// once), vm7, a local port with port security off, and vm3 on ch2, a
// member of web.
func aclTraceView() *View {
	v := securityGroups()
	v.SecurityGroups[0].Members = append(v.SecurityGroups[0].Members, pfx("10.0.0.13/32"))
	v.Remote = []RemoteChassis{{Name: "ch2", TunnelIP: netip.MustParseAddr("192.0.2.2"), Encaps: []Encap{EncapGeneve}}}
	v.Ports = append(v.Ports,
		Port{ID: "vm3", NetworkID: "net1", Key: 3, MAC: mac("fa:16:3e:00:00:03"), IPs: addrs("10.0.0.13"),
			PortSecurity: true, Chassis: "ch2", SecurityGroups: []string{"web"}},
		Port{ID: "vm4", NetworkID: "net1", Key: 4, MAC: mac("fa:16:3e:00:00:04"), IPs: addrs("10.0.0.14"),
			PortSecurity: true, Chassis: "ch1", OFPort: 13, SecurityGroups: []string{"web"}},
		Port{ID: "vm6", NetworkID: "net1", Key: 6, MAC: mac("fa:16:3e:00:00:06"), IPs: addrs("10.0.0.16"),
			PortSecurity: true, Chassis: "ch1", OFPort: 14, SecurityGroups: []string{"web"}},
		Port{ID: "vm7", NetworkID: "net1", Key: 7, MAC: mac("fa:16:3e:00:00:07"), IPs: addrs("10.0.0.17"),
			Chassis: "ch1", OFPort: 12, SecurityGroups: []string{"web"}})
	return v
}

// TestOVSTraceACL checks on a real OVS the security group flows shared
// by the ports: conntrack for tracked ports only (whatever path delivers
// to them), a group's rules for the ports whose only group it is, per-port
// rules for a port in several groups.
func TestOVSTraceACL(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	inst, ports := traceBridge(t, aclTraceView(), testCfgND, map[string]int{"vm1": 10, "vm2": 11, "vm7": 12, "vm4": 13, "vm6": 14})
	vm1, vm2, vm4, vm6, vm7 := ports["vm1"], ports["vm2"], ports["vm4"], ports["vm6"], ports["vm7"]
	const (
		fromVM1 = "in_port=10,dl_src=fa:16:3e:00:00:01,nw_src=10.0.0.11,nw_ttl=64,"
		fromVM7 = "in_port=12,dl_src=fa:16:3e:00:00:07,nw_src=10.0.0.17,nw_ttl=64,"
		fromVM3 = "in_port=1,tun_id=0x64,tun_src=192.0.2.2,tun_dst=192.0.2.1,dl_src=fa:16:3e:00:00:03,nw_src=10.0.0.13,nw_ttl=64,"
		toVM1   = "dl_dst=fa:16:3e:00:00:01,nw_dst=10.0.0.11,"
		toVM2   = "dl_dst=fa:16:3e:00:00:02,nw_dst=10.0.0.12,"
		toVM7   = "dl_dst=fa:16:3e:00:00:07,nw_dst=10.0.0.17,"
		track   = "ct(zone=11)"
		commit  = "ct(commit,zone=11)"
	)
	for _, tc := range []struct {
		name, flow string
		tracks     int // conntrack passes (ct(zone=11) without commit)
		want, not  []string
	}{{
		name:   "untracked sender, tracked receiver in one group: ssh allowed by the group's shared rule",
		flow:   "tcp," + fromVM7 + toVM1 + "tp_src=40000,tp_dst=22",
		tracks: 1,
		want:   []string{commit, vm1},
	}, {
		name:   "untracked sender, tracked receiver: telnet allowed by no rule",
		flow:   "tcp," + fromVM7 + toVM1 + "tp_src=40000,tp_dst=23",
		tracks: 1,
		not:    []string{"commit", vm1},
	}, {
		name:   "tracked sender to a port with port security off: egress tracked, ingress not",
		flow:   "tcp," + fromVM1 + toVM7 + "tp_src=40000,tp_dst=23",
		tracks: 1,
		want:   []string{commit, vm7},
	}, {
		name:   "tunnel traffic to a port with port security off is not tracked",
		flow:   "tcp," + fromVM3 + toVM7 + "tp_src=40000,tp_dst=23",
		tracks: 0,
		want:   []string{vm7},
		not:    []string{"ct("},
	}, {
		name:   "tunnel traffic to a tracked port in one group: the remote group conjunction",
		flow:   "tcp," + fromVM3 + toVM1 + "tp_src=40000,tp_dst=8080",
		tracks: 1,
		want:   []string{commit, vm1},
	}, {
		name:   "port in two groups: db's rule for web members, per port",
		flow:   "tcp," + fromVM1 + toVM2 + "tp_src=40000,tp_dst=5432",
		tracks: 2,
		want:   []string{commit + "," + vm2},
	}, {
		name:   "port in two groups: telnet allowed by neither",
		flow:   "tcp," + fromVM1 + toVM2 + "tp_src=40000,tp_dst=23",
		tracks: 2,
		not:    []string{vm2},
	}, {
		name:   "port in two groups: not a web member",
		flow:   "tcp," + fromVM7 + toVM2 + "tp_src=40000,tp_dst=5432",
		tracks: 1,
		not:    []string{"commit", vm2},
	}, {
		name:   "broadcast from a tunnel: tracked ports through conntrack, the other delivered",
		flow:   "udp," + fromVM3 + "dl_dst=ff:ff:ff:ff:ff:ff,nw_dst=255.255.255.255,udp_src=1000,udp_dst=2000",
		tracks: 4,
		want:   []string{vm7},
		not:    []string{"commit", vm1, vm2, vm4, vm6},
	}} {
		out, err := inst.Appctl("ofproto/trace", "br-int", tc.flow, "--ct-next", "trk,new")
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, out)
		}
		acts := allDatapathActions(out)
		if n := strings.Count(acts, track); n != tc.tracks {
			t.Errorf("%s: %d conntrack passes, want %d:\n%s", tc.name, n, tc.tracks, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(acts, w) {
				t.Errorf("%s: datapath actions lack %q:\n%s", tc.name, w, out)
			}
		}
		for _, w := range tc.not {
			if hasAction(acts, w) {
				t.Errorf("%s: datapath actions have %q:\n%s", tc.name, w, out)
			}
		}
	}
}

// hasAction reports whether the datapath actions contain w; a port
// number matches only a whole action.
func hasAction(acts, w string) bool {
	if strings.Trim(w, "0123456789") != "" {
		return strings.Contains(acts, w)
	}
	return slices.Contains(strings.FieldsFunc(acts, func(r rune) bool { return strings.ContainsRune(",|() ", r) }), w)
}
