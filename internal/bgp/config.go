// Package bgp is Wyvern's BGP speaker: an embedded GoBGP server
// (github.com/osrg/gobgp/v3) that announces host routes — floating IPs as
// /32s, a pool's tunnel endpoint — to a few configured upstream peers.
//
// The speaker is declarative: Set makes the announced routes exactly the
// given set and may be called again and again with the same set, which is
// what a reconciler needs. Announce and Withdraw change one route. GoBGP
// keeps retrying a peer that is down and re-advertises every route to a peer
// whose session comes back, so a peer flap or an upstream router restart
// needs nothing from the caller.
//
// Only IPv4 unicast is announced today.
package bgp

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Config is a speaker's configuration.
type Config struct {
	// LocalAS is this speaker's AS number (1 to 4294967295).
	LocalAS uint32
	// RouterID is the BGP identifier, an IPv4 address.
	RouterID netip.Addr
	// ListenPort is the TCP port to accept sessions on: 0 means 179, -1
	// means not to listen (the speaker only connects out).
	ListenPort int
	// ListenAddresses restrict the listener (default: every address).
	ListenAddresses []netip.Addr
	// Peers are the neighbours to announce to.
	Peers []Peer
	// GracefulRestart, when not zero, enables BGP graceful restart (RFC
	// 4724) as the restarting speaker, with this restart time (1 s to
	// 4095 s): the speaker advertises the capability with the Restart
	// State and Forwarding State bits, so that a peer acting as a helper
	// keeps the routes it learned from an earlier session of this speaker
	// (stale) while it restarts, until this speaker's End-of-RIB, or for
	// the restart time. For a speaker whose data plane outlives it (a
	// chassis agent's flows): its restart then loses no traffic. Not for
	// a speaker whose death must withdraw its routes at once (a gateway).
	// With it, the peers are only dialled on the first Set: the new
	// session's End-of-RIB must follow the routes, or the helper drops
	// them.
	GracefulRestart time.Duration
}

// Peer is one BGP neighbour.
type Peer struct {
	Address netip.Addr
	// AS is the neighbour's AS number; 64 bits so that a value too large
	// for BGP is reported, not truncated.
	AS uint64
	// Port is the neighbour's TCP port (0: 179).
	Port int
	// Password enables TCP MD5 authentication (RFC 2385) when not empty.
	Password string
	// HoldTime and KeepAlive are the session timers (0: 90 s and a third
	// of the hold time). The hold time is 0 or at least 3 s.
	HoldTime, KeepAlive time.Duration
	// ConnectRetry is how often a down peer is dialled again (0: 5 s).
	ConnectRetry time.Duration
	// Passive waits for the neighbour to connect instead of dialling it.
	Passive bool
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("bgp: bad configuration")

// Validate reports the first problem of c, wrapping ErrConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if c.LocalAS == 0 {
		return bad("local AS number must be 1 to 4294967295, not 0")
	}
	if !c.RouterID.Is4() || c.RouterID.IsUnspecified() {
		return bad("router id %q is not a non-zero IPv4 address", c.RouterID)
	}
	if c.ListenPort < -1 || c.ListenPort > 65535 {
		return bad("listen port %d out of range (-1 to 65535)", c.ListenPort)
	}
	if c.GracefulRestart != 0 && (c.GracefulRestart < time.Second || c.GracefulRestart > 4095*time.Second ||
		c.GracefulRestart%time.Second != 0) {
		return bad("graceful restart time %v must be 0 (off) or whole seconds from 1s to 4095s", c.GracefulRestart)
	}
	for _, a := range c.ListenAddresses {
		if !a.IsValid() {
			return bad("invalid listen address")
		}
	}
	seen := map[netip.Addr]bool{}
	for i, p := range c.Peers {
		if !p.Address.IsValid() || p.Address.IsUnspecified() || p.Address.IsMulticast() {
			return bad("peer %d: address %q is not a unicast address", i, p.Address)
		}
		if seen[p.Address.Unmap()] {
			return bad("peer %s configured twice", p.Address)
		}
		seen[p.Address.Unmap()] = true
		if p.AS == 0 || p.AS > math.MaxUint32 {
			return bad("peer %s: AS number must be 1 to 4294967295, not %d", p.Address, p.AS)
		}
		if p.Port < 0 || p.Port > 65535 {
			return bad("peer %s: port %d out of range", p.Address, p.Port)
		}
		if p.HoldTime != 0 && (p.HoldTime < 3*time.Second || p.HoldTime > 65535*time.Second) {
			return bad("peer %s: hold time %v must be 0 or 3s to 65535s", p.Address, p.HoldTime)
		}
		if p.KeepAlive < 0 || (p.HoldTime != 0 && p.KeepAlive >= p.HoldTime) {
			return bad("peer %s: keepalive %v must be shorter than the hold time %v", p.Address, p.KeepAlive, p.HoldTime)
		}
		if p.HoldTime%time.Second != 0 || p.KeepAlive%time.Second != 0 {
			return bad("peer %s: timers are whole seconds", p.Address)
		}
		if p.ConnectRetry < 0 {
			return bad("peer %s: negative connect retry", p.Address)
		}
		if len(p.Password) > 80 {
			return bad("peer %s: TCP MD5 password longer than 80 bytes", p.Address)
		}
	}
	return nil
}

// Route is one announcement: a prefix and its next hop.
type Route struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
}

func (r Route) String() string { return r.Prefix.String() + " via " + r.NextHop.String() }

// check reports whether the speaker can announce r.
func (r Route) check() error {
	if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() {
		return fmt.Errorf("bgp: route %v: only IPv4 prefixes are announced", r.Prefix)
	}
	if r.Prefix != r.Prefix.Masked() {
		return fmt.Errorf("bgp: route %v: host bits set", r.Prefix)
	}
	if !r.NextHop.Is4() || r.NextHop.IsUnspecified() {
		return fmt.Errorf("bgp: route %v: next hop %q is not an IPv4 address", r.Prefix, r.NextHop)
	}
	return nil
}

// PeerState is a neighbour's session as the speaker sees it.
type PeerState struct {
	Address     netip.Addr
	AS          uint32
	State       string // idle, connect, active, opensent, openconfirm, established
	Established bool
	// Since is when the session last went up or down (zero if never up).
	Since time.Time
	// Advertised counts the routes sent to the peer.
	Advertised uint64
}
