package gateway

import (
	"fmt"
	"regexp"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Steering a floating IP onto another pool's gateways (a hot address: an
// attack, a flash crowd) is a record under PoolPrefix: the gateways of the
// old pool withdraw its /32 and those of the new one announce it, so the
// upstream routers move its traffic. A floating IP without a record is in
// DefaultPool.
//
// The record is written by whoever steers: the API's admin-only attribute
// and wyvernctl, or the automatic steering, once they exist (issue 9,
// point 4); today tests write it directly.

// PoolPrefix holds one PoolAssignment per steered floating IP, by id.
const PoolPrefix = store.EdgePoolsPrefix

// PoolKey is the key of a floating IP's pool assignment.
func PoolKey(fipID string) string { return store.EdgePoolKey(fipID) }

// PoolAssignment puts one floating IP in a pool.
type PoolAssignment struct {
	Pool string `json:"pool"`
	// Reason and At record the move (who or what steered it, and when).
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitempty"`
}

var poolName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidPool reports whether name can name a pool: 1 to 63 of [a-z0-9-],
// not starting or ending with '-'.
func ValidPool(name string) error {
	if !poolName.MatchString(name) {
		return fmt.Errorf("gateway: pool name %q: want 1-63 of [a-z0-9-], not starting or ending with '-'", name)
	}
	return nil
}

// poolOf is the pool serving a floating IP.
func (r *Records) poolOf(fipID string) string {
	if a := r.Pools[fipID]; a != nil && a.Pool != "" {
		return a.Pool
	}
	return DefaultPool
}
