package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/cli"
	"github.com/wyvern-sdn/wyvern/internal/gateway"
	"github.com/wyvern-sdn/wyvern/internal/metrics"
)

// gatewayCmd is `wyvern gateway`, a floating-IP edge host: flags → config
// → validate → run.
func gatewayCmd(ctx context.Context, logger func() *slog.Logger) *cobra.Command {
	var (
		cfg                             gateway.Config
		endpoints, uplinkIP, upstreamIP string
		upstreamMAC, tunnelIP, encaps   string
		routerID, listenAddrs           string
		peers, tunnelPeers              []string
		tunnelEndpoint                  string
		localAS                         uint64
		check                           bool
		metricsListen                   string
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run a floating-IP edge gateway: stateless NAT flows on its own bridge, floating IPs announced over BGP",
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			cfg.EtcdEndpoints = cli.SplitList(endpoints)
			if cfg.UplinkIP, err = parseAddr("--uplink-ip", uplinkIP, true); err != nil {
				return err
			}
			if cfg.UpstreamIP, err = parseAddr("--upstream-ip", upstreamIP, false); err != nil {
				return err
			}
			if cfg.TunnelIP, err = parseAddr("--tunnel-ip", tunnelIP, false); err != nil {
				return err
			}
			if upstreamMAC != "" {
				if cfg.UpstreamMAC, err = net.ParseMAC(upstreamMAC); err != nil {
					return fmt.Errorf("--upstream-mac: %w", err)
				}
			}
			cfg.Encaps = cli.SplitList(encaps)
			if localAS == 0 || localAS > 1<<32-1 {
				return fmt.Errorf("--bgp-as %d: AS number must be 1 to 4294967295", localAS)
			}
			cfg.BGP.LocalAS = uint32(localAS)
			if cfg.BGP.RouterID, err = parseAddr("--bgp-router-id", routerID, false); err != nil {
				return err
			}
			for _, a := range cli.SplitList(listenAddrs) {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					return fmt.Errorf("--bgp-listen-address: %w", err)
				}
				cfg.BGP.ListenAddresses = append(cfg.BGP.ListenAddresses, ip)
			}
			for _, p := range peers {
				peer, err := parsePeer(p)
				if err != nil {
					return fmt.Errorf("--bgp-peer %q: %w", p, err)
				}
				cfg.BGP.Peers = append(cfg.BGP.Peers, peer)
			}
			if cfg.TunnelEndpoint, err = parseAddr("--tunnel-endpoint", tunnelEndpoint, false); err != nil {
				return err
			}
			for _, p := range tunnelPeers {
				peer, err := parsePeer(p)
				if err != nil {
					return fmt.Errorf("--tunnel-bgp-peer %q: %w", p, err)
				}
				cfg.TunnelPeers = append(cfg.TunnelPeers, peer)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if check {
				fmt.Fprintf(cmd.OutOrStdout(), "gateway %s: configuration valid (pool %s, AS %d, %d peers)\n",
					cfg.Name, cfg.Pool, cfg.BGP.LocalAS, len(cfg.BGP.Peers))
				return nil
			}
			if cfg.DatapathType == "" {
				cfg.DatapathType = "netdev"
				if _, err := os.Stat("/sys/module/openvswitch"); err == nil {
					cfg.DatapathType = "system"
				}
			}
			if metricsListen != "" {
				stop, err := serveGatewayMetrics(metricsListen)
				if err != nil {
					return err
				}
				defer stop()
			}
			return gateway.Run(ctx, cfg, logger())
		},
	}
	host, _ := os.Hostname()
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", host, "gateway name (default: the hostname)")
	f.StringVar(&cfg.Pool, "pool", gateway.DefaultPool, "gateway pool whose floating IPs this gateway serves")
	f.StringVar(&endpoints, "etcd-endpoints", "http://127.0.0.1:2379", "comma-separated etcd endpoints")
	cli.EtcdTLSFlags(f, &cfg.EtcdTLS)
	f.StringVar(&cfg.OVSDB, "ovsdb", "unix:/var/run/openvswitch/db.sock", "OVSDB server of the local Open vSwitch")
	f.StringVar(&cfg.RunDir, "ovs-rundir", "/var/run/openvswitch", "Open vSwitch run directory (bridge .mgmt sockets)")
	f.StringVar(&cfg.Bridge, "bridge", "br-edge", "the gateway's bridge (created if missing)")
	f.StringVar(&cfg.DatapathType, "datapath-type", "", "netdev (userspace) or system (kernel); default: system when the openvswitch module is loaded")
	f.StringVar(&cfg.UplinkPort, "uplink", "", "interface towards the upstream routers, added to the bridge (required)")
	f.StringVar(&uplinkIP, "uplink-ip", "", "address of the bridge's LOCAL interface on the uplink: the BGP next hop (required)")
	f.StringVar(&upstreamIP, "upstream-ip", "", "upstream router's address on the uplink; its MAC is resolved by ARP")
	f.StringVar(&upstreamMAC, "upstream-mac", "", "upstream router's MAC (override: skips ARP resolution)")
	f.StringVar(&tunnelIP, "tunnel-ip", "", "underlay address the chassis see tunnels from")
	f.StringVar(&tunnelEndpoint, "tunnel-endpoint", "", "the pool's anycast tunnel endpoint (an address of the tunnel bridge on every gateway of the pool; the chassis' --edge-endpoint)")
	f.StringArrayVar(&tunnelPeers, "tunnel-bgp-peer", nil, "underlay router to announce --tunnel-endpoint/32 to, via --tunnel-ip, ADDRESS,as=AS[,...] as --bgp-peer (repeatable; not passive)")
	f.StringVar(&cfg.TunnelBridge, "tunnel-bridge", "br-phy", "bridge holding the tunnel IP (for static tunnel neighbours)")
	f.StringVar(&encaps, "encaps", "geneve,vxlan", "tunnel encapsulations towards the chassis")
	f.Uint64Var(&localAS, "bgp-as", 0, "local AS number (required)")
	f.StringVar(&routerID, "bgp-router-id", "", "BGP router id (default: the uplink address)")
	f.IntVar(&cfg.BGP.ListenPort, "bgp-listen-port", 179, "TCP port for incoming BGP sessions (-1: only connect out)")
	f.StringVar(&listenAddrs, "bgp-listen-address", "", "comma-separated addresses to accept BGP on (default: all)")
	f.StringArrayVar(&peers, "bgp-peer", nil, "BGP neighbour, ADDRESS,as=AS[,port=P][,password=PW][,hold=90s][,keepalive=30s][,connect-retry=5s][,passive] (repeatable)")
	f.StringVar(&metricsListen, "metrics-listen", "", "serve /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:9698 (off by default)")
	f.Uint64Var(&cfg.Steering.Threshold, "steer-threshold-pps", 0, "automatic steering: packets/s of one floating IP through this gateway above which it is moved to --steer-pool (0: off)")
	f.StringVar(&cfg.Steering.Pool, "steer-pool", "", "automatic steering: the scrubbing pool hot floating IPs are moved to")
	f.DurationVar(&cfg.Steering.HoldDown, "steer-hold-down", 30*time.Second, "automatic steering: how long a steered floating IP must stay under the threshold before it is moved back")
	f.DurationVar(&cfg.Steering.Interval, "steer-interval", time.Second, "automatic steering: how often the flow counters are read")
	f.DurationVar(&cfg.BFD.Interval, "bfd-interval", 0, "run BFD with each upstream BGP peer at this interval, e.g. 100ms (the router drops a silent gateway's routes after --bfd-multiplier intervals; 0: no BFD)")
	f.Uint8Var(&cfg.BFD.Multiplier, "bfd-multiplier", 3, "BFD: intervals without a packet that take a session down")
	f.DurationVar(&cfg.Coalesce, "coalesce", 10*time.Millisecond, "after the first sync, hold a recompile back at least this long (and four times the last sync's duration, up to 100ms) to fold in more changes: bounds the work under a stream of associations")
	f.BoolVar(&check, "check", false, "validate the configuration and exit")
	_ = cmd.MarkFlagRequired("uplink")
	_ = cmd.MarkFlagRequired("uplink-ip")
	_ = cmd.MarkFlagRequired("bgp-as")
	return cmd
}

func parseAddr(flag, s string, required bool) (netip.Addr, error) {
	if s == "" {
		if required {
			return netip.Addr{}, fmt.Errorf("%s is required", flag)
		}
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s: %w", flag, err)
	}
	return a, nil
}

// parsePeer parses a --bgp-peer value (cli.ParseBGPPeer, shared with
// the agent's BGP flags).
func parsePeer(s string) (bgp.Peer, error) { return cli.ParseBGPPeer(s) }

// serveGatewayMetrics serves the gateway's /metrics, /healthz and /readyz
// (ready: its BGP speaker runs) on addr.
func serveGatewayMetrics(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	metrics.Mount(mux, metrics.Check{Name: "bgp", Fn: func(context.Context) error {
		if !metrics.BGPStarted() {
			return errors.New("BGP speaker not started")
		}
		return nil
	}})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
