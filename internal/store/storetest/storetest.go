// Package storetest starts a private embedded etcd for a test, on free
// loopback ports and in the test's temporary directory, and stops it when
// the test ends, even when it fails. Tests of any package use it:
//
//	st := storetest.New(t) // a *store.Store on a fresh etcd
//
//	e := storetest.Start(t) // the member too: its URLs, Restart, Compact
//	e.Restart()
//	st := e.Store
//
// It is beside package store so that it may use the etcd client for what
// only tests need (forcing a compaction, counting requests); tests
// themselves read and write through store's methods.
package storetest

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/embedded"
)

// Etcd is one running embedded etcd member and a store connected to it.
type Etcd struct {
	// Dir is the member's data directory; it outlives Stop, so Restart
	// finds the data again.
	Dir string
	// ClientURL and PeerURL are the member's URLs, kept across restarts.
	ClientURL, PeerURL string
	// Store is connected to the member; Restart replaces it.
	Store *store.Store

	t      testing.TB
	member *embedded.Member
}

// dialTimeout bounds how long a test waits for its etcd to answer.
const dialTimeout = 30 * time.Second

// Start runs an embedded etcd (without fsync) for the test and connects a
// store to it. Both are closed when the test ends.
func Start(t testing.TB) *Etcd {
	t.Helper()
	e := &Etcd{t: t}
	var err error
	// A probed port can be taken before etcd binds it: try again, in a
	// fresh directory (a failed start may leave a member's files).
	for attempt := 0; attempt < 5; attempt++ {
		e.Dir = t.TempDir()
		e.ClientURL = "http://" + freeAddr(t)
		e.PeerURL = "http://" + freeAddr(t)
		if err = e.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(e.Stop)
	if e.Store, err = dial(e.Endpoints()); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return e
}

// New is Start for a test that needs only the store.
func New(t testing.TB) *store.Store {
	t.Helper()
	return Start(t).Store
}

// Endpoints are the client endpoints of the member.
func (e *Etcd) Endpoints() []string { return []string{e.ClientURL} }

func (e *Etcd) start() error {
	m, err := embedded.Start(embedded.Config{DataDir: e.Dir, ClientURL: e.ClientURL, PeerURL: e.PeerURL, UnsafeNoFsync: true,
		BcryptCost: 4}, nil)
	if err != nil {
		return err
	}
	e.member = m
	return nil
}

// Stop closes the store and the member; calling it again does nothing.
func (e *Etcd) Stop() {
	if e.Store != nil {
		e.Store.Close()
		e.Store = nil
	}
	if e.member != nil {
		e.member.Close()
		e.member = nil
	}
}

// Restart stops the member (if running) and starts another on the same
// data directory and URLs, with a new Store.
func (e *Etcd) Restart() {
	e.t.Helper()
	e.Stop()
	if err := e.start(); err != nil {
		e.t.Fatalf("storetest: restart: %v", err)
	}
	var err error
	if e.Store, err = dial(e.Endpoints()); err != nil {
		e.t.Fatalf("storetest: %v", err)
	}
}

// Compact compacts the member's history up to its current revision, as
// etcd's periodic compaction would, and returns that revision: a watch
// from an older revision then fails with a compaction error.
func (e *Etcd) Compact(ctx context.Context) int64 {
	e.t.Helper()
	cli := e.client(e.Endpoints())
	defer cli.Close()
	resp, err := cli.Get(ctx, store.Prefix, clientv3.WithCountOnly())
	if err != nil {
		e.t.Fatalf("storetest: read revision: %v", err)
	}
	rev := resp.Header.Revision
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		e.t.Fatalf("storetest: compact at %d: %v", rev, err)
	}
	return rev
}

// RevokeLeases revokes every lease, as a partition longer than their TTL
// would have them expire: the keys under them go.
func (e *Etcd) RevokeLeases(ctx context.Context) {
	e.t.Helper()
	cli := e.client(e.Endpoints())
	defer cli.Close()
	resp, err := cli.Leases(ctx)
	if err != nil {
		e.t.Fatalf("storetest: leases: %v", err)
	}
	for _, l := range resp.Leases {
		if _, err := cli.Revoke(ctx, l.ID); err != nil {
			e.t.Fatalf("storetest: revoke %x: %v", l.ID, err)
		}
	}
}

// LeaseTTL returns the time a key's lease was granted for and the time it
// has left; both are zero for a key under no lease. It fails with an error
// wrapping store.ErrNotFound when the key does not exist.
func (e *Etcd) LeaseTTL(ctx context.Context, key string) (granted, left time.Duration, err error) {
	cli := e.client(e.Endpoints())
	defer cli.Close()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return 0, 0, fmt.Errorf("storetest: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, 0, fmt.Errorf("%s: %w", key, store.ErrNotFound)
	}
	id := resp.Kvs[0].Lease
	if id == 0 {
		return 0, 0, nil
	}
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(id))
	if err != nil {
		return 0, 0, fmt.Errorf("storetest: lease of %s: %w", key, err)
	}
	if ttl.TTL < 0 {
		return 0, 0, fmt.Errorf("%s: lease expired: %w", key, store.ErrNotFound)
	}
	return time.Duration(ttl.GrantedTTL) * time.Second, time.Duration(ttl.TTL) * time.Second, nil
}

// Dial connects a store to endpoints and closes it when the test ends.
func Dial(t testing.TB, endpoints []string) *store.Store {
	t.Helper()
	st, err := dial(endpoints)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func dial(endpoints []string) (*store.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	return store.Dial(ctx, endpoints)
}

// DialCounting is Dial with a counter of the unary etcd requests (ranges,
// transactions, puts, lease grants...) the store makes, for tests that
// bound the round trips of an operation.
func DialCounting(t testing.TB, endpoints []string) (*store.Store, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		n.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithUnaryInterceptor(count)}})
	if err != nil {
		t.Fatalf("storetest: etcd client: %v", err)
	}
	st := store.New(cli)
	t.Cleanup(func() { st.Close() })
	return st, &n
}

func (e *Etcd) client(endpoints []string) *clientv3.Client {
	e.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		e.t.Fatalf("storetest: etcd client: %v", err)
	}
	return cli
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("storetest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// PutRaw writes key straight through etcd's client, outside any store
// transaction: a record as a server that predates a key derivation (the
// store's scoped copies) left it.
func PutRaw(t testing.TB, e *Etcd, key, val string) {
	t.Helper()
	cli := e.client(e.Endpoints())
	defer cli.Close()
	if _, err := cli.Put(context.Background(), key, val); err != nil {
		t.Fatalf("storetest: put %s: %v", key, err)
	}
}
