package e2e

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ctl"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/pki"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// TestTLSDeployment runs Wyvern as the README's "Deploying for real" does:
// the API over HTTPS, the embedded etcd's listeners over TLS refusing
// clients without a certificate of the deployment's CA, every agent
// dialing etcd with its own chassis certificate, wyvernctl trusting the CA.
// VMs on two chassis then talk, and what has no certificate is refused.
func TestTLSDeployment(t *testing.T) {
	l := newLab(t, lab.Options{TLS: true})
	if !strings.HasPrefix(l.APIURL, "https://") || !strings.HasPrefix(l.EtcdURL, "https://") {
		t.Fatalf("lab URLs %s %s, want https", l.APIURL, l.EtcdURL)
	}
	chs := chassis(t, l, 2)
	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "tls-net", Type: "geneve", CIDR: "10.7.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	vm1, _ := boot(t, l, chs[0], "vm1", "p1", n, nil)
	_, p2 := boot(t, l, chs[1], "vm2", "p1", n, nil)
	mustPing(t, l, vm1, lab.FixedIP(p2))

	ca := filepath.Join(l.PKIDir(), "ca.pem")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	// etcd: a client that trusts the CA but has no certificate is refused,
	// and so is one speaking plain TCP.
	anon, err := pki.Files{CAFile: ca}.Client()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := store.DialTLS(ctx, []string{l.EtcdURL}, anon); err == nil {
		st.Close()
		t.Error("etcd admitted a client without a certificate")
	}
	plainEtcd := "http://" + strings.TrimPrefix(l.EtcdURL, "https://")
	if st, err := store.Dial(ctx, []string{plainEtcd}); err == nil {
		st.Close()
		t.Error("etcd admitted a plain-TCP client")
	}

	// The API: plain HTTP on the HTTPS port gets no answer of the API, and
	// a client that does not trust the CA fails the handshake.
	plainAPI := "http://" + strings.TrimPrefix(l.APIURL, "https://")
	if resp, err := http.Get(plainAPI + "/v2.0/networks"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the API answered plain HTTP")
		}
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(l.APIURL + "/v2.0/networks"); err == nil {
		resp.Body.Close()
		t.Error("a client without the CA trusted the API's certificate")
	}

	// wyvernctl with --os-cacert lists the network.
	var out, errOut bytes.Buffer
	root := ctl.NewRootCommand(&out, &errOut, func(string) string { return "" })
	root.SetArgs([]string{"--noauth", "--url", l.APIURL, "--noauth-project", "p1", "--os-cacert", ca, "network", "list"})
	if err := root.Execute(); err != nil {
		t.Fatalf("wyvernctl over HTTPS: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "tls-net") {
		t.Errorf("wyvernctl network list over HTTPS:\n%s", out.String())
	}
}
