package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

func body(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadyzWaitsForTheStore: the server answers /healthz at once, says
// 503 on /readyz (and on the API) while its etcd is down, and 200 once etcd
// comes up and the API is registered.
func TestReadyzWaitsForTheStore(t *testing.T) {
	etcd := storetest.Start(t)
	etcd.Stop()
	cfg := config(t, "")
	cfg.EtcdEndpoints = etcd.Endpoints()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}()
	base := "http://" + cfg.Listen
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := 0, ""
		if resp, err := http.Get(base + "/healthz"); err == nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no /healthz")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, b := body(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(b, "store") {
		t.Fatalf("readyz with etcd down: %d %q, want 503 naming the store", code, b)
	}
	if code, _ := body(t, base+"/v2.0/networks"); code != http.StatusServiceUnavailable {
		t.Fatalf("API with etcd down: %d, want 503", code)
	}
	etcd.Restart()
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, b := body(t, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after etcd came up: %d %q", code, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := body(t, base+"/v2.0/networks"); code != http.StatusOK {
		t.Fatalf("API when ready: %d", code)
	}
}

// TestMetricsAfterWorkload: a scripted workload moves the API and store
// counters by exactly what it did, and /metrics exports them.
func TestMetricsAfterWorkload(t *testing.T) {
	cfg := config(t, t.TempDir())
	run(t, cfg)
	created := metrics.APIRequests.WithLabelValues("POST", "/v2.0/networks", "201")
	shown := metrics.APIRequests.WithLabelValues("GET", "/v2.0/networks/{id}", "200")
	missing := metrics.APIRequests.WithLabelValues("GET", "/v2.0/networks/{id}", "404")
	bad := metrics.APIRequests.WithLabelValues("POST", "/v2.0/networks", "400")
	committed := metrics.StoreTxns.WithLabelValues("committed")
	aborted := metrics.StoreTxns.WithLabelValues("aborted")
	c0, s0, m0, b0 := testutil.ToFloat64(created), testutil.ToFloat64(shown), testutil.ToFloat64(missing), testutil.ToFloat64(bad)
	tx0, ab0 := testutil.ToFloat64(committed), testutil.ToFloat64(aborted)
	lat0 := metrics.SampleCount(metrics.APIRequestDuration)
	etcd0 := metrics.SampleCount(metrics.EtcdRequestDuration)

	var ids []string
	for i := 0; i < 3; i++ {
		n := post(t, cfg.Listen, "/v2.0/networks", `{"network": {"name": "m"}}`)["network"].(map[string]any)
		ids = append(ids, n["id"].(string))
	}
	for _, id := range ids {
		if code := get(t, cfg.Listen, "/v2.0/networks/"+id); code != http.StatusOK {
			t.Fatalf("show: %d", code)
		}
	}
	get(t, cfg.Listen, "/v2.0/networks/00000000-0000-0000-0000-000000000000")
	resp, err := http.Post("http://"+cfg.Listen+"/v2.0/networks", "application/json", strings.NewReader(`{"network": {"mtu": "x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"POST networks 201", testutil.ToFloat64(created) - c0, 3},
		{"GET network 200", testutil.ToFloat64(shown) - s0, 3},
		{"GET network 404", testutil.ToFloat64(missing) - m0, 1},
		{"POST networks 400", testutil.ToFloat64(bad) - b0, 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: counted %v, want %v", c.what, c.got, c.want)
		}
	}
	// Each create is one transaction; the server also writes on its own
	// (conntrack zones at start are done by now), so at least three.
	t.Logf("transactions: %v committed, %v aborted", testutil.ToFloat64(committed)-tx0, testutil.ToFloat64(aborted)-ab0)
	// One transaction a network created, and the project's default
	// security group on its first request.
	if d := testutil.ToFloat64(committed) - tx0; d < 3 {
		t.Errorf("committed transactions: %v, want ≥ 3 (one per network created)", d)
	}
	if d := metrics.SampleCount(metrics.APIRequestDuration) - lat0; d < 8 {
		t.Errorf("latency observations: %d, want ≥ 8", d)
	}
	if d := metrics.SampleCount(metrics.EtcdRequestDuration) - etcd0; d < 3 {
		t.Errorf("etcd request observations: %d, want ≥ 3", d)
	}

	code, text := body(t, "http://"+cfg.Listen+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`wyvern_api_requests_total{code="201",method="POST",route="/v2.0/networks"}`,
		`wyvern_api_request_duration_seconds_bucket{method="GET",route="/v2.0/networks/{id}"`,
		`wyvern_store_txns_total{result="committed"}`,
		`wyvern_etcd_request_duration_seconds_count{method="Txn"}`,
		"wyvern_chassis_alive 0",
		"wyvern_chassis_registered 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, id := range ids {
		if strings.Contains(text, id) {
			t.Errorf("/metrics has a raw path with %s", id)
		}
	}
}
