package agent

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// What a chassis knows of the others is what its view reads of them, and
// no more (issue 10: at a thousand chassis, every agent following every
// chassis' registration and heartbeat made each start an event to all):
//
//   - the hosts of the ports on the networks it holds: their tunnel
//     endpoints (and bridge mappings, floating-IP mode) come with the
//     ports' bindings (model.PortBinding.Endpoint, mirrored into the
//     network's scope), which it watches anyway;
//   - the live gateway chassis, which any router's gateway may be elected
//     from: their registrations under their agents' leases
//     (store.GatewayChassisKey), one small prefix;
//   - a host whose bindings carry no endpoint (an older agent's, or a
//     port record naming its host): its registration, one key
//     (store.ChassisKey) watched while a held port names it.

// handleGatewayChassis folds an event of the gateway chassis' watch in: a registration
// there is a live gateway (its key goes with its agent's lease).
func (s *state) handleGatewayChassis(e kvEvent) {
	if e.Reset {
		s.gwChassis = map[string]model.Chassis{}
		s.gwChassisReady = true
	}
	for _, kv := range e.KVs {
		name := strings.TrimPrefix(kv.Key, store.GatewayChassisPrefix)
		var c model.Chassis
		if e.Delete || json.Unmarshal(kv.Value, &c) != nil {
			delete(s.gwChassis, name)
			continue
		}
		c.Name = name
		s.gwChassis[name] = c
	}
	s.alive = make(map[string]bool, len(s.gwChassis))
	for name := range s.gwChassis {
		s.alive[name] = true
	}
	metrics.AgentPeersAlive.Set(float64(len(s.alive)))
}

// peerWatch follows one chassis' registration (store.ChassisKey).
type peerWatch struct {
	name   string
	tag    uint64
	cancel func()
	rec    *model.Chassis
	ready  bool
}

// apply folds an event of the watch in; it reports whether the record
// changed. The watch is of a prefix: only the chassis' own key counts.
func (pw *peerWatch) apply(e kvEvent) bool {
	was := pw.rec
	if e.Reset {
		pw.rec, pw.ready = nil, true
	}
	for _, kv := range e.KVs {
		if kv.Key != store.ChassisKey(pw.name) {
			continue
		}
		var c model.Chassis
		if e.Delete || json.Unmarshal(kv.Value, &c) != nil {
			pw.rec = nil
			continue
		}
		pw.rec = &c
	}
	return e.Reset || !sameChassis(was, pw.rec)
}

func sameChassis(a, b *model.Chassis) bool {
	if a == nil || b == nil {
		return a == b
	}
	return model.EndpointOf(*a).Equal(model.EndpointOf(*b)) && a.Gateway == b.Gateway
}

// peerWatchOf is the registration watch of tag, nil if none.
func (s *state) peerWatchOf(tag uint64) *peerWatch {
	for _, pw := range s.peerWatches {
		if pw.tag == tag {
			return pw
		}
	}
	return nil
}

// neededPeers are the hosts of the ports held, other than this chassis,
// each with the endpoint its bindings carry: nil for a binding of an
// older agent, or a port record an older agent marked ACTIVE there (read
// as it is until the server moves it into a binding). A host only asked
// for through the API (binding:host_id, no binding yet) is none: nothing
// is plugged there, and its binding will bring its endpoint.
func (s *state) neededPeers() map[string]*model.Endpoint {
	out := map[string]*model.Endpoint{}
	for _, n := range s.nets {
		for id, p := range n.ports {
			h := p.HostID
			if h == "" || h == s.chassis {
				continue
			}
			if b := n.bindings[id]; b != nil && b.Chassis == h {
				if b.Endpoint != nil {
					out[h] = b.Endpoint
					continue
				}
			} else if p.Status != model.StatusActive {
				continue
			}
			if _, ok := out[h]; !ok {
				out[h] = nil
			}
		}
	}
	return out
}

// refreshPeers makes peers the live gateways and the hosts of the ports
// held, starts and stops the registration watches of hosts known by no
// endpoint, and pins the tunnel neighbour of each peer new or changed.
func (a *Agent) refreshPeers(ctx context.Context, nextTag *uint64) {
	s := a.state
	need := s.neededPeers()
	peers := make(map[string]model.Chassis, len(need)+len(s.gwChassis))
	for name, ep := range need {
		if _, gw := s.gwChassis[name]; gw {
			continue
		}
		if ep != nil {
			peers[name] = ep.Chassis(name)
			continue
		}
		pw := s.peerWatches[name]
		if pw == nil {
			pw = a.watchPeer(ctx, name, nextTag)
		}
		if pw.rec != nil {
			peers[name] = *pw.rec
		}
	}
	for name, pw := range s.peerWatches {
		ep, needed := need[name]
		if _, gw := s.gwChassis[name]; !needed || ep != nil || gw {
			pw.cancel()
			delete(s.peerWatches, name)
		}
	}
	for name, c := range s.gwChassis {
		if name != s.chassis {
			peers[name] = c
		}
	}
	for name, c := range peers {
		if old, had := s.peers[name]; !had || old.TunnelIP != c.TunnelIP || old.TunnelMAC != c.TunnelMAC {
			a.pinNeighbor(ctx, name, c)
		}
	}
	s.peers = peers
}

// watchPeer starts following chassis name's registration.
func (a *Agent) watchPeer(ctx context.Context, name string, nextTag *uint64) *peerWatch {
	wctx, cancel := context.WithCancel(ctx)
	pw := &peerWatch{name: name, tag: *nextTag, cancel: cancel}
	*nextTag++
	a.state.peerWatches[name] = pw
	ch := make(chan kvEvent, 4)
	go a.st.Inform(wctx, pw.tag, store.ChassisKey(name), ch, a.log)
	go a.relay(wctx, ch)
	a.log.Debug("following a peer's registration (its bindings carry no endpoint)", "peer", name)
	return pw
}
