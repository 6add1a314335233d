package neutron

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/ipam"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// mkPort creates a port and returns it.
func (a *testAPI) mkPort(project, netID string, attrs jsonObj) jsonObj {
	a.t.Helper()
	body := jsonObj{"network_id": netID}
	for k, v := range attrs {
		body[k] = v
	}
	return a.must(http.StatusCreated, "POST", "/v2.0/ports", project, jsonObj{"port": body})["port"].(jsonObj)
}

// fixedIPs returns a port's addresses as "subnet/ip" strings.
func fixedIPs(port jsonObj) []string {
	var out []string
	for _, f := range port["fixed_ips"].([]any) {
		m := f.(jsonObj)
		out = append(out, m["subnet_id"].(string)+"/"+m["ip_address"].(string))
	}
	return out
}

// countKeys counts the keys under a prefix.
func (a *testAPI) countKeys(prefix string) int {
	a.t.Helper()
	kvs, _, err := a.st.List(context.Background(), prefix)
	if err != nil {
		a.t.Fatal(err)
	}
	return len(kvs)
}

func TestPortCreateDefaults(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	s4 := a.mkSubnet("p1", net, "10.10.0.0/24", nil)
	s6 := a.mkSubnet("p1", net, "2001:db8:a::/64", jsonObj{"ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"})
	s6s := a.mkSubnet("p1", net, "2001:db8:b::/64", jsonObj{"ip_version": 6, "ipv6_address_mode": "dhcpv6-stateful"})
	port := a.mkPort("p1", net, jsonObj{"name": "vm1"})
	mac := port["mac_address"].(string)
	if !strings.HasPrefix(mac, "fa:16:3e:") || port["status"] != "DOWN" || port["binding:vif_type"] != "unbound" ||
		port["binding:vnic_type"] != "normal" || port["port_security_enabled"] != true || port["admin_state_up"] != true {
		t.Fatalf("defaults: %v", port)
	}
	if len(port["binding:vif_details"].(jsonObj)) != 0 || len(port["binding:profile"].(jsonObj)) != 0 {
		t.Fatalf("binding maps: %v", port)
	}
	if sgs := port["security_groups"].([]any); len(sgs) != 1 {
		t.Fatalf("default security group: %v", port["security_groups"])
	}
	ips := fixedIPs(port)
	if len(ips) != 3 {
		t.Fatalf("want one v4, one stateful v6, one SLAAC address: %v", ips)
	}
	byID := map[string]string{}
	for _, f := range ips {
		sid, ip, _ := strings.Cut(f, "/")
		byID[sid] = ip
	}
	if ip := byID[s4["id"].(string)]; !strings.HasPrefix(ip, "10.10.0.") || ip == "10.10.0.1" {
		t.Fatalf("v4 address %q", ip)
	}
	want, _ := ipam.EUI64(netip.MustParsePrefix("2001:db8:a::/64"), mac)
	if got := byID[s6["id"].(string)]; got != want.String() {
		t.Fatalf("SLAAC address %q, want %q", got, want)
	}
	if got := byID[s6s["id"].(string)]; !strings.HasPrefix(got, "2001:db8:b:") {
		t.Fatalf("stateful v6 address %q", got)
	}
	// Keys: one MAC, three addresses, all naming the port.
	id := port["id"].(string)
	if v, err := a.st.GetString(context.Background(), store.MACKey(mac)); err != nil || v != id {
		t.Fatalf("mac key: %q %v", v, err)
	}
	if v, err := a.st.GetString(context.Background(), store.IPKey(s4["id"].(string), byID[s4["id"].(string)])); err != nil || v != id {
		t.Fatalf("ip key: %q %v", v, err)
	}
	// Filters by fixed IP.
	out := a.must(200, "GET", "/v2.0/ports?fixed_ips=ip_address%3D"+byID[s4["id"].(string)], "p1", nil)
	if len(out["ports"].([]any)) != 1 {
		t.Fatalf("filter by ip: %v", out)
	}
	// Delete frees everything.
	a.must(204, "DELETE", "/v2.0/ports/"+id, "p1", nil)
	if n := a.countKeys(store.Prefix + "macs/"); n != 0 {
		t.Fatalf("%d MAC keys left", n)
	}
	for _, s := range []jsonObj{s4, s6, s6s} {
		if n := a.countKeys(store.IPsOf(s["id"].(string))); n != 0 {
			t.Fatalf("%d address keys left on %s", n, s["cidr"])
		}
	}
	if n := a.countKeys(store.Prefix + "owner/p1/ports/"); n != 0 {
		t.Fatalf("owner key left")
	}
}

func TestPortFixedIPsAndMAC(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	s := a.mkSubnet("p1", net, "10.11.0.0/24", nil)
	sid := s["id"].(string)
	other := a.mkNetwork("p1", nil)
	so := a.mkSubnet("p1", other, "10.12.0.0/24", nil)
	port := a.mkPort("p1", net, jsonObj{"fixed_ips": []jsonObj{{"subnet_id": sid, "ip_address": "10.11.0.50"}, {"subnet_id": sid}},
		"mac_address": "AA:BB:CC:00:00:01"})
	if ips := fixedIPs(port); len(ips) != 2 || ips[0] != sid+"/10.11.0.50" || port["mac_address"] != "aa:bb:cc:00:00:01" {
		t.Fatalf("port %v", port)
	}
	post := func(status int, typ, msg string, body jsonObj) {
		t.Helper()
		if _, ok := body["network_id"]; !ok {
			body["network_id"] = net
		}
		a.wantErr(status, typ, msg, "POST", "/v2.0/ports", "p1", jsonObj{"port": body})
	}
	post(409, "IpAddressAlreadyAllocated", "IP address 10.11.0.50 already allocated in subnet "+sid,
		jsonObj{"fixed_ips": []jsonObj{{"ip_address": "10.11.0.50"}}})
	post(409, "MacAddressInUse", "The mac address aa:bb:cc:00:00:01 is in use", jsonObj{"mac_address": "aa:bb:cc:00:00:01"})
	post(400, "", "is not a valid MAC address", jsonObj{"mac_address": "01:00:5e:00:00:01"})
	post(400, "InvalidIpForSubnet", "is not a valid IP for the specified subnet", jsonObj{"fixed_ips": []jsonObj{{"subnet_id": sid, "ip_address": "10.12.0.5"}}})
	post(400, "InvalidIpForSubnet", "", jsonObj{"fixed_ips": []jsonObj{{"subnet_id": sid, "ip_address": "10.11.0.255"}}})
	post(400, "InvalidIpForNetwork", "is not a valid IP for any of the subnets", jsonObj{"fixed_ips": []jsonObj{{"ip_address": "10.99.0.5"}}})
	post(400, "InvalidInput", "invalid subnet", jsonObj{"fixed_ips": []jsonObj{{"subnet_id": so["id"]}}})
	post(404, "SubnetNotFound", "", jsonObj{"fixed_ips": []jsonObj{{"subnet_id": "nope"}}})
	post(400, "", "not a valid IP address", jsonObj{"fixed_ips": []jsonObj{{"ip_address": "10.11.0"}}})
	post(400, "", "Duplicate IP address", jsonObj{"fixed_ips": []jsonObj{{"ip_address": "10.11.0.7"}, {"ip_address": "10.11.0.7"}}})
	post(400, "", "subnet_id or ip_address", jsonObj{"fixed_ips": []jsonObj{{}}})
	post(404, "NetworkNotFound", "", jsonObj{"network_id": "nope"})
	post(400, "", "network_id", jsonObj{"network_id": ""})
	post(400, "", "Unrecognized attribute", jsonObj{"bogus": 1})
	post(400, "", "'nope' is not a valid UUID", jsonObj{"security_groups": []string{"nope"}})
	post(404, "SecurityGroupNotFound", "Security group 9b0c6a52-3f1e-4d7a-8e2b-5c4d3e2f1a0b does not exist", jsonObj{"security_groups": []string{"9b0c6a52-3f1e-4d7a-8e2b-5c4d3e2f1a0b"}})
	post(400, "PortSecurityAndIPRequiredForSecurityGroups", "", jsonObj{"port_security_enabled": false, "security_groups": []string{"9b0c6a52-3f1e-4d7a-8e2b-5c4d3e2f1a0b"}})
	post(409, "AddressPairAndPortSecurityRequired", "", jsonObj{"port_security_enabled": false, "allowed_address_pairs": []jsonObj{{"ip_address": "10.0.0.1"}}})
	post(400, "AllowedAddressPairsMissingIP", "", jsonObj{"allowed_address_pairs": []jsonObj{{"mac_address": "aa:bb:cc:00:00:09"}}})
	post(400, "", "neither a valid IP address", jsonObj{"allowed_address_pairs": []jsonObj{{"ip_address": "x"}}})
	post(400, "DuplicateAddressPairInRequest", "", jsonObj{"allowed_address_pairs": []jsonObj{{"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.1"}}})
	// Tenants may not bind; another project's network is invisible.
	a.wantErr(403, "", "binding:host_id", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net, "binding:host_id": "h1"}})
	a.wantErr(404, "NetworkNotFound", "", "POST", "/v2.0/ports", "p2", jsonObj{"port": jsonObj{"network_id": net}})
	// None of the failures left a port, a MAC or an address behind.
	if n := a.countKeys(store.PortsOf(net)); n != 1 {
		t.Fatalf("%d ports on the network", n)
	}
	if n := a.countKeys(store.Prefix + "macs/"); n != 1 {
		t.Fatalf("%d MAC keys", n)
	}
	if n := a.countKeys(store.IPsOf(sid)); n != 2 {
		t.Fatalf("%d address keys", n)
	}
}

func TestPortSecurityAttributes(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.13.0.0/24", nil)
	off := a.mkPort("p1", net, jsonObj{"port_security_enabled": false})
	if len(off["security_groups"].([]any)) != 0 || off["port_security_enabled"] != false {
		t.Fatalf("port security off: %v", off)
	}
	nsNet := a.mkNetwork("p1", jsonObj{"port_security_enabled": false})
	a.mkSubnet("p1", nsNet, "10.14.0.0/24", nil)
	inherit := a.mkPort("p1", nsNet, nil)
	if inherit["port_security_enabled"] != false || len(inherit["security_groups"].([]any)) != 0 {
		t.Fatalf("network default: %v", inherit)
	}
	dhcp := a.mkPort("p1", net, jsonObj{"device_owner": "network:dhcp"})
	if len(dhcp["security_groups"].([]any)) != 0 {
		t.Fatalf("dhcp port got security groups: %v", dhcp)
	}
	sg := a.must(201, "POST", "/v2.0/security-groups", "p1", jsonObj{"security_group": jsonObj{"name": "web"}})["security_group"].(jsonObj)
	port := a.mkPort("p1", net, jsonObj{"security_groups": []string{sg["id"].(string)},
		"allowed_address_pairs": []jsonObj{{"ip_address": "10.13.0.0/28"}, {"ip_address": "192.0.2.5", "mac_address": "aa:bb:cc:dd:ee:ff"}},
		"extra_dhcp_opts":       []jsonObj{{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}}})
	if sgs := port["security_groups"].([]any); len(sgs) != 1 || sgs[0] != sg["id"] {
		t.Fatalf("security groups %v", sgs)
	}
	pairs := port["allowed_address_pairs"].([]any)
	if len(pairs) != 2 || pairs[0].(jsonObj)["mac_address"] != port["mac_address"] || pairs[1].(jsonObj)["mac_address"] != "aa:bb:cc:dd:ee:ff" {
		t.Fatalf("pairs %v", pairs)
	}
	// Another project's group is not found.
	sg2 := a.must(201, "POST", "/v2.0/security-groups", "p2", jsonObj{"security_group": jsonObj{"name": "x"}})["security_group"].(jsonObj)
	a.wantErr(404, "SecurityGroupNotFound", "", "POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net, "security_groups": []string{sg2["id"].(string)}}})
	path := "/v2.0/ports/" + port["id"].(string)
	// Disabling port security while groups or pairs remain fails.
	a.wantErr(409, "PortSecurityPortHasSecurityGroup", "", "PUT", path, "p1", jsonObj{"port": jsonObj{"port_security_enabled": false}})
	a.wantErr(409, "AddressPairAndPortSecurityRequired", "", "PUT", path, "p1", jsonObj{"port": jsonObj{"port_security_enabled": false, "security_groups": []string{}}})
	u := a.must(200, "PUT", path, "p1", jsonObj{"port": jsonObj{"port_security_enabled": false, "security_groups": []string{}, "allowed_address_pairs": []jsonObj{}}})["port"].(jsonObj)
	if u["port_security_enabled"] != false || len(u["security_groups"].([]any)) != 0 || len(u["allowed_address_pairs"].([]any)) != 0 {
		t.Fatalf("disable: %v", u)
	}
	// Extra DHCP options merge; a null value deletes.
	u = a.must(200, "PUT", path, "p1", jsonObj{"port": jsonObj{"extra_dhcp_opts": []jsonObj{
		{"opt_name": "bootfile-name", "opt_value": nil}, {"opt_name": "tftp-server", "opt_value": "192.0.2.9"}}}})["port"].(jsonObj)
	opts := u["extra_dhcp_opts"].([]any)
	if len(opts) != 1 || opts[0].(jsonObj)["opt_name"] != "tftp-server" {
		t.Fatalf("dhcp opts %v", opts)
	}
	// Name change leaves groups alone (gophercloud's TestPortsDontAlterSecurityGroups).
	a.must(200, "PUT", path, "p1", jsonObj{"port": jsonObj{"port_security_enabled": true, "security_groups": []string{sg["id"].(string)}}})
	u = a.must(200, "PUT", path, "p1", jsonObj{"port": jsonObj{"name": "n"}})["port"].(jsonObj)
	if len(u["security_groups"].([]any)) != 1 {
		t.Fatalf("groups dropped: %v", u)
	}
}

func TestPortUpdate(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	s := a.mkSubnet("p1", net, "10.15.0.0/24", nil)
	sid := s["id"].(string)
	port := a.mkPort("p1", net, jsonObj{"fixed_ips": []jsonObj{{"ip_address": "10.15.0.10"}, {"ip_address": "10.15.0.11"}}})
	path := "/v2.0/ports/" + port["id"].(string)
	// Keep .10, drop .11, add .12.
	u := a.must(200, "PUT", path, "p1", jsonObj{"port": jsonObj{"fixed_ips": []jsonObj{
		{"ip_address": "10.15.0.10"}, {"subnet_id": sid, "ip_address": "10.15.0.12"}}}})["port"].(jsonObj)
	ips := fixedIPs(u)
	if len(ips) != 2 || ips[0] != sid+"/10.15.0.10" || ips[1] != sid+"/10.15.0.12" {
		t.Fatalf("update fixed ips: %v", ips)
	}
	if n := a.countKeys(store.IPsOf(sid)); n != 2 {
		t.Fatalf("%d address keys, want 2", n)
	}
	// .11 is free again.
	other := a.mkPort("p1", net, jsonObj{"fixed_ips": []jsonObj{{"ip_address": "10.15.0.11"}}})
	a.wantErr(409, "IpAddressAlreadyAllocated", "", "PUT", path, "p1", jsonObj{"port": jsonObj{"fixed_ips": []jsonObj{{"ip_address": "10.15.0.11"}}}})
	// A subnet-only entry keeps the address the port has there.
	u = a.must(200, "PUT", "/v2.0/ports/"+other["id"].(string), "p1", jsonObj{"port": jsonObj{"fixed_ips": []jsonObj{{"subnet_id": sid}}}})["port"].(jsonObj)
	if ips := fixedIPs(u); len(ips) != 1 || ips[0] != sid+"/10.15.0.11" {
		t.Fatalf("subnet-only update moved the address: %v", ips)
	}
	// MAC: admin only, only while unbound.
	a.wantErr(403, "", "mac_address", "PUT", path, "p1", jsonObj{"port": jsonObj{"mac_address": "aa:bb:cc:dd:ee:01"}})
	u = a.must(200, "PUT", path, "", jsonObj{"port": jsonObj{"mac_address": "aa:bb:cc:dd:ee:01"}})["port"].(jsonObj)
	if u["mac_address"] != "aa:bb:cc:dd:ee:01" {
		t.Fatalf("mac %v", u)
	}
	if n := a.countKeys(store.Prefix + "macs/"); n != 2 {
		t.Fatalf("%d MAC keys after MAC change, want 2", n)
	}
	a.wantErr(409, "MacAddressInUse", "", "PUT", "/v2.0/ports/"+other["id"].(string), "", jsonObj{"port": jsonObj{"mac_address": "aa:bb:cc:dd:ee:01"}})
	// Binding.
	u = a.must(200, "PUT", path, "", jsonObj{"port": jsonObj{"binding:host_id": "hv1", "binding:profile": jsonObj{"k": "v"}, "device_id": "vm-1", "device_owner": "compute:nova"}})["port"].(jsonObj)
	if u["binding:vif_type"] != "ovs" || u["binding:vif_details"].(jsonObj)["port_filter"] != true || u["binding:host_id"] != "hv1" || u["device_owner"] != "compute:nova" {
		t.Fatalf("binding: %v", u)
	}
	a.wantErr(409, "PortBound", "", "PUT", path, "", jsonObj{"port": jsonObj{"mac_address": "aa:bb:cc:dd:ee:02"}})
	a.wantErr(403, "", "binding:host_id", "PUT", path, "p1", jsonObj{"port": jsonObj{"binding:host_id": "hv2"}})
	a.wantErr(400, "", "read-only attribute network_id", "PUT", path, "p1", jsonObj{"port": jsonObj{"network_id": net}})
	u = a.must(200, "PUT", path, "", jsonObj{"port": jsonObj{"binding:host_id": ""}})["port"].(jsonObj)
	if u["binding:vif_type"] != "unbound" {
		t.Fatalf("unbind: %v", u)
	}
}

func TestPortExhaustionAndSubnetInUse(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	s := a.mkSubnet("p1", net, "10.16.0.0/29", nil) // pool .2-.6
	sid := s["id"].(string)
	seen := map[string]bool{}
	var ports []jsonObj
	for i := 0; i < 5; i++ {
		port := a.mkPort("p1", net, nil)
		ip := fixedIPs(port)[0]
		if seen[ip] {
			t.Fatalf("address %s given twice", ip)
		}
		seen[ip] = true
		ports = append(ports, port)
	}
	a.wantErr(409, "IpAddressGenerationFailure", "No more IP addresses available on network "+net+".",
		"POST", "/v2.0/ports", "p1", jsonObj{"port": jsonObj{"network_id": net}})
	a.wantErr(409, "IpAddressGenerationFailure", "", "POST", "/v2.0/ports", "p1",
		jsonObj{"port": jsonObj{"network_id": net, "fixed_ips": []jsonObj{{"subnet_id": sid}}}})
	if n := a.countKeys(store.Prefix + "macs/"); n != 5 {
		t.Fatalf("failed creates left MAC keys: %d", n)
	}
	// Subnet delete: blocked by ports, then by a router interface.
	a.wantErr(409, "SubnetInUse", "Unable to complete operation on subnet "+sid+": One or more ports have an IP allocation from this subnet.",
		"DELETE", "/v2.0/subnets/"+sid, "p1", nil)
	for _, port := range ports[1:] {
		a.must(204, "DELETE", "/v2.0/ports/"+port["id"].(string), "p1", nil)
	}
	routerID := "r-" + newID()
	if err := a.st.Txn(context.Background(), func(tx *store.Tx) error { tx.PutString(store.ObjectKey(store.KindRouters, routerID), "{}"); return nil }); err != nil {
		t.Fatal(err)
	}
	rp := ports[0]
	a.must(200, "PUT", "/v2.0/ports/"+rp["id"].(string), "", jsonObj{"port": jsonObj{"device_owner": model.OwnerRouterInterface, "device_id": routerID}})
	a.wantErr(409, "SubnetInUse", "", "DELETE", "/v2.0/subnets/"+sid, "p1", nil)
	a.wantErr(409, "ServicePortInUse", "Port "+rp["id"].(string)+" cannot be deleted directly via the port API: has device owner network:router_interface.",
		"DELETE", "/v2.0/ports/"+rp["id"].(string), "p1", nil)
	// Once the router is gone the orphan may be deleted.
	if err := a.st.Delete(context.Background(), store.ObjectKey(store.KindRouters, routerID)); err != nil {
		t.Fatal(err)
	}
	a.must(204, "DELETE", "/v2.0/ports/"+rp["id"].(string), "p1", nil)
	// A DHCP port does not block; it loses its address.
	dhcp := a.mkPort("", net, jsonObj{"device_owner": model.OwnerDHCP, "project_id": "p1"})
	a.must(204, "DELETE", "/v2.0/subnets/"+sid, "p1", nil)
	d := a.must(200, "GET", "/v2.0/ports/"+dhcp["id"].(string), "", nil)["port"].(jsonObj)
	if len(d["fixed_ips"].([]any)) != 0 {
		t.Fatalf("dhcp port kept its address: %v", d)
	}
	if n := a.countKeys(store.IPsOf(sid)); n != 0 {
		t.Fatalf("%d address keys left", n)
	}
}

func TestPortBulkCreate(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	a.mkSubnet("p1", net, "10.17.0.0/29", nil)
	items := []jsonObj{}
	for i := 0; i < 5; i++ {
		items = append(items, jsonObj{"network_id": net})
	}
	out := a.must(201, "POST", "/v2.0/ports", "p1", jsonObj{"ports": items})
	seen := map[string]bool{}
	for _, p := range out["ports"].([]any) {
		ip := fixedIPs(p.(jsonObj))[0]
		if seen[ip] {
			t.Fatalf("bulk create gave %s twice", ip)
		}
		seen[ip] = true
	}
	// One more than the pool holds: all or nothing.
	a.must(204, "DELETE", "/v2.0/ports/"+out["ports"].([]any)[0].(jsonObj)["id"].(string), "p1", nil)
	code, _ := a.call("POST", "/v2.0/ports", "p1", jsonObj{"ports": []jsonObj{{"network_id": net}, {"network_id": net}}})
	if code != 409 {
		t.Fatalf("over-full bulk create: %d", code)
	}
	if n := a.countKeys(store.PortsOf(net)); n != 4 {
		t.Fatalf("%d ports after failed bulk create, want 4", n)
	}
}

func TestAllocatePort(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("p1", nil)
	s := a.mkSubnet("p1", net, "10.18.0.0/24", nil)
	sid := s["id"].(string)
	ctx := context.Background()
	var port *model.Port
	err := a.st.Txn(ctx, func(tx *store.Tx) error {
		var err error
		port, err = a.api.allocatePort(ctx, tx, auth.Principal{ProjectID: "p2"}, portSpec{
			ProjectID: "p2", NetworkID: net, DeviceOwner: model.OwnerRouterInterface, DeviceID: "r1",
			FixedIPs: []model.FixedIP{{SubnetID: sid, IPAddress: "10.18.0.1"}}, NoSecurity: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if port.PortSecurityEnabled || len(port.SecurityGroups) != 0 || port.FixedIPs[0].IPAddress != "10.18.0.1" || port.ProjectID != "p2" {
		t.Fatalf("router port %+v", port)
	}
	got := a.must(200, "GET", "/v2.0/ports/"+port.ID, "p2", nil)["port"].(jsonObj)
	if got["device_owner"] != model.OwnerRouterInterface {
		t.Fatalf("show: %v", got)
	}
	if n := a.countKeys(store.Prefix + "owner/p2/ports/"); n != 1 {
		t.Fatalf("quota key missing")
	}
	// Default: one address on the first IPv4 subnet.
	err = a.st.Txn(ctx, func(tx *store.Tx) error {
		p2, err := a.api.allocatePort(ctx, tx, auth.Principal{ProjectID: "p1"}, portSpec{ProjectID: "p1", NetworkID: net, DeviceOwner: model.OwnerFloatingIP, NoSecurity: true})
		if err == nil && (len(p2.FixedIPs) != 1 || p2.FixedIPs[0].SubnetID != sid) {
			t.Errorf("default allocation %+v", p2.FixedIPs)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = a.st.Txn(ctx, func(tx *store.Tx) error { return deletePortKeys(tx, port) })
	if err != nil {
		t.Fatal(err)
	}
	if n := a.countKeys(store.IPsOf(sid)); n != 1 {
		t.Fatalf("%d address keys after deletePortKeys, want 1", n)
	}
	a.wantErr(404, "PortNotFound", "", "GET", "/v2.0/ports/"+port.ID, "p2", nil)
	// Unknown network.
	err = a.st.Txn(ctx, func(tx *store.Tx) error {
		_, err := a.api.allocatePort(ctx, tx, auth.Principal{ProjectID: "p1"}, portSpec{ProjectID: "p1", NetworkID: "nope"})
		return err
	})
	if e, ok := err.(*Error); !ok || e.Type != "NetworkNotFound" {
		t.Fatalf("unknown network: %v", err)
	}
}

// A network's owner sees every port on it, other projects' included
// (Neutron's get_port policy); changing them stays the port's project's.
func TestPortVisibleToNetworkOwner(t *testing.T) {
	a := newTestAPI(t)
	net := a.mkNetwork("owner", nil)
	a.mkSubnet("owner", net, "10.22.0.0/24", nil)
	// Sharing is an admin's choice; the network stays the owner's.
	a.must(http.StatusOK, "PUT", "/v2.0/networks/"+net, "", jsonObj{"network": jsonObj{"shared": true}})
	theirs := a.mkPort("tenant", net, nil)
	id := theirs["id"].(string)
	mine := a.mkPort("owner", net, nil)

	a.must(http.StatusOK, "GET", "/v2.0/ports/"+id, "owner", nil)
	ids := func(project string) map[string]bool {
		out := map[string]bool{}
		for _, p := range a.must(http.StatusOK, "GET", "/v2.0/ports?network_id="+net, project, nil)["ports"].([]any) {
			out[p.(jsonObj)["id"].(string)] = true
		}
		return out
	}
	if got := ids("owner"); !got[id] || !got[mine["id"].(string)] || len(got) != 2 {
		t.Fatalf("owner lists %v", got)
	}
	// The other project sees only its own port.
	if got := ids("tenant"); !got[id] || len(got) != 1 {
		t.Fatalf("tenant lists %v", got)
	}
	a.wantErr(http.StatusNotFound, "PortNotFound", "", "GET", "/v2.0/ports/"+mine["id"].(string), "tenant", nil)
	// A third project sees neither.
	if got := ids("third"); len(got) != 0 {
		t.Fatalf("third project lists %v", got)
	}
	a.wantErr(http.StatusNotFound, "PortNotFound", "", "GET", "/v2.0/ports/"+id, "third", nil)
	// Seeing is not owning.
	code, _ := a.call("PUT", "/v2.0/ports/"+id, "owner", jsonObj{"port": jsonObj{"name": "x"}})
	if code == http.StatusOK {
		t.Fatalf("network owner updated another project's port")
	}
}
