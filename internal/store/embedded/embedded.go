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

	"go.etcd.io/etcd/client/pkg/v3/transport"
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
	// BcryptCost is the cost of the hashes of etcd users' passwords
	// (with authentication on); 0 is etcd's default. Tests use 4, the
	// least, as a password check at the default costs seconds under the
	// race detector.
	BcryptCost uint
	// Verbose lets etcd log (to stderr) at info level.
	Verbose bool
	// ClientTLS serves the client URL (https://) with this certificate;
	// PeerTLS the peer URL. Zero values serve plain TCP.
	ClientTLS TLS
	PeerTLS   TLS
}

// TLS is one listener's certificate, with etcd's flag names: cert-file,
// key-file, trusted-ca-file and client-cert-auth.
type TLS struct {
	CertFile      string
	KeyFile       string
	TrustedCAFile string
	// ClientCertAuth refuses connections without a certificate signed by
	// TrustedCAFile.
	ClientCertAuth bool
}

func (t TLS) info() transport.TLSInfo {
	return transport.TLSInfo{CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.TrustedCAFile, ClientCertAuth: t.ClientCertAuth}
}

// check refuses a listener whose scheme and certificate disagree: an
// https:// URL without a certificate, or a certificate on http://.
func (t TLS) check(what string, u *url.URL) error {
	switch {
	case t.CertFile == "" && (t.KeyFile != "" || t.TrustedCAFile != "" || t.ClientCertAuth):
		return fmt.Errorf("embedded etcd: %s TLS: a key, CA or client-cert-auth without a certificate", what)
	case t.CertFile != "" && t.KeyFile == "":
		return fmt.Errorf("embedded etcd: %s TLS: a certificate without its key", what)
	case t.ClientCertAuth && t.TrustedCAFile == "":
		return fmt.Errorf("embedded etcd: %s TLS: client-cert-auth needs the trusted CA file", what)
	case t.CertFile != "" && u.Scheme != "https":
		return fmt.Errorf("embedded etcd: %s URL %s: a certificate is given, use https://", what, u)
	case t.CertFile == "" && u.Scheme == "https":
		return fmt.Errorf("embedded etcd: %s URL %s is https:// but no certificate is given", what, u)
	}
	return nil
}

// MaxTxnOps and MaxRequestBytes are the embedded member's limits of one
// transaction: room for a bulk create of several hundred ports. An external
// cluster needs the same (etcd --max-txn-ops 8192 --max-request-bytes
// 16777216), or bulk requests beyond its limits are refused with a 400.
const (
	MaxTxnOps       = 8192
	MaxRequestBytes = 16 << 20
)

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
	if err := cfg.ClientTLS.check("client", cu); err != nil {
		return nil, err
	}
	if err := cfg.PeerTLS.check("peer", pu); err != nil {
		return nil, err
	}
	ec.ClientTLSInfo = cfg.ClientTLS.info()
	ec.PeerTLSInfo = cfg.PeerTLS.info()
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
	if cfg.BcryptCost != 0 {
		ec.BcryptCost = cfg.BcryptCost
	}
	// Keep a day of history for agents that reconnect; compact hourly.
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1h"
	ec.QuotaBackendBytes = 8 << 30
	// One logical change is one transaction: a port is about ten
	// operations, and the store copies routers, floating IPs and rules into
	// the scopes agents watch in the same transaction (store.ScopedOf), so
	// etcd's default of 128 would refuse a bulk create of a dozen ports.
	ec.MaxTxnOps = MaxTxnOps
	ec.MaxRequestBytes = MaxRequestBytes
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
