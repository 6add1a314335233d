package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Run is `wyvern gateway`: it connects to etcd and Open vSwitch, starts
// the BGP speaker and serves until ctx ends. cfg is validated here.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log = log.With("gateway", cfg.Name, "pool", cfg.Pool)
	tlsCfg, err := cfg.EtcdTLS.ClientFor(cfg.EtcdEndpoints)
	if err != nil {
		return fmt.Errorf("gateway: etcd: %w", err)
	}
	st, err := store.DialTLS(ctx, cfg.EtcdEndpoints, tlsCfg)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer st.Close()
	br, err := OpenBridge(ctx, cfg, log)
	if err != nil {
		return err
	}
	speaker, err := bgp.Start(ctx, cfg.BGP, log.With("component", "bgp"))
	if err != nil {
		return err
	}
	defer speaker.Stop()
	metrics.SetBGPSource(bgpSource(speaker))
	defer metrics.SetBGPSource(nil)
	ports := br.Ports()
	macs := make(chan net.HardwareAddr, 1)
	if cfg.UpstreamMAC != nil {
		ports.UpstreamMAC = cfg.UpstreamMAC
	} else {
		go resolveUpstream(ctx, cfg.UpstreamIP, 10*time.Second, macs, log)
	}
	go logPeers(ctx, speaker, log)
	g := New(cfg, Deps{Source: st, Flows: br, Announcer: speaker, Ports: ports, MACs: macs, Resync: br.Resync(),
		SetNeighbour: br.SetTunnelNeighbour}, log)
	log.Info("gateway started", "uplink_ip", cfg.UplinkIP, "upstream", cfg.UpstreamIP, "as", cfg.BGP.LocalAS, "peers", len(cfg.BGP.Peers))
	return g.Run(ctx)
}

// logPeers logs each BGP session state change.
func logPeers(ctx context.Context, s *bgp.Speaker, log *slog.Logger) {
	last := map[string]string{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		peers, err := s.Peers(ctx)
		if err != nil {
			continue
		}
		for _, p := range peers {
			if last[p.Address.String()] != p.State {
				last[p.Address.String()] = p.State
				log.Info("bgp peer", "peer", p.Address, "state", p.State, "advertised", p.Advertised)
			}
		}
	}
}
