package ovs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/ovs/ovstest"
)

// brInt is the br-int configuration of recipe.md.
func brInt() ovs.BridgeConfig {
	return ovs.BridgeConfig{
		Name: "br-int", DatapathType: "netdev", FailSecure: true,
		Protocols: []string{"OpenFlow13", "OpenFlow15"}, DisableInBand: true,
		ExternalIDs: map[string]string{"wyvern": "yes"}, HWAddr: "02:00:00:00:00:01",
	}
}

func startDB(t *testing.T) (*ovstest.Instance, *ovs.DB, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real Open vSwitch")
	}
	inst := ovstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	db, err := ovs.Open(ctx, "unix:"+inst.DBSock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.EnsureBridge(ctx, brInt()); err != nil {
		t.Fatal(err)
	}
	return inst, db, ctx
}

func TestDBBridgePortsAndWatch(t *testing.T) {
	inst, db, ctx := startDB(t)

	// Idempotent, and the columns are what recipe.md asks for.
	if err := db.EnsureBridge(ctx, brInt()); err != nil {
		t.Fatal(err)
	}
	for col, want := range map[string]string{
		"datapath_type": "netdev", "fail_mode": "secure", "protocols": "[OpenFlow13, OpenFlow15]",
		"other_config:disable-in-band": `"true"`, "other_config:hwaddr": `"02:00:00:00:00:01"`,
		"external_ids:wyvern": "yes",
	} {
		got, err := inst.Vsctl("get", "bridge", "br-int", col)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Trim(strings.TrimSpace(got), `"`) != strings.Trim(want, `"`) {
			t.Errorf("bridge %s = %s, want %s", col, strings.TrimSpace(got), want)
		}
	}
	// A drifted column is fixed.
	if _, err := inst.Vsctl("set", "bridge", "br-int", "fail_mode=standalone"); err != nil {
		t.Fatal(err)
	}
	if err := db.EnsureBridge(ctx, brInt()); err != nil {
		t.Fatal(err)
	}
	if got, _ := inst.Vsctl("get", "bridge", "br-int", "fail_mode"); strings.TrimSpace(got) != "secure" {
		t.Errorf("fail_mode not fixed: %s", got)
	}

	// External ids as the agent's small state store.
	if err := db.SetBridgeExternalIDs(ctx, "br-int", map[string]string{"wyvern-gen": "7"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetBridgeExternalIDs(ctx, "br-int", map[string]string{"wyvern-gen": "8", "wyvern": ""}); err != nil {
		t.Fatal(err)
	}
	ext, err := db.BridgeExternalIDs(ctx, "br-int")
	if err != nil {
		t.Fatal(err)
	}
	if ext["wyvern-gen"] != "8" || ext["wyvern"] != "" || len(ext) != 1 {
		t.Errorf("external_ids = %v", ext)
	}

	// Tunnel ports: idempotent, ofport assigned, options as asked.
	gen, err := db.EnsureTunnelPort(ctx, "br-int", "geneve0", ovs.TunnelGeneve)
	if err != nil {
		t.Fatal(err)
	}
	gen2, err := db.EnsureTunnelPort(ctx, "br-int", "geneve0", ovs.TunnelGeneve)
	if err != nil || gen2 != gen || gen == 0 {
		t.Fatalf("geneve0 ofport %d then %d, %v", gen, gen2, err)
	}
	vx, err := db.EnsureTunnelPort(ctx, "br-int", "vxlan0", ovs.TunnelVXLAN)
	if err != nil || vx == 0 || vx == gen {
		t.Fatalf("vxlan0 ofport %d: %v", vx, err)
	}
	if got, _ := inst.Vsctl("get", "interface", "vxlan0", "options"); strings.TrimSpace(got) != `{key=flow, remote_ip=flow}` {
		t.Errorf("vxlan0 options %s", got)
	}

	// The interface watch: existing interfaces, then a VM port appearing
	// (with its ofport) and going.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs := db.WatchInterfaces(wctx, "br-int")
	seen := map[string]ovs.InterfaceEvent{}
	next := func(what string) ovs.InterfaceEvent {
		t.Helper()
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("watch closed waiting for %s", what)
			}
			return ev
		case <-ctx.Done():
			t.Fatalf("timeout waiting for %s", what)
		}
		return ovs.InterfaceEvent{}
	}
	for len(seen) < 3 {
		ev := next("initial interfaces")
		if ev.Kind != ovs.IfaceAdded {
			t.Fatalf("initial event %v", ev)
		}
		seen[ev.Iface.Name] = ev
	}
	if seen["geneve0"].Iface.OFPort != int(gen) || seen["br-int"].Iface.OFPort != 65534 {
		t.Errorf("initial interfaces %+v", seen)
	}

	tap := "tap" + inst.Netns[4:]
	if _, err := inst.Exec("ip", "link", "add", tap, "type", "veth", "peer", "name", tap+"p"); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{"iface-id": "port-1", "attached-mac": "fa:16:3e:00:00:01", "iface-status": "active"}
	ofport, err := db.AddPort(ctx, "br-int", ovs.PortConfig{Name: tap, ExternalIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	var got ovs.Interface
	for got.OFPort == 0 {
		ev := next("tap with ofport")
		if ev.Iface.Name != tap || ev.Kind == ovs.IfaceRemoved {
			t.Fatalf("unexpected event %+v", ev)
		}
		got = ev.Iface
	}
	if got.OFPort != int(ofport) || got.IfaceID() != "port-1" || got.AttachedMAC() != "fa:16:3e:00:00:01" || got.Status() != "active" {
		t.Errorf("tap interface %+v (ofport %d)", got, ofport)
	}
	if err := db.SetInterfaceExternalIDs(ctx, tap, map[string]string{"iface-status": "inactive"}); err != nil {
		t.Fatal(err)
	}
	if ev := next("status change"); ev.Kind != ovs.IfaceChanged || ev.Iface.Status() != "inactive" || ev.Old.Status() != "active" {
		t.Errorf("status change event %+v", ev)
	}
	if err := db.DeletePort(ctx, "br-int", tap); err != nil {
		t.Fatal(err)
	}
	if ev := next("tap removed"); ev.Kind != ovs.IfaceRemoved || ev.Iface.Name != tap {
		t.Errorf("removal event %+v", ev)
	}
	// A failing interface reports OVS's error.
	if _, err := db.AddPort(ctx, "br-int", ovs.PortConfig{Name: "nosuchdev0"}); err == nil {
		t.Errorf("AddPort of a missing device succeeded")
	}
}
