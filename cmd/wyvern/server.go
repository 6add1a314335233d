package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/api/keystone"
	"github.com/wyvern-sdn/wyvern/internal/api/neutron"
	"github.com/wyvern-sdn/wyvern/internal/cli"
	"github.com/wyvern-sdn/wyvern/internal/server"
)

func serverCmd(ctx context.Context, logger func() *slog.Logger) *cobra.Command {
	cfg := server.Config{Neutron: neutron.DefaultConfig()}
	var endpoints, pprofAddr, vlanRanges string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Serve the Neutron v2.0 and Keystone v3 APIs on etcd (embedded unless --etcd-endpoints)",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.EtcdEndpoints = cli.SplitList(endpoints)
			if vlanRanges != "" {
				r, err := neutron.ParseVLANRanges(vlanRanges)
				if err != nil {
					return fmt.Errorf("--network-vlan-ranges: %w", err)
				}
				cfg.Neutron.VLANRanges = r
			}
			if pprofAddr != "" { // opt-in profiling on its own listener (bench/README.md)
				ln, err := net.Listen("tcp", pprofAddr)
				if err != nil {
					return fmt.Errorf("--pprof: %w", err)
				}
				mux := http.NewServeMux()
				mux.HandleFunc("/debug/pprof/", pprof.Index)
				mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
				mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
				go func() { _ = http.Serve(ln, mux) }()
			}
			return server.Run(ctx, cfg, logger())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:9696", "API listen address (Neutron under /v2.0, Keystone under /v3)")
	f.StringVar(&endpoints, "etcd-endpoints", "", "comma-separated external etcd endpoints; empty starts an embedded etcd")
	f.StringVar(&cfg.DataDir, "data-dir", server.DefaultDataDir(), "embedded etcd data directory")
	f.StringVar(&cfg.EtcdClientURL, "etcd-client-url", "http://127.0.0.1:2379", "embedded etcd client URL (agents connect here)")
	f.StringVar(&cfg.EtcdPeerURL, "etcd-peer-url", "http://127.0.0.1:2380", "embedded etcd peer URL")
	f.StringVar(&cfg.UsersFile, "users", "", "JSON file of users, projects and roles")
	f.StringVar(&cfg.AdminUser, "admin-user", "admin", "bootstrap admin user name")
	f.StringVar(&cfg.AdminPassword, "admin-password", envOr("WYVERN_ADMIN_PASSWORD", ""), "bootstrap admin password (or WYVERN_ADMIN_PASSWORD)")
	f.StringVar(&cfg.AdminProject, "admin-project", "admin", "bootstrap admin project name")
	f.DurationVar(&cfg.TokenTTL, "token-ttl", time.Hour, "lifetime of issued tokens")
	f.BoolVar(&cfg.NoAuth, "noauth", false, "accept requests without tokens (development only)")
	f.StringVar(&cfg.PublicURL, "public-url", "", "base URL advertised in the catalog and links (default: from the request)")
	f.BoolVar(&cfg.UnsafeNoFsync, "unsafe-no-fsync", false, "skip fsync in the embedded etcd (tests and benchmarks only)")
	f.StringVar(&pprofAddr, "pprof", "", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (profiling only; off by default)")
	f.StringVar(&cfg.CertFile, "cert-file", "", "serve the API over HTTPS with this certificate (PEM)")
	f.StringVar(&cfg.KeyFile, "key-file", "", "key of --cert-file")
	f.StringVar(&cfg.EtcdTLS.CertFile, "etcd-cert-file", "", "embedded etcd: client listener's certificate (use an https:// --etcd-client-url)")
	f.StringVar(&cfg.EtcdTLS.KeyFile, "etcd-key-file", "", "embedded etcd: key of --etcd-cert-file")
	f.StringVar(&cfg.EtcdTLS.TrustedCAFile, "etcd-trusted-ca-file", "", "embedded etcd: CA that signs client certificates")
	f.BoolVar(&cfg.EtcdTLS.ClientCertAuth, "etcd-client-cert-auth", false, "embedded etcd: refuse clients without a certificate of --etcd-trusted-ca-file")
	f.StringVar(&cfg.EtcdPeerTLS.CertFile, "etcd-peer-cert-file", "", "embedded etcd: peer listener's certificate (use an https:// --etcd-peer-url)")
	f.StringVar(&cfg.EtcdPeerTLS.KeyFile, "etcd-peer-key-file", "", "embedded etcd: key of --etcd-peer-cert-file")
	f.StringVar(&cfg.EtcdPeerTLS.TrustedCAFile, "etcd-peer-trusted-ca-file", "", "embedded etcd: CA that signs peer certificates")
	f.BoolVar(&cfg.EtcdPeerTLS.ClientCertAuth, "etcd-peer-client-cert-auth", false, "embedded etcd: refuse peers without a certificate of --etcd-peer-trusted-ca-file")
	// A real Keystone, with keystonemiddleware's [keystone_authtoken] options.
	f.StringVar(&cfg.Keystone.URL, "keystone-url", "", "validate tokens against this Keystone (e.g. http://controller:5000) instead of serving the built-in identity API")
	f.StringVar(&cfg.Keystone.Username, "keystone-username", "", "--keystone-url: service user that validates tokens")
	f.StringVar(&cfg.Keystone.Password, "keystone-password", envOr("WYVERN_KEYSTONE_PASSWORD", ""), "--keystone-url: service user's password (or WYVERN_KEYSTONE_PASSWORD)")
	f.StringVar(&cfg.Keystone.ProjectName, "keystone-project-name", "service", "--keystone-url: service user's project")
	f.StringVar(&cfg.Keystone.UserDomainName, "keystone-user-domain-name", "Default", "--keystone-url: service user's domain")
	f.StringVar(&cfg.Keystone.ProjectDomainName, "keystone-project-domain-name", "Default", "--keystone-url: service project's domain")
	f.StringVar(&cfg.Keystone.CAFile, "keystone-cafile", "", "--keystone-url: CA bundle trusted for an https Keystone")
	f.DurationVar(&cfg.Keystone.CacheTTL, "keystone-token-cache-time", keystone.DefaultRemoteCacheTTL, "--keystone-url: how long a validated token is trusted without asking Keystone again (at most 5m, so revocations take effect)")
	cli.EtcdTLSFlags(f, &cfg.EtcdClient)
	f.BoolVar(&cfg.EtcdAuth, "etcd-auth", false, "embedded etcd: turn on etcd's users and roles on first start (root, and the server's certificate's common name as admin); enroll chassis with `wyvernctl chassis add`")
	f.StringVar(&cfg.EtcdRootPassword, "etcd-root-password", envOr("WYVERN_ETCD_ROOT_PASSWORD", ""), "--etcd-auth: password of etcd's root user, for a server that connects without a client certificate (or WYVERN_ETCD_ROOT_PASSWORD)")
	f.IntVar(&cfg.Neutron.GlobalMTU, "global-mtu", cfg.Neutron.GlobalMTU, "underlay MTU; network MTUs subtract the tunnel overhead")
	f.StringVar(&vlanRanges, "network-vlan-ranges", "", "VLAN ids of vlan networks by physical network, as Neutron's network_vlan_ranges: physnet1:100:199[,physnet2[,...]] (a physical network without a range takes explicit ids only); empty: any physical network, any id")
	f.DurationVar(&cfg.Neutron.StoreTimeout, "store-timeout", neutron.DefaultStoreTimeout, "bound of each API read's store work; past it the read is answered 503 (negative: none; writes are settled, never cut short)")
	f.StringVar(&cfg.Neutron.DefaultNetworkType, "tenant-network-type", cfg.Neutron.DefaultNetworkType, "network type of tenant networks: geneve or vxlan")
	return cmd
}
