package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Spec describes the certificates of a deployment.
type Spec struct {
	// Hosts are the DNS names and IP addresses the server certificate
	// (API and etcd, client and peer) is valid for.
	Hosts []string
	// Clients are the names of client certificates to make, one each
	// (e.g. "server", "gateway", every chassis name); the name is the
	// certificate's common name.
	Clients []string
	// Validity of every certificate; default a year.
	Validity time.Duration
}

// Made lists the files Generate wrote, by role.
type Made struct {
	CA      string           // ca.pem
	Server  Files            // server.pem, server-key.pem, CA ca.pem
	Clients map[string]Files // <name>.pem, <name>-key.pem, CA ca.pem
}

var clientName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Generate makes a certificate authority in dir (ca.pem, ca-key.pem) and
// the certificates of spec signed by it, with ECDSA P-256 keys. Key files
// are written 0600. It refuses to overwrite an existing CA, so that
// certificates already given out stay valid.
func Generate(dir string, spec Spec) (Made, error) {
	if len(spec.Hosts) == 0 {
		return Made{}, errors.New("pki: the server certificate needs at least one host name or address")
	}
	for _, c := range spec.Clients {
		if !clientName.MatchString(c) || c == "ca" {
			return Made{}, fmt.Errorf("pki: client name %q: use letters, digits, '.', '_' and '-', not \"ca\"", c)
		}
	}
	if spec.Validity <= 0 {
		spec.Validity = 365 * 24 * time.Hour
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Made{}, fmt.Errorf("pki: %w", err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if _, err := os.Stat(caFile); err == nil {
		return Made{}, fmt.Errorf("pki: %s exists: not replacing a CA whose certificates may be in use", caFile)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Made{}, fmt.Errorf("pki: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "wyvern CA", Organization: []string{"wyvern"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(spec.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return Made{}, fmt.Errorf("pki: CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return Made{}, fmt.Errorf("pki: CA: %w", err)
	}
	if err := writePair(dir, "ca", caDER, caKey); err != nil {
		return Made{}, err
	}
	made := Made{CA: caFile, Clients: map[string]Files{}}
	ca := &authority{dir: dir, cert: caCert, key: caKey}
	issue := func(name string, tmpl *x509.Certificate) (Files, error) { return ca.issue(name, tmpl, spec.Validity) }

	// The server certificate serves the API and etcd's client and peer
	// ports; etcd peers also dial each other with it, hence client auth.
	srv := &x509.Certificate{
		Subject:     pkix.Name{CommonName: spec.Hosts[0], Organization: []string{"wyvern"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range spec.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			srv.IPAddresses = append(srv.IPAddresses, ip)
		} else {
			srv.DNSNames = append(srv.DNSNames, h)
		}
	}
	if made.Server, err = issue("server", srv); err != nil {
		return Made{}, err
	}
	for _, c := range spec.Clients {
		if c == "server" {
			continue // the server's certificate also authenticates it as a client
		}
		f, err := issue(c, clientTemplate(c))
		if err != nil {
			return Made{}, err
		}
		made.Clients[c] = f
	}
	return made, nil
}

// AddClient issues one more client certificate, <name>.pem and
// <name>-key.pem, with the CA that Generate made in dir: enrolling a
// chassis after the deployment's start.
func AddClient(dir, name string, validity time.Duration) (Files, error) {
	if !clientName.MatchString(name) || name == "ca" || name == "server" {
		return Files{}, fmt.Errorf("pki: client name %q: use letters, digits, '.', '_' and '-', not \"ca\" or \"server\"", name)
	}
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return Files{}, fmt.Errorf("pki: the CA in %s: %w", dir, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return Files{}, fmt.Errorf("pki: the CA in %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return Files{}, fmt.Errorf("pki: the CA key in %s is not ECDSA", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, name+".pem")); err == nil {
		return Files{}, fmt.Errorf("pki: %s.pem exists in %s", name, dir)
	}
	return (&authority{dir: dir, cert: cert, key: key}).issue(name, clientTemplate(name), validity)
}

// authority signs certificates into its directory.
type authority struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func (a *authority) issue(name string, tmpl *x509.Certificate, validity time.Duration) (Files, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Files{}, fmt.Errorf("pki: %w", err)
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(validity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return Files{}, fmt.Errorf("pki: certificate %s: %w", name, err)
	}
	if err := writePair(a.dir, name, der, key); err != nil {
		return Files{}, err
	}
	return Files{CertFile: filepath.Join(a.dir, name+".pem"), KeyFile: filepath.Join(a.dir, name+"-key.pem"), CAFile: filepath.Join(a.dir, "ca.pem")}, nil
}

func clientTemplate(name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: []string{"wyvern"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n
}

func writePair(dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: key %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}
