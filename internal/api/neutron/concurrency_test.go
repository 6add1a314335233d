package neutron

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// serveAPI serves a new API Server on st, as a separate server process
// would, with the test principal headers of newTestAPI.
func serveAPI(t testing.TB, st *store.Store) *testAPI {
	t.Helper()
	api := New(st, DefaultConfig(), nil)
	mux := http.NewServeMux()
	api.Register(mux, testCaller)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testAPI{t: t, srv: srv, api: api, st: st}
}

// dialStore opens a second etcd client on the endpoints, as another server
// process would.
func dialStore(t testing.TB, endpoints []string) *store.Store {
	t.Helper()
	return storetest.Dial(t, endpoints)
}

// result is one concurrent create's outcome.
type result struct {
	status int
	typ    string
	mac    string
	ip     string
	err    error
}

// createPortRaw is a goroutine-safe port create (no t.Fatal).
func createPortRaw(client *http.Client, base, project, netID string) result {
	b, _ := json.Marshal(jsonObj{"port": jsonObj{"network_id": netID}})
	req, err := http.NewRequest("POST", base+"/v2.0/ports", bytes.NewReader(b))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("X-Test-Project", project)
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Port struct {
			MAC      string `json:"mac_address"`
			FixedIPs []struct {
				IP string `json:"ip_address"`
			} `json:"fixed_ips"`
		} `json:"port"`
		NeutronError struct {
			Type string `json:"type"`
		} `json:"NeutronError"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return result{status: resp.StatusCode, err: fmt.Errorf("decode %s: %w", raw, err)}
	}
	r := result{status: resp.StatusCode, typ: out.NeutronError.Type, mac: out.Port.MAC}
	if len(out.Port.FixedIPs) > 0 {
		r.ip = out.Port.FixedIPs[0].IP
	}
	return r
}

// raceCreates runs n concurrent port creates spread over the servers and
// checks that exactly poolSize succeed with unique addresses and MACs and
// the rest fail with IpAddressGenerationFailure.
func raceCreates(t *testing.T, servers []*testAPI, netID string, n, poolSize int) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 60 * time.Second}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = createPortRaw(client, servers[i%len(servers)].srv.URL, "p1", netID)
		}()
	}
	close(start)
	wg.Wait()
	ips, macs := map[string]bool{}, map[string]bool{}
	ok, exhausted := 0, 0
	for _, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("request failed: %v", r.err)
		case r.status == http.StatusCreated:
			ok++
			if r.ip == "" || ips[r.ip] {
				t.Fatalf("address %q missing or given twice", r.ip)
			}
			if macs[r.mac] {
				t.Fatalf("MAC %s given twice", r.mac)
			}
			ips[r.ip], macs[r.mac] = true, true
		case r.status == http.StatusConflict && r.typ == "IpAddressGenerationFailure":
			exhausted++
		default:
			t.Fatalf("unexpected answer %d %s", r.status, r.typ)
		}
	}
	if ok != poolSize || exhausted != n-poolSize {
		t.Fatalf("%d created and %d exhausted, want %d and %d", ok, exhausted, poolSize, n-poolSize)
	}
	// The store agrees: one address key and one MAC key per port.
	a := servers[0]
	if got := a.countKeys(store.PortsOf(netID)); got != poolSize {
		t.Fatalf("%d ports stored, want %d", got, poolSize)
	}
	if got := a.countKeys(store.Prefix + "macs/"); got != poolSize {
		t.Fatalf("%d MAC keys, want %d", got, poolSize)
	}
}

func TestConcurrentPortCreates(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.20.0.0/28", nil) // 13 addresses: .2-.14
	raceCreates(t, []*testAPI{a}, net, 100, 13)
}

func TestConcurrentPortCreatesTwoServers(t *testing.T) {
	st, endpoints := startEtcd(t)
	a := serveAPI(t, st)
	b := serveAPI(t, dialStore(t, endpoints))
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.21.0.0/27", nil) // 29 addresses: .2-.30
	raceCreates(t, []*testAPI{a, b}, net, 100, 29)
	// Both servers see every port.
	la := a.must(200, "GET", "/v2.0/ports?network_id="+net, "p1", nil)["ports"].([]any)
	lb := b.must(200, "GET", "/v2.0/ports?network_id="+net, "p1", nil)["ports"].([]any)
	if len(la) != 29 || len(lb) != 29 {
		t.Fatalf("servers list %d and %d ports", len(la), len(lb))
	}
}

// TestPortCreateRoundTrips keeps the create path lean: a port create on a
// network with a subnet costs at most six etcd requests (quota: two;
// transaction: the network, one batched read of MAC, subnet and default
// security group, one address probe, and the commit).
func TestPortCreateRoundTrips(t *testing.T) {
	_, endpoints := startEtcd(t)
	st, rpcs := storetest.DialCounting(t, endpoints)
	a := serveAPI(t, st)
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.22.0.0/16", nil)
	a.mkPort("p1", net, nil) // makes the default security group
	rpcs.Store(0)
	a.mkPort("p1", net, nil)
	if n := rpcs.Load(); n > 6 {
		t.Fatalf("port create took %d etcd requests, want at most 6", n)
	}
}

// BenchmarkPortCreate64 creates ports from 64 concurrent clients on
// embedded etcd and reports creates/s and the latency percentiles.
func BenchmarkPortCreate64(b *testing.B) {
	a := newTestAPI(b)
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.64.0.0/12", nil)
	a.must(http.StatusOK, "PUT", "/v2.0/quotas/p1", "", jsonObj{"quota": jsonObj{"port": -1}})
	a.mkPort("p1", net, nil)
	const clients = 64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				r := createPortRaw(client, a.srv.URL, "p1", net)
				lat[i] = time.Since(t0)
				if r.err != nil || r.status != http.StatusCreated {
					b.Errorf("create %d: %d %s %v", i, r.status, r.typ, r.err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/el.Seconds(), "creates/s")
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[b.N*99/100].Microseconds())/1000, "p99-ms")
}
