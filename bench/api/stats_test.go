package main

import (
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	s := summarize(lat)
	want := Summary{N: 100, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond,
		P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if s != want {
		t.Fatalf("summarize = %+v, want %+v", s, want)
	}
	if got := summarize([]time.Duration{7}); got.P50 != 7 || got.P99 != 7 || got.Max != 7 {
		t.Fatalf("one sample: %+v", got)
	}
	if got := summarize(nil); got != (Summary{}) {
		t.Fatalf("no sample: %+v", got)
	}
}

func TestSpread(t *testing.T) {
	if s := spreadOf([]float64{3, 1, 2}); s != (spread{Med: 2, Min: 1, Max: 3}) {
		t.Fatalf("odd: %+v", s)
	}
	if s := spreadOf([]float64{4, 1, 2, 3}); s != (spread{Med: 2.5, Min: 1, Max: 4}) {
		t.Fatalf("even: %+v", s)
	}
	if got := (spread{Med: 2, Min: 1, Max: 3}).format(1); got != "2.0 (1.0–3.0)" {
		t.Fatalf("format: %q", got)
	}
	if got := (spread{Med: 2, Min: 2, Max: 2}).format(0); got != "2" {
		t.Fatalf("format of one value: %q", got)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP grpc_server_handled_total x
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 12
grpc_server_handled_total{grpc_code="OK",grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"} 3
grpc_server_handled_total{grpc_code="Unavailable",grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"} 1
etcd_disk_wal_fsync_duration_seconds_sum 0.25
etcd_disk_wal_fsync_duration_seconds_count 10
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{
		"grpc_server_handled_total":                      16,
		"grpc_server_handled_total{grpc_method=Range}":   12,
		"grpc_server_handled_total{grpc_method=Txn}":     4,
		"grpc_server_handled_total{grpc_code=OK}":        15,
		"etcd_disk_wal_fsync_duration_seconds_count":     10,
		"etcd_disk_wal_fsync_duration_seconds_sum":       0.25,
		"grpc_server_handled_total{grpc_method=Missing}": 0,
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}

func TestParseProc(t *testing.T) {
	stat := "4242 (wyvern (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 300 1000 2000"
	cpu, err := parseStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 3*time.Second {
		t.Fatalf("cpu = %v, want 3s", cpu)
	}
	if _, err := parseStat("garbage"); err == nil {
		t.Fatal("garbage parsed")
	}
	rss, hwm := parseStatus("Name:\twyvern\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")
	if rss != 1<<20 || hwm != 2<<20 {
		t.Fatalf("rss %d hwm %d", rss, hwm)
	}
}

func TestParseTraces(t *testing.T) {
	text := `File: wyvern
Type: cpu
-----------+-------------------------------------------------------
      10ms   encoding/json.(*decodeState).value
             github.com/wyvern-sdn/wyvern/internal/api/neutron.(*Server).createPort
             go.etcd.io/etcd/client/v3/concurrency.runSTM.func1
-----------+-------------------------------------------------------
     1.50s   runtime.memmove
             go.etcd.io/etcd/server/v3/storage/mvcc.(*storeTxnCommon).rangeKeys
             google.golang.org/grpc.(*Server).handleStream
-----------+-------------------------------------------------------
      20ms   cmpbody
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
`
	b, err := parseTraces(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if b.Total != 1530*time.Millisecond {
		t.Fatalf("total %v", b.Total)
	}
	want := []share{
		{"etcd serving Range/Txn RPCs (gRPC handlers, MVCC reads)", 1500 * time.Millisecond},
		{"Go GC background workers", 20 * time.Millisecond},
		{"Wyvern request handling: HTTP, JSON, validation, STM body, etcd client calls", 10 * time.Millisecond},
	}
	if len(b.ByRole) != len(want) {
		t.Fatalf("roles %+v", b.ByRole)
	}
	for i := range want {
		if b.ByRole[i] != want[i] {
			t.Errorf("role %d = %+v, want %+v", i, b.ByRole[i], want[i])
		}
	}
	if b.ByLeaf[0].Name != "Go runtime: allocation, GC, scheduling, memmove" || b.ByLeaf[0].Dur != 1520*time.Millisecond {
		t.Errorf("leaves %+v", b.ByLeaf)
	}
	if b.ByLeaf[1].Name != "encoding/json" {
		t.Errorf("leaves %+v", b.ByLeaf)
	}
}

func TestPkgOf(t *testing.T) {
	for fn, want := range map[string]string{
		"go.etcd.io/etcd/server/v3/storage/mvcc.(*keyIndex).Less": "go.etcd.io/etcd/server/v3/storage/mvcc",
		"sort.Search":      "sort",
		"runtime.mallocgc": "runtime",
		"github.com/wyvern-sdn/wyvern/internal/store.ListOf[go.shape.0b93/x.y]": "github.com/wyvern-sdn/wyvern/internal/store",
		"cmpbody": "cmpbody",
	} {
		if got := pkgOf(fn); got != want {
			t.Errorf("pkgOf(%q) = %q, want %q", fn, got, want)
		}
	}
	if g := leafGroup("sort.Search"); g != "Go standard library, other (sort, bytes, strings, sync…)" {
		t.Errorf("sort.Search in %q", g)
	}
	if g := leafGroup("github.com/golang/protobuf/proto.Marshal"); g != "other" {
		t.Errorf("protobuf in %q", g)
	}
}
