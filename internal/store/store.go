package store

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrTxnTooLarge is returned when one logical change needs more operations
// or bytes than etcd takes in one transaction (etcd's --max-txn-ops and
// --max-request-bytes; the embedded member allows MaxTxnOps). The change is
// not split, since it must stay atomic: the caller refuses it.
var ErrTxnTooLarge = errors.New("store: change too large for one etcd transaction")

// Store is typed access to Wyvern's keys in one etcd cluster. It is safe for
// concurrent use.
type Store struct {
	cli *clientv3.Client
}

// New wraps an etcd client. Outside package store (and storetest, which
// builds clients for tests) use Dial: only internal/store imports the etcd
// client.
func New(cli *clientv3.Client) *Store { return &Store{cli: cli} }

// Dial connects to an etcd cluster over plain TCP and waits until it
// answers or ctx ends.
func Dial(ctx context.Context, endpoints []string) (*Store, error) {
	return DialTLS(ctx, endpoints, nil)
}

// DialTLS is Dial over TLS when tlsCfg is not nil (https:// endpoints; a
// client certificate in tlsCfg authenticates this process to an etcd that
// verifies clients).
func DialTLS(ctx context.Context, endpoints []string, tlsCfg *tls.Config) (*Store, error) {
	return DialWith(ctx, endpoints, tlsCfg, DefaultDial)
}

// DialAuth is DialTLS as etcd's user username with password, for an etcd
// with authentication whose users are not (only) those of client
// certificates' common names (see Enroll). An empty username is DialTLS.
func DialAuth(ctx context.Context, endpoints []string, tlsCfg *tls.Config, username, password string) (*Store, error) {
	return dial(ctx, endpoints, tlsCfg, username, password, DefaultDial)
}

// DialOptions tune the connection's liveness checks: after KeepAliveTime
// without a byte from etcd the client pings it, and drops the connection
// when no answer comes within KeepAliveTimeout (its watches then resume
// on a new one).
type DialOptions struct {
	KeepAliveTime, KeepAliveTimeout time.Duration
}

// DefaultDial finds a dead or paused member within 15 s. The agents use
// it too: a connection it drops costs them a reconnect, since their
// informers resume their watches from the last revision they delivered.
var DefaultDial = DialOptions{KeepAliveTime: 10 * time.Second, KeepAliveTimeout: 5 * time.Second}

// StarvedDial is for a process that may get no CPU for several seconds
// (a thousand simulated chassis in one process on two cores): such a
// process must not read a ping answer it had no time to read as a dead
// etcd. Its agents' heartbeat leases (renewed every third of their TTL)
// keep the connection busy anyway; a dead member is found within a
// minute.
var StarvedDial = DialOptions{KeepAliveTime: 30 * time.Second, KeepAliveTimeout: 30 * time.Second}

// DialWith is DialTLS with the given liveness checks.
func DialWith(ctx context.Context, endpoints []string, tlsCfg *tls.Config, o DialOptions) (*Store, error) {
	return dial(ctx, endpoints, tlsCfg, "", "", o)
}

func dial(ctx context.Context, endpoints []string, tlsCfg *tls.Config, username, password string, o DialOptions) (*Store, error) {
	autoSync := time.Minute
	for _, e := range endpoints {
		if strings.HasPrefix(e, "unix:") || strings.HasPrefix(e, "unixs:") {
			// A local socket (a proxy, as a gateway in its own network
			// namespace uses): the members' advertised URLs may not be
			// reachable from here, so keep to the endpoints given.
			autoSync = 0
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		TLS:         tlsCfg,
		Username:    username,
		Password:    password,
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Agents keep one long-lived connection; keepalives find a dead
		// peer so the watch can move to another member.
		DialKeepAliveTime:    o.KeepAliveTime,
		DialKeepAliveTimeout: o.KeepAliveTimeout,
		AutoSyncInterval:     autoSync,
		Logger:               nil,
		DialOptions:          dialOptions(),
	})
	if err != nil {
		return nil, fmt.Errorf("store: connect to %v: %w", endpoints, err)
	}
	// Each readiness ping waits longer than the last: on a loaded etcd a
	// fixed short timeout gives up on every answer that is merely slow,
	// and the retries add to the load.
	wait := 2 * time.Second
	for {
		sctx, cancel := context.WithTimeout(ctx, wait)
		_, err = cli.Get(sctx, Prefix+"ping")
		cancel()
		if err == nil {
			return New(cli), nil
		}
		if isAuthError(err) {
			// etcd answers, and refuses: waiting changes nothing.
			cli.Close()
			return nil, fmt.Errorf("store: etcd at %v refused this client: %w", endpoints, err)
		}
		wait = min(2*wait, 30*time.Second)
		select {
		case <-ctx.Done():
			cli.Close()
			return nil, fmt.Errorf("store: etcd at %v not ready: %w", endpoints, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

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

// Count returns how many keys are under prefix, without reading them.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("store: count %s: %w", prefix, err)
	}
	return resp.Count, nil
}

// Delete removes key, whatever its revision: a blind delete, for keys no
// transaction guards (a token whose lease is already gone).
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.cli.Delete(ctx, key); err != nil {
		return fmt.Errorf("store: delete %s: %w", key, err)
	}
	return nil
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

// Page returns up to limit keys under prefix in key order, those after
// the key after when it is not "" (a page marker, which must exist: else
// the error is ErrNotFound), all at one revision, returned for GetAt. more
// reports whether keys follow the page.
func (s *Store) Page(ctx context.Context, prefix, after string, limit int) (kvs []KV, rev int64, more bool, err error) {
	from := prefix
	n := int64(limit) + 1
	if after != "" {
		// The marker itself opens the range: one read both checks it and
		// reads the page.
		from = after
		n++
	}
	resp, err := s.cli.Get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix)), clientv3.WithLimit(n))
	if err != nil {
		return nil, 0, false, fmt.Errorf("store: page %s: %w", prefix, err)
	}
	got := resp.Kvs
	if after != "" {
		if len(got) == 0 || string(got[0].Key) != after {
			return nil, 0, false, fmt.Errorf("%s: %w", after, ErrNotFound)
		}
		got = got[1:]
	}
	more = len(got) > limit || resp.More
	if len(got) > limit {
		got = got[:limit]
	}
	kvs = make([]KV, len(got))
	for i, kv := range got {
		kvs[i] = KV{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision}
	}
	return kvs, resp.Header.Revision, more, nil
}

// getBatch is how many keys one GetAt transaction reads: etcd bounds the
// operations of one transaction (128 by default).
const getBatch = 100

// GetAt reads keys as of revision rev (0: the latest), in batches, and
// returns those that exist, in the order of keys.
func (s *Store) GetAt(ctx context.Context, rev int64, keys []string) ([]KV, error) {
	var opts []clientv3.OpOption
	if rev != 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	out := make([]KV, 0, len(keys))
	for i := 0; i < len(keys); i += getBatch {
		batch := keys[i:min(i+getBatch, len(keys))]
		ops := make([]clientv3.Op, len(batch))
		for j, k := range batch {
			ops[j] = clientv3.OpGet(k, opts...)
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, fmt.Errorf("store: read %s: %w", batch[0], err)
		}
		for _, r := range resp.Responses {
			for _, kv := range r.GetResponseRange().Kvs {
				out = append(out, KV{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision})
			}
		}
	}
	return out, nil
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
//
// Reads are snapshot reads at the revision of the transaction's first read
// (the snapshot), and see the transaction's own writes. The commit is one
// etcd transaction guarded by: every key read still has the revision it had
// (or is still absent), every key written was not changed after the
// snapshot, and no key under a guarded prefix (Guard) was created or
// changed after the snapshot.
type Tx struct {
	ctx    context.Context
	cli    *clientv3.Client
	rev    int64                       // snapshot revision; 0 before the first read
	reads  map[string]*mvccpb.KeyValue // nil: the key was absent
	writes map[string]*string          // nil: deleted
	guards map[string]bool             // guarded prefixes
	lists  map[string][]KV             // ListWith's listings, by prefix, at the snapshot
	// stale holds the values of the previous attempt's reads, fetched by a
	// failed commit at revision staleRev, for the retry to use.
	stale    map[string]*mvccpb.KeyValue
	staleRev int64
}

// txError carries an etcd error out of a read through panic, since reads
// return no error; Store.Txn recovers it.
type txError struct{ err error }

// fetch reads keys that are neither read nor written yet in one round trip
// at the snapshot revision, fixing the snapshot on the first read.
func (t *Tx) fetch(keys ...string) {
	var need []string
	for _, k := range keys {
		if _, ok := t.reads[k]; ok {
			continue
		}
		if _, ok := t.writes[k]; ok {
			continue
		}
		if kv, ok := t.stale[k]; ok && (t.rev == 0 || t.rev == t.staleRev) {
			// The failed commit's answer is as fresh as a new read.
			t.rev = t.staleRev
			t.reads[k] = kv
			continue
		}
		need = append(need, k)
	}
	if len(need) == 0 {
		return
	}
	var opts []clientv3.OpOption
	if t.rev != 0 {
		opts = []clientv3.OpOption{clientv3.WithRev(t.rev), clientv3.WithSerializable()}
	}
	ops := make([]clientv3.Op, len(need))
	for i, k := range need {
		ops[i] = clientv3.OpGet(k, opts...)
	}
	resp, err := t.cli.Txn(t.ctx).Then(ops...).Commit()
	if err != nil && errors.Is(err, rpctypes.ErrFutureRev) {
		// A serialisable read went to a member that has not applied the
		// snapshot's revision yet (it lags, e.g. just restarted): a
		// linearisable read waits until it has.
		for i, k := range need {
			ops[i] = clientv3.OpGet(k, clientv3.WithRev(t.rev))
		}
		resp, err = t.cli.Txn(t.ctx).Then(ops...).Commit()
	}
	if err != nil {
		panic(txError{fmt.Errorf("store: read %s: %w", need[0], err)})
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	for i, r := range resp.Responses {
		var kv *mvccpb.KeyValue
		if kvs := r.GetResponseRange().Kvs; len(kvs) > 0 {
			kv = kvs[0]
		}
		t.reads[need[i]] = kv
	}
}

// ListWith reads, in one round trip at the transaction's snapshot, keys
// (into the read set, as Prefetch does) and every key under prefix, which
// it returns in key order. The keys under prefix are not in the read set
// and the transaction's own writes are not applied to them: they are as a
// listing outside the transaction would see them, at the snapshot (Guard
// the prefix when a key created under it must fail the commit). It saves
// the round trip of a separate listing when what is read next depends on
// both. A prefix listed again in the same transaction costs no round
// trip for the listing: it is the same snapshot.
func (t *Tx) ListWith(prefix string, keys ...string) []KV {
	if l, ok := t.lists[prefix]; ok {
		t.fetch(keys...)
		return slices.Clone(l)
	}
	var need []string
	for _, k := range keys {
		if _, ok := t.reads[k]; ok {
			continue
		}
		if _, ok := t.writes[k]; ok {
			continue
		}
		need = append(need, k)
	}
	var opts []clientv3.OpOption
	if t.rev != 0 {
		opts = []clientv3.OpOption{clientv3.WithRev(t.rev), clientv3.WithSerializable()}
	}
	end := clientv3.GetPrefixRangeEnd(prefix)
	ops := []clientv3.Op{clientv3.OpGet(prefix, append([]clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}, opts...)...)}
	for _, k := range need {
		ops = append(ops, clientv3.OpGet(k, opts...))
	}
	resp, err := t.cli.Txn(t.ctx).Then(ops...).Commit()
	if err != nil && errors.Is(err, rpctypes.ErrFutureRev) {
		// As in fetch: a lagging member; a linearisable read waits.
		ops[0] = clientv3.OpGet(prefix, clientv3.WithRange(end), clientv3.WithLimit(listPage), clientv3.WithRev(t.rev))
		for i, k := range need {
			ops[i+1] = clientv3.OpGet(k, clientv3.WithRev(t.rev))
		}
		resp, err = t.cli.Txn(t.ctx).Then(ops...).Commit()
	}
	if err != nil {
		panic(txError{fmt.Errorf("store: list %s: %w", prefix, err)})
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	for i, r := range resp.Responses[1:] {
		var kv *mvccpb.KeyValue
		if kvs := r.GetResponseRange().Kvs; len(kvs) > 0 {
			kv = kvs[0]
		}
		t.reads[need[i]] = kv
	}
	rr := resp.Responses[0].GetResponseRange()
	var out []KV
	for {
		for _, kv := range rr.Kvs {
			out = append(out, KV{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision})
		}
		if !rr.More || len(rr.Kvs) == 0 {
			t.lists[prefix] = slices.Clone(out)
			return out
		}
		// The rest of a long listing, page by page at the snapshot.
		next, err := t.cli.Get(t.ctx, string(rr.Kvs[len(rr.Kvs)-1].Key)+"\x00", clientv3.WithRange(end), clientv3.WithLimit(listPage), clientv3.WithRev(t.rev))
		if err != nil {
			panic(txError{fmt.Errorf("store: list %s: %w", prefix, err)})
		}
		rr = (*etcdserverpb.RangeResponse)(next)
	}
}

// value returns key's value as this transaction sees it.
func (t *Tx) value(key string) (string, bool) {
	if w, ok := t.writes[key]; ok {
		if w == nil {
			return "", false
		}
		return *w, true
	}
	t.fetch(key)
	if kv := t.reads[key]; kv != nil {
		return string(kv.Value), true
	}
	return "", false
}

// Get decodes key into v. It reports false when the key does not exist
// (or holds an empty value).
func (t *Tx) Get(key string, v any) (bool, error) {
	raw, _ := t.value(key)
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
func (t *Tx) GetString(key string) string {
	raw, _ := t.value(key)
	return raw
}

// Exists reports whether key exists (keys with an empty value included, and
// the transaction's own writes seen); the transaction fails if that
// changes.
func (t *Tx) Exists(key string) bool {
	_, ok := t.value(key)
	return ok
}

// Prefetch reads keys in one round trip and adds them to the transaction's
// read set, so later Get, GetString and Exists of them cost no round trip.
// Keys already read or written are skipped.
func (t *Tx) Prefetch(keys ...string) { t.fetch(keys...) }

// Guard makes the commit fail, and the transaction retry on fresh data, if
// any key under prefix is created or changed after the transaction's
// snapshot. It is how a transaction that lists a prefix outside itself (a
// network deleting its ports) keeps keys created meanwhile from being
// orphaned, without reading every key of the prefix.
func (t *Tx) Guard(prefix string) {
	if t.rev == 0 {
		// Fix the snapshot now: the guard is relative to it.
		resp, err := t.cli.Get(t.ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			panic(txError{fmt.Errorf("store: guard %s: %w", prefix, err)})
		}
		t.rev = resp.Header.Revision
	}
	t.guards[prefix] = true
}

// Put encodes v as JSON at key.
func (t *Tx) Put(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", key, err)
	}
	t.PutString(key, string(b))
	return nil
}

// PutString writes a raw value.
func (t *Tx) PutString(key, val string) { t.writes[key] = &val }

// Delete removes key.
func (t *Tx) Delete(key string) { t.writes[key] = nil }

// reset prepares the next attempt.
func (t *Tx) reset() {
	t.rev = 0
	t.reads = map[string]*mvccpb.KeyValue{}
	t.writes = map[string]*string{}
	t.guards = map[string]bool{}
	t.lists = map[string][]KV{}
}

// commit tries to apply the writes; false means a conflict.
func (t *Tx) commit() (bool, error) {
	t.derive()
	t.deriveBindings()
	// Without any read there is no snapshot: written keys are then
	// unguarded, as blind writes.
	snap := t.rev
	if snap == 0 {
		snap = math.MaxInt64 - 1
	}
	cmps := make([]clientv3.Cmp, 0, len(t.reads)+len(t.writes)+len(t.guards))
	var readKeys []string
	var getOps []clientv3.Op
	for k, kv := range t.reads {
		var rev int64
		if kv != nil {
			rev = kv.ModRevision
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", rev))
		readKeys = append(readKeys, k)
		getOps = append(getOps, clientv3.OpGet(k))
	}
	ops := make([]clientv3.Op, 0, len(t.writes))
	for k, w := range t.writes {
		if _, read := t.reads[k]; !read {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "<", snap+1))
		}
		if w == nil {
			ops = append(ops, clientv3.OpDelete(k))
		} else {
			ops = append(ops, clientv3.OpPut(k, *w))
		}
	}
	for p := range t.guards {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(p), "<", snap+1).WithPrefix())
	}
	// On conflict, the Else branch reads the read set afresh, so the
	// retry starts without a round trip.
	resp, err := t.cli.Txn(t.ctx).If(cmps...).Then(ops...).Else(getOps...).Commit()
	if errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge) {
		return false, fmt.Errorf("%w (%d comparisons, %d writes): %v", ErrTxnTooLarge, len(cmps), len(ops), err)
	}
	if IsPermissionDenied(err) {
		// Refused, not lost: nothing was applied and no retry helps.
		return false, fmt.Errorf("store: commit: %w", err)
	}
	if err != nil {
		return t.resolve(cmps, ops, snap, err)
	}
	if resp.Succeeded {
		return true, nil
	}
	t.stale = make(map[string]*mvccpb.KeyValue, len(readKeys))
	for i, r := range resp.Responses {
		var kv *mvccpb.KeyValue
		if kvs := r.GetResponseRange().Kvs; len(kvs) > 0 {
			kv = kvs[0]
		}
		t.stale[readKeys[i]] = kv
	}
	t.staleRev = resp.Header.Revision
	return false, nil
}

// resolve settles a commit whose answer was lost (etcd's "request timed
// out", a member gone mid-request): the transaction may or may not have
// been applied, and may still be. It commits the same transaction again
// under the same guards until etcd answers: if that applies, the
// transaction happened once (a late first attempt then fails its guards);
// if the guards fail, it reads the written keys to see whether the first
// attempt applied (every put with this transaction's value at one common
// revision after the snapshot, every delete gone). Otherwise it is a
// conflict, and Txn runs fn again on fresh data. Only when etcd never
// answers again does the caller get the original error.
func (t *Tx) resolve(cmps []clientv3.Cmp, ops []clientv3.Op, snap int64, cause error) (bool, error) {
	checks := make([]clientv3.Op, 0, len(t.writes))
	var keys []string
	for k := range t.writes {
		keys = append(keys, k)
		checks = append(checks, clientv3.OpGet(k))
	}
	for try := 0; try < 5 && t.ctx.Err() == nil; try++ {
		if try > 0 {
			select {
			case <-t.ctx.Done():
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			}
		}
		resp, err := t.cli.Txn(t.ctx).If(cmps...).Then(ops...).Else(checks...).Commit()
		if err != nil {
			continue
		}
		if resp.Succeeded {
			return true, nil
		}
		t.stale = nil // the retry reads afresh
		var at int64
		applied := true
		for i, r := range resp.Responses {
			kvs := r.GetResponseRange().Kvs
			w := t.writes[keys[i]]
			switch {
			case w == nil:
				applied = applied && len(kvs) == 0
			case len(kvs) == 0 || string(kvs[0].Value) != *w || (snap < math.MaxInt64-1 && kvs[0].ModRevision <= snap):
				applied = false
			case at == 0:
				at = kvs[0].ModRevision
			default:
				applied = applied && kvs[0].ModRevision == at
			}
		}
		return applied, nil
	}
	return false, fmt.Errorf("store: commit: %w", cause)
}

// attempt runs fn once and commits; an etcd error from a read inside fn is
// returned as err.
func (t *Tx) attempt(fn func(*Tx) error) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, isTx := r.(txError)
			if !isTx {
				panic(r)
			}
			ok, err = false, e.err
		}
	}()
	t.reset()
	if err := fn(t); err != nil {
		return false, err
	}
	return t.commit()
}

// Txn runs fn as one etcd transaction. fn may run several times: when a key
// it read changed before the commit (or a key under a prefix it guarded,
// see Tx.Guard), the transaction is retried on fresh data. An error from fn
// aborts and writes nothing. Reads are serialisable snapshot reads, so
// concurrent server processes never both win a race for the same key (an
// address, a MAC, a name). A commit whose answer is lost (a member killed
// or a proposal timed out) is settled before Txn returns: success means
// applied exactly once; only when etcd never answers again is the outcome
// left unknown (an error).
func (s *Store) Txn(ctx context.Context, fn func(*Tx) error) error {
	t := &Tx{ctx: ctx, cli: s.cli}
	for {
		ok, err := t.attempt(fn)
		if err != nil || ok {
			countTxn(ok)
			return err
		}
		metrics.StoreTxnConflicts.Inc()
		if err := ctx.Err(); err != nil {
			countTxn(false)
			return fmt.Errorf("store: transaction: %w", err)
		}
		metrics.StoreTxnRetries.Inc()
	}
}

// Update rewrites one key in a transaction (see Txn), retried on
// conflict: fn gets the key's current value (nil when absent) and returns
// the new one, or nil to write nothing. fn may run several times; an
// error from it aborts.
func (s *Store) Update(ctx context.Context, key string, fn func(cur []byte) ([]byte, error)) error {
	return s.Txn(ctx, func(tx *Tx) error {
		var cur []byte
		if v := tx.GetString(key); v != "" {
			cur = []byte(v)
		}
		next, err := fn(cur)
		if err != nil || next == nil {
			return err
		}
		tx.PutString(key, string(next))
		return nil
	})
}
