// Package server runs `wyvern server`: the etcd store (embedded or
// external), the Keystone v3 token endpoint and the Neutron v2.0 API on one
// HTTP listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/api/neutron"
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
	endpoints := cfg.EtcdEndpoints
	var emb *embedded.Member
	if len(endpoints) == 0 {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		var err error
		emb, err = embedded.Start(embedded.Config{
			DataDir: cfg.DataDir, ClientURL: cfg.EtcdClientURL, PeerURL: cfg.EtcdPeerURL,
			UnsafeNoFsync: cfg.UnsafeNoFsync,
		}, log)
		if err != nil {
			return err
		}
		defer emb.Close()
		endpoints = []string{cfg.EtcdClientURL}
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	st, err := store.Dial(dctx, endpoints)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close()

	mux := http.NewServeMux()
	wrap, err := registerIdentity(ctx, mux, st, cfg, log)
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
	napi.Register(mux, wrap)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: logRequests(mux, log), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("wyvern server ready", "listen", ln.Addr().String(), "etcd", endpoints, "auth", !cfg.NoAuth)

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
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
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
