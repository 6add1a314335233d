package agent

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// network_data.json says what Neutron knows of the port: its link, each
// address with its subnet's mask and routes, the DNS servers.
func TestNetworkData(t *testing.T) {
	m := &metaPort{
		port: model.Port{Standard: model.Standard{ID: "0123456789abcdef"}, NetworkID: "n1", MACAddress: "fa:16:3e:00:00:01",
			FixedIPs: []model.FixedIP{{SubnetID: "s4", IPAddress: "10.0.0.5"}, {SubnetID: "s6", IPAddress: "2001:db8::5"}}},
		network: model.Network{MTU: 1442},
		subnets: map[string]model.Subnet{
			"s4": {CIDR: "10.0.0.0/24", GatewayIP: "10.0.0.1", EnableDHCP: true, DNSNameservers: []string{"198.51.100.53"},
				HostRoutes: []model.HostRoute{{Destination: "192.168.0.0/16", NextHop: "10.0.0.9"}}},
			"s6": {CIDR: "2001:db8::/64", IPv6AddressMode: "slaac"},
		},
	}
	b, err := json.Marshal(networkData(m))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":"tap0123456789a"`, `"mtu":1442`, `"ethernet_mac_address":"fa:16:3e:00:00:01"`,
		`"ip_address":"10.0.0.5"`, `"netmask":"255.255.255.0"`, `"type":"ipv4_dhcp"`, `"gateway":"10.0.0.1"`,
		`"netmask":"255.255.0.0","network":"192.168.0.0"`, `"ip_address":"2001:db8::5"`, `"type":"ipv6_slaac"`,
		`"netmask":"ffff:ffff:ffff:ffff::"`, `{"address":"198.51.100.53","type":"dns"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("network_data.json lacks %s:\n%s", want, b)
		}
	}
}

// The signature is Nova's: HMAC-SHA256 of the instance id, hex.
func TestInstanceSignature(t *testing.T) {
	// python3 -c 'import hmac,hashlib;print(hmac.new(b"s3cret",b"instance-1",hashlib.sha256).hexdigest())'
	if got := InstanceSignature("s3cret", "instance-1"); got != "80610a3a6649a87c1b3e5df90c22509c6203183d8880bdeb7f5fb05d15ce2f6f" {
		t.Fatal(got)
	}
}
