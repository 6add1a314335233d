package agent

import (
	"context"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// kvEvent is one change under a watched prefix, or (Reset) the full content
// of the prefix, which replaces whatever the receiver held for it; the
// store's informer (store.Store.Inform) produces them.
type kvEvent = store.Event

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
