package agent

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
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
	viewFrom := func(self string, alive ...string) *state {
		s := newState(self)
		me := chassis[self]
		s.ext = extConfig{gateway: me.Gateway, mappings: me.BridgeMappings, ports: map[string]uint32{}}
		for n, c := range chassis {
			if n != self {
				s.peers[n] = c
			}
		}
		for _, n := range alive {
			s.alive[n] = true
		}
		return s
	}
	all := []string{"gw1", "gw2", "gw3", "ch1"}
	used := map[string]bool{}
	for _, router := range []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"} {
		want := viewFrom("ch1", all...).gatewayChassis(router, "physnet1")
		if want != "gw1" && want != "gw2" {
			t.Fatalf("%s: gateway %q, want gw1 or gw2 (gw3 lacks physnet1, ch1 is no gateway)", router, want)
		}
		used[want] = true
		for _, self := range all {
			if got := viewFrom(self, all...).gatewayChassis(router, "physnet1"); got != want {
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
		if got := viewFrom("ch1", alive...).gatewayChassis(router, "physnet1"); got != other {
			t.Fatalf("%s: after %s died, gateway %q, want %s", router, want, got, other)
		}
		if got := viewFrom("ch1", "ch1", "gw3").gatewayChassis(router, "physnet1"); got != "" {
			t.Fatalf("%s: no gateway alive, got %q", router, got)
		}
	}
	if len(used) != 2 {
		t.Errorf("8 routers all on %v: rendezvous hashing should spread them", used)
	}
}

func TestGratuitousARP(t *testing.T) {
	b, err := garp(netip.MustParseAddr("203.0.113.10"), "fa:16:3e:00:00:0a")
	if err != nil {
		t.Fatal(err)
	}
	mac := []byte{0xfa, 0x16, 0x3e, 0, 0, 0x0a}
	ip := []byte{203, 0, 113, 10}
	want := bytes.Join([][]byte{
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac, {0x08, 0x06},
		{0, 1, 0x08, 0, 6, 4, 0, 1}, mac, ip, {0, 0, 0, 0, 0, 0}, ip,
	}, nil)
	if !bytes.Equal(b, want) {
		t.Fatalf("garp = % x\nwant   % x", b, want)
	}
	if _, err := garp(netip.MustParseAddr("2001:db8::1"), "fa:16:3e:00:00:0a"); err == nil {
		t.Error("IPv6 address accepted")
	}
}
