package main

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
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
	// outsideAddr is the outside host, the external subnet's gateway.
	outsideAddr = "203.0.113.1/24"
	// outsideBaseAddr is the baseline VM the outside host reaches through
	// plain flows (outside the floating IP allocation pool).
	outsideBaseAddr = "203.0.113.200"
)

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
}

// bench is the state of the run.
type bench struct {
	cfg config
	l   *lab.Lab
	res *result

	ch1, ch2     *testbed.Chassis // Wyvern
	base1, base2 *testbed.Chassis // hand-written flows
	outside      *testbed.Host
	outsideMAC   string
	paths        []*path
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

// setupBaseline makes base1 and base2: chassis like ch1 and ch2 but
// without an agent. Each gets br-int (as the agent makes it: netdev,
// fail_mode=secure, no in-band) with a flow-based geneve0, static tunnel
// neighbours, and one VM with two hand-written flows:
//
//	in_port=<vm> → set tun_id, set tun_dst=<peer>, output:geneve0
//	in_port=geneve0,tun_id=<vni> → output:<vm>
//
// base2 also gets br-ex on the external network, patched to br-int, and
// a second VM (outsideBaseAddr) reached from ex0 through plain
// port-to-port flows: the floating IP path's baseline.
func (b *bench) setupBaseline() error {
	var err error
	if b.base1, err = b.l.Bed.AddChassis("base1"); err != nil {
		return err
	}
	if b.base2, err = b.l.Bed.AddChassis("base2"); err != nil {
		return err
	}
	for _, ch := range []*testbed.Chassis{b.base1, b.base2} {
		if _, err := ch.Vsctl("add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev",
			"fail_mode=secure", "protocols=OpenFlow13,OpenFlow15", "other_config:disable-in-band=true",
			"--", "add-port", "br-int", "geneve0", "--", "set", "Interface", "geneve0", "type=geneve",
			"options:remote_ip=flow", "options:key=flow"); err != nil {
			return err
		}
		if err := ch.WaitBridge("br-int"); err != nil {
			return err
		}
	}
	if err := b.base1.SetTunnelNeighbor(b.base2.TunnelIP, b.base2.TunnelMAC); err != nil {
		return err
	}
	if err := b.base2.SetTunnelNeighbor(b.base1.TunnelIP, b.base1.TunnelMAC); err != nil {
		return err
	}
	vm1, err := b.baseVM(b.base1, "bvm1", "fa:16:3e:b0:00:01", "10.9.0.1/24", "br-int")
	if err != nil {
		return err
	}
	vm2, err := b.baseVM(b.base2, "bvm2", "fa:16:3e:b0:00:02", "10.9.0.2/24", "br-int")
	if err != nil {
		return err
	}
	for _, x := range []struct {
		ch   *testbed.Chassis
		vm   *testbed.VM
		peer *testbed.Chassis
	}{{b.base1, vm1, b.base2}, {b.base2, vm2, b.base1}} {
		vp, err := x.vm.OFPort()
		if err != nil {
			return err
		}
		gp, err := x.ch.OFPort("geneve0")
		if err != nil {
			return err
		}
		if err := x.ch.AddFlows("br-int",
			fmt.Sprintf("table=0,priority=100,in_port=%d,actions=set_field:%d->tun_id,set_field:%s->tun_dst,output:%d",
				vp, baseVNI, x.peer.TunnelIP, gp),
			fmt.Sprintf("table=0,priority=100,in_port=%d,tun_id=%d,actions=output:%d", gp, baseVNI, vp),
		); err != nil {
			return err
		}
	}

	// The outside baseline on base2: ex0 ⇄ br-ex ⇄ patch ⇄ br-int ⇄ VM,
	// the floating IP path's bridges without NAT, routing or conntrack.
	if err := b.base2.AddExternalBridge("br-ex"); err != nil {
		return err
	}
	if _, err := b.base2.Vsctl("set", "Bridge", "br-ex", "fail_mode=secure", "protocols=OpenFlow13,OpenFlow15",
		"other_config:disable-in-band=true",
		"--", "add-port", "br-ex", "patch-base-ex", "--", "set", "Interface", "patch-base-ex", "type=patch", "options:peer=patch-base-int",
		"--", "add-port", "br-int", "patch-base-int", "--", "set", "Interface", "patch-base-int", "type=patch", "options:peer=patch-base-ex"); err != nil {
		return err
	}
	if err := b.base2.WaitBridge("br-ex"); err != nil {
		return err
	}
	vmx, err := b.baseVM(b.base2, "bvmx", "fa:16:3e:b0:00:03", outsideBaseAddr+"/24", "br-int")
	if err != nil {
		return err
	}
	ports := map[string]int{}
	for _, name := range []string{testbed.ExternalIface, "patch-base-ex", "patch-base-int", vmx.Iface} {
		if ports[name], err = b.base2.OFPort(name); err != nil {
			return err
		}
	}
	if _, err := b.base2.Ofctl("del-flows", b.base2.Mgmt("br-ex")); err != nil {
		return err
	}
	if err := b.base2.AddFlows("br-ex",
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", ports[testbed.ExternalIface], ports["patch-base-ex"]),
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", ports["patch-base-ex"], ports[testbed.ExternalIface]),
	); err != nil {
		return err
	}
	if err := b.base2.AddFlows("br-int",
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", ports[vmx.Iface], ports["patch-base-int"]),
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", ports["patch-base-int"], ports[vmx.Iface]),
	); err != nil {
		return err
	}
	if err := vmx.SetGateway("203.0.113.1"); err != nil {
		return err
	}
	b.paths = append(b.paths,
		&path{Key: "base", Client: vm1.Host, Server: vm2.Host, Dst: "10.9.0.2", Sender: b.base1, Receiver: b.base2},
		&path{Key: "outside-base", Client: b.outside, Server: vmx.Host, Dst: outsideBaseAddr, Receiver: b.base2})
	return nil
}

// baseVM makes a VM on a baseline chassis, plugged into bridge without
// any Wyvern external_ids, with its address.
func (b *bench) baseVM(ch *testbed.Chassis, name, mac, cidr, bridge string) (*testbed.VM, error) {
	vm, err := ch.AddVMUnplugged(name, mac, vmMTU)
	if err != nil {
		return nil, err
	}
	if _, err := ch.Vsctl("add-port", bridge, vm.Iface); err != nil {
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
	var r struct{ Router model.Router }
	if err := l.Do("POST", "/v2.0/routers", project, map[string]any{"router": map[string]any{"name": "r",
		"external_gateway_info": map[string]any{"network_id": ext.Network.ID}}}, &r); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	for _, s := range []model.Subnet{s1, s2} {
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
		{"protocol": "tcp", "port_range_min": iperfPort, "port_range_max": iperfPort},
		{"protocol": "icmp"},
	} {
		rule["security_group_id"], rule["direction"], rule["ethertype"] = sg, "ingress", "IPv4"
		if err := l.Do("POST", "/v2.0/security-group-rules", project, map[string]any{"security_group_rule": rule}, nil); err != nil {
			return fmt.Errorf("rule: %w", err)
		}
	}

	open := func(sub, ip string) map[string]any {
		return map[string]any{"fixed_ips": []map[string]string{{"subnet_id": sub, "ip_address": ip}},
			"port_security_enabled": false, "security_groups": []string{}}
	}
	guarded := func(sub, ip string) map[string]any {
		return map[string]any{"fixed_ips": []map[string]string{{"subnet_id": sub, "ip_address": ip}},
			"security_groups": []string{sg}}
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
		prefix := "/24"
		if err := vm.SetAddr(lab.FixedIP(p) + prefix); err != nil {
			return err
		}
		if err := vm.SetGateway(v.gw); err != nil {
			return err
		}
		vms[v.name], ports[v.name] = vm, p
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
		&path{Key: "switch", Client: vms["a"].Host, Server: vms["b"].Host, Dst: "10.1.0.11", Sender: b.ch1, Receiver: b.ch2},
		&path{Key: "routed", Client: vms["a"].Host, Server: vms["c"].Host, Dst: "10.2.0.10", Sender: b.ch1, Receiver: b.ch2},
		&path{Key: "routed+sg", Client: vms["s"].Host, Server: vms["d"].Host, Dst: "10.2.0.20", Sender: b.ch1, Receiver: b.ch2},
		&path{Key: "fip", Client: b.outside, Server: vms["f"].Host, Dst: fipF, Receiver: b.ch2},
		&path{Key: "fip+sg", Client: b.outside, Server: vms["g"].Host, Dst: fipG, Receiver: b.ch2},
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
