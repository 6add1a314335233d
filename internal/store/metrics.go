package store

import (
	"context"
	"fmt"
	"path"
	"time"

	"google.golang.org/grpc"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
)

// dialOptions instrument every unary etcd call: its latency by gRPC
// method (Range, Txn, Put, LeaseGrant, ...) and its errors.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(observeUnary)}
}

func observeUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	m := path.Base(method)
	metrics.EtcdRequestDuration.WithLabelValues(m).Observe(time.Since(start).Seconds())
	if err != nil {
		metrics.EtcdRequestErrors.WithLabelValues(m).Inc()
	}
	return err
}

// countTxn records a finished transaction: committed, or aborted (an
// error from its function or from etcd, or its context ended).
func countTxn(ok bool) {
	if ok {
		metrics.StoreTxns.WithLabelValues("committed").Inc()
		return
	}
	metrics.StoreTxns.WithLabelValues("aborted").Inc()
}

func countWatchEvent(e Event) {
	if e.Delete {
		metrics.WatchEvents.WithLabelValues("delete").Inc()
	} else {
		metrics.WatchEvents.WithLabelValues("put").Inc()
	}
}

// Ping reads one key to check that etcd answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.cli.Get(ctx, Prefix+"ping"); err != nil {
		return fmt.Errorf("store: etcd unreachable: %w", err)
	}
	return nil
}

// CountChassis returns how many chassis are alive (hold their heartbeat
// key) and how many are registered.
func (s *Store) CountChassis(ctx context.Context) (alive, registered int64, err error) {
	if alive, err = s.Count(ctx, AliveKey("")); err != nil {
		return 0, 0, err
	}
	if registered, err = s.Count(ctx, KindPrefix(KindChassis)); err != nil {
		return 0, 0, err
	}
	return alive, registered, nil
}

// StatsKey holds a chassis' model.ChassisStats, written by its agent.
func StatsKey(name string) string { return Prefix + "stats/" + name }
