package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// BenchmarkSync1000 is one sync of a gateway serving 1,000 floating IPs
// after one of them changed: what each association costs every gateway.
func BenchmarkSync1000(b *testing.B) {
	r := scenario()
	for i := range 1000 {
		id := fmt.Sprintf("vmb%04d", i)
		fixed := fmt.Sprintf("10.0.%d.%d", 1+i/200, 10+i%200)
		r.Ports[id] = &model.Port{Standard: model.Standard{ID: id}, NetworkID: "n1", MACAddress: fmt.Sprintf("fa:16:3e:01:%02x:%02x", i/256, i%256),
			FixedIPs: []model.FixedIP{{SubnetID: "s1", IPAddress: fixed}}, DeviceOwner: "compute:nova", DeviceID: id, HostID: "ch1"}
		r.FloatingIPs["fb"+id] = &model.FloatingIP{Standard: model.Standard{ID: "fb" + id}, FloatingNetworkID: "ext",
			FloatingIPAddress: fmt.Sprintf("198.51.%d.%d", 100+i/250, 1+i%250), PortID: id, FixedIPAddress: fixed, RouterID: "r1"}
	}
	cfg := Config{Name: "gw1", UplinkIP: netip.MustParseAddr("192.0.2.11"), Pool: DefaultPool}
	g := New(cfg, Deps{Source: newFakeStore(), Flows: newFakeFlows(), Announcer: &bgp.Fake{}, Ports: testPorts}, quiet())
	g.records = r
	ctx := context.Background()
	if err := g.rec.start(ctx); err != nil {
		b.Fatal(err)
	}
	if err := g.sync(ctx); err != nil {
		b.Fatal(err)
	}
	if n := len(g.view.FIPs); n < 1000 {
		b.Fatalf("view serves %d floating IPs", n)
	}
	f := r.FloatingIPs["fbvmb0000"]
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			f.PortID = ""
		} else {
			f.PortID = "vmb0000"
		}
		if err := g.sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
