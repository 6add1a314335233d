package bfd

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// wire encodes and decodes p as the network would carry it.
func wire(t *testing.T, p *layers.BFD) *layers.BFD {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := p.SerializeTo(buf, gopacket.SerializeOptions{}); err != nil {
		t.Fatal(err)
	}
	var out layers.BFD
	if err := out.DecodeFromBytes(buf.Bytes(), gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	return &out
}

// The three-way handshake brings both ends up; after it each transmits
// at the agreed interval and says so with a Poll, which the other answers
// with a Final.
func TestSessionHandshake(t *testing.T) {
	a, b := newSession(0x11, 100*time.Millisecond, 3), newSession(0x22, 50*time.Millisecond, 3)
	now := time.Unix(1000, 0)
	if a.txInterval() != time.Second {
		t.Fatalf("down: transmit every %s, want 1s", a.txInterval())
	}
	steps := []struct {
		from, to *session
		want     layers.BFDState
	}{
		{a, b, layers.BFDStateInit}, // Down seen by b: Init
		{b, a, layers.BFDStateUp},   // Init seen by a: Up
		{a, b, layers.BFDStateUp},   // Up seen by b: Up
	}
	for i, s := range steps {
		ok, changed := s.to.receive(wire(t, s.from.packet()), now)
		if !ok || !changed || s.to.state != s.want {
			t.Fatalf("step %d: ok %v changed %v state %v, want %v", i, ok, changed, s.to.state, s.want)
		}
	}
	if a.remote != 0x22 || b.remote != 0x11 {
		t.Fatalf("discriminators: a knows %#x, b %#x", a.remote, b.remote)
	}
	p := a.packet()
	if !p.Poll || p.DesiredMinTxInterval != 100000 {
		t.Fatalf("a's first packet up: poll %v, desired tx %d µs", p.Poll, p.DesiredMinTxInterval)
	}
	b.receive(wire(t, p), now)
	if f := b.packet(); !f.Final || f.Poll && f.Final {
		t.Fatalf("b answers a Poll with final %v, poll %v", f.Final, f.Poll)
	}
	// a sends every max(its 100 ms, b's required 50 ms); b every 100 ms
	// (a requires it).
	a.remoteMinRx, b.remoteMinRx = 50*time.Millisecond, 100*time.Millisecond
	if a.txInterval() != 100*time.Millisecond || b.txInterval() != 100*time.Millisecond {
		t.Fatalf("transmit intervals up: a %s, b %s", a.txInterval(), b.txInterval())
	}
}

// A silent peer takes an up session down after the detection time: its
// multiplier times the slower of our receive and its transmit intervals.
func TestSessionExpires(t *testing.T) {
	a, b := newSession(1, 100*time.Millisecond, 3), newSession(2, 100*time.Millisecond, 5)
	now := time.Unix(1000, 0)
	b.receive(wire(t, a.packet()), now)
	a.receive(wire(t, b.packet()), now)
	b.receive(wire(t, a.packet()), now)
	a.receive(wire(t, b.packet()), now) // b's up packet: desired tx 100 ms, multiplier 5
	if !a.up() || !b.up() {
		t.Fatalf("not up: %v %v", a.state, b.state)
	}
	if a.expire(now.Add(500 * time.Millisecond)) {
		t.Fatal("down within 5 × 100 ms")
	}
	if !a.expire(now.Add(501*time.Millisecond)) || a.up() || a.diag != layers.BFDDiagnosticTimeExpired || a.remote != 0 {
		t.Fatalf("after 501 ms: state %v, diag %v, remote %#x", a.state, a.diag, a.remote)
	}
	// b hears a say Down: b goes down too, neighbour signalled.
	if _, changed := b.receive(wire(t, a.packet()), now); !changed || b.up() || b.diag != layers.BFDDiagnosticNeighborSignalDown {
		t.Fatalf("b after a's Down: %v %v", b.state, b.diag)
	}
}

// Packets a session must discard change nothing.
func TestSessionDiscards(t *testing.T) {
	s := newSession(7, 100*time.Millisecond, 3)
	now := time.Unix(1000, 0)
	good := func() *layers.BFD {
		return &layers.BFD{Version: 1, State: layers.BFDStateDown, DetectMultiplier: 3, MyDiscriminator: 9,
			DesiredMinTxInterval: 100000, RequiredMinRxInterval: 100000}
	}
	for name, mut := range map[string]func(*layers.BFD){
		"version 0":               func(p *layers.BFD) { p.Version = 0 },
		"multiplier 0":            func(p *layers.BFD) { p.DetectMultiplier = 0 },
		"no discriminator":        func(p *layers.BFD) { p.MyDiscriminator = 0 },
		"someone else's session":  func(p *layers.BFD) { p.YourDiscriminator = 8 },
		"up without knowing us":   func(p *layers.BFD) { p.State = layers.BFDStateUp },
		"multipoint":              func(p *layers.BFD) { p.Multipoint = true },
		"authenticated (unknown)": func(p *layers.BFD) { p.AuthPresent = true },
	} {
		p := good()
		mut(p)
		if ok, _ := s.receive(p, now); ok || s.state != layers.BFDStateDown || s.remote != 0 {
			t.Errorf("%s: accepted (%v), state %v, remote %#x", name, ok, s.state, s.remote)
		}
	}
	if ok, changed := s.receive(good(), now); !ok || !changed || s.state != layers.BFDStateInit {
		t.Fatalf("a good packet: ok %v, changed %v, state %v", ok, changed, s.state)
	}
}

// Up before the peer says so, a session sends at its own interval, not at
// the slow rate the peer asked for while down (FRR's bfdd then times out
// against its fast rate); once the peer is up, at the slower of the two.
func TestSessionTxWhilePeerNotUp(t *testing.T) {
	s := newSession(1, 100*time.Millisecond, 3)
	now := time.Unix(1000, 0)
	slow := &layers.BFD{Version: 1, State: layers.BFDStateInit, DetectMultiplier: 3, MyDiscriminator: 2, YourDiscriminator: 1,
		DesiredMinTxInterval: 1000000, RequiredMinRxInterval: 1000000}
	if _, changed := s.receive(slow, now); !changed || !s.up() {
		t.Fatalf("Init from the peer: state %v", s.state)
	}
	if got := s.txInterval(); got != 100*time.Millisecond {
		t.Fatalf("up, peer in Init asking for 1 s: transmit every %s, want 100ms", got)
	}
	up := *slow
	up.State = layers.BFDStateUp
	s.receive(&up, now)
	if got := s.txInterval(); got != time.Second {
		t.Fatalf("both up, peer asking for 1 s: transmit every %s, want 1s", got)
	}
}
