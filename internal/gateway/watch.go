package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Source is the read-only store access the gateway needs (a
// *store.Store): a consistent listing of a prefix and a watch from a
// revision.
type Source interface {
	List(ctx context.Context, prefix string) ([]store.KV, int64, error)
	Watch(ctx context.Context, prefix string, rev int64) clientv3.WatchChan
}

// Watched prefixes. The gateway watches them whole: the floating IPs and
// their pool assignments (small global prefixes, as the agent's), and
// every port, network, subnet and chassis, to find a floating IP's port, its router interface
// and its chassis. Watching only the networks of floating-IP ports (the
// agent's selective watch) is left for the store informer.
var watched = []string{
	store.KindPrefix(store.KindFloatingIPs),
	store.KindPrefix(store.KindPorts),
	store.KindPrefix(store.KindNetworks),
	store.KindPrefix(store.KindSubnets),
	store.KindPrefix(store.KindChassis),
	PoolPrefix,
}

// event is one change under a watched prefix, or (Reset) the full content
// of the prefix, replacing whatever the receiver held for it.
type event struct {
	Prefix string
	Reset  bool
	KVs    []store.KV
	Delete bool
}

// watchPrefix lists prefix and streams its changes to out until ctx ends;
// a compaction or a broken watch leads to a fresh listing (a Reset), so
// the receiver never misses a change.
func watchPrefix(ctx context.Context, src Source, prefix string, out chan<- event, log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		kvs, rev, err := src.List(ctx, prefix)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("list failed; retrying", "prefix", prefix, "err", err)
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if !send(ctx, out, event{Prefix: prefix, Reset: true, KVs: kvs}) {
			return
		}
		for resp := range src.Watch(ctx, prefix, rev+1) {
			if err := resp.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) {
					log.Info("watch compacted; re-listing", "prefix", prefix)
				} else {
					log.Warn("watch failed; re-listing", "prefix", prefix, "err", err)
				}
				break
			}
			for _, ev := range resp.Events {
				e := event{Prefix: prefix, KVs: []store.KV{{Key: string(ev.Kv.Key), Value: ev.Kv.Value, ModRevision: ev.Kv.ModRevision}},
					Delete: ev.Type == clientv3.EventTypeDelete}
				if !send(ctx, out, e) {
					return
				}
			}
		}
	}
}

func send(ctx context.Context, out chan<- event, e event) bool {
	select {
	case out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func newRecords() *Records {
	return &Records{FloatingIPs: map[string]*model.FloatingIP{}, Ports: map[string]*model.Port{},
		Networks: map[string]*model.Network{}, Subnets: map[string]*model.Subnet{}, Chassis: map[string]*model.Chassis{},
		Pools: map[string]*PoolAssignment{}}
}

// apply folds an event into the records.
func (r *Records) apply(e event, log *slog.Logger) {
	switch e.Prefix {
	case store.KindPrefix(store.KindFloatingIPs):
		fold(r.FloatingIPs, e, log)
	case store.KindPrefix(store.KindPorts):
		fold(r.Ports, e, log)
	case store.KindPrefix(store.KindNetworks):
		fold(r.Networks, e, log)
	case store.KindPrefix(store.KindSubnets):
		fold(r.Subnets, e, log)
	case store.KindPrefix(store.KindChassis):
		fold(r.Chassis, e, log)
	case PoolPrefix:
		fold(r.Pools, e, log)
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
