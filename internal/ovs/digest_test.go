package ovs

import (
	"net/netip"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

func TestFlowDigest(t *testing.T) {
	base := ofp.Flow{Table: 3, Priority: 100, Cookie: 7,
		Match:   []ofp.Field{ofp.Reg(6, 1), ofp.EthType(ofp.EthTypeIPv4), ofp.IPSrc(netip.MustParsePrefix("10.0.0.1/32"))},
		Actions: []ofp.Action{ofp.Output{Port: 2}}}
	d0, buf, err := FlowDigest(nil, base)
	if err != nil {
		t.Fatal(err)
	}
	same := func(f ofp.Flow) ofp.Flow { return f }
	cases := []struct {
		name           string
		change         func(ofp.Flow) ofp.Flow
		sameKey, equal bool
	}{
		{"identical", same, true, true},
		{"match fields in another order", func(f ofp.Flow) ofp.Flow {
			f.Match = []ofp.Field{f.Match[2], f.Match[0], f.Match[1]}
			return f
		}, true, true},
		{"other cookie", func(f ofp.Flow) ofp.Flow { f.Cookie = 8; return f }, true, false},
		{"other action", func(f ofp.Flow) ofp.Flow { f.Actions = []ofp.Action{ofp.Output{Port: 3}}; return f }, true, false},
		{"other priority", func(f ofp.Flow) ofp.Flow { f.Priority = 101; return f }, false, false},
		{"other table", func(f ofp.Flow) ofp.Flow { f.Table = 4; return f }, false, false},
		{"other match value", func(f ofp.Flow) ofp.Flow {
			f.Match = []ofp.Field{ofp.Reg(6, 2), f.Match[1], f.Match[2]}
			return f
		}, false, false},
		{"one field less", func(f ofp.Flow) ofp.Flow { f.Match = f.Match[:2]; return f }, false, false},
	}
	for _, c := range cases {
		var d Digest
		d, buf, err = FlowDigest(buf, c.change(base))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (d.Key == d0.Key) != c.sameKey || (d.Full == d0.Full) != c.equal {
			t.Errorf("%s: same key %v, equal %v; want %v, %v", c.name, d.Key == d0.Key, d.Full == d0.Full, c.sameKey, c.equal)
		}
	}
}
