package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// FlowConn is the OpenFlow side of the bridge the reconciler needs (an
// *ovs.OFConn).
type FlowConn interface {
	Bundle(ctx context.Context, add, mod, del []ofp.Flow) error
	DumpCookies(ctx context.Context) (map[uint64]int, error)
	DeleteByCookie(ctx context.Context, cookie, mask uint64) error
}

// Cookies: the top 16 bits say the flow is the gateway's, the low 32 bits
// are the generation. Each (re)start of the reconciler installs the whole
// desired set under a new generation — an OpenFlow add replaces a flow of
// the same match in place, so no packet is lost — and then sweeps the
// flows of other generations. Nothing is ever wiped.
//
// This is the agent's approach (internal/agent/reconcile.go) without its
// sections: flows are compared by digest (ovs.FlowDigest), each desired
// flow encoded once per apply, so an apply over 1,000 floating IPs costs
// about a millisecond. The two should become one reconciler once the
// pipeline refactor settles.
const (
	cookieOwner     uint64 = 0x6777 << 48 // "gw"
	cookieOwnerMask uint64 = 0xffff << 48
	cookieGenMask   uint64 = 0xffffffff
)

func cookie(gen uint32) uint64 { return cookieOwner | uint64(gen) }

func isOwn(c uint64) bool { return c&cookieOwnerMask == cookieOwner }

// reconciler makes the bridge hold exactly the desired flows (among the
// gateway's), applying each difference as one atomic bundle.
type reconciler struct {
	conn   FlowConn
	log    *slog.Logger
	gen    uint32
	synced bool
	// installed is what is on the bridge, by the digest of each flow's key
	// (table, priority, match).
	installed map[[2]uint64]installedFlow
}

type installedFlow struct {
	full [2]uint64 // ovs.Digest.Full
	flow ofp.Flow
}

// start picks the generation following those found on the bridge.
func (r *reconciler) start(ctx context.Context) error {
	cookies, err := r.conn.DumpCookies(ctx)
	if err != nil {
		return fmt.Errorf("gateway: read installed cookies: %w", err)
	}
	var max uint32
	for c := range cookies {
		if isOwn(c) && uint32(c&cookieGenMask) > max {
			max = uint32(c & cookieGenMask)
		}
	}
	r.gen = max + 1
	r.synced = false
	return nil
}

// apply is idempotent: calling it again with the same flows sends nothing.
// The flows carry generation r.gen's cookie (flowCache.flows).
func (r *reconciler) apply(ctx context.Context, flows []digested) error {
	start := time.Now()
	want := make(map[[2]uint64]installedFlow, len(flows))
	for _, f := range flows {
		if f.flow.Cookie != cookie(r.gen) {
			return fmt.Errorf("gateway: flow compiled for cookie %#x, installing generation %d", f.flow.Cookie, r.gen)
		}
		want[f.d.Key] = installedFlow{full: f.d.Full, flow: f.flow}
	}
	if !r.synced {
		add := make([]ofp.Flow, 0, len(want))
		for _, f := range want {
			add = append(add, f.flow)
		}
		if err := r.conn.Bundle(ctx, add, nil, nil); err != nil {
			return r.fail(fmt.Errorf("gateway: install generation %d: %w", r.gen, err))
		}
		r.installed = want
		swept, err := r.sweep(ctx)
		if err != nil {
			return r.fail(err)
		}
		r.synced = true
		r.log.Info("flows installed", "generation", r.gen, "flows", len(want), "swept", swept, "took", time.Since(start))
		return nil
	}
	var add, mod, del []ofp.Flow
	for k, f := range want {
		old, ok := r.installed[k]
		switch {
		case !ok:
			add = append(add, f.flow)
		case old.full != f.full:
			mod = append(mod, f.flow)
		}
	}
	for k, f := range r.installed {
		if _, ok := want[k]; !ok {
			del = append(del, f.flow)
		}
	}
	if len(add)+len(mod)+len(del) == 0 {
		return nil
	}
	if err := r.conn.Bundle(ctx, add, mod, del); err != nil {
		return r.fail(fmt.Errorf("gateway: apply flow changes: %w", err))
	}
	r.installed = want
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

// sweep deletes the gateway's flows of other generations.
func (r *reconciler) sweep(ctx context.Context) (int, error) {
	cookies, err := r.conn.DumpCookies(ctx)
	if err != nil {
		return 0, fmt.Errorf("gateway: read cookies for sweep: %w", err)
	}
	n := 0
	for c, count := range cookies {
		if isOwn(c) && uint32(c&cookieGenMask) != r.gen {
			if err := r.conn.DeleteByCookie(ctx, c, ^uint64(0)); err != nil {
				return n, fmt.Errorf("gateway: sweep cookie %#x: %w", c, err)
			}
			n += count
		}
	}
	return n, nil
}
