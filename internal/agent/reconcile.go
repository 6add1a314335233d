package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// reconciler is the one place flows reach br-int. It keeps the flows it
// installed and applies the difference to a new desired set as one atomic
// bundle. After a (re)start it installs the whole desired set under a new
// generation — replacing identical flows in place, so packets keep flowing
// — and only then sweeps flows of older generations.
type reconciler struct {
	conn      FlowConn
	log       *slog.Logger
	gen       uint32
	installed []ofp.Flow
	synced    bool
}

func newReconciler(conn FlowConn, log *slog.Logger) *reconciler {
	return &reconciler{conn: conn, log: log}
}

// start picks the generation following those found on the bridge.
func (r *reconciler) start(ctx context.Context) error {
	cookies, err := r.conn.Cookies(ctx)
	if err != nil {
		return fmt.Errorf("agent: read installed cookies: %w", err)
	}
	var max uint32
	for c := range cookies {
		if pipeline.IsOwnCookie(c) && pipeline.CookieGeneration(c) > max {
			max = pipeline.CookieGeneration(c)
		}
	}
	r.gen = max + 1
	return nil
}

// apply makes br-int hold exactly desired (among Wyvern's flows).
func (r *reconciler) apply(ctx context.Context, desired []ofp.Flow) error {
	start := time.Now()
	add, mod, del := pipeline.Diff(r.installed, desired)
	if !r.synced {
		// Full install: everything is an add; OpenFlow's add replaces a
		// flow with the same match and priority atomically.
		if err := r.conn.Bundle(ctx, add, nil, nil); err != nil {
			return r.fail(fmt.Errorf("agent: install generation %d: %w", r.gen, err))
		}
		r.installed = desired
		swept, err := r.sweep(ctx)
		if err != nil {
			return r.fail(err)
		}
		r.synced = true
		r.log.Info("flows installed", "generation", r.gen, "flows", len(desired), "swept", swept, "took", time.Since(start))
		return nil
	}
	if len(add)+len(mod)+len(del) == 0 {
		return nil
	}
	if err := r.conn.Bundle(ctx, add, mod, del); err != nil {
		return r.fail(fmt.Errorf("agent: apply flow changes: %w", err))
	}
	r.installed = desired
	r.log.Debug("flows updated", "add", len(add), "modify", len(mod), "delete", len(del), "took", time.Since(start))
	return nil
}

// fail forgets what is installed: the next apply is a full install under a
// new generation, then a sweep.
func (r *reconciler) fail(err error) error {
	r.synced = false
	r.installed = nil
	r.gen++
	return err
}

// sweep deletes Wyvern flows of other generations.
func (r *reconciler) sweep(ctx context.Context) (int, error) {
	cookies, err := r.conn.Cookies(ctx)
	if err != nil {
		return 0, fmt.Errorf("agent: read cookies for sweep: %w", err)
	}
	n := 0
	for c, count := range cookies {
		if pipeline.IsStale(c, r.gen) {
			if err := r.conn.DeleteCookie(ctx, c, ^uint64(0)); err != nil {
				return n, fmt.Errorf("agent: sweep cookie %#x: %w", c, err)
			}
			n += count
		}
	}
	return n, nil
}
