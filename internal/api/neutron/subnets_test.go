package neutron

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// jsonObj is shorthand for a JSON object in a request body.
type jsonObj = map[string]any

// mkNetwork creates a network as project and returns its id.
func (a *testAPI) mkNetwork(project string, attrs jsonObj) string {
	a.t.Helper()
	if attrs == nil {
		attrs = jsonObj{}
	}
	out := a.must(http.StatusCreated, "POST", "/v2.0/networks", project, jsonObj{"network": attrs})
	return out["network"].(jsonObj)["id"].(string)
}

// mkSubnet creates a subnet and returns it.
func (a *testAPI) mkSubnet(project, netID, cidr string, attrs jsonObj) jsonObj {
	a.t.Helper()
	body := jsonObj{"network_id": netID, "cidr": cidr}
	for k, v := range attrs {
		body[k] = v
	}
	out := a.must(http.StatusCreated, "POST", "/v2.0/subnets", project, jsonObj{"subnet": body})
	return out["subnet"].(jsonObj)
}

// wantErr calls and checks the status and NeutronError type (and, when
// msg is not empty, that the message contains it).
func (a *testAPI) wantErr(status int, typ, msg, method, path, project string, body any) {
	a.t.Helper()
	code, out := a.call(method, path, project, body)
	if code != status || (typ != "" && errType(out) != typ) {
		a.t.Fatalf("%s %s: got %d %v, want %d %s", method, path, code, out, status, typ)
	}
	if msg != "" {
		m, _ := out["NeutronError"].(jsonObj)["message"].(string)
		if !strings.Contains(m, msg) {
			a.t.Fatalf("%s %s: message %q does not contain %q", method, path, m, msg)
		}
	}
}

func poolStrings(s jsonObj) []string {
	var out []string
	for _, p := range s["allocation_pools"].([]any) {
		m := p.(jsonObj)
		out = append(out, m["start"].(string)+"-"+m["end"].(string))
	}
	return out
}

func TestSubnetCreateDefaults(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	s := a.mkSubnet("p1", net, "10.1.0.0/24", jsonObj{"ip_version": 4, "name": "s1"})
	if s["gateway_ip"] != "10.1.0.1" || s["enable_dhcp"] != true || s["ip_version"].(float64) != 4 || s["cidr"] != "10.1.0.0/24" {
		t.Fatalf("defaults: %v", s)
	}
	if got := poolStrings(s); !reflect.DeepEqual(got, []string{"10.1.0.2-10.1.0.254"}) {
		t.Fatalf("pools %v", got)
	}
	if s["ipv6_ra_mode"] != nil || s["subnetpool_id"] != nil || len(s["dns_nameservers"].([]any)) != 0 || len(s["host_routes"].([]any)) != 0 {
		t.Fatalf("null/empty attributes: %v", s)
	}
	// The network lists it.
	n := a.must(http.StatusOK, "GET", "/v2.0/networks/"+net, "p1", nil)["network"].(jsonObj)
	if subs := n["subnets"].([]any); len(subs) != 1 || subs[0] != s["id"] {
		t.Fatalf("network subnets %v", n["subnets"])
	}
	// No gateway: null, and the pool covers the whole host range.
	s2 := a.mkSubnet("p1", net, "10.2.0.0/28", jsonObj{"gateway_ip": nil})
	if s2["gateway_ip"] != nil {
		t.Fatalf("gateway %v", s2["gateway_ip"])
	}
	if got := poolStrings(s2); !reflect.DeepEqual(got, []string{"10.2.0.1-10.2.0.14"}) {
		t.Fatalf("pools %v", got)
	}
	// Given pools and gateway.
	s3 := a.mkSubnet("p1", net, "10.3.0.0/24", jsonObj{"gateway_ip": "10.3.0.254",
		"allocation_pools": []jsonObj{{"start": "10.3.0.100", "end": "10.3.0.110"}, {"start": "10.3.0.10", "end": "10.3.0.20"}}})
	if got := poolStrings(s3); !reflect.DeepEqual(got, []string{"10.3.0.10-10.3.0.20", "10.3.0.100-10.3.0.110"}) || s3["gateway_ip"] != "10.3.0.254" {
		t.Fatalf("given pools %v gw %v", got, s3["gateway_ip"])
	}
	// IPv6 SLAAC.
	s6 := a.mkSubnet("p1", net, "2001:db8:1::/64", jsonObj{"ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"})
	if s6["gateway_ip"] != "2001:db8:1::1" || s6["ipv6_address_mode"] != "slaac" {
		t.Fatalf("v6: %v", s6)
	}
	if got := poolStrings(s6); !reflect.DeepEqual(got, []string{"2001:db8:1::2-2001:db8:1:0:ffff:ffff:ffff:ffff"}) {
		t.Fatalf("v6 pools %v", got)
	}
	// Filters and show.
	out := a.must(http.StatusOK, "GET", "/v2.0/subnets?network_id="+net+"&ip_version=6", "p1", nil)
	if l := out["subnets"].([]any); len(l) != 1 || l[0].(jsonObj)["id"] != s6["id"] {
		t.Fatalf("filtered list %v", out)
	}
	a.must(http.StatusOK, "GET", "/v2.0/subnets/"+s["id"].(string), "p1", nil)
	a.wantErr(http.StatusNotFound, "SubnetNotFound", "", "GET", "/v2.0/subnets/"+s["id"].(string), "p2", nil)
}

func TestSubnetCreateErrors(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.9.0.0/24", nil)
	post := func(status int, typ, msg string, body jsonObj) {
		t.Helper()
		if _, ok := body["network_id"]; !ok {
			body["network_id"] = net
		}
		a.wantErr(status, typ, msg, "POST", "/v2.0/subnets", "p1", jsonObj{"subnet": body})
	}
	post(400, "", "isn't a recommended CIDR, use '10.1.0.0/24' instead", jsonObj{"cidr": "10.1.0.5/24"})
	post(400, "", "is not a valid IP subnet", jsonObj{"cidr": "10.1.0.0/33"})
	post(400, "", "a subnetpool must be specified", jsonObj{})
	post(400, "InvalidInput", "does not match the ip_version", jsonObj{"cidr": "10.1.0.0/24", "ip_version": 6})
	post(404, "SubnetPoolNotFound", "", jsonObj{"cidr": "10.1.0.0/24", "subnetpool_id": "abc"})
	post(400, "InvalidInput", "Gateway is not valid on subnet", jsonObj{"cidr": "10.1.0.0/24", "gateway_ip": "10.2.0.1"})
	post(400, "InvalidInput", "Gateway is not valid on subnet", jsonObj{"cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.255"})
	post(400, "InvalidInput", "Gateway is not valid on subnet", jsonObj{"cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.0"})
	post(400, "OutOfBoundsAllocationPool", "spans beyond the subnet cidr", jsonObj{"cidr": "10.1.0.0/24",
		"allocation_pools": []jsonObj{{"start": "10.1.0.2", "end": "10.1.1.9"}}})
	post(409, "OverlappingAllocationPools", "Found overlapping allocation pools", jsonObj{"cidr": "10.1.0.0/24",
		"allocation_pools": []jsonObj{{"start": "10.1.0.2", "end": "10.1.0.9"}, {"start": "10.1.0.9", "end": "10.1.0.20"}}})
	post(409, "GatewayConflictWithAllocationPools", "conflicts with allocation pool", jsonObj{"cidr": "10.1.0.0/24",
		"gateway_ip": "10.1.0.5", "allocation_pools": []jsonObj{{"start": "10.1.0.2", "end": "10.1.0.9"}}})
	post(400, "InvalidAllocationPool", "is not valid", jsonObj{"cidr": "10.1.0.0/24",
		"allocation_pools": []jsonObj{{"start": "10.1.0.9", "end": "10.1.0.2"}}})
	post(400, "InvalidAllocationPool", "is not valid", jsonObj{"cidr": "10.1.0.0/24",
		"allocation_pools": []jsonObj{{"start": "bogus"}}})
	post(400, "InvalidInput", "Requested subnet with cidr: 10.9.0.0/16 for network: "+net+" overlaps with another subnet", jsonObj{"cidr": "10.9.0.0/16"})
	post(400, "InvalidInput", "must be the same value", jsonObj{"cidr": "2001:db8::/64", "ip_version": 6,
		"ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"})
	post(400, "InvalidInput", "requires the prefix to be /64", jsonObj{"cidr": "2001:db8::/80", "ip_version": 6, "ipv6_address_mode": "slaac"})
	post(400, "InvalidInput", "ip_version is 4", jsonObj{"cidr": "10.1.0.0/24", "ipv6_address_mode": "slaac"})
	post(400, "", "is not in", jsonObj{"cidr": "2001:db8::/64", "ipv6_address_mode": "bogus"})
	post(400, "", "Duplicate nameserver", jsonObj{"cidr": "10.1.0.0/24", "dns_nameservers": []string{"8.8.8.8", "8.8.8.8"}})
	post(400, "", "not a valid nameserver", jsonObj{"cidr": "10.1.0.0/24", "dns_nameservers": []string{"x"}})
	post(400, "", "", jsonObj{"cidr": "10.1.0.0/24", "host_routes": []jsonObj{{"destination": "1.2.3.0/24"}}})
	post(400, "", "Unrecognized attribute", jsonObj{"cidr": "10.1.0.0/24", "bogus": true})
	post(404, "NetworkNotFound", "", jsonObj{"cidr": "10.1.0.0/24", "network_id": "nope"})
	// Another project's private network is invisible.
	a.wantErr(404, "NetworkNotFound", "", "POST", "/v2.0/subnets", "p2", jsonObj{"subnet": jsonObj{"network_id": net, "cidr": "10.1.0.0/24"}})
	// Nothing above left a subnet behind.
	out := a.must(200, "GET", "/v2.0/subnets", "p1", nil)
	if len(out["subnets"].([]any)) != 1 {
		t.Fatalf("failed creates left subnets: %v", out)
	}
}

func TestSubnetUpdate(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	s := a.mkSubnet("p1", net, "10.4.0.0/24", nil)
	path := "/v2.0/subnets/" + s["id"].(string)
	put := func(body jsonObj) jsonObj {
		t.Helper()
		return a.must(200, "PUT", path, "p1", jsonObj{"subnet": body})["subnet"].(jsonObj)
	}
	u := put(jsonObj{"name": "x", "dns_nameservers": []string{"1.1.1.1"}, "host_routes": []jsonObj{{"destination": "192.0.2.0/24", "nexthop": "10.4.0.9"}}, "enable_dhcp": false})
	if u["name"] != "x" || len(u["dns_nameservers"].([]any)) != 1 || len(u["host_routes"].([]any)) != 1 || u["enable_dhcp"] != false || u["revision_number"].(float64) != 1 {
		t.Fatalf("update: %v", u)
	}
	u = put(jsonObj{"dns_nameservers": []string{}})
	if len(u["dns_nameservers"].([]any)) != 0 {
		t.Fatalf("clear dns: %v", u)
	}
	u = put(jsonObj{"gateway_ip": nil})
	if u["gateway_ip"] != nil {
		t.Fatalf("clear gateway: %v", u)
	}
	// The old pool does not hold the new gateway.
	u = put(jsonObj{"gateway_ip": "10.4.0.1"})
	if u["gateway_ip"] != "10.4.0.1" {
		t.Fatalf("set gateway: %v", u)
	}
	a.wantErr(409, "GatewayConflictWithAllocationPools", "", "PUT", path, "p1", jsonObj{"subnet": jsonObj{"gateway_ip": "10.4.0.7"}})
	u = put(jsonObj{"allocation_pools": []jsonObj{{"start": "10.4.0.50", "end": "10.4.0.60"}}})
	if got := poolStrings(u); !reflect.DeepEqual(got, []string{"10.4.0.50-10.4.0.60"}) {
		t.Fatalf("pools %v", got)
	}
	u = put(jsonObj{"gateway_ip": "10.4.0.7"})
	a.wantErr(400, "", "Cannot update read-only attribute cidr", "PUT", path, "p1", jsonObj{"subnet": jsonObj{"cidr": "10.5.0.0/24"}})
	a.wantErr(409, "GatewayConflictWithAllocationPools", "", "PUT", path, "p1", jsonObj{"subnet": jsonObj{"allocation_pools": []jsonObj{{"start": "10.4.0.2", "end": "10.4.0.9"}}}})
	// Another project cannot see or change it.
	a.wantErr(404, "SubnetNotFound", "", "PUT", path, "p2", jsonObj{"subnet": jsonObj{"name": "y"}})
	a.must(204, "DELETE", path, "p1", nil)
	n := a.must(200, "GET", "/v2.0/networks/"+net, "p1", nil)["network"].(jsonObj)
	if len(n["subnets"].([]any)) != 0 {
		t.Fatalf("network still lists the subnet: %v", n)
	}
	a.wantErr(404, "SubnetNotFound", "", "GET", path, "p1", nil)
}

func TestSubnetSharedNetworkVisibility(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("", jsonObj{"shared": true, "tenant_id": "admin-project"})
	s := a.mkSubnet("", net, "10.6.0.0/24", nil)
	// A tenant sees the subnet of a shared network but cannot change it.
	out := a.must(200, "GET", "/v2.0/subnets", "p1", nil)
	if l := out["subnets"].([]any); len(l) != 1 || l[0].(jsonObj)["id"] != s["id"] {
		t.Fatalf("shared subnets: %v", out)
	}
	a.must(200, "GET", "/v2.0/subnets/"+s["id"].(string), "p1", nil)
	a.wantErr(404, "SubnetNotFound", "", "DELETE", "/v2.0/subnets/"+s["id"].(string), "p1", nil)
	a.wantErr(403, "", "", "POST", "/v2.0/subnets", "p1", jsonObj{"subnet": jsonObj{"network_id": net, "cidr": "10.7.0.0/24"}})
	// A private network's subnets stay private.
	priv := a.mkNetwork("p2", nil)
	a.mkSubnet("p2", priv, "10.8.0.0/24", nil)
	out = a.must(200, "GET", "/v2.0/subnets", "p1", nil)
	if l := out["subnets"].([]any); len(l) != 1 {
		t.Fatalf("p1 sees %v", out)
	}
}

func TestSubnetServiceTypes(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	s := a.mkSubnet("p1", net, "10.19.0.0/24", jsonObj{"service_types": []string{"network:floatingip"}})
	if st := s["service_types"].([]any); len(st) != 1 || st[0] != "network:floatingip" {
		t.Fatalf("service types %v", s["service_types"])
	}
	// A compute port finds no subnet serving it; a floating IP port does.
	a.wantErr(400, "IpAddressGenerationFailureNoMatchingSubnet", "No valid service subnet", "POST", "/v2.0/ports", "p1",
		jsonObj{"port": jsonObj{"network_id": net, "device_owner": "compute:nova"}})
	fip := a.mkPort("p1", net, jsonObj{"device_owner": "network:floatingip"})
	if len(fixedIPs(fip)) != 1 {
		t.Fatalf("floating IP port: %v", fip)
	}
	// Explicit requests are filtered too: by subnet, and by address.
	a.wantErr(400, "InvalidInput", "included invalid subnet", "POST", "/v2.0/ports", "p1",
		jsonObj{"port": jsonObj{"network_id": net, "device_owner": "compute:nova",
			"fixed_ips": []jsonObj{{"subnet_id": s["id"]}}}})
	a.wantErr(400, "InvalidIpForNetwork", "not a valid IP for any of the subnets", "POST", "/v2.0/ports", "p1",
		jsonObj{"port": jsonObj{"network_id": net, "device_owner": "compute:nova",
			"fixed_ips": []jsonObj{{"ip_address": "10.19.0.50"}}}})
	// DHCP ports are served by every subnet with DHCP enabled.
	dhcp := a.mkPort("", net, jsonObj{"device_owner": "network:dhcp"})
	if len(fixedIPs(dhcp)) != 1 {
		t.Fatalf("DHCP port: %v", dhcp)
	}
	// Advertised, now that it works.
	a.must(200, "GET", "/v2.0/extensions/subnet-service-types", "p1", nil)
	path := "/v2.0/subnets/" + s["id"].(string)
	u := a.must(200, "PUT", path, "p1", jsonObj{"subnet": jsonObj{"service_types": []string{}}})["subnet"].(jsonObj)
	if len(u["service_types"].([]any)) != 0 {
		t.Fatalf("cleared service types: %v", u)
	}
	a.mkPort("p1", net, jsonObj{"device_owner": "compute:nova"})
	a.wantErr(400, "InvalidSubnetServiceType", "does not correspond to a valid device owner", "PUT", path, "p1",
		jsonObj{"subnet": jsonObj{"service_types": []string{"bogus"}}})
}
