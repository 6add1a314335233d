package e2e

import (
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/lab"
)

// TestPortSecurity: a VM that changes its MAC or IP, or sends ARP for an
// address it does not own, gets nothing through; with port security off
// the same VM gets through.
func TestPortSecurity(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n", CIDR: "10.7.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	// The peer has no port security, so that only the sender's port
	// security decides (its security groups would refuse .99 too).
	peerOpts := fixed(sub.ID, "10.7.0.10")
	peerOpts["port_security_enabled"] = false
	peer, _ := boot(t, l, chs[1], "peer", "p1", n, peerOpts)
	vm, vmPort := boot(t, l, chs[0], "vm", "p1", n, fixed(sub.ID, "10.7.0.11"))
	mustPing(t, l, vm, "10.7.0.10")

	// A spoofed source address: the peer is told where .99 lives, so only
	// port security can stop the exchange.
	if err := peer.SetStaticARP("10.7.0.99", vmPort.MACAddress); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Exec("ip", "addr", "flush", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetAddr("10.7.0.99/24"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetStaticARP("10.7.0.10", mustMAC(t, peer)); err != nil {
		t.Fatal(err)
	}
	mustNotPing(t, vm, "10.7.0.10")

	// A spoofed MAC with the right address.
	if _, err := vm.Exec("ip", "addr", "flush", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetAddr("10.7.0.11/24"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetStaticARP("10.7.0.10", mustMAC(t, peer)); err != nil {
		t.Fatal(err)
	}
	mustPing(t, l, vm, "10.7.0.10")
	if _, err := vm.Exec("ip", "link", "set", "eth0", "address", "fa:16:3e:66:66:66"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetStaticARP("10.7.0.10", mustMAC(t, peer)); err != nil {
		t.Fatal(err)
	}
	if err := peer.SetStaticARP("10.7.0.11", "fa:16:3e:66:66:66"); err != nil {
		t.Fatal(err)
	}
	mustNotPing(t, vm, "10.7.0.10")
	if _, err := vm.Exec("ip", "link", "set", "eth0", "address", vmPort.MACAddress); err != nil {
		t.Fatal(err)
	}

	// Port security off: the spoofed source address gets through.
	if err := l.Do("PUT", "/v2.0/ports/"+vmPort.ID, "p1", map[string]any{"port": map[string]any{
		"port_security_enabled": false, "security_groups": []string{}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Exec("ip", "addr", "flush", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetAddr("10.7.0.99/24"); err != nil {
		t.Fatal(err)
	}
	if err := vm.SetStaticARP("10.7.0.10", mustMAC(t, peer)); err != nil {
		t.Fatal(err)
	}
	mustPing(t, l, vm, "10.7.0.10")
}

func mustMAC(t *testing.T, vm interface {
	Exec(...string) (string, error)
}) string {
	t.Helper()
	out, err := vm.Exec("cat", "/sys/class/net/eth0/address")
	if err != nil {
		t.Fatal(err)
	}
	return trim(out)
}
