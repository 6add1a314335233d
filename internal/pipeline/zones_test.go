package pipeline

import (
	"strings"
	"testing"
)

// Validate refuses views where two networks, or a network and a router,
// would share a conntrack zone: their connections would mix.
func TestValidateZones(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(v *View)
		want string
	}{
		{"same network zone", func(v *View) {
			v.Networks = append(v.Networks, Network{ID: "n2", Key: 7, CTZone: 100})
			v.Networks[0].CTZone = 100
		}, "network n2: conntrack zone 100 already used by network net1"},
		{"router on a network's zone", func(v *View) {
			v.Networks[0].CTZone = 0xf001
			v.Routers = append(v.Routers, Router{ID: "r1", Key: 1})
		}, "router r1: conntrack zone 61441 already used by network net1"},
		{"router zones", func(v *View) {
			v.Routers = append(v.Routers, Router{ID: "r1", Key: 1, CTZone: 9}, Router{ID: "r2", Key: 2, CTZone: 9})
		}, "router r2: conntrack zone 9 already used by router r1"},
	} {
		v := oneChassisOneNetwork()
		tc.edit(v)
		if err := v.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	v := oneChassisOneNetwork()
	v.Networks = append(v.Networks, Network{ID: "n2", Key: 7, CTZone: 2})
	v.Networks[0].CTZone = 1
	v.Routers = append(v.Routers, Router{ID: "r1", Key: 1, CTZone: 3})
	if err := v.Validate(); err != nil {
		t.Errorf("distinct zones: %v", err)
	}
}
