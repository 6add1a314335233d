package model

import (
	"fmt"
	"regexp"
	"time"
)

// The floating-IP edge's records (issue 9): the gateways' registrations
// and the pool assignment of a steered floating IP.

// DefaultEdgePool is the pool of edge gateways serving every floating IP
// that was not steered elsewhere.
const DefaultEdgePool = "general"

// Reasons of an EdgeMove.
const (
	// MoveManual is a move by an operator (the API's edge_pool, wyvernctl).
	MoveManual = "manual"
	// MoveAuto is a move by the gateways' automatic steering: the
	// address's packet rate crossed the threshold (to the scrubbing
	// pool), or stayed under it for the hold-down (back).
	MoveAuto = "auto"
)

// MaxEdgeMoves is how many moves a floating IP's pool record keeps, the
// latest last.
const MaxEdgeMoves = 16

// EdgeGateway is a running gateway's registration, written under its
// lease: it goes when the gateway stops. The pools the API accepts are
// those of the registered gateways.
type EdgeGateway struct {
	Name     string   `json:"name"`
	Pool     string   `json:"pool"`
	UplinkIP string   `json:"uplink_ip"`
	TunnelIP string   `json:"tunnel_ip,omitempty"`
	Encaps   []string `json:"encaps,omitempty"`
	// SteerPool, when set, is where the gateway's automatic steering
	// moves a hot address.
	SteerPool string    `json:"steer_pool,omitempty"`
	StartedAt time.Time `json:"started_at"`
}

// EdgePool puts one floating IP in a gateway pool, with the record of
// how it got there.
type EdgePool struct {
	Pool string `json:"pool"`
	// Moves are the last MaxEdgeMoves moves, oldest first.
	Moves []EdgeMove `json:"moves,omitempty"`
}

// EdgeMove is one move of a floating IP between pools.
type EdgeMove struct {
	From   string    `json:"from"`
	Pool   string    `json:"pool"`
	Reason string    `json:"reason"` // MoveManual or MoveAuto
	At     time.Time `json:"at"`
	// By is who moved it: the user id for a manual move, the gateway for
	// an automatic one.
	By string `json:"by,omitempty"`
	// Rate is the packet rate (packets/s) the gateway measured, for an
	// automatic move.
	Rate uint64 `json:"rate_pps,omitempty"`
}

// PoolOf is the pool serving the floating IP of record p (nil: not
// steered).
func (p *EdgePool) PoolOf() string {
	if p == nil || p.Pool == "" {
		return DefaultEdgePool
	}
	return p.Pool
}

// Move records a move to pool and returns the updated record (p may be
// nil); the history keeps its last MaxEdgeMoves entries.
func (p *EdgePool) Move(m EdgeMove) *EdgePool {
	out := &EdgePool{}
	if p != nil {
		out.Moves = append(out.Moves, p.Moves...)
	}
	m.From = p.PoolOf()
	out.Pool = m.Pool
	out.Moves = append(out.Moves, m)
	if n := len(out.Moves); n > MaxEdgeMoves {
		out.Moves = out.Moves[n-MaxEdgeMoves:]
	}
	return out
}

// LastMove is the latest move, or nil.
func (p *EdgePool) LastMove() *EdgeMove {
	if p == nil || len(p.Moves) == 0 {
		return nil
	}
	return &p.Moves[len(p.Moves)-1]
}

var edgePoolName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidEdgePool reports whether name can name a pool: 1 to 63 of
// [a-z0-9-], not starting or ending with '-'.
func ValidEdgePool(name string) error {
	if !edgePoolName.MatchString(name) {
		return fmt.Errorf("pool name %q: want 1-63 of [a-z0-9-], not starting or ending with '-'", name)
	}
	return nil
}
