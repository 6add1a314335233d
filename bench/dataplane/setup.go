package main

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

const (
	project   = "bench"
	vmMTU     = 1400
	iperfPort = 5201
	// baseVNI is the tunnel key of the baseline's hand-written flows.
	baseVNI = 100
	// geneveUDP is the UDP port of the agents' geneve0.
	geneveUDP = 6081
	// outsideAddr is the outside host, the external subnet's gateway.
	outsideAddr = "203.0.113.1/24"
	// outsideBaseAddr is the baseline VM the outside host reaches through
	// plain flows (outside the floating IP allocation pool).
	outsideBaseAddr = "203.0.113.200"
	// base6Client and base6Server are the baseline VMs' IPv6 addresses.
	base6Client = "2001:db8:9::1"
	base6Server = "2001:db8:9::2"
)

// setAddr6 gives a host a static IPv6 address without duplicate address
// detection (the address is usable at once).
func setAddr6(h *testbed.Host, cidr string) error {
	_, err := h.Exec("ip", "-6", "addr", "add", cidr, "dev", "eth0", "nodad")
	return err
}

// path is one measured client → server path.
type path struct {
	Key string // short name, e.g. "routed+sg" (titles, baseOf)
	// Client runs iperf3 -c and ping; Server runs iperf3 -s at Dst.
	Client, Server *testbed.Host
	Dst            string
	// Sender and Receiver are the chassis whose datapaths carry the
	// client's packets first and last (Sender is nil for the outside
	// host).
	Sender, Receiver *testbed.Chassis
	// Own names the datapath ports (VM taps, the tunnel's vport, the
	// external veth) and the VM MACs of this path, to tell its
	// megaflows from stragglers of other paths (see ownFlows).
	Own ownership
}

// ownership is what belongs to one path in a datapath.
type ownership struct {
	Ports map[string]bool // datapath port names
	MACs  map[string]bool // VM MACs, lower case
}

// own builds a path's ownership: its VMs (nil for the outside host), its
// tunnel's UDP port (0: none) and its external veth ("": none).
func own(tunPort int, extIface string, vms ...*testbed.VM) ownership {
	o := ownership{Ports: map[string]bool{}, MACs: map[string]bool{}}
	for _, vm := range vms {
		if vm != nil {
			o.Ports[vm.Iface] = true
			o.MACs[strings.ToLower(vm.MAC)] = true
		}
	}
	if tunPort != 0 {
		o.Ports["genev_sys_"+strconv.Itoa(tunPort)] = true
	}
	if extIface != "" {
		o.Ports[extIface] = true
	}
	return o
}

// bench is the state of the run.
type bench struct {
	cfg config
	l   *lab.Lab
	res *result

	ch1, ch2   *testbed.Chassis // Wyvern's agents, and the baseline's bridges
	outside    *testbed.Host
	outsideMAC string
	allMACs    []string // of every VM, Wyvern's and the baseline's
	paths      []*path
}

func requireTools(names ...string) error {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return fmt.Errorf("%s not found (scripts/deps.sh installs it): %w", n, err)
		}
	}
	return nil
}

// setupWyvernChassis makes the outside host and ch1, ch2 with their
// agents, both mapped to the external network through br-ex; ch1 may host
// router gateways.
func (b *bench) setupWyvernChassis() error {
	var err error
	if b.outside, err = b.l.Bed.AddExternalHost("outside", netip.MustParsePrefix(outsideAddr)); err != nil {
		return err
	}
	if b.outsideMAC, err = b.outside.MAC(); err != nil {
		return err
	}
	brEx := func(ch *testbed.Chassis) error { return ch.AddExternalBridge("br-ex") }
	mapped := []string{"--bridge-mappings", "physnet1:br-ex", "--external-nexthop-mac", "physnet1=" + b.outsideMAC}
	if b.ch1, err = b.l.AddChassisWith("ch1", brEx, slices.Concat(mapped, []string{"--gateway"})); err != nil {
		return err
	}
	b.ch2, err = b.l.AddChassisWith("ch2", brEx, mapped)
	return err
}

// Names of the baseline's bridges, ports and tunnel on ch1 and ch2.
const (
	baseBridge   = "br-base"    // the VMs' bridge, with the tunnel port
	baseExBridge = "br-base-ex" // ch2's bridge on the external network
	baseTunnel   = "gnv-base"   // geneve, remote_ip=flow, key=flow
	baseTunPort  = 6082         // its UDP port (the agent's geneve0 has 6081)
	baseExIface  = "exb0"       // ch2's second veth into the external network
)

// setupBaseline adds the baseline to the very chassis Wyvern runs on, so
// that both share the ovs-vswitchd process, its datapath, its polled
// ports and the underlay: on ch1 and ch2, br-base (netdev,
// fail_mode=secure, as the agent makes br-int) with a flow-based Geneve
// port on UDP port baseTunPort, and one VM each with two hand-written
// flows per chassis:
//
//	in_port=<vm> → set tun_id, set tun_dst=<peer>, output:gnv-base
//	in_port=gnv-base,tun_id=<vni> → output:<vm>
//
// ch2 also gets br-base-ex on the external network (its own veth into
// the external Linux bridge) patched to br-base, and a second VM
// (outsideBaseAddr) reached through port-to-port flows: the floating IP
// paths' baseline. The agent manages br-int (and patches br-ex) only;
// the baseline's bridges and ports carry no Wyvern external_ids.
func (b *bench) setupBaseline() error {
	for _, ch := range []*testbed.Chassis{b.ch1, b.ch2} {
		if _, err := ch.Vsctl("add-br", baseBridge, "--", "set", "Bridge", baseBridge, "datapath_type=netdev",
			"fail_mode=secure", "protocols=OpenFlow13,OpenFlow15", "other_config:disable-in-band=true",
			"--", "add-port", baseBridge, baseTunnel, "--", "set", "Interface", baseTunnel, "type=geneve",
			"options:remote_ip=flow", "options:key=flow", "options:dst_port="+strconv.Itoa(baseTunPort)); err != nil {
			return err
		}
		if err := ch.WaitBridge(baseBridge); err != nil {
			return err
		}
	}
	// The agent sets these too; the baseline must not depend on it.
	if err := b.ch1.SetTunnelNeighbor(b.ch2.TunnelIP, b.ch2.TunnelMAC); err != nil {
		return err
	}
	if err := b.ch2.SetTunnelNeighbor(b.ch1.TunnelIP, b.ch1.TunnelMAC); err != nil {
		return err
	}
	vm1, err := b.baseVM(b.ch1, "bvm1", "fa:16:3e:b0:00:01", "10.9.0.1/24")
	if err != nil {
		return err
	}
	vm2, err := b.baseVM(b.ch2, "bvm2", "fa:16:3e:b0:00:02", "10.9.0.2/24")
	if err != nil {
		return err
	}
	// The flows carry any frame, so IPv6 needs only the addresses.
	for _, x := range []struct {
		vm   *testbed.VM
		addr string
	}{{vm1, base6Client}, {vm2, base6Server}} {
		if err := setAddr6(x.vm.Host, x.addr+"/64"); err != nil {
			return err
		}
	}
	for _, x := range []struct {
		ch   *testbed.Chassis
		vm   *testbed.VM
		peer *testbed.Chassis
	}{{b.ch1, vm1, b.ch2}, {b.ch2, vm2, b.ch1}} {
		vp, err := x.vm.OFPort()
		if err != nil {
			return err
		}
		gp, err := x.ch.OFPort(baseTunnel)
		if err != nil {
			return err
		}
		if err := x.ch.AddFlows(baseBridge,
			fmt.Sprintf("table=0,priority=100,in_port=%d,actions=set_field:%d->tun_id,set_field:%s->tun_dst,output:%d",
				vp, baseVNI, x.peer.TunnelIP, gp),
			fmt.Sprintf("table=0,priority=100,in_port=%d,tun_id=%d,actions=output:%d", gp, baseVNI, vp),
		); err != nil {
			return err
		}
	}

	// The outside baseline on ch2: exb0 ⇄ br-base-ex ⇄ patch ⇄ br-base ⇄
	// VM, the floating IP path's ports and bridges (ex0, br-ex, patch,
	// br-int) without NAT, routing or conntrack.
	if err := b.externalVeth(b.ch2, baseExIface); err != nil {
		return err
	}
	if _, err := b.ch2.Vsctl("add-br", baseExBridge, "--", "set", "Bridge", baseExBridge, "datapath_type=netdev",
		"fail_mode=secure", "protocols=OpenFlow13,OpenFlow15", "other_config:disable-in-band=true",
		"--", "add-port", baseExBridge, baseExIface,
		"--", "add-port", baseExBridge, "patch-bx-ex", "--", "set", "Interface", "patch-bx-ex", "type=patch", "options:peer=patch-bx-int",
		"--", "add-port", baseBridge, "patch-bx-int", "--", "set", "Interface", "patch-bx-int", "type=patch", "options:peer=patch-bx-ex"); err != nil {
		return err
	}
	if err := b.ch2.WaitBridge(baseExBridge); err != nil {
		return err
	}
	vmx, err := b.baseVM(b.ch2, "bvmx", "fa:16:3e:b0:00:03", outsideBaseAddr+"/24")
	if err != nil {
		return err
	}
	ports := map[string]int{}
	for _, name := range []string{baseExIface, "patch-bx-ex", "patch-bx-int", vmx.Iface} {
		if ports[name], err = b.ch2.OFPort(name); err != nil {
			return err
		}
	}
	if err := b.ch2.AddFlows(baseExBridge,
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", ports[baseExIface], ports["patch-bx-ex"]),
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", ports["patch-bx-ex"], ports[baseExIface]),
	); err != nil {
		return err
	}
	if err := b.ch2.AddFlows(baseBridge,
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", ports[vmx.Iface], ports["patch-bx-int"]),
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", ports["patch-bx-int"], ports[vmx.Iface]),
	); err != nil {
		return err
	}
	if err := vmx.SetGateway("203.0.113.1"); err != nil {
		return err
	}
	b.paths = append(b.paths,
		&path{Key: "base", Client: vm1.Host, Server: vm2.Host, Dst: "10.9.0.2", Sender: b.ch1, Receiver: b.ch2,
			Own: own(baseTunPort, "", vm1, vm2)},
		&path{Key: "base6", Client: vm1.Host, Server: vm2.Host, Dst: base6Server, Sender: b.ch1, Receiver: b.ch2,
			Own: own(baseTunPort, "", vm1, vm2)},
		&path{Key: "outside-base", Client: b.outside, Server: vmx.Host, Dst: outsideBaseAddr, Receiver: b.ch2,
			Own: own(0, baseExIface, vmx)})
	b.allMACs = append(b.allMACs, vm1.MAC, vm2.MAC, vmx.MAC)
	return nil
}

// externalVeth gives a chassis a second veth into the external network's
// Linux bridge (testbed.ExternalBridge), as testbed's AddExternalBridge
// does for ex0: transmit checksum offload off at both ends, the chassis
// kernel kept off it (no ARP, no IPv6). The chassis' namespace takes the
// veth with it when the bed removes it.
func (b *bench) externalVeth(ch *testbed.Chassis, name string) error {
	ul := b.l.Bed.UnderlayNode().Netns
	outer := "xb" + strconv.Itoa(ch.Index)
	for _, c := range [][]string{
		{"ip", "link", "add", name, "netns", ch.Netns, "type", "veth", "peer", "name", outer, "netns", ul},
		{"ip", "-n", ul, "link", "set", outer, "master", testbed.ExternalBridge, "up"},
		{"ip", "netns", "exec", ul, "ethtool", "-K", outer, "tx", "off"},
		{"ip", "netns", "exec", ch.Netns, "ethtool", "-K", name, "tx", "off"},
		{"ip", "netns", "exec", ch.Netns, "sysctl", "-q", "-w", "net.ipv6.conf." + name + ".disable_ipv6=1"},
		{"ip", "-n", ch.Netns, "link", "set", name, "arp", "off", "up"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

// baseVM makes a baseline VM on ch, plugged into br-base without any
// Wyvern external_ids, with its address.
func (b *bench) baseVM(ch *testbed.Chassis, name, mac, cidr string) (*testbed.VM, error) {
	vm, err := ch.AddVMUnplugged(name, mac, vmMTU)
	if err != nil {
		return nil, err
	}
	if _, err := ch.Vsctl("add-port", baseBridge, vm.Iface); err != nil {
		return nil, err
	}
	// Off br-base before the VM's own unplug (from br-int) runs: Close
	// runs newest first, and ovs-vsctl refuses to delete from br-int a
	// port another bridge holds.
	if err := b.l.Bed.OnClose("unplug "+name+" from "+baseBridge, func() error {
		_, err := ch.Vsctl("--no-wait", "--if-exists", "del-port", baseBridge, vm.Iface)
		return err
	}); err != nil {
		return nil, err
	}
	if _, err := vm.OFPort(); err != nil {
		return nil, err
	}
	return vm, vm.SetAddr(cidr)
}

// setupTopology makes Wyvern's side: the external network, two tenant
// networks behind a router with an external gateway, the default
// security group with rules admitting iperf3 and ping from anywhere, the
// VMs, and two floating IPs.
//
//	ch1: a 10.1.0.10 (no port security)   s 10.1.0.20 (default group)
//	ch2: b 10.1.0.11, c 10.2.0.10, f 10.2.0.30 (no port security)
//	     d 10.2.0.20, g 10.2.0.40 (default group)
//	floating IPs: f, g
func (b *bench) setupTopology() error {
	l := b.l
	if err := l.Do("PUT", "/v2.0/quotas/"+project, "", map[string]any{"quota": map[string]any{
		"port": -1, "network": -1, "subnet": -1, "router": -1, "floatingip": -1}}, nil); err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	var ext struct{ Network model.Network }
	if err := l.Do("POST", "/v2.0/networks", "admin", map[string]any{"network": map[string]any{
		"name": "ext", "router:external": true, "provider:network_type": "flat",
		"provider:physical_network": "physnet1"}}, &ext); err != nil {
		return fmt.Errorf("external network: %w", err)
	}
	if err := l.Do("POST", "/v2.0/subnets", "admin", map[string]any{"subnet": map[string]any{
		"network_id": ext.Network.ID, "cidr": "203.0.113.0/24", "ip_version": 4, "gateway_ip": "203.0.113.1",
		"enable_dhcp":      false,
		"allocation_pools": []map[string]string{{"start": "203.0.113.10", "end": "203.0.113.99"}}}}, nil); err != nil {
		return fmt.Errorf("external subnet: %w", err)
	}
	n1, s1, err := l.CreateNetwork(lab.NetworkSpec{Project: project, Name: "n1", CIDR: "10.1.0.0/24"})
	if err != nil {
		return err
	}
	n2, s2, err := l.CreateNetwork(lab.NetworkSpec{Project: project, Name: "n2", CIDR: "10.2.0.0/24"})
	if err != nil {
		return err
	}
	// Both networks are dual stack: a static IPv6 subnet each (no RA,
	// no DHCPv6: the VMs take their addresses by hand, as for IPv4).
	subnet6 := func(net model.Network, cidr, gw string) (model.Subnet, error) {
		var sub struct{ Subnet model.Subnet }
		err := l.Do("POST", "/v2.0/subnets", project, map[string]any{"subnet": map[string]any{
			"network_id": net.ID, "cidr": cidr, "ip_version": 6, "gateway_ip": gw, "enable_dhcp": false}}, &sub)
		if err != nil {
			return sub.Subnet, fmt.Errorf("IPv6 subnet %s: %w", cidr, err)
		}
		return sub.Subnet, nil
	}
	s1v6, err := subnet6(n1, "2001:db8:1::/64", "2001:db8:1::1")
	if err != nil {
		return err
	}
	s2v6, err := subnet6(n2, "2001:db8:2::/64", "2001:db8:2::1")
	if err != nil {
		return err
	}
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", project, map[string]any{"router": map[string]any{"name": "r",
		"external_gateway_info": map[string]any{"network_id": ext.Network.ID}}}, &r); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	for _, s := range []model.Subnet{s1, s2, s1v6, s2v6} {
		if err := l.Do("PUT", "/v2.0/routers/"+r.Router.ID+"/add_router_interface", project,
			map[string]any{"subnet_id": s.ID}, nil); err != nil {
			return fmt.Errorf("router interface: %w", err)
		}
	}
	sg, err := b.defaultGroup()
	if err != nil {
		return err
	}
	for _, rule := range []map[string]any{
		{"protocol": "tcp", "port_range_min": iperfPort, "port_range_max": iperfPort, "ethertype": "IPv4"},
		{"protocol": "icmp", "ethertype": "IPv4"},
		{"protocol": "tcp", "port_range_min": iperfPort, "port_range_max": iperfPort, "ethertype": "IPv6"},
		{"protocol": "ipv6-icmp", "ethertype": "IPv6"},
	} {
		rule["security_group_id"], rule["direction"] = sg, "ingress"
		if err := l.Do("POST", "/v2.0/security-group-rules", project, map[string]any{"security_group_rule": rule}, nil); err != nil {
			return fmt.Errorf("rule: %w", err)
		}
	}

	// v6 is the IPv6 address a VM takes beside its IPv4 one: the same
	// host part in the network's IPv6 subnet.
	v6 := map[string]string{s1.ID: s1v6.ID, s2.ID: s2v6.ID}
	addr6 := func(ip string) string {
		a := netip.MustParseAddr(ip).As4()
		return fmt.Sprintf("2001:db8:%d::%d", a[1], a[3])
	}
	fixed := func(sub, ip string) []map[string]string {
		return []map[string]string{{"subnet_id": sub, "ip_address": ip}, {"subnet_id": v6[sub], "ip_address": addr6(ip)}}
	}
	open := func(sub, ip string) map[string]any {
		return map[string]any{"fixed_ips": fixed(sub, ip), "port_security_enabled": false, "security_groups": []string{}}
	}
	guarded := func(sub, ip string) map[string]any {
		return map[string]any{"fixed_ips": fixed(sub, ip), "security_groups": []string{sg}}
	}
	vms := map[string]*testbed.VM{}
	ports := map[string]model.Port{}
	for _, v := range []struct {
		name string
		ch   *testbed.Chassis
		net  model.Network
		gw   string
		opts map[string]any
	}{
		{"a", b.ch1, n1, "10.1.0.1", open(s1.ID, "10.1.0.10")},
		{"s", b.ch1, n1, "10.1.0.1", guarded(s1.ID, "10.1.0.20")},
		{"b", b.ch2, n1, "10.1.0.1", open(s1.ID, "10.1.0.11")},
		{"c", b.ch2, n2, "10.2.0.1", open(s2.ID, "10.2.0.10")},
		{"d", b.ch2, n2, "10.2.0.1", guarded(s2.ID, "10.2.0.20")},
		{"f", b.ch2, n2, "10.2.0.1", open(s2.ID, "10.2.0.30")},
		{"g", b.ch2, n2, "10.2.0.1", guarded(s2.ID, "10.2.0.40")},
	} {
		vm, p, err := l.Boot(v.ch, v.name, project, v.net.ID, v.opts)
		if err != nil {
			return fmt.Errorf("VM %s: %w", v.name, err)
		}
		if _, err := l.WaitPort(p.ID, 20*time.Second, func(p model.Port) bool {
			return p.Status == model.StatusActive && p.HostID == v.ch.Name
		}); err != nil {
			return err
		}
		if err := vm.SetAddr(lab.FixedIP(p) + "/24"); err != nil {
			return err
		}
		if err := vm.SetGateway(v.gw); err != nil {
			return err
		}
		ip4 := lab.FixedIP(p)
		if err := setAddr6(vm.Host, addr6(ip4)+"/64"); err != nil {
			return err
		}
		a := netip.MustParseAddr(ip4).As4()
		if _, err := vm.Exec("ip", "-6", "route", "replace", "default", "via", fmt.Sprintf("2001:db8:%d::1", a[1]), "dev", "eth0"); err != nil {
			return err
		}
		vms[v.name], ports[v.name] = vm, p
		b.allMACs = append(b.allMACs, vm.MAC)
	}
	fip := func(port string) (string, error) {
		var f struct {
			FloatingIP struct {
				ID      string `json:"id"`
				Address string `json:"floating_ip_address"`
			} `json:"floatingip"`
		}
		if err := l.Do("POST", "/v2.0/floatingips", project, map[string]any{"floatingip": map[string]any{
			"floating_network_id": ext.Network.ID, "port_id": port}}, &f); err != nil {
			return "", fmt.Errorf("floating IP: %w", err)
		}
		return f.FloatingIP.Address, b.waitFIP(f.FloatingIP.ID)
	}
	fipF, err := fip(ports["f"].ID)
	if err != nil {
		return err
	}
	fipG, err := fip(ports["g"].ID)
	if err != nil {
		return err
	}
	b.res.FIPs = map[string]string{"f": fipF, "g": fipG}
	b.paths = append(b.paths,
		&path{Key: "switch", Client: vms["a"].Host, Server: vms["b"].Host, Dst: "10.1.0.11", Sender: b.ch1, Receiver: b.ch2,
			Own: own(geneveUDP, "", vms["a"], vms["b"])},
		&path{Key: "routed", Client: vms["a"].Host, Server: vms["c"].Host, Dst: "10.2.0.10", Sender: b.ch1, Receiver: b.ch2,
			Own: own(geneveUDP, "", vms["a"], vms["c"])},
		&path{Key: "routed+sg", Client: vms["s"].Host, Server: vms["d"].Host, Dst: "10.2.0.20", Sender: b.ch1, Receiver: b.ch2,
			Own: own(geneveUDP, "", vms["s"], vms["d"])},
		&path{Key: "switch6", Client: vms["a"].Host, Server: vms["b"].Host, Dst: addr6("10.1.0.11"), Sender: b.ch1, Receiver: b.ch2,
			Own: own(geneveUDP, "", vms["a"], vms["b"])},
		&path{Key: "routed6", Client: vms["a"].Host, Server: vms["c"].Host, Dst: addr6("10.2.0.10"), Sender: b.ch1, Receiver: b.ch2,
			Own: own(geneveUDP, "", vms["a"], vms["c"])},
		&path{Key: "routed6+sg", Client: vms["s"].Host, Server: vms["d"].Host, Dst: addr6("10.2.0.20"), Sender: b.ch1, Receiver: b.ch2,
			Own: own(geneveUDP, "", vms["s"], vms["d"])},
		&path{Key: "fip", Client: b.outside, Server: vms["f"].Host, Dst: fipF, Receiver: b.ch2,
			Own: own(0, testbed.ExternalIface, vms["f"])},
		&path{Key: "fip+sg", Client: b.outside, Server: vms["g"].Host, Dst: fipG, Receiver: b.ch2,
			Own: own(0, testbed.ExternalIface, vms["g"])},
	)
	// The reporting order (pathOrder) is also the first round's.
	slices.SortStableFunc(b.paths, func(x, y *path) int {
		return slices.Index(pathOrder, x.Key) - slices.Index(pathOrder, y.Key)
	})
	return nil
}

// defaultGroup returns the id of the project's default security group
// (listing the groups makes it, as in Neutron).
func (b *bench) defaultGroup() (string, error) {
	var out struct {
		SecurityGroups []struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			ProjectID string `json:"project_id"`
		} `json:"security_groups"`
	}
	if err := b.l.Do("GET", "/v2.0/security-groups", project, nil, &out); err != nil {
		return "", fmt.Errorf("security groups: %w", err)
	}
	for _, g := range out.SecurityGroups {
		if g.Name == "default" && g.ProjectID == project {
			return g.ID, nil
		}
	}
	return "", fmt.Errorf("project %s has no default security group", project)
}

// waitFIP waits until a floating IP is ACTIVE.
func (b *bench) waitFIP(id string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var f struct {
			FloatingIP struct {
				Status string `json:"status"`
			} `json:"floatingip"`
		}
		err := b.l.Do("GET", "/v2.0/floatingips/"+id, project, nil, &f)
		if err == nil && f.FloatingIP.Status == model.StatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("floating IP %s not ACTIVE after 20 s (status %q, err %v)", id, f.FloatingIP.Status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkPaths starts an iperf3 server behind every path and waits until
// each path answers a ping, so the rounds measure a working data plane.
func (b *bench) checkPaths() error {
	started := map[*testbed.Host]bool{}
	for _, p := range b.paths {
		if !started[p.Server] {
			if err := p.Server.StartProcess("iperf3", p.Server.Command("iperf3", "-s", "-p", strconv.Itoa(iperfPort))); err != nil {
				return err
			}
			started[p.Server] = true
		}
	}
	for _, p := range b.paths {
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, _ := p.Client.Ping(p.Dst, 1, time.Second)
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				flows := ""
				if p.Receiver != nil {
					out, _ := p.Receiver.Ofctl("dump-flows", p.Receiver.Mgmt("br-int"))
					flows = out
				}
				return fmt.Errorf("path %s: %s → %s does not answer ping\n%s", p.Key, p.Client.Name, p.Dst, flows)
			}
		}
	}
	// iperf3 answers on every path (the server is up, TCP passes).
	for _, p := range b.paths {
		if _, err := iperf(p, 1, 1); err != nil {
			return fmt.Errorf("path %s: %w", p.Key, err)
		}
	}
	return nil
}
