package trace

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

func mustInbound(t *testing.T, tp *Topology, ext, desc string) *Result {
	t.Helper()
	pkt, err := ParsePacket(desc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := RunInbound(tp, ext, pkt)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("from %s %s:\n%s", ext, desc, b.String())
	return r
}

// pfTopo is topo with the floating IP 203.0.113.20 forwarding tcp/2222
// to c's port 22 (c on ch1, which maps the external network) and
// tcp/8000:8009 to b's same ports (b on ch2: the gateway serves both).
func pfTopo() *Topology {
	tp := topo()
	fip := model.FloatingIP{FloatingIPAddress: "203.0.113.20", RouterID: "r", FloatingNetworkID: "ext"}
	fip.ID = "fip2"
	tp.FloatingIPs = append(tp.FloatingIPs, fip)
	tp.PortForwardings = map[string][]model.PortForwarding{"fip2": {
		{ID: "pf1", Protocol: "tcp", ExternalPort: 2222, InternalPort: 22, ExternalPortRange: "2222:2222", InternalPortRange: "22:22",
			InternalIPAddress: "10.1.0.11", InternalPortID: "c"},
	}}
	return tp
}

// A packet from outside to a forwarded port is DNATed to the internal
// address and port on the chassis of the port, then admitted by the
// port's security group; another port is dropped at the DNAT.
func TestInboundPortForwarding(t *testing.T) {
	tp := pfTopo()
	r := mustInbound(t, tp, "ext", "tcp, src 198.51.100.7:40000, dst 203.0.113.20:2222")
	nat := stageOf(r, StageNAT)
	if r.Verdict != Delivered || r.Dest == nil || r.Dest.ID != "c" || nat == nil || nat.Chassis != "ch1" ||
		!strings.Contains(nat.Detail, "203.0.113.20:2222 → 10.1.0.11:22") || !strings.Contains(nat.Detail, "pf1") {
		t.Fatalf("forwarded port: %+v", r)
	}
	if acl := stageOf(r, StageIngressACL); acl == nil || acl.Rule == nil || acl.Rule.ID != "r-web-ssh" {
		t.Fatalf("ingress ACL: %+v", acl)
	}
	r = mustInbound(t, tp, "ext", "tcp, src 198.51.100.7:40000, dst 203.0.113.20:22")
	if nat := stageOf(r, StageNAT); r.Verdict != Drop || nat == nil || !strings.Contains(nat.Detail, "forwards no tcp port 22") {
		t.Fatalf("port not forwarded: %+v", r)
	}
	// A range onto the same ports of b (ch2, no mapping): the gateway
	// NATs both forwardings now (ports on two chassis), and keeps the port.
	tp.PortForwardings["fip2"] = append(tp.PortForwardings["fip2"], model.PortForwarding{ID: "pf2", Protocol: "tcp",
		ExternalPortRange: "8000:8009", InternalPortRange: "8000:8009", InternalIPAddress: "10.2.0.10", InternalPortID: "b"})
	r = mustInbound(t, tp, "ext", "tcp, dst 203.0.113.20:8005")
	if nat := stageOf(r, StageNAT); nat == nil || nat.Chassis != "gw1" || !strings.Contains(nat.Detail, "→ 10.2.0.10:8005") ||
		r.Output == nil || !r.Output.Tunnelled || r.Output.Chassis != "ch2" {
		t.Fatalf("range through the gateway: %+v", r)
	}
	// The 1:1 floating IP of a, for comparison.
	r = mustInbound(t, tp, "ext", "icmp, dst 203.0.113.10")
	if nat := stageOf(r, StageNAT); nat == nil || nat.Chassis != "ch1" || !strings.Contains(nat.Detail, "1:1") {
		t.Fatalf("1:1 floating IP: %+v", r)
	}
	if _, err := RunInbound(tp, "n1", Packet{Proto: "tcp"}); err == nil {
		t.Fatal("traced from an internal network")
	}
}
