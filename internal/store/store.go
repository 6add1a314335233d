package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is typed access to Wyvern's keys in one etcd cluster. It is safe for
// concurrent use.
type Store struct {
	cli *clientv3.Client
}

// New wraps an etcd client.
func New(cli *clientv3.Client) *Store { return &Store{cli: cli} }

// Dial connects to an etcd cluster and waits until it answers or ctx ends.
func Dial(ctx context.Context, endpoints []string) (*Store, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Agents keep one long-lived connection; keepalives find a dead
		// peer so the watch can move to another member.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		AutoSyncInterval:     time.Minute,
		Logger:               nil,
	})
	if err != nil {
		return nil, fmt.Errorf("store: connect to %v: %w", endpoints, err)
	}
	for {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = cli.Get(sctx, Prefix+"ping")
		cancel()
		if err == nil {
			return &Store{cli: cli}, nil
		}
		select {
		case <-ctx.Done():
			cli.Close()
			return nil, fmt.Errorf("store: etcd at %v not ready: %w", endpoints, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Client is the underlying etcd client, for leases and raw transactions.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Close closes the connection.
func (s *Store) Close() error { return s.cli.Close() }

// Get decodes the value at key into v and returns its mod revision.
func (s *Store) Get(ctx context.Context, key string, v any) (int64, error) {
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("store: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if v != nil {
		if err := json.Unmarshal(resp.Kvs[0].Value, v); err != nil {
			return 0, fmt.Errorf("store: decode %s: %w", key, err)
		}
	}
	return resp.Kvs[0].ModRevision, nil
}

// GetString returns the raw value at key.
func (s *Store) GetString(ctx context.Context, key string) (string, error) {
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("store: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return string(resp.Kvs[0].Value), nil
}

// KV is one raw key/value with its revisions.
type KV struct {
	Key         string
	Value       []byte
	ModRevision int64
}

// listPage is how many keys one range request returns, so that listing a
// large prefix never builds one huge gRPC message.
const listPage = 2000

// List returns every key under prefix, in key order, as of one revision
// (the returned one), so the snapshot is consistent across pages.
func (s *Store) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	var out []KV
	var rev int64
	key := prefix
	end := clientv3.GetPrefixRangeEnd(prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, key, opts...)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list %s: %w", prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			out = append(out, KV{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// ListOf decodes every value under prefix as a T.
func ListOf[T any](ctx context.Context, s *Store, prefix string) ([]T, int64, error) {
	kvs, rev, err := s.List(ctx, prefix)
	if err != nil {
		return nil, 0, err
	}
	out := make([]T, 0, len(kvs))
	for _, kv := range kvs {
		var v T
		if err := json.Unmarshal(kv.Value, &v); err != nil {
			return nil, 0, fmt.Errorf("store: decode %s: %w", kv.Key, err)
		}
		out = append(out, v)
	}
	return out, rev, nil
}

// Tx is one optimistic transaction: reads record the revision they saw, and
// the commit succeeds only if none of them changed. See Store.Txn.
type Tx struct {
	stm concurrency.STM
}

// Get decodes key into v. It reports false when the key does not exist.
func (t *Tx) Get(key string, v any) (bool, error) {
	raw := t.stm.Get(key)
	if raw == "" {
		return false, nil
	}
	if v != nil {
		if err := json.Unmarshal([]byte(raw), v); err != nil {
			return false, fmt.Errorf("store: decode %s: %w", key, err)
		}
	}
	return true, nil
}

// GetString returns the raw value of key, "" when absent.
func (t *Tx) GetString(key string) string { return t.stm.Get(key) }

// Exists reports whether key exists; the transaction fails if that changes.
func (t *Tx) Exists(key string) bool { return t.stm.Rev(key) != 0 }

// Prefetch reads keys in one round trip and adds them to the transaction's
// read set, so later Get, GetString and Exists of them cost no round trip.
// It is only a hint: it does nothing when one of keys was written in the
// transaction.
func (t *Tx) Prefetch(keys ...string) {
	if len(keys) > 0 {
		t.stm.Get(keys...)
	}
}

// Put encodes v as JSON at key.
func (t *Tx) Put(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", key, err)
	}
	t.stm.Put(key, string(b))
	return nil
}

// PutString writes a raw value.
func (t *Tx) PutString(key, val string) { t.stm.Put(key, val) }

// Delete removes key.
func (t *Tx) Delete(key string) { t.stm.Del(key) }

// Txn runs fn as one etcd transaction. fn may run several times: when a key
// it read changed before the commit, the transaction is retried on fresh
// data. An error from fn aborts and writes nothing. Reads are serialisable
// snapshot reads, so concurrent server processes never both win a race for
// the same key (an address, a MAC, a name).
func (s *Store) Txn(ctx context.Context, fn func(*Tx) error) error {
	_, err := concurrency.NewSTM(s.cli, func(stm concurrency.STM) error {
		return fn(&Tx{stm: stm})
	}, concurrency.WithAbortContext(ctx))
	return err
}

// Watch streams changes under prefix from revision rev on (0: from now).
// The channel closes when ctx ends. A closed channel or a compacted-revision
// error means the caller must re-list and watch again from the new revision.
func (s *Store) Watch(ctx context.Context, prefix string, rev int64) clientv3.WatchChan {
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	return s.cli.Watch(clientv3.WithRequireLeader(ctx), prefix, opts...)
}
