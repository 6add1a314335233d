package testbed

import (
	"fmt"
	"net/netip"
	"strconv"
)

// ExternalBridge is the Linux bridge, in the underlay namespace, that
// plays a provider (external) network: every chassis' external OVS bridge
// (AddExternalBridge) and every external host (AddExternalHost) plugs
// into it. It is separate from the underlay (br0): tenant traffic leaving
// through a router's gateway or a floating IP shows up here, tunnels never
// do.
const ExternalBridge = "brx"

// ExternalIface is the name of a chassis' veth into ExternalBridge, a port
// of its external OVS bridge.
const ExternalIface = "ex0"

// ensureExternal makes ExternalBridge on first use.
func (b *Bed) ensureExternal() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.external {
		return nil
	}
	ul := b.underlay.Netns
	for _, c := range [][]string{
		{"ip", "-n", ul, "link", "add", ExternalBridge, "type", "bridge", "stp_state", "0", "mcast_snooping", "0"},
		{"ip", "-n", ul, "link", "set", ExternalBridge, "up"},
	} {
		if _, err := runCmd(b.timeout, nil, c[0], c[1:]...); err != nil {
			return err
		}
	}
	b.external = true
	return nil
}

// CaptureExternal captures on the external network's bridge: every frame
// any chassis or external host puts on the external network.
func (b *Bed) CaptureExternal(filter ...string) (*Capture, error) {
	if err := b.ensureExternal(); err != nil {
		return nil, err
	}
	return b.underlay.Capture(ExternalBridge, filter...)
}

// AddExternalHost makes a host on the external network (ExternalBridge)
// rather than the underlay: eth0 with addr, e.g. the upstream router
// 203.0.113.1/24 a provider network's subnet has as gateway.
func (b *Bed) AddExternalHost(name string, addr netip.Prefix) (*Host, error) {
	if err := b.ensureExternal(); err != nil {
		return nil, err
	}
	if err := b.claim(name); err != nil {
		return nil, err
	}
	n, err := b.newNode("h", name)
	if err != nil {
		return nil, fmt.Errorf("testbed: external host %s: %w", name, err)
	}
	b.mu.Lock()
	b.nPorts++
	outer := "h" + strconv.Itoa(b.nPorts)
	b.mu.Unlock()
	h := &Host{Node: n, Name: name, Addr: addr}
	steps := [][]string{
		{"ip", "netns", "exec", n.Netns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"},
	}
	for _, c := range steps {
		if _, err := runCmd(b.timeout, nil, c[0], c[1:]...); err != nil {
			return nil, fmt.Errorf("testbed: external host %s: %w", name, err)
		}
	}
	if err := b.plugBridge(ExternalBridge, n.Netns, "eth0", outer); err != nil {
		return nil, fmt.Errorf("testbed: external host %s: %w", name, err)
	}
	if _, err := runCmd(b.timeout, nil, "ip", "-n", n.Netns, "link", "set", "eth0", "up"); err != nil {
		return nil, fmt.Errorf("testbed: external host %s: %w", name, err)
	}
	if addr.IsValid() {
		if err := h.SetAddr(addr.String()); err != nil {
			return nil, fmt.Errorf("testbed: external host %s: %w", name, err)
		}
	}
	b.log.Info("external host up", "host", name, "netns", n.Netns, "addr", addr)
	return h, nil
}

// MAC is eth0's MAC address.
func (h *Host) MAC() (string, error) {
	out, err := runCmd(h.bed.timeout, nil, "ip", "-n", h.Netns, "-br", "link", "show", "eth0")
	if err != nil {
		return "", err
	}
	var name, state, mac string
	if _, err := fmt.Sscan(out, &name, &state, &mac); err != nil {
		return "", fmt.Errorf("testbed: MAC of %s: %q: %w", h.Name, out, err)
	}
	return mac, nil
}

// AddExternalBridge gives the chassis an OVS bridge (userspace datapath)
// on the external network, as an operator makes br-ex for a bridge
// mapping: it holds ExternalIface, a veth into ExternalBridge. The agent
// patches it to br-int. The kernel of the chassis namespace keeps off the
// veth (no address, no ARP).
func (ch *Chassis) AddExternalBridge(bridge string) error {
	b := ch.bed
	if err := b.ensureExternal(); err != nil {
		return err
	}
	if err := b.plugBridge(ExternalBridge, ch.Netns, ExternalIface, "x"+strconv.Itoa(ch.Index)); err != nil {
		return fmt.Errorf("testbed: external bridge of %s: %w", ch.Name, err)
	}
	if _, err := runCmd(b.timeout, nil, "ip", "-n", ch.Netns, "link", "set", ExternalIface, "arp", "off", "up"); err != nil {
		return err
	}
	if _, err := ch.Vsctl("--may-exist", "add-br", bridge, "--", "set", "Bridge", bridge, "datapath_type=netdev",
		"--", "--may-exist", "add-port", bridge, ExternalIface); err != nil {
		return fmt.Errorf("testbed: external bridge of %s: %w", ch.Name, err)
	}
	_, err := ch.OFPort(ExternalIface)
	return err
}

// SetLinks sets the chassis' underlay and external links up or down: down,
// the chassis is cut off as if it had died (its agent, running in the root
// namespace, still reaches etcd unless it is killed too).
func (ch *Chassis) SetLinks(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	for _, l := range []string{UnderlayIface, ExternalIface} {
		if _, err := runCmd(ch.bed.timeout, nil, "ip", "-n", ch.Netns, "link", "show", l); err != nil {
			continue // no such link
		}
		if _, err := runCmd(ch.bed.timeout, nil, "ip", "-n", ch.Netns, "link", "set", l, state); err != nil {
			return err
		}
	}
	return nil
}
