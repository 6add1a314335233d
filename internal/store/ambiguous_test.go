package store_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// lossyStore is a store whose first transaction with writes loses its
// answer: applied (etcd applied it, the answer never came, as when the
// member is killed or a proposal times out) or not (the request never
// arrived).
func lossyStore(t *testing.T, endpoints []string, applied bool) (*store.Store, *atomic.Int64) {
	t.Helper()
	var writes atomic.Int64
	var lost atomic.Bool
	lose := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if r, ok := req.(*etcdserverpb.TxnRequest); ok && len(r.Success) > 0 && r.Success[0].GetRequestPut() != nil {
			writes.Add(1)
			if lost.CompareAndSwap(false, true) {
				if applied {
					if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
						return err
					}
				}
				return errors.New("etcdserver: request timed out")
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithUnaryInterceptor(lose)}})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(cli)
	t.Cleanup(func() { st.Close() })
	return st, &writes
}

// TestTxnLostAnswer: a transaction whose answer is lost is settled, not
// reported as failed: applied once either way, and the caller told so.
func TestTxnLostAnswer(t *testing.T) {
	e := storetest.Start(t)
	ctx := context.Background()
	for _, applied := range []bool{true, false} {
		key := store.Prefix + "lost-answer-" + map[bool]string{true: "applied", false: "not-applied"}[applied]
		st, writes := lossyStore(t, e.Endpoints(), applied)
		runs := 0
		err := st.Txn(ctx, func(tx *store.Tx) error {
			runs++
			var n int
			if _, err := tx.Get(key, &n); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return tx.Put(key, n+1)
		})
		if err != nil {
			t.Fatalf("applied=%v: Txn = %v, want success", applied, err)
		}
		var n int
		if _, err := e.Store.Get(ctx, key, &n); err != nil || n != 1 {
			t.Fatalf("applied=%v: counter = %d (%v), want 1: applied once", applied, n, err)
		}
		if runs != 1 || writes.Load() != 2 {
			t.Fatalf("applied=%v: fn ran %d times, %d write transactions sent; want 1 and 2 (the lost one, then one that settles it)", applied, runs, writes.Load())
		}
	}
}
