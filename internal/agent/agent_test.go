package agent

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// startStore starts etcd with the server's binding mirror
// (store.MirrorBindings), as `wyvern server` runs it.
func startStore(t *testing.T) *store.Store {
	st := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.MirrorBindings(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	return st
}

// write puts a record (JSON, or a string as it is) straight into a store.
func write(t *testing.T, st Store, key string, v any) {
	t.Helper()
	b, ok := v.(string)
	val := []byte(b)
	if !ok {
		var err error
		if val, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Update(context.Background(), key, func([]byte) ([]byte, error) { return val, nil }); err != nil {
		t.Fatal(err)
	}
}

// seed writes a network with a subnet and ports straight into the store,
// the ports in the order of their ids (so their addresses are .11, .12...).
func seed(t *testing.T, st Store, netID string, seg int, ports map[string]string) {
	t.Helper()
	n := model.Network{Standard: model.Standard{ID: netID}, NetworkType: "geneve", SegmentationID: seg, CTZone: seg, MTU: 1442, Subnets: []string{"s-" + netID}}
	write(t, st, store.NetworkKey(netID), n)
	sub := model.Subnet{Standard: model.Standard{ID: "s-" + netID}, NetworkID: netID, IPVersion: 4, CIDR: "10.0.0.0/24", GatewayIP: "10.0.0.1", EnableDHCP: true}
	write(t, st, store.SubnetKey(netID, sub.ID), sub)
	for i, id := range slices.Sorted(maps.Keys(ports)) {
		p := model.Port{Standard: model.Standard{ID: id}, NetworkID: netID, MACAddress: ports[id], PortSecurityEnabled: true,
			Status: model.StatusDown, FixedIPs: []model.FixedIP{{SubnetID: sub.ID, IPAddress: fmt.Sprintf("10.0.0.%d", 11+i)}}}
		write(t, st, store.PortKey(netID, id), p)
		write(t, st, store.IndexKey(store.KindPorts, id), netID)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runAgent starts an agent and returns a func that stops it and waits.
func runAgent(t *testing.T, st Store, sw *fakeSwitch, name string) (stop func()) {
	t.Helper()
	a, err := New(Config{Chassis: name, TunnelIP: netip.MustParseAddr("192.0.2.1"), StatsInterval: 10 * time.Millisecond},
		st, sw, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

func portStatus(t *testing.T, st Store, netID, portID string) (string, string) {
	var p model.Port
	raw, err := st.GetString(context.Background(), store.PortKey(netID, portID))
	if err == nil {
		err = json.Unmarshal([]byte(raw), &p)
	}
	if err != nil {
		t.Fatal(err)
	}
	// As the API reports it: the binding's mirror, or on the fake store
	// (which runs no mirror) the one chassis' binding, over the record.
	var b model.PortBinding
	if raw, err := st.GetString(context.Background(), store.BindingMirrorKey(netID, portID)); err == nil {
		if err := json.Unmarshal([]byte(raw), &b); err != nil {
			t.Fatal(err)
		}
	} else if f, ok := st.(*fakeStore); ok {
		f.mu.Lock()
		for k, kv := range f.kvs {
			if c, ok := strings.CutSuffix(strings.TrimPrefix(k, store.BindingsPrefix), "/"+portID); ok && strings.HasPrefix(k, store.BindingsPrefix) {
				if err := json.Unmarshal(kv.Value, &b); err == nil {
					b.Chassis = c
				}
			}
		}
		f.mu.Unlock()
	}
	b.Apply(&p)
	return p.Status, p.HostID
}

// arpEntry is the match and first action of the ARP responder's entry
// (pipeline.TableARPReply) resolving ip to mac: the address in reg12, the
// low 32 bits of the MAC loaded into reg13.
func arpEntry(ip, mac string) string {
	a := netip.MustParseAddr(ip).As4()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("reg12=%#x actions=load:%#x->NXM_NX_REG13[0..31]", binary.BigEndian.Uint32(a[:]), binary.BigEndian.Uint32(hw[2:]))
}

func TestAgentBindsAndProgramsOnlyReachableNetworks(t *testing.T) {
	st := startStore(t)
	seed(t, st, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01", "pa2": "fa:16:3e:00:00:02"})
	seed(t, st, "net-b", 200, map[string]string{"pb1": "fa:16:3e:00:00:11"})
	sw := newFakeSwitch()
	runAgent(t, st, sw, "ch1")
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	waitFor(t, "binding", func() bool {
		s, h := portStatus(t, st, "net-a", "pa1")
		return s == model.StatusActive && h == "ch1"
	})
	waitFor(t, "flows for the local port", func() bool { return strings.Contains(sw.text(), "fa:16:3e:00:00:01") })
	txt := sw.text()
	if strings.Contains(txt, "fa:16:3e:00:00:11") || strings.Contains(txt, "0xc8") {
		t.Fatalf("flows mention net-b, which has no local port:\n%s", txt)
	}
	// The ARP responder knows the unplugged port of the same network:
	// pa2's address 10.0.0.12 resolves to its MAC.
	if want := arpEntry("10.0.0.12", "fa:16:3e:00:00:02"); !strings.Contains(txt, want) {
		t.Fatalf("no ARP responder entry %q for the other port of net-a:\n%s", want, txt)
	}
	sw.unplug("tap1", "pa1")
	waitFor(t, "status DOWN", func() bool { s, _ := portStatus(t, st, "net-a", "pa1"); return s == model.StatusDown })
	waitFor(t, "flows of net-a removed", func() bool { return !strings.Contains(sw.text(), "fa:16:3e:00:00:0") })
}

func TestAgentRestartSweepsOnlyStaleFlows(t *testing.T) {
	st := startStore(t)
	seed(t, st, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01", "pa2": "fa:16:3e:00:00:02"})
	sw := newFakeSwitch()
	stop := runAgent(t, st, sw, "ch1")
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	waitFor(t, "flows", func() bool { return strings.Contains(sw.text(), "fa:16:3e:00:00:01") })
	waitFor(t, "binding", func() bool { s, _ := portStatus(t, st, "net-a", "pa1"); return s == model.StatusActive })
	before := sw.text()
	stop()

	// Restart on the same switch, whose interface is still plugged: the new
	// agent must install the same flows under a new generation and sweep
	// nothing that is still wanted.
	sw.mu.Lock()
	sw.deletes = 0
	sw.mu.Unlock()
	go sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	runAgent(t, st, sw, "ch1")
	waitFor(t, "new generation", func() bool {
		c, _ := sw.Cookies(context.Background())
		for k := range c {
			if k&0xffffffff != 2 {
				return false
			}
		}
		return len(c) > 0
	})
	if after := sw.text(); after != before {
		t.Fatalf("flows changed across restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.deletes != 0 {
		t.Fatalf("restart deleted %d flows; it must only replace them", sw.deletes)
	}
}

// TestIfaceEventsThatChangeNothing: only interface changes the view reads
// (iface-id, an assigned ofport, a known port appearing) make the agent
// recompile; a status or MAC change, or a new interface without an ofport
// yet, do not.
func TestIfaceEventsThatChangeNothing(t *testing.T) {
	st := newFakeStore()
	seed(t, st, "net1", 100, map[string]string{"p1": "fa:16:3e:00:00:01"})
	a, err := New(Config{Chassis: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1")}, st, newFakeSwitch(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.state.portNet["p1"] = "net1" // resolved earlier
	iface := func(ofport int, status string) ovs.Interface {
		return ovs.Interface{Name: "tap1", OFPort: ofport,
			ExternalIDs: map[string]string{"iface-id": "p1", "iface-status": status}}
	}
	for _, step := range []struct {
		what string
		ev   ovs.InterfaceEvent
		want bool
	}{
		{"a known port's interface appears", ovs.InterfaceEvent{Kind: ovs.IfaceAdded, Iface: iface(0, "active")}, true},
		{"its status changes", ovs.InterfaceEvent{Kind: ovs.IfaceChanged, Iface: iface(0, "inactive")}, false},
		{"it gets its ofport", ovs.InterfaceEvent{Kind: ovs.IfaceChanged, Iface: iface(7, "inactive")}, true},
		{"its status changes again", ovs.InterfaceEvent{Kind: ovs.IfaceChanged, Iface: iface(7, "active")}, false},
		{"it goes", ovs.InterfaceEvent{Kind: ovs.IfaceRemoved, Iface: iface(7, "active")}, true},
	} {
		if got := a.handleIface(ctx, step.ev); got != step.want {
			t.Errorf("%s: recompile %v, want %v", step.what, got, step.want)
		}
	}
}

func TestSamePortView(t *testing.T) {
	base := model.Port{Standard: model.Standard{ID: "p1"}, MACAddress: "fa:16:3e:00:00:01", PortSecurityEnabled: true,
		FixedIPs: []model.FixedIP{{SubnetID: "s", IPAddress: "10.0.0.5"}}, SecurityGroups: []string{"default"}}
	for _, tc := range []struct {
		what   string
		change func(p *model.Port)
		same   bool
	}{
		{"status and revision", func(p *model.Port) { p.Status, p.RevisionNumber = model.StatusActive, 7 }, true},
		{"bound to this chassis", func(p *model.Port) { p.HostID = "ch1" }, true},
		{"bound to another chassis", func(p *model.Port) { p.HostID = "ch2" }, false},
		{"another address", func(p *model.Port) { p.FixedIPs = []model.FixedIP{{SubnetID: "s", IPAddress: "10.0.0.6"}} }, false},
		{"port security off", func(p *model.Port) { p.PortSecurityEnabled = false }, false},
		{"another group", func(p *model.Port) { p.SecurityGroups = []string{"web"} }, false},
		{"an address pair", func(p *model.Port) { p.AllowedAddressPairs = []model.AddressPair{{IPAddress: "10.9.0.0/24"}} }, false},
		{"a router interface", func(p *model.Port) { p.DeviceOwner, p.DeviceID = model.OwnerRouterInterface, "r1" }, false},
	} {
		p := base
		tc.change(&p)
		if got := samePortView(&base, &p, "ch1"); got != tc.same {
			t.Errorf("%s: same view %v, want %v", tc.what, got, tc.same)
		}
	}
}

// TestAgentRetriesFailedSync: when the switch refuses the flows, the agent
// installs them again by itself, without waiting for another event.
func TestAgentRetriesFailedSync(t *testing.T) {
	st := newFakeStore()
	seed(t, st, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01", "pa2": "fa:16:3e:00:00:02"})
	sw := newFakeSwitch()
	runAgent(t, st, sw, "ch1")
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	waitFor(t, "flows for the local port", func() bool { return strings.Contains(sw.text(), "in_port=5") })
	waitFor(t, "binding", func() bool { s, _ := portStatus(t, st, "net-a", "pa1"); return s == model.StatusActive })

	// The next two bundles fail; plugging a second port is the last event.
	sw.mu.Lock()
	sw.failBundles = 2
	sw.mu.Unlock()
	sw.plug("tap2", "pa2", "fa:16:3e:00:00:02", 6)
	waitFor(t, "the refused flows installed by a retry", func() bool {
		sw.mu.Lock()
		left := sw.failBundles
		sw.mu.Unlock()
		return left == 0 && strings.Contains(sw.text(), "in_port=6")
	})
}

// TestAgentFollowsTheStore (on the fake store): the agent registers its
// chassis, binds a port whose record arrives after its interface, and
// drops the flows of a port deleted from the store.
func TestAgentFollowsTheStore(t *testing.T) {
	st := newFakeStore()
	seed(t, st, "net-a", 100, map[string]string{"pa2": "fa:16:3e:00:00:02"})
	// pa2 is bound to a peer.
	write(t, st, store.ChassisKey("ch2"), model.Chassis{Name: "ch2", TunnelIP: "192.0.2.2", Encaps: []string{"geneve"}})
	write(t, st, store.AliveKey("ch2"), "now")
	if err := updateJSON(context.Background(), st, store.PortKey("net-a", "pa2"), func(p *model.Port) (bool, error) {
		p.HostID, p.Status = "ch2", model.StatusActive
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	sw := newFakeSwitch()
	runAgent(t, st, sw, "ch1")
	waitFor(t, "the chassis registration", func() bool {
		_, err1 := st.GetString(context.Background(), store.ChassisKey("ch1"))
		_, err2 := st.GetString(context.Background(), store.AliveKey("ch1"))
		return err1 == nil && err2 == nil
	})
	// Plugged before its port exists: the agent looks again.
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	p := model.Port{Standard: model.Standard{ID: "pa1"}, NetworkID: "net-a", MACAddress: "fa:16:3e:00:00:01", PortSecurityEnabled: true,
		Status: model.StatusDown, FixedIPs: []model.FixedIP{{SubnetID: "s-net-a", IPAddress: "10.0.0.21"}}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	st.put(store.PortKey("net-a", "pa1"), b)
	st.put(store.IndexKey(store.KindPorts, "pa1"), []byte("net-a"))
	waitFor(t, "binding", func() bool {
		s, h := portStatus(t, st, "net-a", "pa1")
		return s == model.StatusActive && h == "ch1"
	})
	waitFor(t, "flows for the local port", func() bool { return strings.Contains(sw.text(), "in_port=5") })
	waitFor(t, "flows for the peer's port", func() bool { return strings.Contains(sw.text(), "fa:16:3e:00:00:02") })
	st.delete(store.PortKey("net-a", "pa2"))
	waitFor(t, "the deleted port's flows removed", func() bool { return !strings.Contains(sw.text(), "fa:16:3e:00:00:02") })
}

// flakyStore fails the first writes of a key with an error, as a slow or
// unreachable etcd would.
type flakyStore struct {
	*fakeStore
	key   string
	fails atomic.Int32
	tries atomic.Int32
}

func (f *flakyStore) Update(ctx context.Context, key string, fn func(cur []byte) ([]byte, error)) error {
	if key == f.key {
		f.tries.Add(1)
		if f.fails.Add(-1) >= 0 {
			return fmt.Errorf("store: update %s: %w", key, context.DeadlineExceeded)
		}
	}
	return f.fakeStore.Update(ctx, key, fn)
}

// A binding whose write fails is written again: nothing else would, and
// the port would stay unbound until its interface changed.
func TestAgentRetriesFailedBinding(t *testing.T) {
	fs := newFakeStore()
	seed(t, fs, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01"})
	st := &flakyStore{fakeStore: fs, key: store.BindingKey("ch1", "pa1")}
	st.fails.Store(3)
	sw := newFakeSwitch()
	runAgent(t, st, sw, "ch1")
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	waitFor(t, "the binding, written after three failed attempts", func() bool {
		status, host := portStatus(t, fs, "net-a", "pa1")
		return status == model.StatusActive && host == "ch1"
	})
	if n := st.tries.Load(); n < 4 {
		t.Fatalf("binding written after %d attempts, want at least 4", n)
	}
}

// With Coalesce, changes arriving within it after the first are folded
// into one recompile: one bundle for two new ports.
func TestAgentCoalescesChanges(t *testing.T) {
	st := newFakeStore()
	seed(t, st, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01"})
	sw := newFakeSwitch()
	a, err := New(Config{Chassis: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1"), Coalesce: 2 * time.Second},
		st, sw, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// pa1 is bound here already: plugging it writes nothing, so no
	// event of its own is held back when the test's changes come.
	bound := model.Port{Standard: model.Standard{ID: "pa1"}, NetworkID: "net-a", MACAddress: "fa:16:3e:00:00:01",
		PortSecurityEnabled: true, HostID: "ch1", Status: model.StatusActive, VIFType: "ovs",
		VIFDetails: map[string]any{"port_filter": true, "connectivity": "l2", "bridge_name": "br-int", "datapath_type": "netdev"},
		FixedIPs:   []model.FixedIP{{SubnetID: "s-net-a", IPAddress: "10.0.0.11"}}}
	write(t, st, store.PortKey("net-a", "pa1"), bound)
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	waitFor(t, "the view installed", func() bool {
		ins, err := a.Inspect(context.Background())
		if err != nil || !ins.Synced {
			return false
		}
		sw.mu.Lock()
		defer sw.mu.Unlock()
		if len(ins.Flows) != len(sw.flows) {
			return false
		}
		for _, f := range ins.Flows {
			if _, ok := sw.flows[f.Key()]; !ok {
				return false
			}
		}
		return true
	})
	sw.mu.Lock()
	before := sw.bundles
	sw.mu.Unlock()
	for i, mac := range []string{"fa:16:3e:00:00:02", "fa:16:3e:00:00:03"} {
		id := fmt.Sprintf("pa%d", i+2)
		p := model.Port{Standard: model.Standard{ID: id}, NetworkID: "net-a", MACAddress: mac, PortSecurityEnabled: true,
			Status: model.StatusDown, FixedIPs: []model.FixedIP{{SubnetID: "s-net-a", IPAddress: fmt.Sprintf("10.0.0.%d", 12+i)}}}
		write(t, st, store.PortKey("net-a", id), p)
		if i == 0 {
			// The loop has folded the first change in (its view has
			// the port) before the second comes: without Coalesce it
			// would recompile for it alone.
			waitFor(t, "the first change in the view", func() bool {
				ins, err := a.Inspect(context.Background())
				return err == nil && strings.Contains(ofp.Text(ins.Flows), arpEntry("10.0.0.12", mac))
			})
		}
	}
	waitFor(t, "flows for both new ports", func() bool {
		txt := sw.text()
		return strings.Contains(txt, arpEntry("10.0.0.12", "fa:16:3e:00:00:02")) && strings.Contains(txt, arpEntry("10.0.0.13", "fa:16:3e:00:00:03"))
	})
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if n := sw.bundles - before; n != 1 {
		t.Fatalf("%d bundles for two changes within Coalesce, want 1", n)
	}
}
