package trace

import (
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// providerTopo: topo plus vlan network v (VLAN 101 on physnet1, which ch1
// and ch2 map) with va on ch1 and vb on ch2, and flat network f (physnet2,
// which only ch1 maps) with fa on ch1 and fb on ch2.
func providerTopo() *Topology {
	t := topo()
	for _, n := range []struct {
		id, typ, phys, cidr string
		seg                 int
	}{{"v", "vlan", "physnet1", "10.50.0.0/24", 101}, {"f", "flat", "physnet2", "10.60.0.0/24", 0}} {
		m := model.Network{AdminStateUp: true, NetworkType: n.typ, SegmentationID: n.seg, PhysicalNetwork: n.phys}
		m.ID, m.Name = n.id, n.id
		t.Networks = append(t.Networks, m)
		s := model.Subnet{NetworkID: n.id, CIDR: n.cidr, IPVersion: 4, EnableDHCP: true}
		s.ID = "s" + n.id
		t.Subnets = append(t.Subnets, s)
	}
	t.Ports = append(t.Ports,
		port("va", "va", "v", "sv", "10.50.0.10", "fa:16:3e:00:50:10", "ch1", "web"),
		port("vb", "vb", "v", "sv", "10.50.0.11", "fa:16:3e:00:50:11", "ch2", "web"),
		port("fa", "fa", "f", "sf", "10.60.0.10", "fa:16:3e:00:60:10", "ch1", "web"),
		port("fb", "fb", "f", "sf", "10.60.0.11", "fa:16:3e:00:60:11", "ch2", "web"))
	t.Chassis[0].BridgeMappings = map[string]string{"public": "br-ex", "physnet1": "br-phys", "physnet2": "br-phys2"}
	t.Chassis[1].BridgeMappings = map[string]string{"physnet1": "br-phys"}
	return t
}

// On a vlan network a port on another chassis is reached over the
// physical network, tagged, never by a tunnel, then through its security
// groups; a chassis without the physical network's mapping is explained.
func TestProviderTrace(t *testing.T) {
	tp := providerTopo()
	r := mustTrace(t, tp, "va", "tcp, dst 10.50.0.11:22")
	if r.Verdict != Delivered || r.Dest == nil || r.Dest.ID != "vb" {
		t.Fatalf("verdict %s dest %+v, want delivered to vb", r.Verdict, r.Dest)
	}
	if o := r.Output; o == nil || o.Tunnelled || o.PhysicalNetwork != "physnet1" || o.VLAN != 101 || o.Chassis != "ch2" {
		t.Fatalf("output %+v, want physnet1 VLAN 101 to ch2, no tunnel", o)
	}
	if s := stageOf(r, StageProvider); s == nil || !strings.Contains(s.Detail, "VLAN 101 pushed") || !strings.Contains(s.Detail, "br-phys") {
		t.Fatalf("provider step %+v", s)
	}
	if stageOf(r, StageTunnel) != nil || stageOf(r, StageIngressACL) == nil {
		t.Fatalf("steps %+v: want no tunnel, an ingress ACL", r.Steps)
	}
	r = mustTrace(t, tp, "va", "tcp, dst 10.50.0.11:80")
	if r.Verdict != Drop || stageOf(r, StageIngressACL) == nil {
		t.Fatalf("tcp/80: verdict %s, want a drop by vb's ingress security groups", r.Verdict)
	}
	r = mustTrace(t, tp, "fa", "icmp, dst 10.60.0.11")
	if s := stageOf(r, StageProvider); r.Verdict != Drop || s == nil || !strings.Contains(s.Detail, "no bridge mapping for physical network physnet2") {
		t.Fatalf("flat to ch2: verdict %s step %+v, want a drop: ch2 does not map physnet2", r.Verdict, s)
	}
	r = mustTrace(t, tp, "va", "arp, dst 10.50.0.99")
	if s := stageOf(r, StageServices); r.Verdict != Flooded || s == nil || len(s.Notes) == 0 || !strings.Contains(s.Notes[0], "VLAN 101") {
		t.Fatalf("unknown ARP: verdict %s step %+v, want flooded out to physnet1 tagged 101 too", r.Verdict, s)
	}
}

// Routed onto a vlan network for another chassis, a packet leaves the
// physical network tagged, from the source chassis' MAC there, not the
// router's.
func TestProviderTraceRouted(t *testing.T) {
	tp := providerTopo()
	ri := port("riv", "", "v", "sv", "10.50.0.1", "fa:16:3e:00:50:01", "")
	ri.DeviceOwner, ri.DeviceID = model.OwnerRouterInterface, "r"
	tp.Ports = append(tp.Ports, ri)
	for i := range tp.Subnets {
		if tp.Subnets[i].ID == "sv" {
			tp.Subnets[i].GatewayIP = "10.50.0.1"
		}
	}
	r := mustTrace(t, tp, "a", "tcp, dst 10.50.0.11:22")
	if r.Verdict != Delivered || r.Dest == nil || r.Dest.ID != "vb" || r.Route == nil {
		t.Fatalf("verdict %s dest %+v route %+v, want routed and delivered to vb", r.Verdict, r.Dest, r.Route)
	}
	if o := r.Output; o == nil || o.Tunnelled || o.VLAN != 101 {
		t.Fatalf("output %+v, want VLAN 101, no tunnel", o)
	}
	s := stageOf(r, StageProvider)
	want := "eth src " + logical.ChassisMAC("ch1", "physnet1").String() + ", chassis ch1's MAC"
	if s == nil || len(s.Notes) == 0 || !strings.Contains(strings.Join(s.Notes, "\n"), want) {
		t.Fatalf("provider step %+v, want a note %q", s, want)
	}
}

// SNAT from a vlan network on a chassis that is not the router's gateway:
// the packet is handed to the gateway over the physical network, to its
// chassis MAC; lost when the gateway does not map that physical network.
func TestProviderTraceSNATHandoff(t *testing.T) {
	tp := providerTopo()
	ri := port("riv", "", "v", "sv", "10.50.0.1", "fa:16:3e:00:50:01", "")
	ri.DeviceOwner, ri.DeviceID = model.OwnerRouterInterface, "r"
	tp.Ports = append(tp.Ports, ri)
	for i := range tp.Subnets {
		if tp.Subnets[i].ID == "sv" {
			tp.Subnets[i].GatewayIP = "10.50.0.1"
		}
	}
	r := mustTrace(t, tp, "vb", "tcp, dst 198.51.100.7:80")
	if s := stageOf(r, StageNAT); r.Verdict != Drop || s == nil || !strings.Contains(s.Detail, "gw1 has no bridge mapping for physical network physnet1") {
		t.Fatalf("gateway without physnet1: verdict %s NAT step %+v, want a drop", r.Verdict, s)
	}
	for i := range tp.Chassis {
		if tp.Chassis[i].Name == "gw1" {
			tp.Chassis[i].BridgeMappings["physnet1"] = "br-phys"
		}
	}
	r = mustTrace(t, tp, "vb", "tcp, dst 198.51.100.7:80")
	s := stageOf(r, StageNAT)
	want := "handed to gw1 over physical network physnet1, tagged 101, unrouted, to its chassis MAC " + logical.ChassisMAC("gw1", "physnet1").String()
	if s == nil || s.Chassis != "gw1" || !strings.Contains(strings.Join(s.Notes, "\n"), want) {
		t.Fatalf("NAT step %+v, want on gw1 with a note %q", s, want)
	}
}
