package agent

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// informRecorder records the prefixes an agent watches.
type informRecorder struct {
	*fakeStore
	mu       sync.Mutex
	prefixes map[string]bool
}

func (r *informRecorder) Inform(ctx context.Context, tag uint64, prefix string, out chan<- store.Event, log *slog.Logger) {
	r.mu.Lock()
	r.prefixes[prefix] = true
	r.mu.Unlock()
	r.fakeStore.Inform(ctx, tag, prefix, out, log)
}

// Every prefix an agent watches must be one an enrolled chassis may read
// (store.ReadablePrefixes): under etcd's authentication a watch of
// anything else is refused, and the agent would never sync.
func TestWatchesAreReadable(t *testing.T) {
	fs := newFakeStore()
	seed(t, fs, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01"})
	rec := &informRecorder{fakeStore: fs, prefixes: map[string]bool{}}
	sw := newFakeSwitch()
	runAgent(t, rec, sw, "ch1")
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	waitFor(t, "the network's watch", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for p := range rec.prefixes {
			if strings.Contains(p, "net-a") {
				return true
			}
		}
		return false
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for p := range rec.prefixes {
		readable := false
		for _, r := range store.ReadablePrefixes {
			if p == r || strings.HasSuffix(r, "/") && strings.HasPrefix(p, r) {
				readable = true
			}
		}
		if !readable {
			t.Errorf("the agent watches %s, which an enrolled chassis may not read (store.ReadablePrefixes)", p)
		}
	}
}
