package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// fakeStore is an in-memory Store: keys with revisions, informers that
// list and then follow a prefix, and registrations (whose leases never
// expire).
type fakeStore struct {
	mu   sync.Mutex
	rev  int64
	kvs  map[string]store.KV
	subs map[*fakeSub]bool
}

// fakeSub is one informer: the events not yet delivered, and a wake-up.
type fakeSub struct {
	prefix string
	tag    uint64
	queue  []store.Event
	wake   chan struct{}
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{kvs: map[string]store.KV{}, subs: map[*fakeSub]bool{}}
}

// Inform lists prefix and then delivers every later change to it, as the
// real informer does; list and subscription are one step, so no change
// falls between them.
func (f *fakeStore) Inform(ctx context.Context, tag uint64, prefix string, out chan<- store.Event, _ *slog.Logger) {
	f.mu.Lock()
	var kvs []store.KV
	for k, kv := range f.kvs {
		if strings.HasPrefix(k, prefix) {
			kvs = append(kvs, kv)
		}
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	sub := &fakeSub{prefix: prefix, tag: tag, wake: make(chan struct{}, 1),
		queue: []store.Event{{Tag: tag, Prefix: prefix, Reset: true, KVs: kvs, Revision: f.rev}}}
	f.subs[sub] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, sub)
		f.mu.Unlock()
	}()
	for {
		f.mu.Lock()
		q := sub.queue
		sub.queue = nil
		f.mu.Unlock()
		for _, e := range q {
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-sub.wake:
		case <-ctx.Done():
			return
		}
	}
}

// GetString returns a key's value.
func (f *fakeStore) GetString(ctx context.Context, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kv, ok := f.kvs[key]
	if !ok {
		return "", fmt.Errorf("%s: %w", key, store.ErrNotFound)
	}
	return string(kv.Value), nil
}

// Update rewrites a key atomically: fn runs under the store's lock.
func (f *fakeStore) Update(ctx context.Context, key string, fn func(cur []byte) ([]byte, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cur []byte
	if kv, ok := f.kvs[key]; ok && len(kv.Value) > 0 {
		cur = kv.Value
	}
	next, err := fn(cur)
	if err != nil || next == nil {
		return err
	}
	f.putLocked(key, next)
	return nil
}

// Register writes keys and leased.
func (f *fakeStore) Register(ctx context.Context, ttl time.Duration, keys, leased map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range keys {
		f.putLocked(k, []byte(v))
	}
	for k, v := range leased {
		f.putLocked(k, []byte(v))
	}
	return nil
}

// put writes a raw value, as another writer (the API) would.
func (f *fakeStore) put(key string, val []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putLocked(key, val)
}

// delete removes a key.
func (f *fakeStore) delete(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.kvs[key]; !ok {
		return
	}
	f.rev++
	delete(f.kvs, key)
	f.notifyLocked(store.Event{Delete: true, KVs: []store.KV{{Key: key, ModRevision: f.rev}}, Revision: f.rev})
}

func (f *fakeStore) putLocked(key string, val []byte) {
	f.rev++
	kv := store.KV{Key: key, Value: append([]byte(nil), val...), ModRevision: f.rev}
	f.kvs[key] = kv
	f.notifyLocked(store.Event{KVs: []store.KV{kv}, Revision: f.rev})
}

func (f *fakeStore) notifyLocked(e store.Event) {
	for sub := range f.subs {
		if !strings.HasPrefix(e.KVs[0].Key, sub.prefix) {
			continue
		}
		e := e
		e.Tag, e.Prefix = sub.tag, sub.prefix
		sub.queue = append(sub.queue, e)
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}
