package logical

import (
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// Every chassis picks the same active gateway per router without talking
// to the others, and moves to the same survivor when it dies.
func TestGatewayChassisAgreesAndFailsOver(t *testing.T) {
	chassis := map[string]model.Chassis{
		"gw1": {Name: "gw1", Gateway: true, BridgeMappings: map[string]string{"physnet1": "br-ex"}},
		"gw2": {Name: "gw2", Gateway: true, BridgeMappings: map[string]string{"physnet1": "br-ex"}},
		"gw3": {Name: "gw3", Gateway: true, BridgeMappings: map[string]string{"physnet2": "br-ex"}},
		"ch1": {Name: "ch1", BridgeMappings: map[string]string{"physnet1": "br-ex"}},
	}
	viewFrom := func(self string, alive ...string) *Inputs {
		me := chassis[self]
		in := &Inputs{Local: pipeline.LocalChassis{Name: self}, Peers: map[string]model.Chassis{}, Alive: map[string]bool{},
			Ext: External{Gateway: me.Gateway, Mappings: me.BridgeMappings, Ports: map[string]uint32{}}}
		for n, c := range chassis {
			if n != self {
				in.Peers[n] = c
			}
		}
		for _, n := range alive {
			in.Alive[n] = true
		}
		return in
	}
	all := []string{"gw1", "gw2", "gw3", "ch1"}
	used := map[string]bool{}
	for _, router := range []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"} {
		want := viewFrom("ch1", all...).GatewayChassis(router, "physnet1")
		if want != "gw1" && want != "gw2" {
			t.Fatalf("%s: gateway %q, want gw1 or gw2 (gw3 lacks physnet1, ch1 is no gateway)", router, want)
		}
		used[want] = true
		for _, self := range all {
			if got := viewFrom(self, all...).GatewayChassis(router, "physnet1"); got != want {
				t.Fatalf("%s: %s picks %s, ch1 picks %s", router, self, got, want)
			}
		}
		other := map[string]string{"gw1": "gw2", "gw2": "gw1"}[want]
		var alive []string
		for _, n := range all {
			if n != want {
				alive = append(alive, n)
			}
		}
		if got := viewFrom("ch1", alive...).GatewayChassis(router, "physnet1"); got != other {
			t.Fatalf("%s: after %s died, gateway %q, want %s", router, want, got, other)
		}
		if got := viewFrom("ch1", "ch1", "gw3").GatewayChassis(router, "physnet1"); got != "" {
			t.Fatalf("%s: no gateway alive, got %q", router, got)
		}
	}
	if len(used) != 2 {
		t.Errorf("8 routers all on %v: rendezvous hashing should spread them", used)
	}
}
