package testbed

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
)

// VM is a simulated virtual machine: a namespace whose eth0 is a veth
// whose other end (Iface) sits in the chassis namespace, plugged into
// br-int as Nova plugs a port.
type VM struct {
	*Host
	Chassis *Chassis
	MAC     string
	PortID  string
	MTU     int
	// Iface is the veth end in the chassis namespace and the OVS port and
	// interface name on br-int: "tap" + the first 11 characters of
	// PortID, as Nova names it.
	Iface string

	unplug *undo
}

var portIDRE = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// AddVM makes a VM on the chassis: eth0 with mac and mtu (0 means 1500),
// transmit checksum offload off, and its peer added to br-int with
// external_ids iface-id=portID, attached-mac=mac and iface-status=active.
// It waits (up to the bed's timeout) for br-int, which the agent makes.
func (ch *Chassis) AddVM(name, mac, portID string, mtu int) (*VM, error) {
	b := ch.bed
	if !portIDRE.MatchString(portID) {
		return nil, fmt.Errorf("testbed: VM %s: port id %q", name, portID)
	}
	if mtu == 0 {
		mtu = 1500
	}
	if err := b.claim(name); err != nil {
		return nil, err
	}
	vm, err := ch.addVM(name, mac, portID, "tap"+portID, mtu)
	if err == nil {
		err = vm.Plug()
	}
	if err != nil {
		return nil, fmt.Errorf("testbed: VM %s on %s: %w", name, ch.Name, err)
	}
	b.log.Info("VM plugged", "vm", name, "chassis", ch.Name, "iface", vm.Iface, "port", portID, "mac", mac)
	return vm, nil
}

// AddVMUnplugged makes a VM as AddVM does but leaves its interface out of
// br-int and its PortID empty, for a benchmark that times only the port's
// creation and plugging: set PortID, then Plug (or plug Iface itself). The
// interface is named "tap" + name (cut to 14 characters).
func (ch *Chassis) AddVMUnplugged(name, mac string, mtu int) (*VM, error) {
	if mtu == 0 {
		mtu = 1500
	}
	if err := ch.bed.claim(name); err != nil {
		return nil, err
	}
	vm, err := ch.addVM(name, mac, "", "tap"+name, mtu)
	if err != nil {
		return nil, fmt.Errorf("testbed: VM %s on %s: %w", name, ch.Name, err)
	}
	return vm, nil
}

func (ch *Chassis) addVM(name, mac, portID, iface string, mtu int) (*VM, error) {
	b := ch.bed
	n, err := b.newNode("v", name)
	if err != nil {
		return nil, err
	}
	if len(iface) > 14 {
		iface = iface[:14]
	}
	vm := &VM{Host: &Host{Node: n, Name: name}, Chassis: ch, MAC: mac, PortID: portID, MTU: mtu, Iface: iface}
	tapMTU := max(mtu, 1500)
	for _, s := range [][]string{
		{"ip", "link", "add", iface, "netns", ch.Netns, "type", "veth", "peer", "name", "eth0", "netns", n.Netns},
		{"ip", "-n", n.Netns, "link", "set", "eth0", "address", mac, "mtu", strconv.Itoa(mtu), "up"},
		{"ip", "netns", "exec", n.Netns, "ethtool", "-K", "eth0", "tx", "off"},
		{"ip", "-n", ch.Netns, "link", "set", iface, "mtu", strconv.Itoa(tapMTU), "up"},
		{"ip", "netns", "exec", ch.Netns, "ethtool", "-K", iface, "tx", "off"},
	} {
		if _, err := runCmd(b.timeout, nil, s[0], s[1:]...); err != nil {
			return nil, err
		}
	}
	// Unplug before the namespace goes (Close runs newest first).
	if vm.unplug, err = b.push("unplug "+name, func() error {
		if _, err := os.Stat(ch.MgmtSock("br-int")); err != nil {
			return nil // chassis or br-int already gone
		}
		// --no-wait: vswitchd may be dead (a restart test), the
		// database is enough.
		_, err := ch.Vsctl("--no-wait", "--if-exists", "del-port", "br-int", vm.Iface)
		return err
	}); err != nil {
		return nil, err
	}
	if err := ch.WaitBridge("br-int"); err != nil {
		return nil, err
	}
	return vm, nil
}

// Plug adds Iface to br-int with the Nova external_ids (again, after
// Unplug); it returns once vswitchd has given it an OpenFlow port.
func (vm *VM) Plug() error {
	if !portIDRE.MatchString(vm.PortID) {
		return fmt.Errorf("testbed: plug %s: port id %q", vm.Name, vm.PortID)
	}
	if _, err := vm.Chassis.Vsctl("--may-exist", "add-port", "br-int", vm.Iface, "--",
		"set", "Interface", vm.Iface,
		"external_ids:iface-id="+vm.PortID,
		"external_ids:attached-mac="+vm.MAC,
		"external_ids:iface-status=active"); err != nil {
		return err
	}
	_, err := vm.OFPort()
	return err
}

// Unplug removes the VM's port from br-int (the VM is shut off or
// migrated away: the agent should see the interface go).
func (vm *VM) Unplug() error {
	_, err := vm.Chassis.Vsctl("--if-exists", "del-port", "br-int", vm.Iface)
	return err
}

// OFPort is the VM port's OpenFlow port number on br-int.
func (vm *VM) OFPort() (int, error) { return vm.Chassis.OFPort(vm.Iface) }

// Close unplugs the VM, stops its processes and deletes its namespace.
func (vm *VM) Close() error {
	return errors.Join(vm.unplug.run(), vm.Node.teardownUndo())
}
