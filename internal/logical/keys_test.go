package logical

import (
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Network keys are unique over the whole segmentation id ranges of every
// type (geneve and vxlan 1..2^24-1, vlan 1..4094), never zero, and below
// the flat networks' range; remote port keys start above every OpenFlow
// port number a local port can have.
func TestNetworkKeyRanges(t *testing.T) {
	k := NewKeys()
	seen := make([]uint64, flatKeyBase/64+1)
	for _, r := range []struct {
		typ      string
		min, max int
	}{{"geneve", 1, 1<<24 - 1}, {"vxlan", 1, 1<<24 - 1}, {"vlan", 1, 4094}} {
		n := model.Network{NetworkType: r.typ}
		for id := r.min; id <= r.max; id++ {
			n.SegmentationID = id
			key := k.Network(&n)
			if key == 0 || key >= flatKeyBase {
				t.Fatalf("%s %d: key %#x outside 1..%#x", r.typ, id, key, flatKeyBase-1)
			}
			if seen[key/64]&(1<<(key%64)) != 0 {
				t.Fatalf("%s %d: key %#x already used", r.typ, id, key)
			}
			seen[key/64] |= 1 << (key % 64)
		}
	}
	f1, f2 := model.Network{NetworkType: "flat"}, model.Network{NetworkType: "flat"}
	f1.ID, f2.ID = "f1", "f2"
	if a, b := k.Network(&f1), k.Network(&f2); a <= flatKeyBase || b == a || k.Network(&f1) != a {
		t.Errorf("flat keys %#x, %#x: want distinct, stable, above %#x", a, b, flatKeyBase)
	}
	const maxOFPort = 0xfeff // OFPP_MAX
	if r := k.RemotePort("p"); r <= maxOFPort || r <= remoteKeyBase {
		t.Errorf("remote port key %#x: want above %#x", r, max(maxOFPort, remoteKeyBase))
	}
}
