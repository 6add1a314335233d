package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/api/keystone"
	"github.com/wyvern-sdn/wyvern/internal/api/neutron"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// run starts Run in the background and returns a stop function that waits
// for it to return.
func run(t testing.TB, cfg Config) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + cfg.Listen + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("server exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("server not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func config(t testing.TB, dataDir string) Config {
	return Config{Listen: freeAddr(t), DataDir: dataDir, EtcdClientURL: "http://" + freeAddr(t),
		EtcdPeerURL: "http://" + freeAddr(t), NoAuth: true, UnsafeNoFsync: true, TokenTTL: time.Hour,
		Neutron: neutron.DefaultConfig()}
}

func post(t *testing.T, addr, path, body string) map[string]any {
	t.Helper()
	resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func get(t *testing.T, addr, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEmbeddedDataSurvivesRestart: a server on its embedded etcd keeps its
// data across a restart on the same data directory.
func TestEmbeddedDataSurvivesRestart(t *testing.T) {
	cfg := config(t, t.TempDir())
	stop := run(t, cfg)
	id := post(t, cfg.Listen, "/v2.0/networks", `{"network": {"name": "kept"}}`)["network"].(map[string]any)["id"].(string)
	stop()
	run(t, cfg)
	if code := get(t, cfg.Listen, "/v2.0/networks/"+id); code != http.StatusOK {
		t.Fatalf("network after restart: %d", code)
	}
}

// TestExternalEtcd: with --etcd-endpoints the server starts no etcd of its
// own, and two servers on one cluster serve the same data.
func TestExternalEtcd(t *testing.T) {
	client := storetest.Start(t).ClientURL
	a, b := config(t, ""), config(t, "")
	a.EtcdEndpoints, b.EtcdEndpoints = []string{client}, []string{client}
	run(t, a)
	run(t, b)
	id := post(t, a.Listen, "/v2.0/networks", `{"network": {"name": "shared-state"}}`)["network"].(map[string]any)["id"].(string)
	if code := get(t, b.Listen, "/v2.0/networks/"+id); code != http.StatusOK {
		t.Fatalf("second server does not see the first's network: %d", code)
	}
}

func TestValidate(t *testing.T) {
	ks := keystone.RemoteConfig{URL: "http://127.0.0.1:5000", Username: "u", Password: "p", ProjectName: "service"}
	if err := (&Config{Listen: "127.0.0.1:1", DataDir: "/tmp", Keystone: ks}).Validate(); err != nil {
		t.Errorf("remote Keystone alone: %v", err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"bad listen", Config{Listen: "nope", DataDir: "/tmp", NoAuth: true}},
		{"no users", Config{Listen: "127.0.0.1:1", DataDir: "/tmp"}},
		{"no data dir", Config{Listen: "127.0.0.1:1", NoAuth: true}},
		{"keystone and users", Config{Listen: "127.0.0.1:1", DataDir: "/tmp", UsersFile: "u.json", Keystone: ks}},
		{"keystone and noauth", Config{Listen: "127.0.0.1:1", DataDir: "/tmp", NoAuth: true, Keystone: ks}},
		{"keystone without password", Config{Listen: "127.0.0.1:1", DataDir: "/tmp",
			Keystone: keystone.RemoteConfig{URL: ks.URL, Username: "u", ProjectName: "service"}}},
	} {
		if err := c.cfg.Validate(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// TestAuthModes: with --noauth every caller is an admin and the identity
// paths answer Keystone's 404; without it a request with no token is
// refused.
func TestAuthModes(t *testing.T) {
	call := func(addr, path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("GET %s: %d, not JSON: %v", path, resp.StatusCode, err)
		}
		return resp.StatusCode, out
	}
	noauth := config(t, t.TempDir())
	run(t, noauth)
	if code, out := call(noauth.Listen, "/v2.0/networks"); code != http.StatusOK {
		t.Errorf("noauth: GET /v2.0/networks: %d %v", code, out)
	}
	if code, out := call(noauth.Listen, "/v3/domains?name=Default"); code != http.StatusNotFound || out["error"] == nil {
		t.Errorf("noauth: GET /v3/domains: %d %v, want Keystone's 404", code, out)
	}

	authed := config(t, t.TempDir())
	authed.NoAuth, authed.AdminPassword = false, "secret"
	run(t, authed)
	if code, out := call(authed.Listen, "/v2.0/networks"); code != http.StatusUnauthorized {
		t.Errorf("no token: GET /v2.0/networks: %d %v, want 401", code, out)
	}
	if code, out := call(authed.Listen, "/v3/domains?name=Default"); code != http.StatusUnauthorized || out["error"] == nil {
		t.Errorf("no token: GET /v3/domains: %d %v, want Keystone's 401", code, out)
	}
}
