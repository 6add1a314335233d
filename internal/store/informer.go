package store

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
)

// Event is one change under a prefix an informer follows (see
// Store.Inform), or (Reset) the full content of the prefix, which replaces
// whatever the receiver held for it.
type Event struct {
	// Tag is the caller's label of the informer that produced the event,
	// so that a receiver fed by several informers, or one it has since
	// cancelled, can tell them apart.
	Tag uint64
	// Prefix is the followed prefix.
	Prefix string
	// Reset marks a complete listing of the prefix: the first event of
	// an informer, and each relist after a compaction or a broken watch.
	Reset bool
	// KVs holds, on a Reset, every key under the prefix in key order;
	// otherwise the one changed key (on a delete, its key and the
	// revision of the deletion, with no value).
	KVs []KV
	// Delete marks the removal of the key in KVs.
	Delete bool
	// Revision is the etcd revision the event brings the receiver to: the
	// listing's revision on a Reset, the change's otherwise.
	Revision int64
	// Received is when the informer got the event from etcd (the listing's
	// time on a Reset), for measuring how long applying it took.
	Received time.Time
}

// Informer backoff between failed listings.
const (
	informMinBackoff = 100 * time.Millisecond
	informMaxBackoff = 5 * time.Second
)

// Inform lists prefix and then streams its changes to out, each event
// labelled with tag, until ctx ends. A broken watch (the connection
// dropped, etcd restarted, a watch cancelled) resumes from the revision
// after the last one delivered, so a reconnect costs the changes missed,
// not a listing; only a compaction of that revision leads to a fresh
// listing (a Reset). The receiver never misses a change: it sees either
// every event after the listed revision, or a new complete listing.
// Inform blocks; run it in its own goroutine. log may be nil.
func (s *Store) Inform(ctx context.Context, tag uint64, prefix string, out chan<- Event, log *slog.Logger) {
	inform(ctx, tag, prefix, out, log, s.List, s.watch)
}

// inform is Inform with its etcd reads as functions, for the tests.
func inform(ctx context.Context, tag uint64, prefix string, out chan<- Event, log *slog.Logger,
	list func(context.Context, string) ([]KV, int64, error),
	watch func(context.Context, string, int64) clientv3.WatchChan) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := informMinBackoff
	for ctx.Err() == nil {
		kvs, rev, err := list(ctx, prefix)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("list failed; retrying", "prefix", prefix, "err", err)
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, informMaxBackoff)
			continue
		}
		backoff = informMinBackoff
		metrics.WatchEvents.WithLabelValues("reset").Inc()
		if !send(ctx, out, Event{Tag: tag, Prefix: prefix, Reset: true, KVs: kvs, Revision: rev, Received: time.Now()}) {
			return
		}
		// Watch from the revision after rev; when the watch breaks,
		// resume after the last revision delivered.
		for ctx.Err() == nil {
			next, err := follow(ctx, tag, prefix, out, watch, rev)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, rpctypes.ErrCompacted) {
				log.Info("watch compacted; re-listing", "prefix", prefix, "rev", next)
				break
			}
			if next > rev {
				backoff = informMinBackoff // it made progress
			}
			log.Warn("watch broken; resuming", "prefix", prefix, "rev", next, "err", err, "retry_in", backoff)
			rev = next
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, informMaxBackoff)
		}
	}
}

// follow watches prefix after revision rev, sending each change to out,
// until the watch ends; it returns the last revision wholly delivered (a
// watch response holds all of a revision's events) and why it ended.
func follow(ctx context.Context, tag uint64, prefix string, out chan<- Event,
	watch func(context.Context, string, int64) clientv3.WatchChan, rev int64) (int64, error) {
	for resp := range watch(ctx, prefix, rev+1) {
		if err := resp.Err(); err != nil {
			return rev, err
		}
		for _, ev := range resp.Events {
			e := Event{Tag: tag, Prefix: prefix, Revision: ev.Kv.ModRevision,
				KVs:    []KV{{Key: string(ev.Kv.Key), Value: ev.Kv.Value, ModRevision: ev.Kv.ModRevision}},
				Delete: ev.Type == clientv3.EventTypeDelete, Received: time.Now()}
			countWatchEvent(e)
			if !send(ctx, out, e) {
				return rev, ctx.Err()
			}
		}
		if n := len(resp.Events); n > 0 {
			rev = resp.Events[n-1].Kv.ModRevision
		}
	}
	return rev, errors.New("watch channel closed")
}

// watch streams changes under prefix from revision rev on (0: from now).
// The channel closes when ctx ends. A closed channel or a compacted-revision
// error means the caller must re-list and watch again from the new
// revision: Inform does.
func (s *Store) watch(ctx context.Context, prefix string, rev int64) clientv3.WatchChan {
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	return s.cli.Watch(clientv3.WithRequireLeader(ctx), prefix, opts...)
}

// Fold applies an event of an informer on prefix to the records decoded
// from it, by id (the key less prefix): a Reset starts afresh, a put sets,
// a delete (or a value that does not decode as a T) removes.
func Fold[T any](m *map[string]*T, e Event, prefix string) {
	if e.Reset {
		*m = map[string]*T{}
	}
	for _, kv := range e.KVs {
		id := strings.TrimPrefix(kv.Key, prefix)
		var v T
		if e.Delete || json.Unmarshal(kv.Value, &v) != nil {
			delete(*m, id)
			continue
		}
		(*m)[id] = &v
	}
}

func send(ctx context.Context, out chan<- Event, e Event) bool {
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
