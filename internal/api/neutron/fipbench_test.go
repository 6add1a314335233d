package neutron

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// fipBed is a routed tenant network with ports and as many unassociated
// floating IPs on an external network, as the edge benchmark's
// convergence measurement makes them (bench/edge): the API on a real
// embedded etcd, its client counting the etcd requests.
type fipBed struct {
	a     *testAPI
	rpcs  *atomic.Int64
	ports []string
	fips  []string
}

// newFIPBed makes n ports on a tenant network routed to an external one,
// and n floating IPs, with clients concurrent API clients.
func newFIPBed(tb testing.TB, n, clients int) *fipBed {
	tb.Helper()
	_, endpoints := startEtcd(tb)
	st, rpcs := storetest.DialCounting(tb, endpoints)
	a := serveAPI(tb, st)
	a.must(http.StatusOK, "PUT", "/v2.0/quotas/p1", "", jsonObj{"quota": jsonObj{"port": -1, "floatingip": -1}})
	ext := a.mkNetwork("", jsonObj{"router:external": true})
	a.mkSubnet("", ext, "10.200.0.0/16", jsonObj{"enable_dhcp": false})
	net := a.mkNetwork("p1", nil)
	sub := a.mkSubnet("p1", net, "10.0.0.0/16", nil)["id"].(string)
	rt := a.must(http.StatusCreated, "POST", "/v2.0/routers", "p1",
		jsonObj{"router": jsonObj{"external_gateway_info": jsonObj{"network_id": ext}}})["router"].(jsonObj)["id"].(string)
	a.must(http.StatusOK, "PUT", "/v2.0/routers/"+rt+"/add_router_interface", "p1", jsonObj{"subnet_id": sub})
	bed := &fipBed{a: a, rpcs: rpcs, ports: make([]string, n), fips: make([]string, n)}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	_, err := fanOut(client, n, clients, func(i int) (string, string, any, func(jsonObj)) {
		return "POST", a.srv.URL + "/v2.0/ports", jsonObj{"port": jsonObj{"network_id": net}},
			func(out jsonObj) { bed.ports[i] = out["port"].(jsonObj)["id"].(string) }
	}, http.StatusCreated)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = fanOut(client, n, clients, func(i int) (string, string, any, func(jsonObj)) {
		return "POST", a.srv.URL + "/v2.0/floatingips", jsonObj{"floatingip": jsonObj{"floating_network_id": ext}},
			func(out jsonObj) { bed.fips[i] = out["floatingip"].(jsonObj)["id"].(string) }
	}, http.StatusCreated)
	if err != nil {
		tb.Fatal(err)
	}
	return bed
}

// fanOut sends n requests as project p1 from clients concurrent clients,
// each expecting status want, and returns each one's latency. done, when
// not nil, gets the decoded answer.
func fanOut(client *http.Client, n, clients int, req func(i int) (method, url string, body any, done func(jsonObj)), want int) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				method, url, body, done := req(i)
				b, _ := json.Marshal(body)
				r, _ := http.NewRequest(method, url, bytes.NewReader(b))
				r.Header.Set("X-Test-Project", "p1")
				t0 := time.Now()
				resp, err := client.Do(r)
				if err == nil {
					var raw []byte
					raw, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					lat[i] = time.Since(t0)
					if err == nil && resp.StatusCode != want {
						err = fmt.Errorf("%s %s: %d: %s", method, url, resp.StatusCode, raw)
					}
					if err == nil && done != nil {
						var out jsonObj
						if err = json.Unmarshal(raw, &out); err == nil {
							done(out)
						}
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return lat, first
}

// fipProfile, when set, is where BenchmarkFloatingIPAssociate writes a CPU
// profile of its timed part alone (-cpuprofile also covers making the
// ports and floating IPs), with the client count appended.
var fipProfile = flag.String("fip.cpuprofile", "", "write a CPU profile of the associations alone to this file (+ \".clients=N\")")

// BenchmarkFloatingIPAssociate associates b.N floating IPs, each with its
// own port (one PUT port_id each), from 1 and from 8 concurrent clients,
// as the edge benchmark does with 1,000: b.N ports and b.N floating IPs
// are made first (not timed). Run it with a fixed count to compare runs:
//
//	go test ./internal/api/neutron -run '^$' -bench FloatingIPAssociate -benchtime 1000x
//
// (-fip.cpuprofile FILE profiles the associations alone.)
// It reports associations/s, the latency percentiles, the etcd requests
// per association and the transactions retried on conflict.
func BenchmarkFloatingIPAssociate(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			bed := newFIPBed(b, b.N, clients)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			conflicts := testutil.ToFloat64(metrics.StoreTxnConflicts)
			bed.rpcs.Store(0)
			if *fipProfile != "" {
				f, err := os.Create(fmt.Sprintf("%s.clients=%d", *fipProfile, clients))
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start := time.Now()
			lat, err := fanOut(client, b.N, clients, func(i int) (string, string, any, func(jsonObj)) {
				return "PUT", bed.a.srv.URL + "/v2.0/floatingips/" + bed.fips[i], jsonObj{"floatingip": jsonObj{"port_id": bed.ports[i]}}, nil
			}, http.StatusOK)
			el := time.Since(start)
			b.StopTimer()
			if *fipProfile != "" {
				pprof.StopCPUProfile()
			}
			if err != nil {
				b.Fatal(err)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/el.Seconds(), "assoc/s")
			b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[b.N*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(bed.rpcs.Load())/float64(b.N), "etcd-req/op")
			b.ReportMetric((testutil.ToFloat64(metrics.StoreTxnConflicts)-conflicts)/float64(b.N), "conflicts/op")
		})
	}
}

// TestFloatingIPAssociateRoundTrips keeps the association path lean: a
// PUT port_id costs at most five etcd requests (the floating IP's keys with
// the port's index, forwardings' and floating IPs' in one read; the port;
// its subnet with the address's floating IP key and the subnet's routers
// listed; those routers with their interfaces; the commit), however many
// floating IPs exist: no request lists them all.
func TestFloatingIPAssociateRoundTrips(t *testing.T) {
	for _, n := range []int{2, 40} {
		bed := newFIPBed(t, n, 4)
		for i := range n {
			bed.rpcs.Store(0)
			bed.a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+bed.fips[i], "p1", jsonObj{"floatingip": jsonObj{"port_id": bed.ports[i]}})
			if got := bed.rpcs.Load(); got > 5 {
				t.Fatalf("with %d floating IPs, association %d took %d etcd requests, want at most 5", n, i, got)
			}
		}
	}
}

// TestFloatingIPDisassociateRoundTrips bounds a disassociation (PUT
// port_id null) likewise: the floating IP's keys, the port's index with
// its floating IPs' index, the port, and the commit.
func TestFloatingIPDisassociateRoundTrips(t *testing.T) {
	bed := newFIPBed(t, 20, 4)
	for i := range 20 {
		bed.a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+bed.fips[i], "p1", jsonObj{"floatingip": jsonObj{"port_id": bed.ports[i]}})
	}
	for i := range 20 {
		bed.rpcs.Store(0)
		bed.a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+bed.fips[i], "p1", jsonObj{"floatingip": jsonObj{"port_id": nil}})
		if got := bed.rpcs.Load(); got > 4 {
			t.Fatalf("disassociation %d took %d etcd requests, want at most 4", i, got)
		}
	}
}

// TestFloatingIPIndexMigrationIdle: with every floating IP indexed, the
// start-up migration costs three listings, whatever the number of
// floating IPs.
func TestFloatingIPIndexMigrationIdle(t *testing.T) {
	bed := newFIPBed(t, 30, 4)
	for i := range 30 {
		bed.a.must(http.StatusOK, "PUT", "/v2.0/floatingips/"+bed.fips[i], "p1", jsonObj{"floatingip": jsonObj{"port_id": bed.ports[i]}})
	}
	bed.rpcs.Store(0)
	if n, err := bed.a.api.MigrateFloatingIPIndexes(context.Background()); err != nil || n != 0 {
		t.Fatalf("migration of an indexed store: %d, %v", n, err)
	}
	if got := bed.rpcs.Load(); got > 3 {
		t.Fatalf("migration of an indexed store took %d etcd requests, want 3", got)
	}
}
