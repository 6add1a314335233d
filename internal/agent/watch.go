package agent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// kvEvent is one change under a watched prefix, or (Reset) the full content
// of the prefix, which replaces whatever the receiver held for it.
type kvEvent struct {
	// Tag identifies the watch that produced the event, so the receiver
	// can drop events of a watch it has since cancelled.
	Tag    uint64
	Prefix string
	Reset  bool
	KVs    []store.KV // Reset: every key; else the one changed key
	Delete bool
}

// watchPrefix lists prefix and then streams its changes to out until ctx
// ends. A compaction or a broken watch leads to a fresh list (a Reset), so
// the receiver never misses a change: it sees either every event after the
// listed revision, or a new complete listing.
func watchPrefix(ctx context.Context, st *store.Store, tag uint64, prefix string, out chan<- kvEvent, log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		kvs, rev, err := st.List(ctx, prefix)
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
		if !send(ctx, out, kvEvent{Tag: tag, Prefix: prefix, Reset: true, KVs: kvs}) {
			return
		}
		wch := st.Watch(ctx, prefix, rev+1)
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) {
					log.Info("watch compacted; re-listing", "prefix", prefix, "rev", resp.CompactRevision)
				} else {
					log.Warn("watch failed; re-listing", "prefix", prefix, "err", err)
				}
				break
			}
			for _, ev := range resp.Events {
				e := kvEvent{Tag: tag, Prefix: prefix, KVs: []store.KV{{Key: string(ev.Kv.Key), Value: ev.Kv.Value, ModRevision: ev.Kv.ModRevision}}}
				e.Delete = ev.Type == clientv3.EventTypeDelete
				if !send(ctx, out, e) {
					return
				}
			}
		}
	}
}

func send(ctx context.Context, out chan<- kvEvent, e kvEvent) bool {
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
