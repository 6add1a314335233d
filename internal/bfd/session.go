// Package bfd runs single-hop BFD sessions (RFC 5880 in asynchronous mode,
// over UDP/IPv4 as RFC 5881 has it) with a gateway's upstream routers, so
// that a router that stops hearing a gateway (its uplink cut, the host
// frozen) drops the gateway's BGP routes in a few hundred milliseconds
// instead of BGP's hold time (3 s at least).
//
// The packets are encoded and decoded by gopacket's BFD layer; this
// package holds the session state machine (session.go, pure: time is
// passed in) and the sockets (runner.go). No authentication, no demand
// mode, no echo function.
package bfd

import (
	"time"

	"github.com/gopacket/gopacket/layers"
)

// slowTx is the transmit interval while a session is not up (RFC 5880
// 6.8.3: not less than one second).
const slowTx = time.Second

// session is one BFD session's state (RFC 5880 6.8.1), without sockets.
type session struct {
	local, remote         layers.BFDDiscriminator
	state, remoteState    layers.BFDState
	diag                  layers.BFDDiagnostic
	interval              time.Duration // our desired min tx and required min rx once up
	mult                  uint8
	remoteMinRx           time.Duration
	remoteDesiredTx       time.Duration
	remoteMult            uint8
	lastRx                time.Time
	polling, finalPending bool
}

func newSession(local layers.BFDDiscriminator, interval time.Duration, mult uint8) *session {
	return &session{local: local, state: layers.BFDStateDown, remoteState: layers.BFDStateDown,
		interval: interval, mult: mult, remoteMinRx: time.Microsecond}
}

// desiredTx is the bfd.DesiredMinTxInterval we advertise.
func (s *session) desiredTx() time.Duration {
	if s.state != layers.BFDStateUp {
		return max(slowTx, s.interval)
	}
	return s.interval
}

// txInterval is the interval between our packets, before jitter: the
// slower of ours and the peer's required receive interval. A peer not up
// yet may still advertise its slow rate (FRR's bfdd does, then times the
// session out against its fast one once up, before telling us): until the
// peer says Up, an up session sends at its own interval.
func (s *session) txInterval() time.Duration {
	if s.state == layers.BFDStateUp && s.remoteState != layers.BFDStateUp {
		return s.desiredTx()
	}
	return max(s.desiredTx(), s.remoteMinRx)
}

// detectTime is how long without a packet from the peer takes the session
// down (RFC 5880 6.8.4, asynchronous mode).
func (s *session) detectTime() time.Duration {
	return time.Duration(s.remoteMult) * max(s.interval, s.remoteDesiredTx)
}

// receive applies a control packet from the peer at now (RFC 5880 6.8.6)
// and reports whether it was accepted and whether the state changed.
func (s *session) receive(p *layers.BFD, now time.Time) (ok, changed bool) {
	if p.Version != 1 || p.DetectMultiplier == 0 || p.Multipoint || p.MyDiscriminator == 0 || p.AuthPresent {
		return false, false
	}
	if p.YourDiscriminator != 0 && p.YourDiscriminator != s.local {
		return false, false
	}
	if p.YourDiscriminator == 0 && p.State != layers.BFDStateDown && p.State != layers.BFDStateAdminDown {
		return false, false
	}
	s.remote = p.MyDiscriminator
	s.remoteState = p.State
	s.remoteMinRx = time.Duration(p.RequiredMinRxInterval) * time.Microsecond
	s.remoteDesiredTx = time.Duration(p.DesiredMinTxInterval) * time.Microsecond
	s.remoteMult = uint8(p.DetectMultiplier)
	s.lastRx = now
	if p.Final {
		s.polling = false
	}
	if p.Poll {
		s.finalPending = true
	}
	before := s.state
	switch {
	case p.State == layers.BFDStateAdminDown:
		if s.state != layers.BFDStateDown {
			s.state, s.diag = layers.BFDStateDown, layers.BFDDiagnosticNeighborSignalDown
		}
	case s.state == layers.BFDStateDown:
		switch p.State {
		case layers.BFDStateDown:
			s.state = layers.BFDStateInit
		case layers.BFDStateInit:
			s.state = layers.BFDStateUp
		}
	case s.state == layers.BFDStateInit:
		if p.State == layers.BFDStateInit || p.State == layers.BFDStateUp {
			s.state = layers.BFDStateUp
		}
	case s.state == layers.BFDStateUp:
		if p.State == layers.BFDStateDown {
			s.state, s.diag = layers.BFDStateDown, layers.BFDDiagnosticNeighborSignalDown
		}
	}
	if s.state != before && (s.state == layers.BFDStateUp || before == layers.BFDStateUp) {
		// Our desired transmit interval changes with the state: a Poll
		// Sequence tells the peer (RFC 5880 6.8.3).
		s.polling = true
	}
	if s.state == layers.BFDStateUp {
		s.diag = layers.BFDDiagnosticNone
	}
	return true, s.state != before
}

// expire takes the session down when the peer has been silent for the
// detection time, and reports whether it did.
func (s *session) expire(now time.Time) bool {
	if s.state != layers.BFDStateInit && s.state != layers.BFDStateUp {
		return false
	}
	if now.Sub(s.lastRx) <= s.detectTime() {
		return false
	}
	wasUp := s.state == layers.BFDStateUp
	s.state, s.diag, s.remote = layers.BFDStateDown, layers.BFDDiagnosticTimeExpired, 0
	s.remoteMinRx, s.polling = time.Microsecond, wasUp
	return true
}

// packet is the next control packet to send; it carries the Final bit
// once for a received Poll.
func (s *session) packet() *layers.BFD {
	p := &layers.BFD{
		Version:               1,
		Diagnostic:            s.diag,
		State:                 s.state,
		Poll:                  s.polling && !s.finalPending,
		Final:                 s.finalPending,
		DetectMultiplier:      layers.BFDDetectMultiplier(s.mult),
		MyDiscriminator:       s.local,
		YourDiscriminator:     s.remote,
		DesiredMinTxInterval:  layers.BFDTimeInterval(s.desiredTx() / time.Microsecond),
		RequiredMinRxInterval: layers.BFDTimeInterval(s.interval / time.Microsecond),
	}
	s.finalPending = false
	return p
}

// up reports whether the session is up.
func (s *session) up() bool { return s.state == layers.BFDStateUp }
