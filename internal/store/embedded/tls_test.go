package embedded_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/pki"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/embedded"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestClientCertAuth: an embedded member serving client and peer TLS with
// client-cert-auth admits a store that presents a certificate of its CA,
// and nobody else: no certificate, another CA's certificate, plain TCP.
func TestClientCertAuth(t *testing.T) {
	dir := t.TempDir()
	made, err := pki.Generate(filepath.Join(dir, "pki"), pki.Spec{Hosts: []string{"127.0.0.1"}, Clients: []string{"hv1"}})
	if err != nil {
		t.Fatal(err)
	}
	srvTLS := embedded.TLS{CertFile: made.Server.CertFile, KeyFile: made.Server.KeyFile, TrustedCAFile: made.CA, ClientCertAuth: true}
	addr := freeAddr(t)
	m, err := embedded.Start(embedded.Config{
		DataDir: filepath.Join(dir, "etcd"), ClientURL: "https://" + addr, PeerURL: "https://" + freeAddr(t),
		UnsafeNoFsync: true, ClientTLS: srvTLS, PeerTLS: srvTLS,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	endpoints := []string{"https://" + addr}

	dial := func(f pki.Files) error {
		cfg, err := f.Client()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		st, err := store.DialTLS(ctx, endpoints, cfg)
		if err == nil {
			defer st.Close()
			return st.Txn(ctx, func(tx *store.Tx) error { tx.PutString(store.Prefix+"tls-test", "x"); return nil })
		}
		return err
	}
	if err := dial(made.Clients["hv1"]); err != nil {
		t.Fatalf("a client with a certificate of the CA: %v", err)
	}
	if err := dial(pki.Files{CAFile: made.CA}); err == nil {
		t.Error("a client without a certificate was admitted")
	}
	other, err := pki.Generate(filepath.Join(dir, "other"), pki.Spec{Hosts: []string{"127.0.0.1"}, Clients: []string{"hv1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(pki.Files{CertFile: other.Clients["hv1"].CertFile, KeyFile: other.Clients["hv1"].KeyFile, CAFile: made.CA}); err == nil {
		t.Error("a client with another CA's certificate was admitted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if st, err := store.Dial(ctx, []string{"http://" + addr}); err == nil {
		st.Close()
		t.Error("a plain-TCP client was admitted")
	}
}

// TestTLSConfigErrors: a half-given TLS configuration is a clear error at
// start, never a member serving something else than asked.
func TestTLSConfigErrors(t *testing.T) {
	for name, c := range map[string]struct {
		url string
		tls embedded.TLS
	}{
		"https without certificate": {"https://127.0.0.1:1", embedded.TLS{}},
		"certificate on http":       {"http://127.0.0.1:1", embedded.TLS{CertFile: "c", KeyFile: "k"}},
		"certificate without key":   {"https://127.0.0.1:1", embedded.TLS{CertFile: "c"}},
		"client auth without CA":    {"https://127.0.0.1:1", embedded.TLS{CertFile: "c", KeyFile: "k", ClientCertAuth: true}},
	} {
		_, err := embedded.Start(embedded.Config{DataDir: t.TempDir(), ClientURL: c.url, PeerURL: "http://127.0.0.1:1", ClientTLS: c.tls}, nil)
		if err == nil || !strings.Contains(err.Error(), "client") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
