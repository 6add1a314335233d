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

	"github.com/wyvern-sdn/wyvern/internal/api/neutron"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
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

// run starts Run in the background and returns a stop function that waits
// for it to return.
func run(t *testing.T, cfg Config) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + cfg.Listen + "/")
		if err == nil {
			resp.Body.Close()
			break
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

func config(t *testing.T, dataDir string) Config {
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
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"bad listen", Config{Listen: "nope", DataDir: "/tmp", NoAuth: true}},
		{"no users", Config{Listen: "127.0.0.1:1", DataDir: "/tmp"}},
		{"no data dir", Config{Listen: "127.0.0.1:1", NoAuth: true}},
	} {
		if err := c.cfg.Validate(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
