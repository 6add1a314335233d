package logical

import (
	"bytes"
	"net"
	"reflect"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// A vlan or flat network gets the patch port of the chassis' mapping for
// its physical network; a tunnelled network, an unmapped physical network
// and an external network (the routers' way out) get none.
func TestBuildProviderPort(t *testing.T) {
	vlan := network("vlan1", "vlan", 101, 11)
	vlan.PhysicalNetwork = "physnet1"
	flat := network("flat1", "flat", 0, 12)
	flat.PhysicalNetwork = "physnet2"
	unmapped := network("vlan2", "vlan", 102, 13)
	unmapped.PhysicalNetwork = "physnet9"
	ext := network("ext1", "flat", 0, 14)
	ext.PhysicalNetwork, ext.External = "physnet3", true
	in := topo(3, network("gen1", "geneve", 5, 10), vlan, flat, unmapped, ext)
	in.Ext.Ports = map[string]uint32{"physnet1": 20, "physnet2": 21, "physnet3": 22}
	res, err := Build(in, NewKeys())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint32{"gen1": 0, "vlan1": 20, "flat1": 21, "vlan2": 0, "ext1": 0}
	for _, n := range res.View.Networks {
		if n.ProviderOFPort != want[n.ID] {
			t.Errorf("network %s: provider port %d, want %d", n.ID, n.ProviderOFPort, want[n.ID])
		}
		if n.ID == "vlan1" && n.SegmentationID != 101 {
			t.Errorf("vlan1: segmentation id %d, want its VLAN 101", n.SegmentationID)
		}
	}
}

// A vlan or flat network this chassis reaches gets the chassis MAC of its
// physical network: locally administered, unicast, the same for two
// networks on one physical network, different per physical network and
// per chassis; the others get none.
func TestBuildChassisMAC(t *testing.T) {
	vlan := network("vlan1", "vlan", 101, 11)
	vlan.PhysicalNetwork = "physnet1"
	vlan2 := network("vlan2", "vlan", 102, 12)
	vlan2.PhysicalNetwork = "physnet1"
	flat := network("flat1", "flat", 0, 13)
	flat.PhysicalNetwork = "physnet2"
	unmapped := network("vlan3", "vlan", 103, 14)
	unmapped.PhysicalNetwork = "physnet9"
	in := topo(3, network("gen1", "geneve", 5, 10), vlan, vlan2, flat, unmapped)
	in.Ext.Ports = map[string]uint32{"physnet1": 20, "physnet2": 21}
	res, err := Build(in, NewKeys())
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := ChassisMAC(in.Local.Name, "physnet1"), ChassisMAC(in.Local.Name, "physnet2")
	want := map[string]net.HardwareAddr{"gen1": nil, "vlan1": p1, "vlan2": p1, "flat1": p2, "vlan3": nil}
	for _, n := range res.View.Networks {
		if !bytes.Equal(n.ChassisMAC, want[n.ID]) {
			t.Errorf("network %s: chassis MAC %v, want %v", n.ID, n.ChassisMAC, want[n.ID])
		}
	}
	for _, m := range []net.HardwareAddr{p1, p2, ChassisMAC("other", "physnet1")} {
		if len(m) != 6 || m[0]&1 != 0 || m[0]&2 == 0 {
			t.Errorf("chassis MAC %v: want a locally administered unicast MAC", m)
		}
	}
	if bytes.Equal(p1, p2) || bytes.Equal(p1, ChassisMAC("other", "physnet1")) {
		t.Errorf("chassis MACs collide: %v %v %v", p1, p2, ChassisMAC("other", "physnet1"))
	}
	if !bytes.Equal(p1, ChassisMAC(in.Local.Name, "physnet1")) {
		t.Error("ChassisMAC is not deterministic")
	}
	// The other chassis' MACs on the physical networks mapped here, by
	// br-int's port to each: where a router's gateway is handed traffic.
	var ch2 *pipeline.RemoteChassis
	for i := range res.View.Remote {
		if res.View.Remote[i].Name == "ch2" {
			ch2 = &res.View.Remote[i]
		}
	}
	wantMACs := []pipeline.ProviderMAC{{OFPort: 20, MAC: ChassisMAC("ch2", "physnet1")}, {OFPort: 21, MAC: ChassisMAC("ch2", "physnet2")}}
	if ch2 == nil || !reflect.DeepEqual(ch2.ProviderMACs, wantMACs) {
		t.Errorf("ch2 in the view: %+v, want provider MACs %v", ch2, wantMACs)
	}
}
