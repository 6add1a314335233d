package logical

import (
	"testing"
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
