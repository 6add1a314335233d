package neutron

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// rawCall is a goroutine-safe request as admin (no t.Fatal); it returns
// the status, or 0 when the request itself failed.
func rawCall(client *http.Client, base, method, path string, body any) int {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// raceDelete starts workers port creates and one delete of path at the
// same moment, and returns the delete's status and how many creates
// succeeded.
func raceDelete(t *testing.T, a *testAPI, workers int, port jsonObj, path string) (int, int) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers + 1}, Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	var wg sync.WaitGroup
	codes := make([]int, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i] = rawCall(client, a.srv.URL, "POST", "/v2.0/ports", jsonObj{"port": port})
		}()
	}
	var del int
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		del = rawCall(client, a.srv.URL, "DELETE", path, nil)
	}()
	close(start)
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusNotFound, http.StatusBadRequest, http.StatusConflict:
		default:
			t.Fatalf("port create answered %d", c)
		}
	}
	return del, created
}

// TestDeleteRacesPortCreates deletes networks and subnets while ports are
// being created on them: whichever wins, no port, address, MAC, index or
// owner key may be left referring to what was deleted.
func TestDeleteRacesPortCreates(t *testing.T) {
	a := newTestAPI(t)
	rounds, workers := 25, 8
	if testing.Short() {
		rounds = 5
	}
	outcomes := map[string]int{}
	for range rounds {
		net := a.mkNetwork("", nil)
		a.mkSubnet("", net, "10.30.0.0/24", nil)
		del, created := raceDelete(t, a, workers, jsonObj{"network_id": net}, "/v2.0/networks/"+net)
		switch {
		case del == http.StatusNoContent && created == 0:
			outcomes["network deleted first"]++
		case del == http.StatusNoContent:
			t.Fatalf("network deleted, yet %d port creates on it succeeded", created)
		case del == http.StatusConflict:
			outcomes["ports first"]++
		default:
			t.Fatalf("network delete answered %d", del)
		}

		net = a.mkNetwork("", nil)
		a.mkSubnet("", net, "10.31.0.0/24", nil)
		sub := a.mkSubnet("", net, "10.32.0.0/24", nil)["id"].(string)
		del, created = raceDelete(t, a, workers, jsonObj{"network_id": net, "fixed_ips": []jsonObj{{"subnet_id": sub}}}, "/v2.0/subnets/"+sub)
		switch {
		case del == http.StatusNoContent && created == 0:
			outcomes["subnet deleted first"]++
		case del == http.StatusNoContent:
			t.Fatalf("subnet deleted, yet %d port creates on it succeeded", created)
		case del == http.StatusConflict:
			outcomes["allocations first"]++
		default:
			t.Fatalf("subnet delete answered %d", del)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	checkConsistent(t, a.st)
}

// checkConsistent checks that every network-scoped key of the store
// refers to objects that exist, and that every port's MAC and addresses
// are held for it.
func checkConsistent(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	list := func(prefix string) []store.KV {
		kvs, _, err := st.List(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		return kvs
	}
	last := func(key string) string { return key[strings.LastIndexByte(key, '/')+1:] }
	nets := map[string]bool{}
	for _, kv := range list(store.KindPrefix(store.KindNetworks)) {
		nets[last(kv.Key)] = true
	}
	subnets := map[string]string{} // id -> network
	for _, kv := range list(store.KindPrefix(store.KindSubnets)) {
		var sub model.Subnet
		if err := json.Unmarshal(kv.Value, &sub); err != nil {
			t.Fatal(err)
		}
		if !nets[sub.NetworkID] {
			t.Errorf("subnet %s of deleted network %s", sub.ID, sub.NetworkID)
		}
		subnets[sub.ID] = sub.NetworkID
	}
	for _, kv := range list(store.IndexKey(store.KindSubnets, "")) {
		if id := last(kv.Key); subnets[id] != string(kv.Value) {
			t.Errorf("subnet index %s -> %s without the subnet", id, kv.Value)
		}
	}
	ports := map[string]*model.Port{}
	for _, kv := range list(store.KindPrefix(store.KindPorts)) {
		var p model.Port
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			t.Fatal(err)
		}
		ports[p.ID] = &p
		if !nets[p.NetworkID] {
			t.Errorf("port %s orphaned on deleted network %s", p.ID, p.NetworkID)
		}
		for _, f := range p.FixedIPs {
			if _, ok := subnets[f.SubnetID]; !ok {
				t.Errorf("port %s has address %s on deleted subnet %s", p.ID, f.IPAddress, f.SubnetID)
			}
		}
	}
	for _, kv := range list(store.IndexKey(store.KindPorts, "")) {
		if p := ports[last(kv.Key)]; p == nil || p.NetworkID != string(kv.Value) {
			t.Errorf("port index %s -> %s without the port", kv.Key, kv.Value)
		}
	}
	held := map[string]bool{}
	for _, kv := range list(store.Prefix + "ipam/") {
		rest := strings.TrimPrefix(kv.Key, store.Prefix+"ipam/")
		subnet, ip, _ := strings.Cut(rest, "/")
		if _, ok := subnets[subnet]; !ok {
			t.Errorf("address %s held on deleted subnet %s by %s", ip, subnet, kv.Value)
		}
		if ports[string(kv.Value)] == nil {
			t.Errorf("address %s on %s held by deleted port %s", ip, subnet, kv.Value)
		}
		held[subnet+"/"+ip+"/"+string(kv.Value)] = true
	}
	macs := map[string]string{}
	for _, kv := range list(store.Prefix + "macs/") {
		if ports[string(kv.Value)] == nil {
			t.Errorf("MAC %s held by deleted port %s", last(kv.Key), kv.Value)
		}
		macs[last(kv.Key)] = string(kv.Value)
	}
	for _, p := range ports {
		if macs[p.MACAddress] != p.ID {
			t.Errorf("port %s MAC %s not held for it", p.ID, p.MACAddress)
		}
		for _, f := range p.FixedIPs {
			if !held[f.SubnetID+"/"+f.IPAddress+"/"+p.ID] {
				t.Errorf("port %s address %s not held for it", p.ID, f.IPAddress)
			}
		}
	}
	for _, kv := range list(store.Prefix + "owner/") {
		if strings.Contains(kv.Key, "/ports/") && ports[last(kv.Key)] == nil {
			t.Errorf("owner key %s of a deleted port", kv.Key)
		}
	}
}
