package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

// exposedBridge is a mapped bridge's steering flows as installed, and the
// connection they were installed over.
type exposedBridge struct {
	conn  *ovs.OFConn
	mac   net.HardwareAddr
	patch uint32
	flows map[string]ofp.Flow // by key
	// cookie is this connection's generation (exposeGen); swept is set
	// once the flows of earlier generations are gone.
	cookie uint64
	swept  bool
}

// Expose implements exposer: it connects to the mapped bridge on first use
// (and again after the connection dropped) under a new cookie generation,
// installs exposeFlows — replacing in place the same flows a previous
// agent left, so that traffic to the announced addresses never stops —
// then deletes the flows of older generations, and keeps them in line
// with addrs as one bundle per change. Only the agent's loop calls it.
func (s *OVSSwitch) Expose(ctx context.Context, bridge string, addrs map[netip.Addr]net.HardwareAddr) error {
	e := s.exposed[bridge]
	if e != nil {
		select {
		case <-e.conn.Done():
			e = nil
		default:
		}
	}
	if e == nil {
		ifs, err := s.db.Interfaces(ctx, bridge)
		if err != nil {
			return err
		}
		local, ok := ifs[bridge]
		patch, ok2 := ifs["patch-"+s.cfg.Bridge]
		if !ok || !ok2 || local.MAC == "" || patch.OFPort <= 0 {
			return fmt.Errorf("agent: %s: its MAC or its patch port to %s is not known yet", bridge, s.cfg.Bridge)
		}
		mac, err := net.ParseMAC(local.MAC)
		if err != nil {
			return fmt.Errorf("agent: MAC of %s: %w", bridge, err)
		}
		conn, err := ovs.Dial(ctx, filepath.Join(s.cfg.RunDir, bridge+".mgmt"), s.log)
		if err != nil {
			return err
		}
		if old := s.exposed[bridge]; old != nil {
			old.conn.Close()
		}
		e = &exposedBridge{conn: conn, mac: mac, patch: uint32(patch.OFPort), flows: map[string]ofp.Flow{},
			cookie: exposeGen(rand.Uint32())}
		if s.exposed == nil {
			s.exposed = map[string]*exposedBridge{}
		}
		s.exposed[bridge] = e
	}
	want := map[string]ofp.Flow{}
	var add, del []ofp.Flow
	for _, f := range exposeFlows(e.mac, e.patch, addrs, e.cookie) {
		k := f.Key()
		want[k] = f
		if old, ok := e.flows[k]; !ok || !old.Equal(f) {
			add = append(add, f)
		}
	}
	for k, f := range e.flows {
		if _, ok := want[k]; !ok {
			del = append(del, f)
		}
	}
	if err := e.conn.Bundle(ctx, add, nil, del); err != nil {
		return err
	}
	e.flows = want
	if !e.swept {
		cookies, err := e.conn.DumpCookies(ctx)
		if err != nil {
			return err
		}
		for c := range cookies {
			if c&exposeCookieMask == exposeCookie && c != e.cookie {
				if err := e.conn.DeleteByCookie(ctx, c, ^uint64(0)); err != nil {
					return err
				}
			}
		}
		e.swept = true
	}
	return nil
}
