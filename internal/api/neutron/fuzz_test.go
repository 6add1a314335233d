package neutron

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// fuzzBed is one API on one etcd for a whole fuzz run, with a network,
// IPv4 and IPv6 subnets and a security group to aim bodies at.
type fuzzBed struct {
	handler http.Handler
	st      *store.Store
	// Tokens replaced in fuzzed bodies so seeds reach deep paths.
	replacer *strings.Replacer
}

func newFuzzBed(f *testing.F) *fuzzBed {
	st, _ := startEtcd(f)
	a := serveAPI(f, st)
	net := a.mkNetwork("p1", nil)
	s4 := a.mkSubnet("p1", net, "10.40.0.0/28", nil)
	s6 := a.mkSubnet("p1", net, "2001:db8:40::/64", jsonObj{"ipv6_address_mode": "slaac", "ipv6_ra_mode": "slaac"})
	sg := a.must(201, "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "f"}})["security_group"].(jsonObj)
	mux := http.NewServeMux()
	a.api.Register(mux, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Alternate between a tenant and an admin by a header the
			// fuzz target sets.
			p := auth.Principal{ProjectID: "p1", Roles: []string{"member"}}
			if r.Header.Get("X-Admin") == "1" {
				p = auth.Principal{ProjectID: "admin-project", Admin: true, Roles: []string{"admin"}}
			}
			h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		})
	})
	return &fuzzBed{handler: mux, st: st, replacer: strings.NewReplacer(
		"NET", net, "SUB4", s4["id"].(string), "SUB6", s6["id"].(string), "SG", sg["id"].(string))}
}

// keys counts the keys under the prefix; with exceptSG it leaves out
// security groups, which a successful port create may make (a project's
// default group) and which outlive the port.
func (b *fuzzBed) keys(t *testing.T, exceptSG bool) int {
	kvs, _, err := b.st.List(context.Background(), store.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, kv := range kvs {
		if exceptSG && (strings.HasPrefix(kv.Key, store.KindPrefix(store.KindSecGroups)) ||
			strings.HasPrefix(kv.Key, store.KindPrefix(store.KindSGRules)) ||
			strings.HasPrefix(kv.Key, store.IndexKey("default_security_group", "")) ||
			strings.HasPrefix(kv.Key, store.GroupRulesPrefix) || strings.HasPrefix(kv.Key, store.ScopedIndexOf(store.KindSGRules)) ||
			strings.Contains(kv.Key, "/security-groups/") || strings.Contains(kv.Key, "/security-group-rules/")) {
			continue
		}
		n++
	}
	return n
}

func (b *fuzzBed) do(method, path string, body []byte, admin bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if admin {
		req.Header.Set("X-Admin", "1")
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return rec
}

// check sends body to the create handler of collection and asserts the
// invariants: no panic, no 500, an error changes nothing, and what was
// created is deleted again so the bed stays small.
func (b *fuzzBed) check(t *testing.T, collection, singular string, body []byte, admin bool) {
	body = []byte(b.replacer.Replace(string(body)))
	before, beforeSG := b.keys(t, false), b.keys(t, true)
	rec := b.do("POST", "/v2.0/"+collection, body, admin)
	if rec.Code >= 500 {
		t.Fatalf("POST %s %s: %d %s", collection, body, rec.Code, rec.Body)
	}
	if rec.Code/100 != 2 {
		if after := b.keys(t, false); after != before {
			t.Fatalf("POST %s %s failed with %d but changed %d keys to %d: %s", collection, body, rec.Code, before, after, rec.Body)
		}
		return
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("created answer is not JSON: %s", rec.Body)
	}
	var ids []struct {
		ID string `json:"id"`
	}
	if raw, ok := out[collection]; ok {
		_ = json.Unmarshal(raw, &ids)
	} else {
		ids = make([]struct {
			ID string `json:"id"`
		}, 1)
		_ = json.Unmarshal(out[singular], &ids[0])
	}
	for _, o := range ids {
		if rec := b.do("DELETE", "/v2.0/"+collection+"/"+o.ID, nil, true); rec.Code != http.StatusNoContent {
			t.Fatalf("delete created %s %s: %d %s", singular, o.ID, rec.Code, rec.Body)
		}
	}
	if after := b.keys(t, true); after != beforeSG {
		t.Fatalf("create and delete of %s left %d keys, had %d", body, after, beforeSG)
	}
}

func FuzzDecodePort(f *testing.F) {
	for _, s := range []string{
		`{"port": {"network_id": "NET"}}`,
		`{"port": {"network_id": "NET", "fixed_ips": [{"subnet_id": "SUB4"}, {"subnet_id": "SUB4", "ip_address": "10.40.0.9"}]}}`,
		`{"port": {"network_id": "NET", "fixed_ips": [{"ip_address": "2001:db8:40::5"}]}}`,
		`{"port": {"network_id": "NET", "fixed_ips": [{"subnet_id": "SUB6"}], "mac_address": "fa:16:3e:00:00:01"}}`,
		`{"port": {"network_id": "NET", "security_groups": ["SG"], "allowed_address_pairs": [{"ip_address": "10.0.0.0/8", "mac_address": "aa:bb:cc:dd:ee:ff"}]}}`,
		`{"port": {"network_id": "NET", "port_security_enabled": "false", "security_groups": null}}`,
		`{"port": {"network_id": "NET", "extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": 1400, "ip_version": "4"}]}}`,
		`{"port": {"network_id": "NET", "binding:host_id": "h", "binding:profile": {"a": [1]}, "binding:vnic_type": "direct"}}`,
		`{"port": {"network_id": "NET", "device_owner": "network:router_interface", "device_id": "r"}}`,
		`{"ports": [{"network_id": "NET"}, {"network_id": "NET", "fixed_ips": []}]}`,
		`{"port": {"network_id": "NET", "fixed_ips": [{"ip_address": "10.40.0.0"}]}}`,
		`{"port": {"network_id": 7}}`,
		`{"port": []}`,
		`{"port": {"network_id": "NET", "fixed_ips": {"subnet_id": "SUB4"}}}`,
		`{"port": {"network_id": "NET", "allowed_address_pairs": [{"ip_address": null}]}}`,
		`nonsense`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	b := newFuzzBed(f)
	f.Fuzz(func(t *testing.T, body []byte, admin bool) {
		b.check(t, "ports", "port", body, admin)
	})
}

func FuzzDecodeSubnet(f *testing.F) {
	for _, s := range []string{
		`{"subnet": {"network_id": "NET", "cidr": "10.41.0.0/24"}}`,
		`{"subnet": {"network_id": "NET", "cidr": "10.41.0.0/24", "gateway_ip": null, "allocation_pools": [{"start": "10.41.0.10", "end": "10.41.0.20"}]}}`,
		`{"subnet": {"network_id": "NET", "cidr": "10.41.0.0/24", "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "10.41.0.2"}], "dns_nameservers": ["10.41.0.3"]}}`,
		`{"subnet": {"network_id": "NET", "cidr": "2001:db8:41::/64", "ip_version": 6, "ipv6_ra_mode": "dhcpv6-stateless"}}`,
		`{"subnet": {"network_id": "NET", "cidr": "10.40.0.0/16"}}`,
		`{"subnet": {"network_id": "NET", "cidr": "10.41.0.1/24", "ip_version": "4"}}`,
		`{"subnet": {"network_id": "NET", "cidr": "::/0", "ip_version": 6}}`,
		`{"subnets": [{"network_id": "NET", "cidr": "10.42.0.0/24"}, {"network_id": "NET", "cidr": "10.42.0.0/25"}]}`,
		`{"subnet": {"network_id": "NET", "cidr": "10.41.0.0/31", "allocation_pools": [{"start": "10.41.0.0", "end": "10.41.0.1"}]}}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	b := newFuzzBed(f)
	f.Fuzz(func(t *testing.T, body []byte, admin bool) {
		b.check(t, "subnets", "subnet", body, admin)
	})
}
