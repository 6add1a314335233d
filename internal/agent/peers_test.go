package agent

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// TestPeersComeWithTheBindings (on the fake store): the agent tunnels to
// the host of a port from the endpoint its binding carries, follows an
// endpoint change, knows the live gateways from gateway_chassis/, falls
// back to one chassis/ key for a host whose binding carries no endpoint,
// and never watches every chassis' record or heartbeat.
func TestPeersComeWithTheBindings(t *testing.T) {
	fs := newFakeStore()
	seed(t, fs, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01", "pa2": "fa:16:3e:00:00:02", "pa3": "fa:16:3e:00:00:03"})
	rec := &informRecorder{fakeStore: fs, prefixes: map[string]bool{}}
	sw := newFakeSwitch()
	a, err := New(Config{Chassis: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1")}, rec, sw, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	waitFor(t, "the local port installed", func() bool { return strings.Contains(sw.text(), "in_port=5") })

	peers := func() []string {
		in, err := a.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return in.Peers
	}
	has := func(name string) bool {
		for _, p := range peers() {
			if p == name {
				return true
			}
		}
		return false
	}
	tunnelTo := func(ip string) bool { return strings.Contains(sw.text(), ip+"->tun_dst") }

	// pa2 bound on ch2: its binding's mirror carries ch2's endpoint.
	mirror := func(port, chassis, ip string) {
		write(t, fs, store.BindingMirrorKey("net-a", port), model.PortBinding{Chassis: chassis, NetworkID: "net-a", Status: model.StatusActive,
			VIFType: "ovs", Endpoint: &model.Endpoint{TunnelIP: ip, TunnelMAC: "02:00:00:00:00:02", Encaps: []string{"geneve"}}})
	}
	mirror("pa2", "ch2", "192.0.2.2")
	waitFor(t, "a tunnel to ch2", func() bool { return tunnelTo("192.0.2.2") && has("ch2") })
	sw.mu.Lock()
	mac := sw.neighbors[netip.MustParseAddr("192.0.2.2")]
	sw.mu.Unlock()
	if mac != "02:00:00:00:00:02" {
		t.Errorf("ch2's tunnel neighbour: %q, want its MAC pinned", mac)
	}
	// ch2 comes back with another tunnel address: its agent rewrites its
	// bindings.
	mirror("pa2", "ch2", "192.0.2.7")
	waitFor(t, "the tunnel to ch2's new address", func() bool { return tunnelTo("192.0.2.7") && !tunnelTo("192.0.2.2") })

	// A live gateway: known while its leased registration lasts.
	write(t, fs, store.GatewayChassisKey("gw1"), model.Chassis{Name: "gw1", TunnelIP: "192.0.2.9", Encaps: []string{"geneve"}, Gateway: true})
	waitFor(t, "the gateway known", func() bool { return has("gw1") })
	fs.delete(store.GatewayChassisKey("gw1"))
	waitFor(t, "the dead gateway forgotten", func() bool { return !has("gw1") })

	// pa3 bound on ch3 by an older agent: no endpoint in its binding;
	// ch3's record (one key) gives it.
	write(t, fs, store.BindingMirrorKey("net-a", "pa3"), model.PortBinding{Chassis: "ch3", NetworkID: "net-a", Status: model.StatusActive, VIFType: "ovs"})
	write(t, fs, store.ChassisKey("ch3"), model.Chassis{Name: "ch3", TunnelIP: "192.0.2.3", Encaps: []string{"geneve"}})
	write(t, fs, store.ChassisKey("ch33"), model.Chassis{Name: "ch33", TunnelIP: "192.0.2.33", Encaps: []string{"geneve"}})
	waitFor(t, "a tunnel to ch3 from its record", func() bool { return tunnelTo("192.0.2.3") && has("ch3") })
	if has("ch33") {
		t.Error("ch33, which hosts nothing here, is a peer")
	}
	// Its agent upgraded: the binding now carries the endpoint.
	mirror("pa3", "ch3", "192.0.2.3")
	waitFor(t, "ch3's record no longer followed", func() bool {
		done := make(chan bool, 1)
		a.post(ctx, event{call: func() { done <- len(a.state.peerWatches) == 0 }})
		return <-done && tunnelTo("192.0.2.3")
	})

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, p := range []string{store.KindPrefix(store.KindChassis), store.AliveKey("")} {
		if rec.prefixes[p] {
			t.Errorf("the agent watches all of %s", p)
		}
	}
	if !rec.prefixes[store.ChassisKey("ch3")] {
		t.Error("ch3's record was never followed")
	}
}
