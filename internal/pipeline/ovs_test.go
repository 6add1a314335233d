package pipeline

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs/ovstest"
)

// traceView is ipv6Subnet plus vm3 on chassis ch2 (192.0.2.2).
func traceView() *View {
	v := ipv6Subnet()
	v.Remote = []RemoteChassis{{Name: "ch2", TunnelIP: netip.MustParseAddr("192.0.2.2"), Encaps: []Encap{EncapGeneve}}}
	v.Ports = append(v.Ports, Port{ID: "vm3", NetworkID: "net1", Key: 3, MAC: mac("fa:16:3e:00:00:03"),
		IPs: addrs("10.0.0.13", "2001:db8::13"), PortSecurity: true, Chassis: "ch2"})
	return v
}

// TestOVSTrace installs a compiled pipeline on a real OVS (userspace
// datapath) and checks, with ofproto/trace, what the datapath would do with
// representative packets.
func TestOVSTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and Open vSwitch")
	}
	inst, ports := traceBridge(t, traceView(), testCfgND, map[string]int{"vm1": 10, "vm2": 11})
	vm1, vm2 := ports["vm1"], ports["vm2"]
	tunnelled := []string{"tnl_push", "dst=192.0.2.2", "geneve(vni=0x64)"}
	runTraces(t, inst, []traceCase{{
		name: "ARP request for a remote port is answered on this chassis",
		flow: "in_port=10,arp,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_sha=fa:16:3e:00:00:01,arp_spa=10.0.0.11,arp_tpa=10.0.0.13",
		want: []string{"set(eth(src=fa:16:3e:00:00:03,dst=fa:16:3e:00:00:01))", "op=2,sha=fa:16:3e:00:00:03,tha=fa:16:3e:00:00:01", "sip=10.0.0.13,tip=10.0.0.11", ")," + vm1},
		not:  []string{"tnl_push"},
	}, {
		name:  "ARP request for an unknown address is flooded to local ports only",
		flow:  "in_port=10,arp,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_sha=fa:16:3e:00:00:01,arp_spa=10.0.0.11,arp_tpa=10.0.0.77",
		exact: []string{vm2},
	}, {
		name: "unicast to a remote port is tunnelled to its chassis",
		flow: "in_port=10,icmp,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:03,nw_src=10.0.0.11,nw_dst=10.0.0.13,nw_ttl=64",
		want: tunnelled,
	}, {
		name:  "spoofed source address is dropped",
		flow:  "in_port=10,icmp,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:03,nw_src=10.0.0.99,nw_dst=10.0.0.13,nw_ttl=64",
		exact: []string{"drop"},
	}, {
		name:  "spoofed source MAC is dropped",
		flow:  "in_port=10,icmp,dl_src=fa:16:3e:00:00:09,dl_dst=fa:16:3e:00:00:02,nw_src=10.0.0.11,nw_dst=10.0.0.12,nw_ttl=64",
		exact: []string{"drop"},
	}, {
		name: "DHCP discover goes to the controller",
		flow: "in_port=10,udp,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=0.0.0.0,nw_dst=255.255.255.255,udp_src=68,udp_dst=67,nw_ttl=64",
		want: []string{"controller(reason=1", "controller_id=7"},
		not:  []string{"tnl_push", vm2 + ","},
	}, {
		name:  "broadcast from a tunnel is flooded to local ports only",
		flow:  "in_port=1,tun_id=0x64,tun_src=192.0.2.2,tun_dst=192.0.2.1,arp,dl_src=fa:16:3e:00:00:03,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.0.0.13,arp_tpa=10.0.0.12",
		exact: []string{vm1, vm2},
	}, {
		name: "local broadcast reaches local ports and the remote chassis",
		flow: "in_port=10,udp,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.11,nw_dst=255.255.255.255,udp_src=1000,udp_dst=2000,nw_ttl=64",
		want: append([]string{vm2 + ","}, tunnelled...),
	}, {
		name:  "unicast from a tunnel is delivered",
		flow:  "in_port=1,tun_id=0x64,tun_src=192.0.2.2,tun_dst=192.0.2.1,icmp,dl_src=fa:16:3e:00:00:03,dl_dst=fa:16:3e:00:00:02,nw_src=10.0.0.13,nw_dst=10.0.0.12,nw_ttl=64",
		exact: []string{vm2},
	}, {
		name:  "traffic on an unknown tunnel key is dropped",
		flow:  "in_port=1,tun_id=0x65,tun_src=192.0.2.2,tun_dst=192.0.2.1,icmp,dl_src=fa:16:3e:00:00:03,dl_dst=fa:16:3e:00:00:02,nw_src=10.0.0.13,nw_dst=10.0.0.12,nw_ttl=64",
		exact: []string{"drop"},
	}, {
		name: "neighbour solicitation for a remote port is answered on this chassis",
		flow: "in_port=10,icmp6,dl_src=fa:16:3e:00:00:01,dl_dst=33:33:ff:00:00:13,ipv6_src=2001:db8::11,ipv6_dst=ff02::1:ff00:13,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8::13,nd_sll=fa:16:3e:00:00:01",
		want: []string{"set(eth(src=fa:16:3e:00:00:03,dst=fa:16:3e:00:00:01))", "set(ipv6(src=2001:db8::13,dst=2001:db8::11))",
			"nd_reserved=0x60000000,nd_options_type=2", "set(nd(tll=fa:16:3e:00:00:03))", "set(icmpv6(type=136,code=0))", ")," + vm1},
		not: []string{"tnl_push"},
	}})
}

// traceCase is a packet for ofproto/trace and what the datapath must do.
type traceCase struct {
	name, flow string
	// ct, when set, is ofproto/trace's --ct-next (the conntrack state
	// after each ct()); the actions are then those of every pass.
	ct    string
	want  []string // substrings of the datapath actions
	not   []string // substrings they must not have
	exact []string // the datapath actions, as a set
}

// runTraces traces each case on inst's br-int and checks its datapath
// actions.
func runTraces(t *testing.T, inst *ovstest.Instance, cases []traceCase) {
	t.Helper()
	for _, tc := range cases {
		args := []string{"ofproto/trace", "br-int", tc.flow}
		if tc.ct != "" {
			args = append(args, "--ct-next", tc.ct)
		}
		out, err := inst.Appctl(args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, out)
		}
		acts := datapathActions(out)
		if tc.ct != "" {
			acts = allDatapathActions(out)
		}
		for _, w := range tc.want {
			if !strings.Contains(acts, w) {
				t.Errorf("%s: datapath actions lack %q:\n%s", tc.name, w, out)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(acts, w) {
				t.Errorf("%s: datapath actions have %q:\n%s", tc.name, w, out)
			}
		}
		if tc.exact != nil {
			got := strings.Split(acts, ",")
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.exact))
			if !slices.Equal(got, want) {
				t.Errorf("%s: datapath actions %q, want %q:\n%s", tc.name, acts, strings.Join(want, ","), out)
			}
		}
	}
}

// dpPorts maps port names to datapath port numbers from dpif/show lines
// like "vm1 10/5: (tap)".
// traceBridge starts a private OVS with br-phy holding 192.0.2.1 (peer
// 192.0.2.2 pinned as a tunnel neighbour) and a br-int with geneve0
// (ofport 1), vxlan0 (2) and the given internal ports (name → ofport),
// installs the view's compiled flows, and returns the instance and the
// datapath port number of each internal port.
func traceBridge(t *testing.T, v *View, cfg Config, internal map[string]int) (*ovstest.Instance, map[string]string) {
	t.Helper()
	inst := ovstest.Start(t)
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	must(inst.Vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev",
		"other_config:hwaddr=02:00:c0:00:02:01"))
	must(inst.Vsctl("add-port", "br-phy", "ul", "--", "set", "interface", "ul", "type=internal"))
	must(inst.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "br-phy"))
	must(inst.Exec("ip", "link", "set", "br-phy", "up"))
	args := []string{"add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
		"fail_mode=secure", "protocols=OpenFlow13,OpenFlow15", "other_config:disable-in-band=true",
		"--", "add-port", "br-int", "geneve0", "--", "set", "interface", "geneve0", "type=geneve",
		"options:remote_ip=flow", "options:key=flow", "ofport_request=1",
		"--", "add-port", "br-int", "vxlan0", "--", "set", "interface", "vxlan0", "type=vxlan",
		"options:remote_ip=flow", "options:key=flow", "ofport_request=2"}
	names := make([]string, 0, len(internal))
	for name := range internal {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		args = append(args, "--", "add-port", "br-int", name, "--", "set", "interface", name,
			"type=internal", fmt.Sprintf("ofport_request=%d", internal[name]))
	}
	must(inst.Vsctl(args...))
	// vswitchd may have learned the route from the kernel already (the
	// address on br-phy), and then refuses to insert it again.
	if out, err := inst.Appctl("ovs/route/add", "192.0.2.0/24", "br-phy"); err != nil {
		if routes, _ := inst.Appctl("ovs/route/show"); !strings.Contains(routes, "192.0.2.0/24 dev br-phy") {
			t.Fatalf("ovs/route/add: %v\n%s\nroutes:\n%s", err, out, routes)
		}
	}
	must(inst.Appctl("tnl/neigh/set", "br-phy", "192.0.2.2", "02:00:c0:00:02:02"))

	for _, m := range Meters(v) { // before the flows that use them
		must(inst.Ofctl("-O", "OpenFlow13", "add-meter", inst.Mgmt("br-int"), m.String()))
	}
	path := filepath.Join(t.TempDir(), "flows")
	if err := os.WriteFile(path, []byte(ofp.Text(Compile(v, cfg, 1))), 0o644); err != nil {
		t.Fatal(err)
	}
	must(inst.Ofctl("-O", "OpenFlow13", "add-flows", inst.Mgmt("br-int"), path))

	show := must(inst.Appctl("dpif/show"))
	ports := map[string]string{}
	for _, l := range strings.Split(show, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		if _, dp, ok := strings.Cut(strings.TrimSuffix(f[1], ":"), "/"); ok {
			ports[f[0]] = dp
		}
	}
	for _, name := range names {
		if ports[name] == "" {
			t.Fatalf("no datapath port for %s in:\n%s", name, show)
		}
	}
	return inst, ports
}

func datapathActions(trace string) string {
	for _, l := range strings.Split(trace, "\n") {
		if a, ok := strings.CutPrefix(strings.TrimSpace(l), "Datapath actions: "); ok {
			return a
		}
	}
	return ""
}
