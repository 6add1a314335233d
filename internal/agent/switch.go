package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// SwitchConfig says where the chassis' Open vSwitch is.
type SwitchConfig struct {
	OVSDB        string // e.g. unix:/var/run/openvswitch/db.sock
	RunDir       string // holds <bridge>.mgmt and ovs-vswitchd.<pid>.ctl
	Bridge       string // the integration bridge, br-int
	DatapathType string // netdev (userspace) or system
	// TunnelBridge holds the underlay address (for tnl/neigh/set).
	TunnelBridge string
	Encaps       []string
	ControllerID uint16
}

// OVSSwitch is the real Switch: br-int over OVSDB and OpenFlow.
type OVSSwitch struct {
	cfg    SwitchConfig
	log    *slog.Logger
	db     *ovs.DB
	appctl ovs.Appctl
	geneve uint32
	vxlan  uint32

	// exposed are the mapped bridges' steering flows (expose.go), by
	// bridge; only the agent's loop touches them.
	exposed map[string]*exposedBridge

	mu     sync.Mutex
	conn   *ovs.OFConn
	pins   chan PacketIn
	resync chan struct{}
}

// OpenSwitch creates (or adopts) the integration bridge and its tunnel
// ports and connects to it over OpenFlow. It keeps the connection up,
// redialling after a vswitchd restart (and then asking for a resync).
func OpenSwitch(ctx context.Context, cfg SwitchConfig, log *slog.Logger) (*OVSSwitch, error) {
	db, err := ovs.Open(ctx, cfg.OVSDB, log)
	if err != nil {
		return nil, fmt.Errorf("agent: ovsdb %s: %w", cfg.OVSDB, err)
	}
	s := &OVSSwitch{cfg: cfg, log: log, db: db, pins: make(chan PacketIn, 256), resync: make(chan struct{}, 1)}
	err = db.EnsureBridge(ctx, ovs.BridgeConfig{Name: cfg.Bridge, DatapathType: cfg.DatapathType, FailSecure: true,
		Protocols: []string{"OpenFlow13", "OpenFlow15"}, DisableInBand: true})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("agent: ensure %s: %w", cfg.Bridge, err)
	}
	for _, e := range cfg.Encaps {
		port, err := db.EnsureTunnelPort(ctx, cfg.Bridge, e+"0", e)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("agent: tunnel port %s0: %w", e, err)
		}
		switch e {
		case "geneve":
			s.geneve = port
		case "vxlan":
			s.vxlan = port
		}
	}
	if err := s.dial(ctx); err != nil {
		db.Close()
		return nil, err
	}
	go s.supervise(ctx)
	return s, nil
}

func (s *OVSSwitch) mgmt() string { return filepath.Join(s.cfg.RunDir, s.cfg.Bridge+".mgmt") }

func (s *OVSSwitch) dial(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var conn *ovs.OFConn
	var err error
	for {
		conn, err = ovs.Dial(dctx, s.mgmt(), s.log)
		if err == nil {
			break
		}
		select {
		case <-dctx.Done():
			return fmt.Errorf("agent: openflow %s: %w", s.mgmt(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := conn.SetControllerID(dctx, s.cfg.ControllerID); err != nil {
		conn.Close()
		return fmt.Errorf("agent: set controller id: %w", err)
	}
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	go func() {
		for {
			select {
			case <-conn.Done():
				return
			case p := <-conn.PacketIns():
				metrics.AgentPacketIns.Inc()
				select {
				case s.pins <- PacketIn{InPort: p.InPort, PortKey: p.Regs[pipeline.InPortKeyField.Reg],
					UserData: p.UserData, Data: p.Data}:
				default: // the agent is behind; DHCP clients retry
					metrics.AgentPacketInsDropped.Inc()
				}
			}
		}
	}()
	return nil
}

// supervise redials a lost OpenFlow connection.
func (s *OVSSwitch) supervise(ctx context.Context) {
	for {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			conn.Close()
			s.db.Close()
			return
		case <-conn.Done():
		}
		s.log.Warn("openflow connection lost; redialling", "err", conn.Err())
		for ctx.Err() == nil {
			if err := s.dial(ctx); err == nil {
				break
			}
		}
		select {
		case s.resync <- struct{}{}:
		default:
		}
	}
}

func (s *OVSSwitch) c() *ovs.OFConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// Bundle implements FlowConn.
func (s *OVSSwitch) Bundle(ctx context.Context, add, mod, del []ofp.Flow) error {
	return s.c().Bundle(ctx, add, mod, del)
}

// Cookies implements FlowConn.
func (s *OVSSwitch) Cookies(ctx context.Context) (map[uint64]int, error) {
	return s.c().DumpCookies(ctx)
}

// DeleteCookie implements FlowConn.
func (s *OVSSwitch) DeleteCookie(ctx context.Context, c, mask uint64) error {
	return s.c().DeleteByCookie(ctx, c, mask)
}

// PacketIns implements FlowConn.
func (s *OVSSwitch) PacketIns() <-chan PacketIn { return s.pins }

// PacketOut implements FlowConn: the packet leaves by outPort.
func (s *OVSSwitch) PacketOut(ctx context.Context, outPort uint32, data []byte) error {
	return s.c().PacketOut(ovs.PortController, []ofp.Action{ofp.Output{Port: outPort}}, data)
}

// Resync signals that br-int lost its flows (vswitchd restarted).
func (s *OVSSwitch) Resync() <-chan struct{} { return s.resync }

// TunnelPorts implements Switch.
func (s *OVSSwitch) TunnelPorts() (uint32, uint32) { return s.geneve, s.vxlan }

// Interfaces implements Switch: the initial listing ends with a zero event.
func (s *OVSSwitch) Interfaces(ctx context.Context) <-chan ovs.InterfaceEvent {
	out := make(chan ovs.InterfaceEvent, 64)
	go func() {
		defer close(out)
		initial, err := s.db.Interfaces(ctx, s.cfg.Bridge)
		if err != nil {
			s.log.Error("list interfaces", "err", err)
		}
		for _, i := range initial {
			out <- ovs.InterfaceEvent{Kind: ovs.IfaceAdded, Iface: i}
		}
		out <- ovs.InterfaceEvent{}
		for ev := range s.db.WatchInterfaces(ctx, s.cfg.Bridge) {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// PatchExternal implements Switch: patch ports "patch-<bridge>" on br-int
// and "patch-<br-int>" on bridge, which must exist (the operator makes it
// with the physical interface).
func (s *OVSSwitch) PatchExternal(ctx context.Context, physnet, bridge string) (uint32, error) {
	if bridge == s.cfg.Bridge {
		return 0, fmt.Errorf("agent: physnet %s mapped to the integration bridge", physnet)
	}
	return s.db.EnsurePatchPorts(ctx, s.cfg.Bridge, "patch-"+bridge, bridge, "patch-"+s.cfg.Bridge)
}

// SetTunnelNeighbor implements Switch.
func (s *OVSSwitch) SetTunnelNeighbor(ctx context.Context, ip netip.Addr, mac string) error {
	if s.appctl.Target == "" {
		t, err := vswitchdCtl(s.cfg.RunDir)
		if err != nil {
			return err
		}
		s.appctl.Target = t
	}
	return s.appctl.TunnelNeighSet(ctx, s.cfg.TunnelBridge, ip.String(), mac)
}

// vswitchdCtl finds ovs-vswitchd's control socket in a run directory.
func vswitchdCtl(runDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(runDir, "ovs-vswitchd.pid"))
	if err != nil {
		return "", fmt.Errorf("agent: ovs-vswitchd pid: %w", err)
	}
	pid := strings.TrimSpace(string(b))
	if pid == "" {
		return "", errors.New("agent: empty ovs-vswitchd pid file")
	}
	return filepath.Join(runDir, "ovs-vswitchd."+pid+".ctl"), nil
}

// TunnelMAC reads the MAC of the underlay bridge from OVSDB.
func (s *OVSSwitch) TunnelMAC(ctx context.Context) (string, error) {
	ifs, err := s.db.Interfaces(ctx, s.cfg.TunnelBridge)
	if err != nil {
		return "", err
	}
	if i, ok := ifs[s.cfg.TunnelBridge]; ok && i.MAC != "" {
		return i.MAC, nil
	}
	return "", fmt.Errorf("agent: no MAC known for %s", s.cfg.TunnelBridge)
}
