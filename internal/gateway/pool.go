package gateway

import (
	"fmt"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Steering a floating IP onto another pool's gateways (a hot address: an
// attack, a flash crowd) is a record under PoolPrefix: the gateways of the
// old pool withdraw its /32 and those of the new one announce it, so the
// upstream routers move its traffic. A floating IP without a record is in
// DefaultPool.
//
// The record is written in one etcd transaction by whoever steers: the
// API's admin-only edge_pool attribute (wyvernctl floatingip steer), with
// the floating IP's own record, or the gateways' automatic steering
// (steer.go). Each move is appended to the record's history and logged by
// every gateway that sees it.

// DefaultPool is the pool of gateways serving every floating IP that was
// not steered elsewhere.
const DefaultPool = model.DefaultEdgePool

// PoolPrefix holds one PoolAssignment per steered floating IP, by id.
const PoolPrefix = store.EdgePoolsPrefix

// PoolKey is the key of a floating IP's pool assignment.
func PoolKey(fipID string) string { return store.EdgePoolKey(fipID) }

// PoolAssignment puts one floating IP in a pool, with its moves.
type PoolAssignment = model.EdgePool

// ValidPool reports whether name can name a pool: 1 to 63 of [a-z0-9-],
// not starting or ending with '-'.
func ValidPool(name string) error {
	if err := model.ValidEdgePool(name); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// poolOf is the pool serving a floating IP.
func (r *Records) poolOf(fipID string) string { return r.Pools[fipID].PoolOf() }
