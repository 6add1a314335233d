package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/agent"
	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/pki"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Agent is the `agent` command: the local controller of one hypervisor.
// logger is called once the flags are parsed; nil gives the command its
// own --log-level flag.
func Agent(ctx context.Context, logger func() *slog.Logger) *cobra.Command {
	var (
		endpoints, tunnelIP, encaps string
		etcdTLS                     pki.Files
		mappings, nextHops          string
		edgeEndpoint, externalIPs   string
		edgeEncaps                  string
		cpuProfile, memProfile      string
		bgpFlags                    BGPFlags
		metricsListen               string
		cfg                         agent.Config
		sw                          agent.SwitchConfig
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the local controller of one hypervisor (chassis)",
		RunE: func(cmd *cobra.Command, args []string) error {
			log := logger()
			if cpuProfile != "" { // opt-in profiling (bench/README.md)
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				defer pprof.StopCPUProfile()
			}
			if memProfile != "" {
				runtime.MemProfileRate = 4096 // finer than the default 512 KiB
			}
			ip, err := netip.ParseAddr(tunnelIP)
			if err != nil {
				return fmt.Errorf("--tunnel-ip %q: %w", tunnelIP, err)
			}
			cfg.TunnelIP = ip
			sw.Encaps = SplitList(encaps)
			for _, e := range sw.Encaps {
				if e != "geneve" && e != "vxlan" {
					return fmt.Errorf("--encaps: unknown encapsulation %q (geneve, vxlan)", e)
				}
				cfg.Encaps = append(cfg.Encaps, pipeline.Encap(e))
			}
			if cfg.BridgeMappings, err = parsePairs(mappings, ":"); err != nil {
				return fmt.Errorf("--bridge-mappings: %w", err)
			}
			hops, err := parsePairs(nextHops, "=")
			if err != nil {
				return fmt.Errorf("--external-nexthop-mac: %w", err)
			}
			for physnet, m := range hops {
				mac, err := net.ParseMAC(m)
				if err != nil {
					return fmt.Errorf("--external-nexthop-mac %s: %w", physnet, err)
				}
				if cfg.NextHopMACs == nil {
					cfg.NextHopMACs = map[string]net.HardwareAddr{}
				}
				cfg.NextHopMACs[physnet] = mac
			}
			if !cmd.Flags().Changed("edge-encaps") {
				edgeEncaps = "" // learned from the gateways' registrations
			}
			for _, e := range SplitList(edgeEncaps) {
				if e != "geneve" && e != "vxlan" {
					return fmt.Errorf("--edge-encaps: unknown encapsulation %q (geneve, vxlan)", e)
				}
				cfg.EdgeEncaps = append(cfg.EdgeEncaps, pipeline.Encap(e))
			}
			if edgeEndpoint != "" {
				if cfg.EdgeEndpoint, err = netip.ParseAddr(edgeEndpoint); err != nil {
					return fmt.Errorf("--edge-endpoint: %w", err)
				}
			}
			ext, err := parsePairs(externalIPs, "=")
			if err != nil {
				return fmt.Errorf("--external-ip: %w", err)
			}
			for physnet, s := range ext {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return fmt.Errorf("--external-ip %s: %w", physnet, err)
				}
				if cfg.ExternalIPs == nil {
					cfg.ExternalIPs = map[string]netip.Addr{}
				}
				cfg.ExternalIPs[physnet] = a
			}
			if cfg.BGP, err = bgpFlags.Config(); err != nil {
				return err
			}
			if err := cfg.ValidateFIPs(); err != nil {
				return err
			}
			if sw.DatapathType == "" {
				sw.DatapathType = defaultDatapath()
			}
			cfg.ControllerID = sw.ControllerID
			eps := SplitList(endpoints)
			tlsCfg, err := etcdTLS.ClientFor(eps)
			if err != nil {
				return fmt.Errorf("etcd: %w", err)
			}
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			st, err := store.DialTLS(dctx, eps, tlsCfg)
			cancel()
			if err != nil {
				return err
			}
			defer st.Close()
			s, err := agent.OpenSwitch(ctx, sw, log)
			if err != nil {
				return err
			}
			if cfg.TunnelMAC == "" {
				if mac, err := s.TunnelMAC(ctx); err == nil {
					cfg.TunnelMAC = mac
				} else {
					log.Warn("tunnel MAC unknown; peers will learn it by ARP", "err", err)
				}
			}
			a, err := agent.New(cfg, st, s, log)
			if err != nil {
				return err
			}
			if metricsListen != "" {
				stop, err := serveMetrics(metricsListen, st, a, log)
				if err != nil {
					return err
				}
				defer stop()
			}
			err = a.Run(ctx)
			if memProfile != "" { // opt-in: the heap in use when the agent stops
				runtime.GC()
				if f, ferr := os.Create(memProfile); ferr == nil {
					_ = pprof.WriteHeapProfile(f)
					_ = f.Close()
				}
				runtime.KeepAlive(a) // its state is what the profile is for
			}
			return err
		},
	}
	if logger == nil {
		logger = LogLevelFlag(cmd)
	}
	f := cmd.Flags()
	f.StringVar(&endpoints, "etcd-endpoints", "http://127.0.0.1:2379", "comma-separated etcd endpoints")
	EtcdTLSFlags(f, &etcdTLS)
	f.StringVar(&cfg.Chassis, "chassis", "", "chassis name (default: the hostname)")
	f.StringVar(&tunnelIP, "tunnel-ip", "", "underlay IP address other chassis tunnel to (required)")
	f.StringVar(&cfg.TunnelMAC, "tunnel-mac", "", "MAC of the underlay interface (default: read from OVSDB)")
	f.StringVar(&encaps, "encaps", "geneve,vxlan", "tunnel encapsulations this chassis terminates")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 5*time.Second, "how long a dead agent's chassis stays registered")
	f.DurationVar(&cfg.TrimAfter, "trim-after", time.Second, "return memory freed by a burst of work to the OS after this long idle (0: leave it to the Go runtime)")
	f.StringVar(&mappings, "bridge-mappings", "", "provider networks this chassis reaches, physnet:bridge[,...] (the bridge, e.g. br-ex, must exist; the agent patches it to br-int)")
	f.BoolVar(&cfg.Gateway, "gateway", false, "this chassis may host routers' gateways (SNAT, centralized floating IPs) on its mapped physnets")
	f.StringVar(&nextHops, "external-nexthop-mac", "", "override: MAC of the upstream router (the external subnet's gateway) per physnet, physnet=MAC[,...]; by default it is resolved by ARP and refreshed")
	f.DurationVar(&cfg.NextHopTiming.Refresh, "external-nexthop-refresh", 30*time.Second, "how often the upstream router's resolved MAC is asked again")
	f.StringVar(&cfg.FIPMode, "fip-mode", "distributed", "who serves the floating IPs of this chassis' ports: distributed (NATed here when the chassis maps the external network, else on the router's gateway chassis) or edge (the floating-IP edge layer, `wyvern gateway`: their outbound traffic is tunnelled to --edge-endpoint)")
	f.StringVar(&edgeEncaps, "edge-encaps", "", "edge mode: the encapsulations the edge's gateways have (their --encaps), which the chassis tunnels to them with as they choose for it (default: learned from the gateways' registrations, those every gateway has)")
	f.StringVar(&edgeEndpoint, "edge-endpoint", "", "edge mode: the edge layer's tunnel endpoint, the anycast IPv4 /32 its gateways share (routed by the underlay)")
	f.StringVar(&externalIPs, "external-ip", "", "distributed mode with BGP: this chassis' address on a mapped physnet, held by the mapped bridge's interface, physnet=IP[,...]: the BGP next hop of the floating IPs NATed here")
	bgpFlags.Add(f, -1)
	f.StringVar(&sw.OVSDB, "ovsdb", "unix:/var/run/openvswitch/db.sock", "OVSDB server of the local Open vSwitch")
	f.StringVar(&sw.RunDir, "ovs-rundir", "/var/run/openvswitch", "Open vSwitch run directory (bridge .mgmt sockets, vswitchd control socket)")
	f.StringVar(&sw.Bridge, "bridge", "br-int", "integration bridge")
	f.StringVar(&sw.DatapathType, "datapath-type", "", "netdev (userspace) or system (kernel); default: system when the openvswitch module is loaded")
	f.StringVar(&sw.TunnelBridge, "tunnel-bridge", "br-phy", "bridge holding the tunnel IP (for static tunnel neighbours)")
	f.Uint16Var(&sw.ControllerID, "controller-id", 0x5779, "OpenFlow controller id for packet-ins")
	f.DurationVar(&cfg.MeteringInterval, "metering-interval", 10*time.Second, "how often the metering label rules' counters are read from br-int and published (Prometheus, metering/<chassis>)")
	f.DurationVar(&cfg.RAInterval, "ra-interval", time.Minute, "period of the unsolicited router advertisements to local ports on networks with an IPv6 RA mode")
	f.BoolVar(&cfg.Metadata, "metadata", false, "serve the metadata service at 169.254.169.254 to the local ports (needs root: an internal port of the bridge holds the address)")
	f.StringVar(&cfg.NovaMetadataURL, "nova-metadata-url", "", "proxy metadata requests to Nova's metadata API at this URL, with X-Instance-ID, X-Tenant-ID and X-Instance-ID-Signature (default: serve openstack/latest/meta_data.json and network_data.json from the port)")
	f.StringVar(&cfg.MetadataNetns, "metadata-netns", "", "network namespace of the bridge's internal ports when it is not the agent's (test beds)")
	f.StringVar(&cfg.MetadataSecret, "metadata-proxy-shared-secret", "", "shared secret of X-Instance-ID-Signature (Nova's metadata_proxy_shared_secret)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the agent's whole run to this file (profiling only; off by default)")
	f.StringVar(&memProfile, "memprofile", "", "write a heap profile to this file when the agent stops (profiling only; off by default)")
	f.StringVar(&metricsListen, "metrics-listen", "", "serve /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:9697 (off by default)")
	_ = cmd.MarkFlagRequired("tunnel-ip")
	return cmd
}

// defaultDatapath picks the kernel datapath when its module is loaded.
func defaultDatapath() string {
	if _, err := os.Stat("/sys/module/openvswitch"); err == nil {
		return "system"
	}
	return "netdev"
}

// parsePairs parses "k<sep>v,k<sep>v" into a map; "" is an empty map.
func parsePairs(s, sep string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range SplitList(s) {
		k, v, ok := strings.Cut(item, sep)
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q: want name%svalue", item, sep)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%q given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// serveMetrics serves the agent's /metrics, /healthz and /readyz (ready:
// etcd answers and the first sync is installed) on addr.
func serveMetrics(addr string, st *store.Store, a *agent.Agent, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	metrics.Mount(mux, metrics.Check{Name: "store", Fn: st.Ping}, metrics.Check{Name: "sync", Fn: func(context.Context) error {
		select {
		case <-a.Synced():
			return nil
		default:
			return errors.New("first sync not installed yet")
		}
	}})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics listener", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
