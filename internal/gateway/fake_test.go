package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// fakeStore is a Source over a map, with watches fed by put and del.
type fakeStore struct {
	mu      sync.Mutex
	rev     int64
	kvs     map[string][]byte
	watches []fakeWatch
}

type fakeWatch struct {
	prefix string
	ch     chan clientv3.WatchResponse
}

func newFakeStore() *fakeStore { return &fakeStore{kvs: map[string][]byte{}} }

func (s *fakeStore) List(_ context.Context, prefix string) ([]store.KV, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.KV
	for k, v := range s.kvs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, store.KV{Key: k, Value: v})
		}
	}
	return out, s.rev, nil
}

func (s *fakeStore) Watch(ctx context.Context, prefix string, _ int64) clientv3.WatchChan {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan clientv3.WatchResponse, 64)
	s.watches = append(s.watches, fakeWatch{prefix: prefix, ch: ch})
	return ch
}

func (s *fakeStore) put(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	s.event(key, b, mvccpb.PUT)
}

func (s *fakeStore) del(key string) { s.event(key, nil, mvccpb.DELETE) }

func (s *fakeStore) event(key string, val []byte, typ mvccpb.Event_EventType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev++
	if typ == mvccpb.DELETE {
		delete(s.kvs, key)
	} else {
		s.kvs[key] = val
	}
	ev := &clientv3.Event{Type: typ, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: val, ModRevision: s.rev}}
	for _, w := range s.watches {
		if strings.HasPrefix(key, w.prefix) {
			w.ch <- clientv3.WatchResponse{Events: []*clientv3.Event{ev}}
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
