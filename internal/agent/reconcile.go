package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// reconciler is the one place flows reach br-int. It keeps the flows it
// installed and applies the difference to a new desired set as one atomic
// bundle. After a (re)start it installs the whole desired set under a new
// generation — replacing identical flows in place, so packets keep flowing
// — and only then sweeps flows of older generations.
//
// Desired flows come in the compiler's sections (pipeline.Section): a
// section whose input hash is the one installed is skipped without looking
// at its flows, so the work of an update is that of the sections that
// changed.
type reconciler struct {
	conn FlowConn
	log  *slog.Logger
	gen  uint32
	// installed indexes what is on the bridge by the digest of its flow
	// key (table, priority, match), with the digest of the whole flow: a
	// desired flow is encoded once per apply and compared by digest.
	installed map[[2]uint64]installedFlow
	// sections are the installed sections: their hash and flow keys.
	sections map[string]installedSection
	synced   bool
	// inherited: at start the bridge held a predecessor's flows (a
	// restarted agent), which keep forwarding until the first apply.
	inherited bool
	buf       []byte // scratch for flow digests
}

type installedFlow struct {
	full    [2]uint64 // ovs.Digest.Full
	flow    ofp.Flow
	section string // the section that compiled it
}

type installedSection struct {
	hash uint64
	keys [][2]uint64
}

// plan compares the desired sections with what is installed and returns
// the flow changes, and commit, which records them as installed once the
// switch took them. A flow key belongs to one section at a time; when two
// sections produce the same key, the later one wins.
func (r *reconciler) plan(secs []pipeline.Section) (add, mod, del []ofp.Flow, commit func(), err error) {
	// pending is the new state of every key touched; nil: deleted.
	pending := map[[2]uint64]*installedFlow{}
	get := func(key [2]uint64) (installedFlow, bool) {
		if p, ok := pending[key]; ok {
			if p == nil {
				return installedFlow{}, false
			}
			return *p, true
		}
		f, ok := r.installed[key]
		return f, ok
	}
	next := make(map[string]installedSection, len(secs))
	for _, s := range secs {
		old, had := r.sections[s.ID]
		if had && old.hash == s.Hash && r.synced {
			next[s.ID] = old
			continue
		}
		keys := make([][2]uint64, 0, len(s.Flows))
		fresh := make(map[[2]uint64]bool, len(s.Flows))
		for _, f := range s.Flows {
			var d ovs.Digest
			if d, r.buf, err = ovs.FlowDigest(r.buf, f); err != nil {
				return nil, nil, nil, nil, fmt.Errorf("agent: section %s: %w", s.ID, err)
			}
			if !fresh[d.Key] {
				fresh[d.Key] = true
				keys = append(keys, d.Key)
			}
			pending[d.Key] = &installedFlow{full: d.Full, flow: f, section: s.ID}
		}
		for _, key := range old.keys {
			if f, ok := get(key); !fresh[key] && ok && f.section == s.ID {
				pending[key] = nil
			}
		}
		next[s.ID] = installedSection{hash: s.Hash, keys: keys}
	}
	for id, old := range r.sections {
		if _, still := next[id]; still {
			continue
		}
		for _, key := range old.keys {
			if f, ok := get(key); ok && f.section == id {
				pending[key] = nil
			}
		}
	}
	for key, p := range pending {
		h, had := r.installed[key]
		switch {
		case p == nil && had:
			del = append(del, h.flow)
		case p == nil:
		case !had:
			add = append(add, p.flow)
		case h.full != p.full:
			mod = append(mod, p.flow)
		}
	}
	commit = func() {
		if r.installed == nil {
			r.installed = make(map[[2]uint64]installedFlow, len(pending))
		}
		for key, p := range pending {
			if p == nil {
				delete(r.installed, key)
			} else {
				r.installed[key] = *p
			}
		}
		r.sections = next
	}
	return add, mod, del, commit, nil
}

func newReconciler(conn FlowConn, log *slog.Logger) *reconciler {
	return &reconciler{conn: countingConn{conn}, log: log}
}

// start picks the generation following those found on the bridge.
func (r *reconciler) start(ctx context.Context) error {
	cookies, err := r.conn.Cookies(ctx)
	if err != nil {
		return fmt.Errorf("agent: read installed cookies: %w", err)
	}
	var max uint32
	for c := range cookies {
		if !pipeline.IsOwnCookie(c) {
			continue
		}
		r.inherited = true
		if pipeline.CookieGeneration(c) > max {
			max = pipeline.CookieGeneration(c)
		}
	}
	r.gen = max + 1
	return nil
}

// apply makes br-int hold exactly the sections' flows (among Wyvern's).
func (r *reconciler) apply(ctx context.Context, secs []pipeline.Section) error {
	start := time.Now()
	add, mod, del, commit, err := r.plan(secs)
	if err != nil {
		return r.fail(err)
	}
	if !r.synced {
		// Full install: everything is an add; OpenFlow's add replaces a
		// flow with the same match and priority atomically.
		if err := r.conn.Bundle(ctx, add, nil, nil); err != nil {
			return r.fail(fmt.Errorf("agent: install generation %d: %w", r.gen, err))
		}
		commit()
		swept, err := r.sweep(ctx)
		if err != nil {
			return r.fail(err)
		}
		r.synced = true
		r.log.Info("flows installed", "generation", r.gen, "flows", len(r.installed), "swept", swept, "took", time.Since(start))
		return nil
	}
	if len(add)+len(mod)+len(del) == 0 {
		commit() // sections may have been recompiled into the same flows
		return nil
	}
	if err := r.conn.Bundle(ctx, add, mod, del); err != nil {
		return r.fail(fmt.Errorf("agent: apply flow changes: %w", err))
	}
	commit()
	r.log.Debug("flows updated", "add", len(add), "modify", len(mod), "delete", len(del), "took", time.Since(start))
	return nil
}

// fail forgets what is installed: the next apply is a full install under a
// new generation, then a sweep.
func (r *reconciler) fail(err error) error {
	r.synced = false
	r.installed = nil
	r.sections = nil
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
