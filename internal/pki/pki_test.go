package pki

import (
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// handshake runs one TLS handshake between a server on loopback and a
// client, and returns the client's error (nil when both sides agreed).
func handshake(t *testing.T, srv, cli *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.(*tls.Conn).Handshake()
		_, _ = c.Write([]byte("ok"))
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err == nil {
		// TLS 1.3 reports a refused client certificate on the first read.
		_, err = io.ReadAll(io.LimitReader(c, 2))
		c.Close()
	}
	ln.Close()
	<-done
	return err
}

func TestGenerateAndVerify(t *testing.T) {
	dir := t.TempDir()
	made, err := Generate(dir, Spec{Hosts: []string{"127.0.0.1", "localhost"}, Clients: []string{"hv1", "server"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := made.Clients["server"]; ok {
		t.Error("the server's own certificate is its client certificate; no second one")
	}
	st, err := os.Stat(made.Clients["hv1"].KeyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	srv, err := made.Server.Server(true)
	if err != nil {
		t.Fatal(err)
	}

	// A client with its certificate, trusting the CA: accepted.
	good, err := made.Clients["hv1"].Client()
	if err != nil {
		t.Fatal(err)
	}
	good.ServerName = "127.0.0.1"
	if err := handshake(t, srv, good); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}

	// A client without a certificate: refused by the server.
	anon, err := Files{CAFile: made.CA}.Client()
	if err != nil {
		t.Fatal(err)
	}
	anon.ServerName = "127.0.0.1"
	if err := handshake(t, srv, anon); err == nil {
		t.Fatal("a client without a certificate was accepted")
	}

	// A client of another CA: refused; and it does not trust our server.
	other, err := Generate(filepath.Join(dir, "other"), Spec{Hosts: []string{"127.0.0.1"}, Clients: []string{"hv1"}})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Clients["hv1"].Client()
	if err != nil {
		t.Fatal(err)
	}
	foreign.ServerName = "127.0.0.1"
	if err := handshake(t, srv, foreign); err == nil {
		t.Fatal("a client of another CA was accepted")
	}
}

func TestGenerateRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(dir, Spec{}); err == nil {
		t.Error("no hosts accepted")
	}
	if _, err := Generate(dir, Spec{Hosts: []string{"h"}, Clients: []string{"../x"}}); err == nil {
		t.Error("a client name with a path accepted")
	}
	if _, err := Generate(dir, Spec{Hosts: []string{"h"}}); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(dir, Spec{Hosts: []string{"h"}})
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second CA in the same dir: %v", err)
	}
}

func TestFilesErrors(t *testing.T) {
	if _, err := (Files{CertFile: "a.pem"}).Client(); err == nil {
		t.Error("certificate without key accepted")
	}
	if cfg, err := (Files{}).Client(); cfg != nil || err != nil {
		t.Errorf("empty files: %v %v, want plain TCP", cfg, err)
	}
	if _, err := (Files{CAFile: "/nonexistent/ca.pem"}).Client(); err == nil {
		t.Error("missing CA file accepted")
	}
	if _, err := (Files{}).Server(false); err == nil {
		t.Error("server without certificate accepted")
	}
}

func TestClientForSchemes(t *testing.T) {
	if _, err := (Files{CAFile: "x"}).ClientFor([]string{"http://127.0.0.1:2379"}); err == nil {
		t.Error("TLS files for an http:// endpoint accepted")
	}
	if _, err := (Files{}).ClientFor([]string{"https://127.0.0.1:2379"}); err == nil {
		t.Error("an https:// endpoint without any TLS file accepted")
	}
	if cfg, err := (Files{}).ClientFor([]string{"http://127.0.0.1:2379"}); cfg != nil || err != nil {
		t.Errorf("plain endpoint: %v %v", cfg, err)
	}
}

func TestAddClient(t *testing.T) {
	dir := t.TempDir()
	made, err := Generate(dir, Spec{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	hv, err := AddClient(dir, "hv7", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AddClient(dir, "hv7", 0); err == nil {
		t.Error("a second hv7 certificate replaced the first")
	}
	if _, err := AddClient(dir, "server", 0); err == nil {
		t.Error("a client named server accepted")
	}
	srv, err := made.Server.Server(true)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := hv.Client()
	if err != nil {
		t.Fatal(err)
	}
	cli.ServerName = "127.0.0.1"
	if err := handshake(t, srv, cli); err != nil {
		t.Fatalf("an added client: %v", err)
	}
}
