package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Store is what the agent needs of the store: *store.Store implements it,
// and so does the unit tests' in-memory fake.
type Store interface {
	// Inform lists prefix, then streams its changes (store.Store.Inform).
	Inform(ctx context.Context, tag uint64, prefix string, out chan<- store.Event, log *slog.Logger)
	// GetString returns a key's raw value, or an error wrapping
	// store.ErrNotFound.
	GetString(ctx context.Context, key string) (string, error)
	// Update rewrites one key atomically (store.Store.Update).
	Update(ctx context.Context, key string, fn func(cur []byte) ([]byte, error)) error
	// Register writes keys, and leased under a lease kept alive while
	// ctx lives (store.Store.Register).
	Register(ctx context.Context, ttl time.Duration, keys, leased map[string]string) error
}

var _ Store = (*store.Store)(nil)

// updateJSON rewrites the record at key, decoded as a T, when fn reports
// that it changed it; an absent key is left absent.
func updateJSON[T any](ctx context.Context, st Store, key string, fn func(*T) (bool, error)) error {
	return st.Update(ctx, key, func(cur []byte) ([]byte, error) {
		if cur == nil {
			return nil, nil
		}
		var v T
		if err := json.Unmarshal(cur, &v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", key, err)
		}
		changed, err := fn(&v)
		if err != nil || !changed {
			return nil, err
		}
		b, err := json.Marshal(&v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		return b, nil
	})
}
