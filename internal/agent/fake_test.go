package agent

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

// fakeSwitch is an in-memory br-int: a flow table keyed like OpenFlow's,
// a set of interfaces the test plugs and unplugs, and recorded calls.
type fakeSwitch struct {
	mu        sync.Mutex
	flows     map[string]ofp.Flow
	bundles   int
	deletes   int // flows removed by bundles or cookie deletes
	ifaceCh   chan ovs.InterfaceEvent
	pins      chan PacketIn
	out       chan []byte
	outPorts  []uint32 // the ports of the packet-outs, in order
	neighbors map[netip.Addr]string
	// failBundles makes the next bundles fail, as a switch that refuses
	// or drops them would.
	failBundles int
}

func newFakeSwitch() *fakeSwitch {
	return &fakeSwitch{flows: map[string]ofp.Flow{}, ifaceCh: make(chan ovs.InterfaceEvent, 64),
		pins: make(chan PacketIn, 8), out: make(chan []byte, 8), neighbors: map[netip.Addr]string{}}
}

func (f *fakeSwitch) Bundle(ctx context.Context, add, mod, del []ofp.Flow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failBundles > 0 {
		f.failBundles--
		return errors.New("fake switch: bundle refused")
	}
	f.bundles++
	for _, fl := range append(append([]ofp.Flow{}, add...), mod...) {
		f.flows[fl.Key()] = fl
	}
	for _, fl := range del {
		delete(f.flows, fl.Key())
		f.deletes++
	}
	return nil
}

func (f *fakeSwitch) Cookies(ctx context.Context) (map[uint64]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[uint64]int{}
	for _, fl := range f.flows {
		out[fl.Cookie]++
	}
	return out, nil
}

func (f *fakeSwitch) DeleteCookie(ctx context.Context, c, mask uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, fl := range f.flows {
		if fl.Cookie&mask == c&mask {
			delete(f.flows, k)
			f.deletes++
		}
	}
	return nil
}

func (f *fakeSwitch) PacketIns() <-chan PacketIn { return f.pins }

func (f *fakeSwitch) PacketOut(ctx context.Context, port uint32, data []byte) error {
	f.mu.Lock()
	f.outPorts = append(f.outPorts, port)
	f.mu.Unlock()
	f.out <- data
	return nil
}

func (f *fakeSwitch) Resync() <-chan struct{} { return nil }

func (f *fakeSwitch) TunnelPorts() (uint32, uint32) { return 100, 101 }

func (f *fakeSwitch) Interfaces(ctx context.Context) <-chan ovs.InterfaceEvent {
	out := make(chan ovs.InterfaceEvent, 64)
	go func() {
		out <- ovs.InterfaceEvent{} // initial listing complete
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-f.ifaceCh:
				out <- ev
			}
		}
	}()
	return out
}

func (f *fakeSwitch) PatchExternal(ctx context.Context, physnet, bridge string) (uint32, error) {
	return 200, nil
}

func (f *fakeSwitch) SetTunnelNeighbor(ctx context.Context, ip netip.Addr, mac string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.neighbors[ip] = mac
	return nil
}

// text returns the installed flows as sorted ovs-ofctl text.
func (f *fakeSwitch) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	fs := make([]ofp.Flow, 0, len(f.flows))
	for _, fl := range f.flows {
		fs = append(fs, fl)
	}
	return ofp.Text(fs)
}

func (f *fakeSwitch) plug(name, portID, mac string, ofport int) {
	f.ifaceCh <- ovs.InterfaceEvent{Kind: ovs.IfaceAdded, Iface: ovs.Interface{Name: name, OFPort: ofport,
		ExternalIDs: map[string]string{"iface-id": portID, "attached-mac": mac}}}
}

func (f *fakeSwitch) unplug(name, portID string) {
	f.ifaceCh <- ovs.InterfaceEvent{Kind: ovs.IfaceRemoved, Iface: ovs.Interface{Name: name,
		ExternalIDs: map[string]string{"iface-id": portID}}}
}
