package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// fakeEtcd scripts an informer's listings and watches: each watch call
// takes the next script, whose responses it sends before closing.
type fakeEtcd struct {
	mu      sync.Mutex
	lists   int
	listRev int64
	from    []int64 // the revision each watch started from
	scripts [][]clientv3.WatchResponse
}

func (f *fakeEtcd) list(ctx context.Context, prefix string) ([]KV, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	return []KV{{Key: prefix + "a", Value: []byte("1"), ModRevision: 1}}, f.listRev, nil
}

func (f *fakeEtcd) watch(ctx context.Context, prefix string, rev int64) clientv3.WatchChan {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.from = append(f.from, rev)
	ch := make(chan clientv3.WatchResponse, 8)
	if len(f.scripts) == 0 {
		go func() { <-ctx.Done(); close(ch) }() // the last watch stays open
		return ch
	}
	for _, r := range f.scripts[0] {
		ch <- r
	}
	f.scripts = f.scripts[1:]
	close(ch)
	return ch
}

func put(key string, rev int64) clientv3.WatchResponse {
	return clientv3.WatchResponse{Events: []*clientv3.Event{{Type: mvccpb.PUT,
		Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte("v"), ModRevision: rev}}}}
}

func nextEvent(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the informer")
		return Event{}
	}
}

// A watch that breaks (the connection dropped under a starved agent, a
// cancelled watch) resumes after the last revision delivered: no listing,
// no event lost or repeated.
func TestInformResumesBrokenWatch(t *testing.T) {
	f := &fakeEtcd{listRev: 10, scripts: [][]clientv3.WatchResponse{
		{put("p/b", 11), put("p/c", 13)}, // then the channel closes: a dropped connection
		{{Canceled: true}},               // a cancelled watch, no progress
		{put("p/d", 14)},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Event, 16)
	go inform(ctx, 7, "p/", out, nil, f.list, f.watch)
	if e := nextEvent(t, out); !e.Reset || e.Revision != 10 {
		t.Fatalf("first event %+v, want the listing at 10", e)
	}
	for _, want := range []string{"p/b", "p/c", "p/d"} {
		e := nextEvent(t, out)
		if e.Reset || len(e.KVs) != 1 || e.KVs[0].Key != want || e.Tag != 7 {
			t.Fatalf("event %+v, want the change of %s", e, want)
		}
	}
	// The fourth watch is the one left open: wait for it before reading.
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.from)
		f.mu.Unlock()
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d watches, want 4", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lists != 1 {
		t.Errorf("listed %d times, want once", f.lists)
	}
	if want := []int64{11, 14, 14, 15}; !equal(f.from, want) {
		t.Errorf("watches from %v, want %v", f.from, want)
	}
}

// A compacted revision cannot be resumed: the informer lists again.
func TestInformRelistsWhenResumeIsCompacted(t *testing.T) {
	f := &fakeEtcd{listRev: 10, scripts: [][]clientv3.WatchResponse{
		{put("p/b", 11)},
		{{CompactRevision: 20}},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Event, 16)
	go inform(ctx, 1, "p/", out, nil, f.list, f.watch)
	for i, want := range []bool{true, false, true} {
		if e := nextEvent(t, out); e.Reset != want {
			t.Fatalf("event %d: %+v, want reset=%v", i, e, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lists != 2 {
		t.Errorf("listed %d times, want twice", f.lists)
	}
	if want := []int64{11, 12}; !equal(f.from[:2], want) {
		t.Errorf("watches from %v, want %v first", f.from, want)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
