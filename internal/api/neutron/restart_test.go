package neutron

import (
	"fmt"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

func TestRestartKeepsEverything(t *testing.T) {
	e := storetest.Start(t)
	a := serveAPI(t, e.Store)
	net := a.mkNetwork("p1", jsonObj{"name": "persist"})
	sub := a.mkSubnet("p1", net, "10.30.0.0/29", jsonObj{"dns_nameservers": []string{"192.0.2.53"}})
	var before []jsonObj
	for range 3 {
		before = append(before, a.mkPort("p1", net, nil))
	}
	upd := a.must(200, "PUT", "/v2.0/ports/"+before[0]["id"].(string), "p1",
		jsonObj{"port": jsonObj{"name": "renamed"}})["port"].(jsonObj)

	e.Restart()
	b := serveAPI(t, e.Store)

	n := b.must(200, "GET", "/v2.0/networks/"+net, "p1", nil)["network"].(jsonObj)
	if n["name"] != "persist" || len(n["subnets"].([]any)) != 1 {
		t.Fatalf("network after restart: %v", n)
	}
	s := b.must(200, "GET", "/v2.0/subnets/"+sub["id"].(string), "p1", nil)["subnet"].(jsonObj)
	if s["cidr"] != "10.30.0.0/29" || len(s["dns_nameservers"].([]any)) != 1 {
		t.Fatalf("subnet after restart: %v", s)
	}
	for i, want := range before {
		got := b.must(200, "GET", "/v2.0/ports/"+want["id"].(string), "p1", nil)["port"].(jsonObj)
		if got["mac_address"] != want["mac_address"] || fmt.Sprint(fixedIPs(got)) != fmt.Sprint(fixedIPs(want)) {
			t.Fatalf("port %d after restart: %v, was %v", i, got, want)
		}
		if i == 0 && (got["name"] != "renamed" || got["revision_number"] != upd["revision_number"]) {
			t.Fatalf("update lost: %v", got)
		}
	}
	// The allocations survived too: the remaining two addresses of the
	// pool are handed out, then the pool is full.
	seen := map[string]bool{}
	for _, p := range before {
		seen[fixedIPs(p)[0]] = true
	}
	for range 2 {
		ip := fixedIPs(b.mkPort("p1", net, nil))[0]
		if seen[ip] {
			t.Fatalf("address %s handed out twice across the restart", ip)
		}
		seen[ip] = true
	}
	b.wantErr(409, "IpAddressGenerationFailure", "", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net}})
	b.wantErr(409, "MacAddressInUse", "", "POST", "/v2.0/ports", "", jsonObj{"port": jsonObj{"network_id": net, "mac_address": before[1]["mac_address"]}})
}
