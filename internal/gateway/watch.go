package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Source is the read-only store access the gateway needs (a
// *store.Store): an informer on a prefix.
type Source interface {
	Inform(ctx context.Context, tag uint64, prefix string, out chan<- store.Event, log *slog.Logger)
}

// Watched prefixes. The gateway watches them whole: the floating IPs and
// their pool assignments and the gateways' registrations (small global
// prefixes, as the agent's), and
// every port, network, subnet and chassis, to find a floating IP's port, its router interface
// and its chassis. Watching only the networks of floating-IP ports (the
// agent's selective watch) is left for the store informer.
var watched = []string{
	store.KindPrefix(store.KindFloatingIPs),
	store.KindPrefix(store.KindPorts),
	store.ScopedPrefix, // the ports' bindings (store.BindingMirrorKey)
	store.KindPrefix(store.KindNetworks),
	store.KindPrefix(store.KindSubnets),
	store.KindPrefix(store.KindChassis),
	PoolPrefix,
	store.EdgeGatewaysPrefix,
}

// event is one change under a watched prefix, or (Reset) the full content
// of the prefix, replacing whatever the receiver held for it: the store's
// informer event.
type event = store.Event

func newRecords() *Records {
	return &Records{FloatingIPs: map[string]*model.FloatingIP{}, Ports: map[string]*model.Port{}, Bindings: map[string]*model.PortBinding{},
		Networks: map[string]*model.Network{}, Subnets: map[string]*model.Subnet{}, Chassis: map[string]*model.Chassis{},
		Pools: map[string]*PoolAssignment{}, Gateways: map[string]*model.EdgeGateway{}}
}

// apply folds an event into the records.
func (r *Records) apply(e event, log *slog.Logger) {
	switch e.Prefix {
	case store.KindPrefix(store.KindFloatingIPs):
		fold(r.FloatingIPs, e, log)
	case store.KindPrefix(store.KindPorts):
		fold(r.Ports, e, log)
	case store.ScopedPrefix:
		// Only the bindings' mirrors: routers and floating IPs come whole.
		if e.Reset {
			clear(r.Bindings)
		}
		for _, kv := range e.KVs {
			if _, id, ok := store.ParseBindingMirror(kv.Key); ok {
				fold(r.Bindings, event{Delete: e.Delete, KVs: []store.KV{{Key: id, Value: kv.Value}}}, log)
			}
		}
	case store.KindPrefix(store.KindNetworks):
		fold(r.Networks, e, log)
	case store.KindPrefix(store.KindSubnets):
		fold(r.Subnets, e, log)
	case store.KindPrefix(store.KindChassis):
		fold(r.Chassis, e, log)
	case PoolPrefix:
		fold(r.Pools, e, log)
	case store.EdgeGatewaysPrefix:
		fold(r.Gateways, e, log)
	}
}

// fold applies an event to one map, keyed by the key's last element (the
// id; the name for chassis).
func fold[T any](m map[string]*T, e event, log *slog.Logger) {
	if e.Reset {
		clear(m)
	}
	for _, kv := range e.KVs {
		id := kv.Key[strings.LastIndexByte(kv.Key, '/')+1:]
		if e.Delete {
			delete(m, id)
			continue
		}
		v := new(T)
		if err := json.Unmarshal(kv.Value, v); err != nil {
			log.Warn("undecodable record ignored", "key", kv.Key, "err", err)
			delete(m, id)
			continue
		}
		m[id] = v
	}
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
