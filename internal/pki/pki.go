// Package pki holds Wyvern's TLS rules in one place: the certificate files a
// process is given (Files, following etcd's flag conventions) and how they
// become a client or server tls.Config, and a small certificate authority
// that `wyvern certs` uses to make the certificates of a test or demo
// deployment (a real deployment brings its own PKI).
//
// A client certificate's common name is its identity: etcd with
// --client-cert-auth takes it as the user name, so a chassis' certificate
// carries the chassis name.
package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Files names the PEM files of one TLS endpoint. CAFile is the trusted
// authority: for a client, the one that signed the servers; for a server
// that verifies clients, the one that signed the clients.
type Files struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

// Empty reports whether no file is given: the endpoint speaks plain TCP.
func (f Files) Empty() bool { return f.CertFile == "" && f.KeyFile == "" && f.CAFile == "" }

// Check reports a half-given certificate: a certificate without its key or a
// key without its certificate.
func (f Files) Check() error {
	if (f.CertFile == "") != (f.KeyFile == "") {
		return errors.New("pki: a certificate and its key go together: give both or neither")
	}
	return nil
}

// Client is the tls.Config of a client: it trusts CAFile (the system's roots
// when empty) and presents CertFile when given. It returns nil for Empty
// files: plain TCP.
func (f Files) Client() (*tls.Config, error) {
	if f.Empty() {
		return nil, nil
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pool, err := loadPool(f.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("pki: client certificate %s: %w", f.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ClientFor is Client for a connection to endpoints (URLs), checking that
// their scheme agrees with the files: files given for an http:// endpoint,
// or an https:// endpoint with no files at all, is a clear error rather
// than a connection that silently goes unencrypted or cannot verify its
// peer.
func (f Files) ClientFor(endpoints []string) (*tls.Config, error) {
	for _, e := range endpoints {
		https := strings.HasPrefix(e, "https://")
		if !f.Empty() && !https {
			return nil, fmt.Errorf("pki: endpoint %s: TLS files are given, use https://", e)
		}
		if f.Empty() && https {
			return nil, fmt.Errorf("pki: endpoint %s: https:// needs a CA file (and a client certificate where the server verifies clients)", e)
		}
	}
	return f.Client()
}

// Server is the tls.Config of a server presenting CertFile. With
// requireClient, clients must present a certificate signed by CAFile.
func (f Files) Server(requireClient bool) (*tls.Config, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("pki: a TLS server needs a certificate and its key")
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: server certificate %s: %w", f.CertFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if requireClient {
		if f.CAFile == "" {
			return nil, errors.New("pki: verifying clients needs the trusted CA file")
		}
		pool, err := loadPool(f.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("pki: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("pki: CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// CommonName is the common name of the first certificate in a PEM file:
// the user name etcd with client-cert-auth gives its holder.
func CommonName(certFile string) (string, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("pki: %s holds no PEM certificate", certFile)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("pki: %s: %w", certFile, err)
	}
	return c.Subject.CommonName, nil
}
