package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// fakeStore is a Source over a map, with informers fed by put and del.
type fakeStore struct {
	mu      sync.Mutex
	rev     int64
	kvs     map[string][]byte
	watches []fakeWatch
}

type fakeWatch struct {
	prefix string
	ch     chan store.Event
}

func newFakeStore() *fakeStore { return &fakeStore{kvs: map[string][]byte{}} }

// Inform sends the listing of prefix, then every change under it, as the
// store's informer does.
func (s *fakeStore) Inform(ctx context.Context, tag uint64, prefix string, out chan<- store.Event, _ *slog.Logger) {
	s.mu.Lock()
	var kvs []store.KV
	for k, v := range s.kvs {
		if strings.HasPrefix(k, prefix) {
			kvs = append(kvs, store.KV{Key: k, Value: v})
		}
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	ch := make(chan store.Event, 256)
	ch <- store.Event{Tag: tag, Prefix: prefix, Reset: true, KVs: kvs, Revision: s.rev}
	s.watches = append(s.watches, fakeWatch{prefix: prefix, ch: ch})
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-ch:
			e.Tag = tag
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *fakeStore) put(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	s.event(key, b, false)
}

func (s *fakeStore) del(key string) { s.event(key, nil, true) }

func (s *fakeStore) event(key string, val []byte, del bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev++
	if del {
		delete(s.kvs, key)
	} else {
		s.kvs[key] = val
	}
	for _, w := range s.watches {
		if strings.HasPrefix(key, w.prefix) {
			w.ch <- store.Event{Prefix: w.prefix, KVs: []store.KV{{Key: key, Value: val, ModRevision: s.rev}}, Delete: del, Revision: s.rev}
		}
	}
}

// fakeFlows is a FlowConn holding a bridge's flows by key.
type fakeFlows struct {
	mu      sync.Mutex
	flows   map[string]ofp.Flow
	bundles int
}

func newFakeFlows() *fakeFlows { return &fakeFlows{flows: map[string]ofp.Flow{}} }

func (f *fakeFlows) Bundle(_ context.Context, add, mod, del []ofp.Flow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bundles++
	for _, d := range del {
		delete(f.flows, d.Key())
	}
	for _, a := range append(mod, add...) {
		f.flows[a.Key()] = a
	}
	return nil
}

func (f *fakeFlows) DumpCookies(context.Context) (map[uint64]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[uint64]int{}
	for _, fl := range f.flows {
		out[fl.Cookie]++
	}
	return out, nil
}

func (f *fakeFlows) DeleteByCookie(_ context.Context, c, mask uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, fl := range f.flows {
		if fl.Cookie&mask == c&mask {
			delete(f.flows, k)
		}
	}
	return nil
}

func (f *fakeFlows) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var fs []ofp.Flow
	for _, fl := range f.flows {
		fs = append(fs, fl)
	}
	return ofp.Text(fs)
}

func (f *fakeFlows) count() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.flows), f.bundles
}
