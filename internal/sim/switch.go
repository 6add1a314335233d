package sim

import (
	"context"
	"hash/fnv"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/agent"
	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

// Switch is a simulated chassis' br-int: it keeps the flow table in
// memory (each flow's key with a hash of its text and its cookie, which is
// all a comparison needs), holds the interfaces the harness plugs, and
// answers the agent's other calls as an idle bridge would. It implements
// agent.Switch.
type Switch struct {
	mu      sync.Mutex
	flows   map[string]flowEntry
	bundles int
	ifaces  map[string]ovs.Interface // by name
	subs    []chan ovs.InterfaceEvent
	nextOF  int
	// probes are tokens awaited in bundles; see Await.
	probes []*probe
}

type flowEntry struct {
	cookie uint64
	hash   uint64
}

// probe waits for a bundle adding (or, del, removing) a flow whose text
// contains token.
type probe struct {
	token string
	del   bool
	seen  time.Time
	done  chan struct{}
}

var _ agent.Switch = (*Switch)(nil)

// NewSwitch returns an empty bridge.
func NewSwitch() *Switch {
	return &Switch{flows: map[string]flowEntry{}, ifaces: map[string]ovs.Interface{}, nextOF: 10}
}

func textHash(text string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(text))
	return h.Sum64()
}

// Bundle implements agent.FlowConn: the changes apply at once, and the
// probes they satisfy are stamped with the time.
func (s *Switch) Bundle(ctx context.Context, add, mod, del []ofp.Flow) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bundles++
	for _, set := range [][]ofp.Flow{add, mod} {
		for _, f := range set {
			k, text := f.KeyText()
			s.flows[k] = flowEntry{cookie: f.Cookie, hash: textHash(text)}
			s.match(text, false, now)
		}
	}
	for _, f := range del {
		if len(s.probes) > 0 {
			_, text := f.KeyText()
			s.match(text, true, now)
		}
		delete(s.flows, f.Key())
	}
	return nil
}

func (s *Switch) match(text string, del bool, now time.Time) {
	if len(s.probes) == 0 {
		return
	}
	kept := s.probes[:0]
	for _, p := range s.probes {
		if p.del == del && strings.Contains(text, p.token) {
			p.seen = now
			close(p.done)
			continue
		}
		kept = append(kept, p)
	}
	s.probes = kept
}

// Await registers a probe: the returned channel closes when a bundle adds
// (del: removes) a flow whose ovs-ofctl text contains token, and at()
// says when. Register it before the change it waits for.
func (s *Switch) Await(token string, del bool) (done <-chan struct{}, at func() time.Time) {
	p := &probe{token: token, del: del, done: make(chan struct{})}
	s.mu.Lock()
	s.probes = append(s.probes, p)
	s.mu.Unlock()
	return p.done, func() time.Time {
		s.mu.Lock()
		defer s.mu.Unlock()
		return p.seen
	}
}

// Cancel drops every pending probe.
func (s *Switch) Cancel() {
	s.mu.Lock()
	s.probes = nil
	s.mu.Unlock()
}

// Cookies implements agent.FlowConn.
func (s *Switch) Cookies(ctx context.Context) (map[uint64]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint64]int{}
	for _, f := range s.flows {
		out[f.cookie]++
	}
	return out, nil
}

// DeleteCookie implements agent.FlowConn.
func (s *Switch) DeleteCookie(ctx context.Context, c, mask uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, f := range s.flows {
		if f.cookie&mask == c&mask {
			delete(s.flows, k)
		}
	}
	return nil
}

// PacketIns implements agent.FlowConn: a simulated VM sends nothing.
func (s *Switch) PacketIns() <-chan agent.PacketIn { return nil }

// PacketOut implements agent.FlowConn.
func (s *Switch) PacketOut(ctx context.Context, outPort uint32, data []byte) error { return nil }

// TunnelPorts implements agent.Switch.
func (s *Switch) TunnelPorts() (uint32, uint32) { return 1, 2 }

// PatchExternal implements agent.Switch (a simulated chassis maps no
// physnet, so it is not called).
func (s *Switch) PatchExternal(ctx context.Context, physnet, bridge string) (uint32, error) {
	return 3, nil
}

// SetTunnelNeighbor implements agent.Switch.
func (s *Switch) SetTunnelNeighbor(ctx context.Context, ip netip.Addr, mac string) error { return nil }

// Resync implements agent.Switch: the simulated vswitchd never restarts.
func (s *Switch) Resync() <-chan struct{} { return nil }

// Interfaces implements agent.Switch: the plugged interfaces, the end of
// the listing, then every plug and unplug.
func (s *Switch) Interfaces(ctx context.Context) <-chan ovs.InterfaceEvent {
	out := make(chan ovs.InterfaceEvent, len(s.ifaces)+64)
	sub := make(chan ovs.InterfaceEvent, 1024)
	s.mu.Lock()
	for _, i := range s.ifaces {
		out <- ovs.InterfaceEvent{Kind: ovs.IfaceAdded, Iface: i}
	}
	out <- ovs.InterfaceEvent{}
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	go func() {
		defer func() {
			s.mu.Lock()
			for i, c := range s.subs {
				if c == sub {
					s.subs = append(s.subs[:i], s.subs[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sub:
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// Plug adds a VM interface for a port, as Nova's plumbing does.
func (s *Switch) Plug(portID, mac string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextOF++
	i := ovs.Interface{Name: "tap" + short(portID), OFPort: s.nextOF, MAC: mac,
		ExternalIDs: map[string]string{"iface-id": portID, "attached-mac": mac, "iface-status": "active"}}
	s.ifaces[i.Name] = i
	s.notify(ovs.InterfaceEvent{Kind: ovs.IfaceAdded, Iface: i})
}

// Unplug removes a port's interface.
func (s *Switch) Unplug(portID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ifaces["tap"+short(portID)]
	if !ok {
		return
	}
	delete(s.ifaces, i.Name)
	s.notify(ovs.InterfaceEvent{Kind: ovs.IfaceRemoved, Iface: i, Old: i})
}

func (s *Switch) notify(ev ovs.InterfaceEvent) {
	for _, c := range s.subs {
		c <- ev
	}
}

func short(id string) string {
	if len(id) > 11 {
		return id[:11]
	}
	return id
}

// Flows returns the installed flows: key → hash of the flow's text.
func (s *Switch) Flows() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.flows))
	for k, f := range s.flows {
		out[k] = f.hash
	}
	return out
}

// Stats returns the number of flows and of bundles applied.
func (s *Switch) Stats() (flows, bundles int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.flows), s.bundles
}

// FlowMap is the key → text hash map of a set of flows, as Flows returns
// it for the installed ones.
func FlowMap(fs []ofp.Flow) map[string]uint64 {
	out := make(map[string]uint64, len(fs))
	for _, f := range fs {
		k, text := f.KeyText()
		out[k] = textHash(text)
	}
	return out
}
