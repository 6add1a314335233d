package sim

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/agent"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Counters are what one chassis received from etcd through its informers:
// events (a listing counts as one event) and bytes (keys and values).
type Counters struct {
	Events, Bytes, Listings, ListingBytes, Watches atomic.Int64
	// PeerEvents and PeerBytes are the part of Events and Bytes about
	// other chassis: their registrations and liveness (PeerPrefix).
	PeerEvents, PeerBytes atomic.Int64
}

// PeerPrefix reports whether a watched prefix carries other chassis'
// registrations or liveness (chassis/, alive/, gateway_chassis/), as
// opposed to the topology.
func PeerPrefix(prefix string) bool {
	for _, p := range []string{store.KindPrefix(store.KindChassis), store.AliveKey(""), store.Prefix + "gateway_chassis/"} {
		if strings.HasPrefix(prefix, p) {
			return true
		}
	}
	return false
}

// Snapshot returns the counters' values.
func (c *Counters) Snapshot() Count {
	return Count{Events: c.Events.Load(), Bytes: c.Bytes.Load(), Listings: c.Listings.Load(),
		ListingBytes: c.ListingBytes.Load(), Watches: c.Watches.Load(),
		PeerEvents: c.PeerEvents.Load(), PeerBytes: c.PeerBytes.Load()}
}

// Count is a reading of Counters: events and bytes include the listings
// (an informer's first event, and its relists).
type Count struct{ Events, Bytes, Listings, ListingBytes, Watches, PeerEvents, PeerBytes int64 }

// Sub returns c - o.
func (c Count) Sub(o Count) Count {
	return Count{Events: c.Events - o.Events, Bytes: c.Bytes - o.Bytes, Listings: c.Listings - o.Listings,
		ListingBytes: c.ListingBytes - o.ListingBytes, Watches: c.Watches,
		PeerEvents: c.PeerEvents - o.PeerEvents, PeerBytes: c.PeerBytes - o.PeerBytes}
}

// Updates are the events that are not listings.
func (c Count) Updates() int64 { return c.Events - c.Listings }

// countingStore is the agent's store with what its informers deliver
// counted.
type countingStore struct {
	*store.Store
	c *Counters
}

var _ agent.Store = (*countingStore)(nil)

func (s *countingStore) Inform(ctx context.Context, tag uint64, prefix string, out chan<- store.Event, log *slog.Logger) {
	s.c.Watches.Add(1)
	defer s.c.Watches.Add(-1)
	mid := make(chan store.Event, 64)
	go s.Store.Inform(ctx, tag, prefix, mid, log)
	count(ctx, s.c, mid, out)
}

// count forwards events from in to out (nil: drops them), counting them.
func count(ctx context.Context, c *Counters, in <-chan store.Event, out chan<- store.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-in:
			n := 0
			for _, kv := range e.KVs {
				n += len(kv.Key) + len(kv.Value)
			}
			c.Events.Add(1)
			c.Bytes.Add(int64(n))
			if PeerPrefix(e.Prefix) {
				c.PeerEvents.Add(1)
				c.PeerBytes.Add(int64(n))
			}
			if e.Reset {
				c.Listings.Add(1)
				c.ListingBytes.Add(int64(n))
			}
			if out == nil {
				continue
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}
}

// Observe follows every topology prefix as a full-replication agent
// would, counting into c, until ctx ends: every such agent receives what
// this one observer does, so one stands for them all.
func Observe(ctx context.Context, endpoints []string, c *Counters) error {
	st, err := store.Dial(ctx, endpoints)
	if err != nil {
		return err
	}
	go func() {
		fullReplication(ctx, st, c)
		st.Close()
	}()
	return nil
}

// fullReplication follows every topology prefix as an agent that holds
// the whole cloud would (Dragonflow's default, OVN without conditional
// monitoring), counting what it receives and keeping nothing.
func fullReplication(ctx context.Context, st *store.Store, c *Counters) {
	in := make(chan store.Event, 256)
	for _, k := range []string{store.KindNetworks, store.KindSubnets, store.KindPorts, store.KindRouters,
		store.KindFloatingIPs, store.KindSGRules, store.KindChassis} {
		c.Watches.Add(1)
		go st.Inform(ctx, 0, store.KindPrefix(k), in, nil)
	}
	c.Watches.Add(1)
	go st.Inform(ctx, 0, store.AliveKey(""), in, nil)
	count(ctx, c, in, nil)
}

func sinceMs(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
