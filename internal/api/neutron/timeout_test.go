package neutron

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// TestStoreTimeout: when etcd stops answering, a request is answered 503
// in Neutron's format once its store deadline passes, instead of waiting
// for etcd.
func TestStoreTimeout(t *testing.T) {
	e := storetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Dial(ctx, e.Endpoints())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := DefaultConfig()
	cfg.StoreTimeout = 300 * time.Millisecond
	api := New(st, cfg, nil)
	mux := http.NewServeMux()
	api.Register(mux, testCaller)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, map[string]any) {
		// Without the deadline the request would wait for etcd until
		// this client gives up.
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, _ := get("/v2.0/networks"); code != http.StatusOK {
		t.Fatalf("with etcd up: %d", code)
	}
	e.Stop()
	for _, path := range []string{"/v2.0/networks", "/v2.0/ports/p1"} {
		code, body := get(path)
		ne, _ := body["NeutronError"].(map[string]any)
		if code != http.StatusServiceUnavailable || ne == nil || ne["type"] != "ServiceUnavailable" {
			t.Errorf("%s with etcd gone: %d %v", path, code, body)
		}
	}
}
