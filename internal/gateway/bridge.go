package gateway

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

// Bridge is the gateway's Open vSwitch bridge: its ports over OVSDB and
// its flows over a native OpenFlow connection, redialled after a
// vswitchd restart (then Resync fires).
type Bridge struct {
	cfg    Config
	log    *slog.Logger
	db     *ovs.DB
	ports  Ports
	appctl ovs.Appctl
	mu     sync.Mutex
	conn   *ovs.OFConn
	resync chan struct{}
}

// OpenBridge creates (or adopts) the bridge with its uplink and tunnel
// ports, pins its MAC (the LOCAL interface holds the uplink address, so
// its MAC must not change when ports come and go) and connects to it.
func OpenBridge(ctx context.Context, cfg Config, log *slog.Logger) (*Bridge, error) {
	db, err := ovs.Open(ctx, cfg.OVSDB, log)
	if err != nil {
		return nil, fmt.Errorf("gateway: ovsdb %s: %w", cfg.OVSDB, err)
	}
	b := &Bridge{cfg: cfg, log: log, db: db, resync: make(chan struct{}, 1)}
	if err := b.setup(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := b.dial(ctx); err != nil {
		db.Close()
		return nil, err
	}
	go b.supervise(ctx)
	return b, nil
}

func (b *Bridge) setup(ctx context.Context) error {
	bc := ovs.BridgeConfig{Name: b.cfg.Bridge, DatapathType: b.cfg.DatapathType, FailSecure: true,
		Protocols: []string{"OpenFlow13", "OpenFlow15"}, DisableInBand: true}
	if err := b.db.EnsureBridge(ctx, bc); err != nil {
		return fmt.Errorf("gateway: ensure %s: %w", b.cfg.Bridge, err)
	}
	ifs, err := b.db.Interfaces(ctx, b.cfg.Bridge)
	if err != nil {
		return fmt.Errorf("gateway: interfaces of %s: %w", b.cfg.Bridge, err)
	}
	if i, ok := ifs[b.cfg.UplinkPort]; ok && i.OFPort > 0 {
		b.ports.Uplink = uint32(i.OFPort)
	} else if b.ports.Uplink, err = b.db.AddPort(ctx, b.cfg.Bridge, ovs.PortConfig{Name: b.cfg.UplinkPort}); err != nil {
		return fmt.Errorf("gateway: uplink port %s: %w", b.cfg.UplinkPort, err)
	}
	for _, e := range b.cfg.Encaps {
		port, err := b.db.EnsureTunnelPort(ctx, b.cfg.Bridge, e+"0", e)
		if err != nil {
			return fmt.Errorf("gateway: tunnel port %s0: %w", e, err)
		}
		switch e {
		case "geneve":
			b.ports.Geneve = port
		case "vxlan":
			b.ports.VXLAN = port
		}
	}
	// The MAC of the LOCAL interface, pinned.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ifs, err := b.db.Interfaces(ctx, b.cfg.Bridge)
		if err != nil {
			return fmt.Errorf("gateway: interfaces of %s: %w", b.cfg.Bridge, err)
		}
		if i, ok := ifs[b.cfg.Bridge]; ok && i.MAC != "" {
			m, err := net.ParseMAC(i.MAC)
			if err != nil {
				return fmt.Errorf("gateway: MAC of %s: %w", b.cfg.Bridge, err)
			}
			b.ports.UplinkMAC = m
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway: no MAC known for %s", b.cfg.Bridge)
		}
		time.Sleep(50 * time.Millisecond)
	}
	bc.HWAddr = b.ports.UplinkMAC.String()
	if err := b.db.EnsureBridge(ctx, bc); err != nil {
		return fmt.Errorf("gateway: pin the MAC of %s: %w", b.cfg.Bridge, err)
	}
	b.log.Info("bridge ready", "bridge", b.cfg.Bridge, "uplink", b.cfg.UplinkPort, "uplink_ofport", b.ports.Uplink,
		"geneve", b.ports.Geneve, "vxlan", b.ports.VXLAN, "mac", b.ports.UplinkMAC.String())
	return nil
}

// SetTunnelNeighbour makes tunnelled packets to ip leave TunnelBridge
// for mac, with no ARP (recipe.md, pitfall 2).
func (b *Bridge) SetTunnelNeighbour(ctx context.Context, ip netip.Addr, mac string) error {
	if b.appctl.Target == "" {
		raw, err := os.ReadFile(filepath.Join(b.cfg.RunDir, "ovs-vswitchd.pid"))
		if err != nil {
			return fmt.Errorf("gateway: ovs-vswitchd pid: %w", err)
		}
		pid := strings.TrimSpace(string(raw))
		if pid == "" {
			return fmt.Errorf("gateway: empty ovs-vswitchd pid file in %s", b.cfg.RunDir)
		}
		b.appctl.Target = filepath.Join(b.cfg.RunDir, "ovs-vswitchd."+pid+".ctl")
	}
	if err := b.appctl.TunnelNeighSet(ctx, b.cfg.TunnelBridge, ip.String(), mac); err != nil {
		b.appctl.Target = "" // vswitchd may have restarted under a new pid
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// HoldEndpoint puts the pool's anycast tunnel endpoint on TunnelBridge
// beside TunnelIP, so that the datapath terminates the tunnels the chassis
// send to it. `ip addr replace` is idempotent and the address outlives the
// daemon: a restarted gateway finds it in place, and a stopped one is
// drawn no traffic once its announcement is gone.
func (b *Bridge) HoldEndpoint(ctx context.Context, ep netip.Addr) error {
	prefix := netip.PrefixFrom(ep, 32).String()
	out, err := exec.CommandContext(ctx, "ip", "addr", "replace", prefix, "dev", b.cfg.TunnelBridge).CombinedOutput()
	if err != nil {
		return fmt.Errorf("gateway: hold the tunnel endpoint %s on %s: %w: %s", prefix, b.cfg.TunnelBridge, err, bytes.TrimSpace(out))
	}
	b.log.Info("tunnel endpoint held", "endpoint", prefix, "dev", b.cfg.TunnelBridge)
	return nil
}

// Ports are the bridge's ports and MAC (UpstreamMAC unset).
func (b *Bridge) Ports() Ports { return b.ports }

func (b *Bridge) mgmt() string { return filepath.Join(b.cfg.RunDir, b.cfg.Bridge+".mgmt") }

func (b *Bridge) dial(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		conn, err := ovs.Dial(dctx, b.mgmt(), b.log)
		if err == nil {
			b.mu.Lock()
			b.conn = conn
			b.mu.Unlock()
			return nil
		}
		select {
		case <-dctx.Done():
			return fmt.Errorf("gateway: openflow %s: %w", b.mgmt(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// supervise redials a lost OpenFlow connection and asks for a resync.
func (b *Bridge) supervise(ctx context.Context) {
	for {
		conn := b.c()
		select {
		case <-ctx.Done():
			conn.Close()
			b.db.Close()
			return
		case <-conn.Done():
		}
		b.log.Warn("openflow connection lost; redialling", "err", conn.Err())
		for ctx.Err() == nil {
			if err := b.dial(ctx); err == nil {
				break
			}
		}
		select {
		case b.resync <- struct{}{}:
		default:
		}
	}
}

func (b *Bridge) c() *ovs.OFConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn
}

// Resync fires when the bridge may have lost its flows.
func (b *Bridge) Resync() <-chan struct{} { return b.resync }

// Bundle implements FlowConn.
func (b *Bridge) Bundle(ctx context.Context, add, mod, del []ofp.Flow) error {
	return b.c().Bundle(ctx, add, mod, del)
}

// DumpCookies implements FlowConn.
func (b *Bridge) DumpCookies(ctx context.Context) (map[uint64]int, error) {
	return b.c().DumpCookies(ctx)
}

// DeleteByCookie implements FlowConn.
func (b *Bridge) DeleteByCookie(ctx context.Context, c, mask uint64) error {
	return b.c().DeleteByCookie(ctx, c, mask)
}

// InboundCounters returns the packet counts of the gateway's inbound NAT
// flows by floating address (OpenFlow flow stats of table Inbound).
func (b *Bridge) InboundCounters(ctx context.Context) (map[netip.Addr]uint64, error) {
	stats, err := b.c().FlowStats(ctx, TableInbound.Number, cookieOwner, cookieOwnerMask)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	out := map[netip.Addr]uint64{}
	for _, s := range stats {
		if s.IPv4Dst.IsValid() && s.Priority == prioFIP {
			out[s.IPv4Dst] += s.Packets
		}
	}
	return out, nil
}
