package neutron

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ipam"
)

// TestExternalIPv6: an external network takes an IPv6 subnet, and a
// network with one becomes external; a router's gateway then gets an
// address on each (dual stack, EUI-64 on a SLAAC subnet, as Neutron's
// gateways have); floating IPs stay IPv4 only: an IPv6 floating IP is
// refused and changes nothing, and a floating IP's port holds no IPv6
// address.
func TestExternalIPv6(t *testing.T) {
	a := newTestAPI(t)
	ext := a.mkNetwork("", jsonObj{"router:external": true, "provider:network_type": "flat", "provider:physical_network": "physnet1"})
	s4 := a.mkSubnet("", ext, "203.0.113.0/24", jsonObj{"ip_version": 4})["id"].(string)
	s6 := a.mkSubnet("", ext, "2001:db8:ffff::/64", jsonObj{"ip_version": 6})["id"].(string)

	r := a.must(http.StatusCreated, "POST", "/v2.0/routers", "", jsonObj{"router": jsonObj{"name": "r",
		"external_gateway_info": jsonObj{"network_id": ext}}})["router"].(jsonObj)
	ips := map[string]string{}
	for _, f := range r["external_gateway_info"].(jsonObj)["external_fixed_ips"].([]any) {
		ips[f.(jsonObj)["subnet_id"].(string)] = f.(jsonObj)["ip_address"].(string)
	}
	if len(ips) != 2 || !strings.HasPrefix(ips[s4], "203.0.113.") || !strings.HasPrefix(ips[s6], "2001:db8:ffff:") {
		t.Fatalf("gateway addresses %v, want one on each subnet", ips)
	}

	// A SLAAC external subnet: the gateway's EUI-64 address.
	n6 := a.mkNetwork("", jsonObj{"provider:network_type": "flat", "provider:physical_network": "physnet2"})
	a.mkSubnet("", n6, "2001:db8:fffe::/64", jsonObj{"ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"})
	a.must(http.StatusOK, "PUT", "/v2.0/networks/"+n6, "", jsonObj{"network": jsonObj{"router:external": true}})
	r2 := a.must(http.StatusCreated, "POST", "/v2.0/routers", "", jsonObj{"router": jsonObj{"name": "r2",
		"external_gateway_info": jsonObj{"network_id": n6}}})["router"].(jsonObj)
	gw := r2["external_gateway_info"].(jsonObj)["external_fixed_ips"].([]any)
	portsOut := a.must(http.StatusOK, "GET", "/v2.0/ports?network_id="+n6+"&device_owner=network:router_gateway", "", nil)["ports"].([]any)
	if len(gw) != 1 || len(portsOut) != 1 {
		t.Fatalf("SLAAC gateway %v, ports %v", gw, portsOut)
	}
	if want := eui64For(t, "2001:db8:fffe::/64", portsOut[0].(jsonObj)["mac_address"].(string)); gw[0].(jsonObj)["ip_address"] != want {
		t.Fatalf("SLAAC gateway address %v, want the EUI-64 %s", gw[0], want)
	}

	// Floating IPs: IPv4 only.
	before := len(a.must(http.StatusOK, "GET", "/v2.0/floatingips", "", nil)["floatingips"].([]any))
	portsBefore := len(a.must(http.StatusOK, "GET", "/v2.0/ports?network_id="+ext, "", nil)["ports"].([]any))
	a.wantErr(http.StatusBadRequest, "BadRequest", "Floating IPs are IPv4 only", "POST", "/v2.0/floatingips", "",
		jsonObj{"floatingip": jsonObj{"floating_network_id": ext, "subnet_id": s6}})
	a.wantErr(http.StatusBadRequest, "BadRequest", "Floating IPs are IPv4 only", "POST", "/v2.0/floatingips", "",
		jsonObj{"floatingip": jsonObj{"floating_network_id": ext, "floating_ip_address": "2001:db8:ffff::99"}})
	a.wantErr(http.StatusBadRequest, "BadRequest", "No IPv4 address available", "POST", "/v2.0/floatingips", "",
		jsonObj{"floatingip": jsonObj{"floating_network_id": n6}})
	if n := len(a.must(http.StatusOK, "GET", "/v2.0/floatingips", "", nil)["floatingips"].([]any)); n != before {
		t.Fatalf("refused floating IPs stored: %d, was %d", n, before)
	}
	if n := len(a.must(http.StatusOK, "GET", "/v2.0/ports?network_id="+ext, "", nil)["ports"].([]any)); n != portsBefore {
		t.Fatalf("refused floating IPs left ports: %d, was %d", n, portsBefore)
	}
	f := a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "", jsonObj{"floatingip": jsonObj{"floating_network_id": ext}})["floatingip"].(jsonObj)
	if addr := f["floating_ip_address"].(string); !strings.HasPrefix(addr, "203.0.113.") {
		t.Fatalf("floating IP %s", addr)
	}
	fp := a.must(http.StatusOK, "GET", "/v2.0/ports?device_owner=network:floatingip&device_id="+f["id"].(string), "", nil)["ports"].([]any)
	if len(fp) != 1 || len(fp[0].(jsonObj)["fixed_ips"].([]any)) != 1 {
		t.Fatalf("floating IP port %v: want its IPv4 address only", fp)
	}
}

// eui64For is mac's SLAAC address on prefix.
func eui64For(t *testing.T, prefix, mac string) string {
	t.Helper()
	a, err := ipam.EUI64(netip.MustParsePrefix(prefix), mac)
	if err != nil {
		t.Fatal(err)
	}
	return a.String()
}
