// Package embedded runs the single-member etcd that `wyvern server` starts
// when no external cluster is given. It is apart from package store so that
// programs that only talk to etcd (the agent, wyvernctl) do not link the
// etcd server.
package embedded

import (
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Config describes the member.
type Config struct {
	DataDir   string // where the member keeps its WAL and snapshots
	ClientURL string // e.g. http://127.0.0.1:2379, served for agents too
	PeerURL   string // e.g. http://127.0.0.1:2380
	Name      string
	// UnsafeNoFsync skips fsync; for tests and benchmarks only.
	UnsafeNoFsync bool
	// Verbose lets etcd log (to stderr) at info level.
	Verbose bool
}

// Member is a running embedded etcd member.
type Member struct {
	etcd *embed.Etcd
}

// Start starts the member and waits until it serves clients.
func Start(cfg Config, log *slog.Logger) (*Member, error) {
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	if ec.Name == "" {
		ec.Name = "wyvern"
	}
	ec.Dir = cfg.DataDir
	cu, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: client url %q: %w", cfg.ClientURL, err)
	}
	pu, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: peer url %q: %w", cfg.PeerURL, err)
	}
	ec.ListenClientUrls = []url.URL{*cu}
	ec.AdvertiseClientUrls = []url.URL{*cu}
	ec.ListenPeerUrls = []url.URL{*pu}
	ec.AdvertisePeerUrls = []url.URL{*pu}
	ec.InitialCluster = ec.Name + "=" + pu.String()
	ec.LogLevel = "error"
	// etcd logs through zap; Wyvern logs through slog. Keep etcd quiet
	// unless asked: its own errors reach us through Err().
	if cfg.Verbose {
		ec.LogLevel = "info"
	} else {
		ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	}
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	// One logical change is one transaction, and the store copies
	// routers, floating IPs and rules into the scopes agents watch in the
	// same transaction (store.ScopedOf): a bulk create of ports that
	// makes a project's default security group outgrows etcd's default
	// of 128 operations. An external cluster needs --max-txn-ops too.
	ec.MaxTxnOps = 1024
	// Keep a day of history for agents that reconnect; compact hourly.
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1h"
	ec.QuotaBackendBytes = 8 << 30
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: start embedded etcd in %s: %w", cfg.DataDir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd: embedded etcd in %s not ready after 60s", cfg.DataDir)
	}
	if log != nil {
		log.Info("embedded etcd ready", "data_dir", cfg.DataDir, "client_url", cfg.ClientURL)
	}
	return &Member{etcd: e}, nil
}

// Err reports a fatal error of the running member.
func (e *Member) Err() <-chan error { return e.etcd.Err() }

// Close stops the member.
func (e *Member) Close() { e.etcd.Close() }
