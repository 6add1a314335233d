package bfd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// Port is the UDP port of single-hop BFD control packets (RFC 5881).
const Port = 3784

// Config is a set of sessions from one local address.
type Config struct {
	// Local is the address the sessions run from (a gateway's uplink).
	Local netip.Addr
	// Peers are the routers to run a session with.
	Peers []netip.Addr
	// Interval is the desired transmit and required receive interval once
	// a session is up (100 ms by default); Multiplier the number of
	// intervals without a packet that take it down (3 by default).
	Interval   time.Duration
	Multiplier uint8
	// ListenPort and PeerPort are Port unless set (tests).
	ListenPort, PeerPort int
}

// Validate fills the defaults and reports the first problem.
func (c *Config) Validate() error {
	if c.Interval == 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Multiplier == 0 {
		c.Multiplier = 3
	}
	if c.ListenPort == 0 {
		c.ListenPort = Port
	}
	if c.PeerPort == 0 {
		c.PeerPort = Port
	}
	if !c.Local.Is4() {
		return fmt.Errorf("bfd: local address %v is not IPv4", c.Local)
	}
	if c.Interval < 10*time.Millisecond || c.Interval > 10*time.Second {
		return fmt.Errorf("bfd: interval %s is not between 10ms and 10s", c.Interval)
	}
	if len(c.Peers) == 0 {
		return errors.New("bfd: no peer")
	}
	for _, p := range c.Peers {
		if !p.Is4() {
			return fmt.Errorf("bfd: peer %v is not IPv4", p)
		}
	}
	return nil
}

// received is a control packet from addr.
type received struct {
	from netip.Addr
	p    *layers.BFD
}

// Runner holds the sessions' sockets; Run runs them.
type Runner struct {
	cfg   Config
	log   *slog.Logger
	up    func(peer netip.Addr, up bool)
	rx    *net.UDPConn
	peers map[netip.Addr]*peer
}

type peer struct {
	s      *session
	conn   *net.UDPConn
	nextTx time.Time
}

// Open validates cfg and opens the sockets of a session with each peer:
// a bad configuration or a port in use is an error here, at start. up is
// called (from Run's goroutine) on each session's change between up and
// down.
func Open(cfg Config, log *slog.Logger, up func(peer netip.Addr, up bool)) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rx, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.Local, uint16(cfg.ListenPort))))
	if err != nil {
		return nil, fmt.Errorf("bfd: listen: %w", err)
	}
	r := &Runner{cfg: cfg, log: log, up: up, rx: rx, peers: map[netip.Addr]*peer{}}
	for i, addr := range cfg.Peers {
		conn, err := dial(cfg.Local, netip.AddrPortFrom(addr, uint16(cfg.PeerPort)))
		if err != nil {
			r.close()
			return nil, err
		}
		disc := layers.BFDDiscriminator(rand.Uint32()&^0xff | uint32(i+1))
		r.peers[addr] = &peer{s: newSession(disc, cfg.Interval, cfg.Multiplier), conn: conn}
	}
	return r, nil
}

func (r *Runner) close() {
	r.rx.Close()
	for _, p := range r.peers {
		p.conn.Close()
	}
}

// Run runs the sessions until ctx ends, then closes the sockets.
func (r *Runner) Run(ctx context.Context) {
	defer r.close()
	cfg, log, up, rx, peers := r.cfg, r.log, r.up, r.rx, r.peers
	in := make(chan received, 64)
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			var p layers.BFD
			if err := p.DecodeFromBytes(buf[:n], gopacket.NilDecodeFeedback); err != nil {
				continue
			}
			select {
			case in <- received{from: from.Addr().Unmap(), p: &p}:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { <-ctx.Done(); rx.Close() }()
	send := func(addr netip.Addr, p *peer, now time.Time) {
		buf := gopacket.NewSerializeBuffer()
		if err := p.s.packet().SerializeTo(buf, gopacket.SerializeOptions{}); err == nil {
			if _, err := p.conn.Write(buf.Bytes()); err != nil {
				log.Debug("bfd send", "peer", addr, "err", err)
			}
		}
		// Jitter: 75 to 100% of the interval (90% at most with a
		// multiplier of 1), RFC 5880 6.8.7.
		hi := 1.0
		if cfg.Multiplier == 1 {
			hi = 0.9
		}
		p.nextTx = now.Add(time.Duration(float64(p.s.txInterval()) * (0.75 + rand.Float64()*(hi-0.75))))
	}
	changed := func(addr netip.Addr, p *peer) {
		log.Info("bfd session "+p.s.state.String(), "peer", addr, "diag", p.s.diag.String())
		if up != nil {
			up(addr, p.s.up())
		}
	}
	tick := time.NewTicker(min(cfg.Interval/4, 25*time.Millisecond))
	defer tick.Stop()
	now := time.Now()
	for addr, p := range peers {
		send(addr, p, now)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-in:
			p := peers[m.from]
			if p == nil {
				continue
			}
			now := time.Now()
			ok, ch := p.s.receive(m.p, now)
			if !ok {
				continue
			}
			if ch {
				changed(m.from, p)
			}
			if ch || m.p.Poll {
				send(m.from, p, now) // the new state, or the Final, at once
			}
		case now := <-tick.C:
			for addr, p := range peers {
				if p.s.expire(now) {
					changed(addr, p)
					send(addr, p, now)
				} else if !now.Before(p.nextTx) {
					send(addr, p, now)
				}
			}
		}
	}
}

// dial opens the socket that sends to peer: from local and a port of
// 49152-65535, with a TTL of 255 (RFC 5881 5, 4).
func dial(local netip.Addr, peer netip.AddrPort) (*net.UDPConn, error) {
	var last error
	for range 16 {
		src := net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, uint16(49152+rand.IntN(16384))))
		d := net.Dialer{LocalAddr: src, Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, 255) }); err != nil {
				return err
			}
			return serr
		}}
		c, err := d.Dial("udp4", peer.String())
		if err == nil {
			return c.(*net.UDPConn), nil
		}
		last = err
	}
	return nil, fmt.Errorf("bfd: socket to %s: %w", peer, last)
}
