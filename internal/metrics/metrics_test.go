package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestDashboardUsesExportedNames: every metric the Grafana dashboard
// queries is one this package declares, and the dashboard shows each
// family of Wyvern's metrics at least once.
func TestDashboardUsesExportedNames(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana/wyvern.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	names := Names()
	used := map[string]bool{}
	re := regexp.MustCompile(`wyvern_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range re.FindAllString(tg.Expr, -1) {
				base := m
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if n := strings.TrimSuffix(m, suf); n != m && slices.Contains(names, n) {
						base = n
					}
				}
				if !slices.Contains(names, base) {
					t.Errorf("panel %q queries %s, which Wyvern does not export", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	for _, n := range names {
		if !used[n] {
			t.Errorf("metric %s is on no dashboard panel", n)
		}
	}
}

// TestNamesFollowConventions: Prometheus naming: counters end in _total,
// histograms of time in _seconds.
func TestNamesFollowConventions(t *testing.T) {
	names := Names()
	if len(names) < 20 {
		t.Fatalf("only %d metrics: %v", len(names), names)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "wyvern_") {
			t.Errorf("%s: not under wyvern_", n)
		}
	}
	for _, c := range []string{"wyvern_api_requests_total", "wyvern_store_txn_conflicts_total", "wyvern_agent_bundles_total"} {
		if !slices.Contains(names, c) {
			t.Errorf("%s missing", c)
		}
	}
	for _, h := range []string{"wyvern_api_request_duration_seconds", "wyvern_etcd_request_duration_seconds", "wyvern_agent_sync_duration_seconds"} {
		if !slices.Contains(names, h) {
			t.Errorf("%s missing", h)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadyzFollowsChecks: /readyz is 503 naming what is not ready, then
// 200 once every check holds; /healthz is 200 throughout.
func TestReadyzFollowsChecks(t *testing.T) {
	var up atomic.Bool
	mux := http.NewServeMux()
	Mount(mux, Check{Name: "store", Fn: func(context.Context) error {
		if !up.Load() {
			return errors.New("etcd unreachable")
		}
		return nil
	}})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "store: etcd unreachable") {
		t.Errorf("readyz before: %d %q", code, body)
	}
	up.Store(true)
	if code, body := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("readyz after: %d %q", code, body)
	}
	code, body := get(t, srv.URL+"/metrics")
	if code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics: %d", code)
	}
}

// TestInstrumentLabelsByPattern: requests are counted by the pattern that
// matched, the inner one when a sub-mux reports it, never by raw path.
func TestInstrumentLabelsByPattern(t *testing.T) {
	inner := http.NewServeMux()
	inner.HandleFunc("GET /v9/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	outer := http.NewServeMux()
	copyCtx := func(h http.Handler) http.Handler { // a middleware that copies the request
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r.WithContext(r.Context())) })
	}
	outer.Handle("/v9/", copyCtx(RecordRoute(inner)))
	outer.HandleFunc("GET /plain/{x}", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(Instrument(outer))
	defer srv.Close()

	thing := APIRequests.WithLabelValues("GET", "/v9/things/{id}", "418")
	plain := APIRequests.WithLabelValues("GET", "/plain/{x}", "200")
	before, beforePlain := testutil.ToFloat64(thing), testutil.ToFloat64(plain)
	for _, id := range []string{"a", "b", "c"} {
		get(t, srv.URL+"/v9/things/"+id)
	}
	get(t, srv.URL+"/plain/1")
	if d := testutil.ToFloat64(thing) - before; d != 3 {
		t.Errorf("inner route counted %v times, want 3", d)
	}
	if d := testutil.ToFloat64(plain) - beforePlain; d != 1 {
		t.Errorf("outer route counted %v times, want 1", d)
	}
	if n := testutil.CollectAndCount(APIRequests, "wyvern_api_requests_total"); n == 0 {
		t.Error("no series")
	}
	// No raw path became a label.
	if strings.Contains(seriesText(t), `route="/v9/things/a"`) {
		t.Error("raw path used as route")
	}
}

func seriesText(t *testing.T) string {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestBGPCollector: with a source set, a scrape exports each session's
// state and advertised routes and the routes announced; without, nothing.
func TestBGPCollector(t *testing.T) {
	if strings.Contains(seriesText(t), "wyvern_gateway_bgp") {
		t.Fatal("BGP metrics without a source")
	}
	SetBGPSource(func(context.Context) ([]BGPPeer, int, error) {
		return []BGPPeer{{Address: "192.0.2.1", State: "established", Established: true, Advertised: 3},
			{Address: "192.0.2.2", State: "active"}}, 3, nil
	})
	defer SetBGPSource(nil)
	text := seriesText(t)
	for _, want := range []string{
		`wyvern_gateway_bgp_session_up{peer="192.0.2.1",state="established"} 1`,
		`wyvern_gateway_bgp_session_up{peer="192.0.2.2",state="active"} 0`,
		`wyvern_gateway_bgp_routes_advertised{peer="192.0.2.1"} 3`,
		"wyvern_gateway_bgp_routes_announced 3",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %s", want)
		}
	}
	if !BGPStarted() {
		t.Error("BGPStarted false with a source")
	}
}
