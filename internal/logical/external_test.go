package logical

import (
	"net"
	"net/netip"
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

// An edge-mode chassis NATs none of its floating IPs, mapped or not: the
// view marks them Edge, programs them only with an edge endpoint, and
// announces nothing; a gateway chassis leaves a peer's edge floating IPs
// to the edge too (no centralized NAT).
func TestBuildEdgeMode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		endpoint   bool
		mapped     bool
		programmed bool
	}{
		{name: "edge endpoint, no mapping", endpoint: true, programmed: true},
		{name: "edge endpoint, mapping", endpoint: true, mapped: true, programmed: true},
		{name: "no endpoint"},
	} {
		in := withGateway(topo(9, network("n1", "geneve", 1, 1)), "n1")
		in.Ext = External{Edge: true, Mappings: map[string]string{}, Ports: map[string]uint32{}}
		if tc.endpoint {
			in.Local.EdgeEndpoint = netip.MustParseAddr("192.0.2.100")
		}
		if tc.mapped {
			in.Ext.Mappings["public"], in.Ext.Ports["public"] = "br-ex", 99
		}
		res, err := Build(in, NewKeys())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		v := res.View
		if len(v.FloatingIPs) != 1 || !v.FloatingIPs[0].Edge || v.FloatingIPs[0].Centralized {
			t.Errorf("%s: floating IPs %+v", tc.name, v.FloatingIPs)
		}
		if res.ProgrammedFIPs["fip1"] != tc.programmed || len(res.Announce) != 0 {
			t.Errorf("%s: programmed %v announce %v", tc.name, res.ProgrammedFIPs, res.Announce)
		}
		// A mapped chassis resolves the upstream router all the same (by
		// probe: it answers for no address there).
		if want := map[bool]int{true: 1}[tc.mapped]; len(res.Resolve) != want || want == 1 && res.Resolve[0].SrcIP.IsValid() {
			t.Errorf("%s: resolve %+v", tc.name, res.Resolve)
		}
	}

	// ch1 is the active gateway; the floating IP's port is on ch2, an
	// edge-mode chassis without a mapping: not centralized here.
	in := withGateway(topo(9, network("n1", "geneve", 1, 1)), "n1")
	in.FloatingIPs["fip1"].PortID, in.FloatingIPs["fip1"].FixedIPAddress = "b-n1", "10.0.0.11"
	in.Peers["ch2"] = model.Chassis{Name: "ch2", TunnelIP: "192.0.2.2", Encaps: []string{"geneve"}, FIPMode: model.FIPModeEdge}
	in.Ext = External{Gateway: true, Mappings: map[string]string{"public": "br-ex"}, Ports: map[string]uint32{"public": 99}}
	res, err := Build(in, NewKeys())
	if err != nil {
		t.Fatal(err)
	}
	if f := res.View.FloatingIPs; len(f) != 1 || !f[0].Edge || f[0].Centralized || res.ProgrammedFIPs["fip1"] {
		t.Errorf("peer's edge floating IP on the gateway chassis: %+v, programmed %v", f, res.ProgrammedFIPs)
	}
}

// A chassis that NATs on an external network asks for its upstream
// router's MAC (the subnet's gateway_ip) from an address it answers for,
// and uses the resolved MAC; an operator's MAC overrides resolution.
func TestBuildNextHopResolution(t *testing.T) {
	build := func(override, resolved net.HardwareAddr) *Result {
		in := withGateway(topo(9, network("n1", "geneve", 1, 1)), "n1")
		in.Ext = External{Gateway: true, Mappings: map[string]string{"public": "br-ex"}, Ports: map[string]uint32{"public": 99},
			NextHop: map[string]net.HardwareAddr{}, Resolved: map[netip.Addr]net.HardwareAddr{}}
		if override != nil {
			in.Ext.NextHop["public"] = override
		}
		if resolved != nil {
			in.Ext.Resolved[netip.MustParseAddr("203.0.113.1")] = resolved
		}
		res, err := Build(in, NewKeys())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := build(nil, nil)
	want := NextHopQuery{Physnet: "public", Port: 99, Target: netip.MustParseAddr("203.0.113.1"),
		SrcIP: netip.MustParseAddr("203.0.113.2"), SrcMAC: "fa:16:3e:ee:00:02"}
	if len(res.Resolve) != 1 || res.Resolve[0] != want {
		t.Fatalf("resolve %+v, want %+v", res.Resolve, want)
	}
	if e := res.View.External[0]; e.NextHopMAC != nil || e.NextHopIP != want.Target {
		t.Fatalf("unresolved external %+v", e)
	}
	// A chassis mapping the network but NATing nothing there yet (the
	// floating IP's port is on ch2, the router's gateway elsewhere) asks
	// too, by probe, so that a later floating IP or failover finds the MAC.
	in := withGateway(topo(9, network("n1", "geneve", 1, 1)), "n1")
	in.FloatingIPs["fip1"].PortID, in.FloatingIPs["fip1"].FixedIPAddress = "b-n1", "10.0.0.11"
	in.Ext = External{Mappings: map[string]string{"public": "br-ex"}, Ports: map[string]uint32{"public": 99}}
	standby, err := Build(in, NewKeys())
	if err != nil {
		t.Fatal(err)
	}
	if len(standby.Announce) != 0 || len(standby.Resolve) != 1 || standby.Resolve[0].SrcIP.IsValid() || standby.Resolve[0].Target != want.Target {
		t.Fatalf("standby: announce %v resolve %+v", standby.Announce, standby.Resolve)
	}
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	if e := build(nil, mac).View.External[0]; e.NextHopMAC.String() != mac.String() {
		t.Fatalf("resolved: external %+v", e)
	}
	other, _ := net.ParseMAC("02:00:00:00:00:02")
	res = build(other, mac)
	if e := res.View.External[0]; e.NextHopMAC.String() != other.String() || len(res.Resolve) != 0 {
		t.Fatalf("override: external %+v, resolve %+v", e, res.Resolve)
	}
}
