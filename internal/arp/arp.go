// Package arp resolves IPv4 neighbours the way routers do, for daemons
// that speak ARP on a wire their host's kernel does not hold an address on
// (the agent's external networks, reached through br-int): it builds ARP
// requests and gratuitous announcements, parses replies, and keeps the
// schedule of questions — quick retries with backoff while unresolved, a
// refresh once resolved (Resolver). Sending and receiving frames is the
// caller's (a packet-out and a packet-in of its switch). Pure: no I/O, no
// clock of its own.
//
// `wyvern gateway` resolves its upstream router through its host's kernel
// instead (its uplink address is a kernel address: internal/gateway/arp.go);
// both follow the same schedule idea and keep a configured MAC as an
// override.
package arp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Frame sizes and codes.
const (
	frameLen  = 42 // Ethernet header + ARP for IPv4 over Ethernet
	etherARP  = 0x0806
	opRequest = 1
	opReply   = 2
)

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func frame(dst, sha net.HardwareAddr, op uint16, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) ([]byte, error) {
	if len(sha) != 6 || len(dst) != 6 || len(tha) != 6 || !spa.Is4() || !tpa.Is4() {
		return nil, fmt.Errorf("arp: bad frame fields (sha %v spa %v tpa %v)", sha, spa, tpa)
	}
	b := make([]byte, 0, frameLen)
	b = append(b, dst...)
	b = append(b, sha...)
	b = binary.BigEndian.AppendUint16(b, etherARP)
	b = append(b, 0, 1, 0x08, 0x00, 6, 4) // Ethernet, IPv4, sizes
	b = binary.BigEndian.AppendUint16(b, op)
	s4, t4 := spa.As4(), tpa.As4()
	b = append(b, sha...)
	b = append(b, s4[:]...)
	b = append(b, tha...)
	b = append(b, t4[:]...)
	return b, nil
}

// Request is a broadcast ARP request for target from (mac, ip).
func Request(mac net.HardwareAddr, ip, target netip.Addr) ([]byte, error) {
	return frame(broadcast, mac, opRequest, ip, make(net.HardwareAddr, 6), target)
}

// Probe is a broadcast ARP probe (RFC 5227: sender address 0.0.0.0) for
// target from mac: it asks without claiming an address, so it changes no
// neighbour's cache, and the answer comes back to mac.
func Probe(mac net.HardwareAddr, target netip.Addr) ([]byte, error) {
	return frame(broadcast, mac, opRequest, netip.IPv4Unspecified(), make(net.HardwareAddr, 6), target)
}

// Gratuitous is a gratuitous ARP request announcing that ip is at mac.
func Gratuitous(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	return frame(broadcast, mac, opRequest, ip, make(net.HardwareAddr, 6), ip)
}

// ErrNotReply is returned by ParseReply for a frame that is not an ARP
// reply for IPv4 over Ethernet.
var ErrNotReply = errors.New("arp: not an IPv4 ARP reply")

// ParseReply returns the sender of an ARP reply frame: who answered (its
// address and MAC).
func ParseReply(b []byte) (netip.Addr, net.HardwareAddr, error) {
	if len(b) < frameLen || binary.BigEndian.Uint16(b[12:14]) != etherARP {
		return netip.Addr{}, nil, ErrNotReply
	}
	a := b[14:]
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != 0x0800 || a[4] != 6 || a[5] != 4 ||
		binary.BigEndian.Uint16(a[6:8]) != opReply {
		return netip.Addr{}, nil, ErrNotReply
	}
	sha := net.HardwareAddr(append([]byte(nil), a[8:14]...))
	spa := netip.AddrFrom4([4]byte(a[14:18]))
	if sha[0]&1 != 0 || string(sha) == string(make([]byte, 6)) {
		return netip.Addr{}, nil, fmt.Errorf("arp: reply from %s with bad MAC %s", spa, sha)
	}
	return spa, sha, nil
}

// Timing of a Resolver. The zero value takes the defaults.
type Timing struct {
	// Retry is the first wait after an unanswered request, doubled after
	// each until MaxRetry (defaults 250 ms and 5 s).
	Retry, MaxRetry time.Duration
	// Refresh is how long an answer is trusted before it is asked again
	// (default 30 s). An entry keeps its MAC while it is refreshed:
	// a router that stops answering keeps its last known MAC, as a
	// router's stale neighbour entry does.
	Refresh time.Duration
}

func (t Timing) withDefaults() Timing {
	if t.Retry <= 0 {
		t.Retry = 250 * time.Millisecond
	}
	if t.MaxRetry < t.Retry {
		t.MaxRetry = max(5*time.Second, t.Retry)
	}
	if t.Refresh <= 0 {
		t.Refresh = 30 * time.Second
	}
	return t
}

// Resolver keeps the schedule and answers of a set of neighbours. It is
// not safe for concurrent use: one goroutine (the daemon's loop) owns it.
type Resolver struct {
	timing  Timing
	entries map[netip.Addr]*entry
}

type entry struct {
	mac     net.HardwareAddr
	next    time.Time     // when to ask next
	wait    time.Duration // the current retry wait
	updated time.Time     // last answer
}

// NewResolver returns a resolver with timing t.
func NewResolver(t Timing) *Resolver {
	return &Resolver{timing: t.withDefaults(), entries: map[netip.Addr]*entry{}}
}

// Want makes the set of neighbours to resolve exactly targets: new ones are
// due at once, those no longer wanted are forgotten.
func (r *Resolver) Want(targets []netip.Addr, now time.Time) {
	keep := make(map[netip.Addr]bool, len(targets))
	for _, t := range targets {
		keep[t] = true
		if r.entries[t] == nil {
			r.entries[t] = &entry{next: now, wait: r.timing.Retry}
		}
	}
	for t := range r.entries {
		if !keep[t] {
			delete(r.entries, t)
		}
	}
}

// Due returns the neighbours to ask now, and schedules their next
// question: after the retry wait (doubling) while unresolved, after the
// refresh interval once resolved, then the retry waits again until an
// answer comes.
func (r *Resolver) Due(now time.Time) []netip.Addr {
	var out []netip.Addr
	for t, e := range r.entries {
		if now.Before(e.next) {
			continue
		}
		out = append(out, t)
		e.next = now.Add(e.wait)
		e.wait = min(2*e.wait, r.timing.MaxRetry)
	}
	return out
}

// Next is when the next question is due (zero when nothing is wanted).
func (r *Resolver) Next() time.Time {
	var next time.Time
	for _, e := range r.entries {
		if next.IsZero() || e.next.Before(next) {
			next = e.next
		}
	}
	return next
}

// Answer records a reply from ip at mac. It reports whether ip is wanted
// and its MAC changed (the caller recompiles what uses it).
func (r *Resolver) Answer(ip netip.Addr, mac net.HardwareAddr, now time.Time) bool {
	e := r.entries[ip]
	if e == nil {
		return false
	}
	changed := e.mac.String() != mac.String()
	e.mac = append(e.mac[:0:0], mac...)
	e.updated = now
	e.next = now.Add(r.timing.Refresh)
	e.wait = r.timing.Retry
	return changed
}

// MACs returns the resolved neighbours.
func (r *Resolver) MACs() map[netip.Addr]net.HardwareAddr {
	out := make(map[netip.Addr]net.HardwareAddr, len(r.entries))
	for t, e := range r.entries {
		if e.mac != nil {
			out[t] = e.mac
		}
	}
	return out
}
