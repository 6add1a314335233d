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
	conn FlowConn
	log  *slog.Logger
	gen  uint32
	// installed indexes what is on the bridge by flow key (table,
	// priority, match), with the flow's full text: a desired flow is
	// rendered once per apply and compared as text.
	installed map[string]installedFlow
	synced    bool
}

type installedFlow struct {
	cookie uint64
	text   string
	flow   ofp.Flow
}

// diff compares desired with what is installed and returns the changes and
// the new index. Flows with the same key are the same OpenFlow entry: the
// last one wins.
func (r *reconciler) diff(desired []ofp.Flow) (add, mod, del []ofp.Flow, next map[string]installedFlow) {
	next = make(map[string]installedFlow, len(desired))
	for _, f := range desired {
		key, text := f.KeyText()
		next[key] = installedFlow{cookie: f.Cookie, text: text, flow: f}
	}
	for key, w := range next {
		h, ok := r.installed[key]
		switch {
		case !ok:
			add = append(add, w.flow)
		case h.cookie != w.cookie || h.text != w.text:
			mod = append(mod, w.flow)
		}
	}
	for key, h := range r.installed {
		if _, ok := next[key]; !ok {
			del = append(del, h.flow)
		}
	}
	return add, mod, del, next
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
	add, mod, del, next := r.diff(desired)
	if !r.synced {
		// Full install: everything is an add; OpenFlow's add replaces a
		// flow with the same match and priority atomically.
		if err := r.conn.Bundle(ctx, add, nil, nil); err != nil {
			return r.fail(fmt.Errorf("agent: install generation %d: %w", r.gen, err))
		}
		r.installed = next
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
	r.installed = next
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
