package store

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// registerRetry is how long Register waits between attempts to register
// again after its lease was lost.
const registerRetry = 500 * time.Millisecond

// Register writes keys and, under a lease of ttl, leased, in one
// transaction, and keeps the lease alive for as long as ctx lives. When
// the lease is lost (etcd restarted, a long partition) it grants a new one
// and writes both again. When ctx ends the lease is left to expire, and
// the leased keys go with it; keys stay. Register returns once the first
// registration is written.
//
// An agent registers its chassis this way: the record in keys, its
// heartbeat in leased.
func (s *Store) Register(ctx context.Context, ttl time.Duration, keys, leased map[string]string) error {
	grant := func() (<-chan *clientv3.LeaseKeepAliveResponse, error) {
		lease, err := s.cli.Grant(ctx, int64(ttl/time.Second))
		if err != nil {
			return nil, fmt.Errorf("store: lease: %w", err)
		}
		ops := make([]clientv3.Op, 0, len(keys)+len(leased))
		for k, v := range keys {
			ops = append(ops, clientv3.OpPut(k, v))
		}
		for k, v := range leased {
			ops = append(ops, clientv3.OpPut(k, v, clientv3.WithLease(lease.ID)))
		}
		if _, err := s.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return nil, fmt.Errorf("store: register: %w", err)
		}
		ka, err := s.cli.KeepAlive(ctx, lease.ID)
		if err != nil {
			return nil, fmt.Errorf("store: keepalive: %w", err)
		}
		return ka, nil
	}
	ka, err := grant()
	if err != nil {
		return err
	}
	go func() {
		for {
			for range ka {
			}
			// The keepalive channel closes when the lease is lost or ctx
			// ends: register again.
			for {
				if ctx.Err() != nil {
					return
				}
				var err error
				if ka, err = grant(); err == nil {
					break
				}
				sleepCtx(ctx, registerRetry)
			}
		}
	}()
	return nil
}

// Grant grants a lease of ttl (whole seconds, rounded up) and returns its
// id, for PutLeased.
func (s *Store) Grant(ctx context.Context, ttl time.Duration) (int64, error) {
	secs := int64((ttl + time.Second - 1) / time.Second)
	if secs < 1 {
		return 0, fmt.Errorf("store: lease of %v: too short", ttl)
	}
	lease, err := s.cli.Grant(ctx, secs)
	if err != nil {
		return 0, fmt.Errorf("store: lease: %w", err)
	}
	return int64(lease.ID), nil
}

// PutLeased writes val at key under a lease (Grant): etcd deletes the key
// when the lease expires, or when it is revoked (Revoke).
func (s *Store) PutLeased(ctx context.Context, key, val string, lease int64) error {
	if _, err := s.cli.Put(ctx, key, val, clientv3.WithLease(clientv3.LeaseID(lease))); err != nil {
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	return nil
}

// Revoke ends a lease: etcd deletes every key under it.
func (s *Store) Revoke(ctx context.Context, lease int64) error {
	if _, err := s.cli.Revoke(ctx, clientv3.LeaseID(lease)); err != nil {
		return fmt.Errorf("store: revoke lease %x: %w", lease, err)
	}
	return nil
}
