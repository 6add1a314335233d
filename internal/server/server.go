// Package server runs `wyvern server`: the etcd store (embedded or
// external), the Keystone v3 token endpoint, the Neutron v2.0 API, the web
// console (/console/) and /metrics, /healthz and /readyz on one HTTP
// listener.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/api/keystone"
	"github.com/wyvern-sdn/wyvern/internal/api/neutron"
	"github.com/wyvern-sdn/wyvern/internal/console"
	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/pki"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/embedded"
)

// Config is the server's configuration, filled from flags.
type Config struct {
	Listen        string   // Neutron + Keystone listener, host:port
	EtcdEndpoints []string // external cluster; empty starts an embedded member
	DataDir       string   // embedded etcd's data
	EtcdClientURL string   // embedded etcd's client URL, served for agents
	EtcdPeerURL   string
	UsersFile     string
	AdminUser     string
	AdminPassword string
	AdminProject  string
	TokenTTL      time.Duration
	NoAuth        bool
	PublicURL     string
	// UnsafeNoFsync skips fsync in the embedded etcd (tests, benchmarks).
	UnsafeNoFsync bool
	Neutron       neutron.Config

	// CertFile and KeyFile serve the API over HTTPS; without them it is
	// plain HTTP, for development, and the server warns.
	CertFile, KeyFile string
	// EtcdTLS and EtcdPeerTLS are the embedded member's client and peer
	// listeners' certificates (https:// URLs).
	EtcdTLS, EtcdPeerTLS embedded.TLS
	// EtcdClient is the server's own client certificate and trusted CA
	// towards etcd. With the embedded member it defaults to the member's
	// certificate and CA.
	EtcdClient pki.Files
	// EtcdAuth turns on the embedded etcd's authentication on first
	// start: the root user, and the user of the server's own client
	// certificate (its common name) with the root role. Chassis and
	// gateways are then enrolled (`wyvernctl chassis add`) and may write
	// only their own keys (store.Grants).
	EtcdAuth bool
	// EtcdRootPassword is the password of etcd's root user with
	// EtcdAuth, for a server without a client certificate; the server
	// then connects as root.
	EtcdRootPassword string
	// Keystone, when its URL is set, is the real Keystone that validates
	// tokens instead of the built-in identity service (see identity.go).
	Keystone keystone.RemoteConfig
}

// DefaultDataDir is where the embedded etcd keeps its data by default:
// $XDG_STATE_HOME/wyvern or ~/.local/state/wyvern.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wyvern", "etcd")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "wyvern", "etcd")
	}
	return filepath.Join(home, ".local", "state", "wyvern", "etcd")
}

// Validate checks the configuration before anything starts.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if len(c.EtcdEndpoints) == 0 && c.DataDir == "" {
		return errors.New("--data-dir is required with the embedded etcd")
	}
	if c.EtcdAuth && len(c.EtcdEndpoints) > 0 {
		return errors.New("--etcd-auth enables the embedded etcd's authentication; enable an external cluster's with etcdctl (see README, \"Deploying for real\")")
	}
	if c.EtcdAuth && c.EtcdRootPassword == "" && (c.EtcdTLS.CertFile == "" || !c.EtcdTLS.ClientCertAuth) && c.EtcdClient.CertFile == "" {
		return errors.New("--etcd-auth needs client certificates (--etcd-client-cert-auth; the server's certificate's common name becomes etcd's admin) or --etcd-root-password")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("--cert-file and --key-file go together")
	}
	if c.Keystone.URL != "" {
		if c.NoAuth || c.AdminPassword != "" || c.UsersFile != "" {
			return errors.New("--keystone-url: the identity comes from that Keystone; drop --noauth, --users and --admin-password (WYVERN_ADMIN_PASSWORD)")
		}
		_, err := keystone.NewRemote(c.Keystone, nil)
		return err
	}
	if !c.NoAuth && c.AdminPassword == "" && c.UsersFile == "" {
		return errors.New("no users: give --admin-password (or WYVERN_ADMIN_PASSWORD), --users FILE, or --noauth for development")
	}
	return nil
}

// Run serves until ctx ends or a component fails.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// The listener opens first: /healthz answers at once and /readyz
	// says 503 until the store is reachable and the API registered; every
	// other path is 503 until then.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.CertFile != "" {
		tc, err := pki.Files{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile}.Server(false)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	} else {
		log.Warn("the API is served over plain HTTP: tokens and passwords cross the network in clear; give --cert-file and --key-file")
	}
	var (
		ready   atomic.Pointer[http.Handler]
		storeP  atomic.Pointer[store.Store]
		started = metrics.Check{Name: "store", Fn: func(ctx context.Context) error {
			st := storeP.Load()
			if st == nil {
				return errors.New("connecting to etcd")
			}
			return st.Ping(ctx)
		}}
		apiReady = metrics.Check{Name: "api", Fn: func(context.Context) error {
			if ready.Load() == nil {
				return errors.New("starting")
			}
			return nil
		}}
	)
	health := http.NewServeMux()
	metrics.Mount(health, started, apiReady)
	health.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if h := ready.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "wyvern server starting", http.StatusServiceUnavailable)
	})
	srv := &http.Server{Handler: logRequests(metrics.Instrument(health), log), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	shutdown := sync.OnceFunc(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	})
	defer shutdown()

	endpoints := cfg.EtcdEndpoints
	var emb *embedded.Member
	if len(endpoints) == 0 {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		var err error
		emb, err = embedded.Start(embedded.Config{
			DataDir: cfg.DataDir, ClientURL: cfg.EtcdClientURL, PeerURL: cfg.EtcdPeerURL,
			UnsafeNoFsync: cfg.UnsafeNoFsync, ClientTLS: cfg.EtcdTLS, PeerTLS: cfg.EtcdPeerTLS,
		}, log)
		if err != nil {
			return err
		}
		defer emb.Close()
		endpoints = []string{cfg.EtcdClientURL}
		if cfg.EtcdClient.Empty() && cfg.EtcdTLS.CertFile != "" {
			// The member's certificate also authenticates its own server.
			cfg.EtcdClient = pki.Files{CertFile: cfg.EtcdTLS.CertFile, KeyFile: cfg.EtcdTLS.KeyFile, CAFile: cfg.EtcdTLS.TrustedCAFile}
		}
	}
	etcdTLS, err := cfg.EtcdClient.ClientFor(endpoints)
	if err != nil {
		return fmt.Errorf("etcd client TLS: %w", err)
	}
	if etcdTLS == nil {
		log.Warn("etcd is reached over plain TCP, without TLS or client certificates: development only")
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	etcdUser := ""
	if cfg.EtcdAuth && cfg.EtcdRootPassword != "" {
		etcdUser = store.RootUser
	}
	st, err := store.DialAuth(dctx, endpoints, etcdTLS, etcdUser, cfg.EtcdRootPassword)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.EtcdAuth {
		if err := enableEtcdAuth(ctx, st, cfg, log); err != nil {
			return err
		}
	}
	storeP.Store(st)
	metrics.SetChassisCounter(st.CountChassis)
	defer metrics.SetChassisCounter(nil)

	mux := http.NewServeMux()
	wrap, consoleAPI, err := registerIdentity(ctx, mux, st, cfg, log)
	if err != nil {
		return err
	}
	ncfg := cfg.Neutron
	ncfg.PublicURL = cfg.PublicURL
	napi := neutron.New(st, ncfg, log)
	if n, err := st.Rescope(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("wrote the scoped copies of records stored without them", "count", n)
	}
	if n, err := napi.AllocateMissingCTZones(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("allocated conntrack zones to records stored without one", "count", n)
	}
	if n, err := napi.MigrateBindings(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("moved port bindings from port records into their chassis' keys", "count", n)
	}
	if n, err := napi.MigrateFloatingIPIndexes(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("indexed the associations and port forwardings of floating IPs stored without the indexes", "count", n)
	}
	napi.Register(mux, wrap)
	// Agents bind ports in keys of their own; the ports' readers see the
	// mirrors (store.MirrorBindings), kept by every server.
	mctx, mcancel := context.WithCancel(ctx)
	mirrorDone := make(chan struct{})
	go func() { defer close(mirrorDone); st.MirrorBindings(mctx, log) }()
	defer func() { mcancel(); <-mirrorDone }()
	// Likewise the floating IPs they report programmed
	// (store.ApplyFIPStatuses).
	statusDone := make(chan struct{})
	go func() { defer close(statusDone); st.ApplyFIPStatuses(mctx, log) }()
	defer func() { mcancel(); <-statusDone }()
	con, err := console.New(console.Options{API: consoleAPI, Store: st, Log: log,
		Login: !cfg.NoAuth || cfg.AdminPassword != "" || cfg.UsersFile != "" || cfg.Keystone.URL != ""})
	if err != nil {
		return err
	}
	con.Register(mux)
	var api http.Handler = mux
	ready.Store(&api)
	log.Info("wyvern server ready", "listen", ln.Addr().String(), "https", cfg.CertFile != "", "etcd", endpoints, "auth", !cfg.NoAuth)

	var embErr <-chan error
	if emb != nil {
		embErr = emb.Err()
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	case err = <-embErr:
		err = fmt.Errorf("embedded etcd: %w", err)
	}
	shutdown() // before the store and etcd close
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// enableEtcdAuth turns on the embedded etcd's authentication on first
// start (see Config.EtcdAuth); later starts find it on.
func enableEtcdAuth(ctx context.Context, st *store.Store, cfg Config, log *slog.Logger) error {
	admin := ""
	if cfg.EtcdClient.CertFile != "" {
		cn, err := pki.CommonName(cfg.EtcdClient.CertFile)
		if err != nil {
			return fmt.Errorf("--etcd-auth: %w", err)
		}
		admin = cn
	}
	on, err := st.AuthEnabled(ctx)
	if err != nil {
		return fmt.Errorf("--etcd-auth: %w", err)
	}
	if on {
		return nil
	}
	if err := st.EnableAuth(ctx, cfg.EtcdRootPassword, admin); err != nil {
		return fmt.Errorf("--etcd-auth: %w", err)
	}
	log.Info("etcd authentication enabled: enroll each chassis with `wyvernctl chassis add`", "admin", admin)
	return nil
}

// logRequests logs each request at debug level with its status and time.
func logRequests(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "dur", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
