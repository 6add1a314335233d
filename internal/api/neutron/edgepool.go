package neutron

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Hot-address steering on the floating-IP edge (issue 9, point 4): a
// floating IP's edge_pool is the pool of edge gateways that announces and
// serves it. Only an admin may change it (PUT with edge_pool), and only
// to a pool that a running gateway registered (edge/gateways/, under the
// gateways' leases) or to the default pool; null means the default pool.
// The change is written in the floating IP's own transaction, to
// edge/pools/<fip>, with the move appended to edge_pool_moves (from, to,
// reason manual, who, when), the record the gateways' automatic steering
// appends its own moves to. Everyone who can see the floating IP sees
// both attributes.

// showPool fills edge_pool and edge_pool_moves from the stored record.
func (f *fipObj) showPool(p *model.EdgePool) {
	f.pool = p
	f.EdgePool = p.PoolOf()
	f.EdgePoolMoves = []model.EdgeMove{}
	if p != nil {
		f.EdgePoolMoves = append(f.EdgePoolMoves, p.Moves...)
	}
}

// steerFIP moves f to pool for principal p.
func (s *Server) steerFIP(ctx context.Context, p auth.Principal, f *fipObj, pool string) error {
	if !p.Admin {
		return Forbidden("(rule:update_floatingip:edge_pool) is disallowed by policy")
	}
	if pool == "" {
		pool = model.DefaultEdgePool
	}
	if err := model.ValidEdgePool(pool); err != nil {
		return InvalidInput("Invalid input for edge_pool. Reason: %s.", err)
	}
	known, err := s.knownEdgePools(ctx)
	if err != nil {
		return err
	}
	if pool != model.DefaultEdgePool && !slices.Contains(known, pool) {
		return fipBadRequest("edge pool %s is unknown: no running gateway belongs to it (known pools: %s)",
			pool, strings.Join(append([]string{model.DefaultEdgePool}, known...), ", "))
	}
	if f.pool.PoolOf() == pool {
		return nil // no move
	}
	by := p.UserName
	if by == "" {
		by = p.UserID
	}
	f.showPool(f.pool.Move(model.EdgeMove{Pool: pool, Reason: model.MoveManual, At: time.Now().UTC(), By: by}))
	f.poolChanged = true
	return nil
}

// knownEdgePools lists the pools of the registered gateways, sorted,
// without the default pool.
func (s *Server) knownEdgePools(ctx context.Context) ([]string, error) {
	kvs, _, err := s.store.List(ctx, store.EdgeGatewaysPrefix)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range kvs {
		var g model.EdgeGateway
		if err := json.Unmarshal(kv.Value, &g); err != nil || g.Pool == "" || g.Pool == model.DefaultEdgePool {
			continue
		}
		if !slices.Contains(out, g.Pool) {
			out = append(out, g.Pool)
		}
	}
	slices.Sort(out)
	return out, nil
}

// edgePools reads every floating IP's pool record, by floating IP id.
func (s *Server) edgePools(ctx context.Context) (map[string]*model.EdgePool, error) {
	kvs, _, err := s.store.List(ctx, store.EdgePoolsPrefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*model.EdgePool, len(kvs))
	for _, kv := range kvs {
		var p model.EdgePool
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			continue
		}
		out[strings.TrimPrefix(kv.Key, store.EdgePoolsPrefix)] = &p
	}
	return out, nil
}
