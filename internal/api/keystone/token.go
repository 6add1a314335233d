package keystone

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// TokenPrefix is the etcd prefix holding every live token.
const TokenPrefix = store.Prefix + "tokens/"

// TokenKey is the etcd key of a token: the hex SHA-256 of the token under
// TokenPrefix. The token itself is never stored.
func TokenKey(token string) string { return TokenPrefix + tokenHash(token) }

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// errTokenNotFound: unknown, expired or revoked.
var errTokenNotFound = errors.New("keystone: token not found")

// Ref is an id and a name, as Keystone prints domains and roles.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Scoped is a user or a project with its domain.
type Scoped struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Domain Ref    `json:"domain"`
}

// Token is the data of an issued token, as stored in etcd.
type Token struct {
	Methods   []string  `json:"methods"`
	User      Scoped    `json:"user"`
	Project   *Scoped   `json:"project,omitempty"`
	Roles     []Ref     `json:"roles,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	AuditIDs  []string  `json:"audit_ids"`
	// LeaseID is the etcd lease the token lives under.
	LeaseID int64 `json:"lease_id"`
}

// RoleNames lists the names of the token's roles.
func (t *Token) RoleNames() []string {
	out := make([]string, len(t.Roles))
	for i, r := range t.Roles {
		out[i] = r.Name
	}
	return out
}

// HasRole reports whether the token carries the role.
func (t *Token) HasRole(name string) bool {
	for _, r := range t.Roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

// randomHex is n random bytes in hex, the token format: no character a
// command line could take for an option (base64url may start with '-').
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("keystone: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// randomAuditID is 16 random bytes in unpadded base64url, as Keystone's
// audit ids are.
func randomAuditID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("keystone: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenStore keeps tokens in etcd with a bounded cache in front.
type tokenStore struct {
	st       *store.Store
	now      func() time.Time
	cacheTTL time.Duration
	maxCache int

	mu    sync.Mutex
	cache map[string]cacheEntry // by token hash
}

type cacheEntry struct {
	tok   *Token
	until time.Time
}

func newTokenStore(st *store.Store, now func() time.Time, cacheTTL time.Duration, maxCache int) *tokenStore {
	return &tokenStore{st: st, now: now, cacheTTL: cacheTTL, maxCache: maxCache, cache: map[string]cacheEntry{}}
}

// create stores tok under a new token id and a lease lasting until
// tok.ExpiresAt, and returns the token id.
func (ts *tokenStore) create(ctx context.Context, tok *Token) (string, error) {
	id, err := randomHex(32)
	if err != nil {
		return "", err
	}
	ttl := tok.ExpiresAt.Sub(ts.now())
	secs := int64((ttl + time.Second - 1) / time.Second)
	if secs < 1 {
		return "", fmt.Errorf("keystone: token lifetime %v too short", ttl)
	}
	lease, err := ts.st.Grant(ctx, time.Duration(secs)*time.Second)
	if err != nil {
		return "", fmt.Errorf("keystone: grant token lease: %w", err)
	}
	tok.LeaseID = lease
	b, err := json.Marshal(tok)
	if err != nil {
		return "", fmt.Errorf("keystone: encode token: %w", err)
	}
	if err := ts.st.PutLeased(ctx, TokenKey(id), string(b), lease); err != nil {
		// Best effort: the lease would expire anyway.
		_ = ts.st.Revoke(context.WithoutCancel(ctx), lease)
		return "", fmt.Errorf("keystone: store token: %w", err)
	}
	return id, nil
}

// get returns a live token; errTokenNotFound when unknown or expired.
func (ts *tokenStore) get(ctx context.Context, id string) (*Token, error) {
	if id == "" {
		return nil, errTokenNotFound
	}
	h := tokenHash(id)
	now := ts.now()
	ts.mu.Lock()
	e, ok := ts.cache[h]
	if ok && (!now.Before(e.until) || !now.Before(e.tok.ExpiresAt)) {
		delete(ts.cache, h)
		ok = false
	}
	ts.mu.Unlock()
	if ok {
		return e.tok, nil
	}
	raw, err := ts.st.GetString(ctx, TokenPrefix+h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errTokenNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("keystone: read token: %w", err)
	}
	var tok Token
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		return nil, fmt.Errorf("keystone: decode token: %w", err)
	}
	now = ts.now()
	if !now.Before(tok.ExpiresAt) {
		return nil, errTokenNotFound
	}
	until := now.Add(ts.cacheTTL)
	if tok.ExpiresAt.Before(until) {
		until = tok.ExpiresAt
	}
	if ts.cacheTTL > 0 {
		ts.mu.Lock()
		ts.makeRoomLocked(now)
		ts.cache[h] = cacheEntry{tok: &tok, until: until}
		ts.mu.Unlock()
	}
	return &tok, nil
}

// makeRoomLocked keeps the cache under maxCache entries.
func (ts *tokenStore) makeRoomLocked(now time.Time) { makeRoom(ts.cache, ts.maxCache, now) }

// makeRoom keeps a token cache under max entries: stale entries go first,
// then arbitrary ones.
func makeRoom(cache map[string]cacheEntry, max int, now time.Time) {
	if len(cache) < max {
		return
	}
	for h, e := range cache {
		if !now.Before(e.until) {
			delete(cache, h)
		}
	}
	for h := range cache {
		if len(cache) < max {
			return
		}
		delete(cache, h)
	}
}

// revoke deletes a token (and its lease). Other server processes may still
// accept it from their caches for up to cacheTTL.
func (ts *tokenStore) revoke(ctx context.Context, id string, tok *Token) error {
	h := tokenHash(id)
	ts.mu.Lock()
	delete(ts.cache, h)
	ts.mu.Unlock()
	if tok.LeaseID != 0 {
		if err := ts.st.Revoke(ctx, tok.LeaseID); err == nil {
			return nil
		}
		// The lease may be gone already; delete the key directly.
	}
	if err := ts.st.Delete(ctx, TokenPrefix+h); err != nil {
		return fmt.Errorf("keystone: revoke token: %w", err)
	}
	return nil
}

// cacheLen is the number of cached tokens, for tests.
func (ts *tokenStore) cacheLen() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.cache)
}
