package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/agent"
	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// novaStandIn is a stand-in for Nova's metadata API, in the agents'
// namespace: it answers every GET with the request's headers and path as
// JSON.
func novaStandIn(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := map[string]string{"path": r.URL.Path}
		for k := range r.Header {
			d[k] = r.Header.Get(k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// fetch GETs a path of the metadata service from the VM (HTTP/1.0 over
// busybox nc: Debian's busybox wget crashes) until it answers 200 or 20 s
// pass, and returns the body.
func fetch(t *testing.T, l *lab.Lab, vm *testbed.VM, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	req := fmt.Sprintf("printf 'GET %s HTTP/1.0\\r\\nHost: 169.254.169.254\\r\\n\\r\\n' | busybox nc -w 3 169.254.169.254 80", path)
	for {
		out, err := vm.Exec("sh", "-c", req)
		if head, body, ok := strings.Cut(out, "\r\n\r\n"); err == nil && ok && strings.Contains(head, " 200 ") {
			return body
		}
		if time.Now().After(deadline) {
			flows, _ := vm.Chassis.Ofctl("dump-flows", "br-int")
			t.Fatalf("%s: GET %s: %v: %q\nflows:\n%s\n%s", vm.Name, path, err, out, flows, l.Bed.LogTails(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMetadata: the local agent serves 169.254.169.254 on a network
// without a router (the VM reaches it on link, as Neutron's isolated
// metadata): from the port itself on ch1, and proxied to a stand-in Nova
// metadata API with the instance's signed headers on ch2.
func TestMetadata(t *testing.T) {
	l := newLab(t, lab.Options{})
	// The agents run outside the chassis' namespaces, where br-int's
	// ports are: --metadata-netns puts the metadata interface and
	// listener there.
	var ns1, ns2 string
	ch1, err := l.AddChassisWith("ch1", nil, []string{"--metadata", "--metadata-netns", l.Bed.Prefix + "-c-ch1"})
	if err != nil {
		t.Fatal(err)
	}
	ns1 = ch1.Netns
	const secret = "s3cret"
	ch2, err := l.AddChassisWith("ch2", func(ch *testbed.Chassis) error {
		ns2 = ch.Netns
		return nil
	}, []string{"--metadata", "--metadata-netns", l.Bed.Prefix + "-c-ch2",
		"--nova-metadata-url", novaStandIn(t), "--metadata-proxy-shared-secret", secret})
	if err != nil {
		t.Fatal(err)
	}
	if ns1 != l.Bed.Prefix+"-c-ch1" || ns2 != l.Bed.Prefix+"-c-ch2" {
		t.Fatalf("chassis namespaces %s, %s: not the names given to the agents", ns1, ns2)
	}
	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.81.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	a, pa := boot(t, l, ch1, "a", "p1", n, map[string]any{"device_id": "instance-a", "name": "vm-a"})
	b, pb := boot(t, l, ch2, "b", "p1", n, map[string]any{"device_id": "instance-b"})
	for _, vm := range []*testbed.VM{a, b} {
		if _, err := vm.Exec("ip", "route", "add", "169.254.169.254", "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("from the port", func(t *testing.T) {
		var nd struct {
			Links []struct {
				EthernetMACAddress string `json:"ethernet_mac_address"`
			}
			Networks []struct {
				IPAddress string `json:"ip_address"`
				Netmask   string
				Type      string
			}
			Services []struct{ Type, Address string }
		}
		out := fetch(t, l, a, "/openstack/latest/network_data.json")
		if err := json.Unmarshal([]byte(out), &nd); err != nil {
			t.Fatalf("network_data.json: %v\n%s", err, out)
		}
		if len(nd.Networks) != 1 || nd.Networks[0].IPAddress != lab.FixedIP(pa) || nd.Networks[0].Netmask != "255.255.255.0" ||
			len(nd.Links) != 1 || nd.Links[0].EthernetMACAddress != pa.MACAddress ||
			len(nd.Services) != 1 || nd.Services[0].Address != "198.51.100.53" {
			t.Fatalf("network_data.json does not describe the port %v:\n%s", pa.FixedIPs, out)
		}
		var md struct {
			UUID, Name string
			ProjectID  string `json:"project_id"`
		}
		out = fetch(t, l, a, "/openstack/latest/meta_data.json")
		if err := json.Unmarshal([]byte(out), &md); err != nil || md.UUID != "instance-a" || md.Name != "vm-a" || md.ProjectID != pa.ProjectID {
			t.Fatalf("meta_data.json: %v\n%s", err, out)
		}
	})
	t.Run("route by DHCP", func(t *testing.T) {
		// A VM taking its address by DHCP gets the on-link route to the
		// service (RFC 3442, next hop 0.0.0.0).
		c, pc, err := l.Boot(ch1, "c", "p1", n.ID, map[string]any{"device_id": "instance-c"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.DHCP(ctx); err != nil {
			t.Fatal(err)
		}
		if routes, _ := c.Exec("ip", "route", "show", "169.254.169.254"); !strings.Contains(routes, "dev eth0") {
			t.Fatalf("no route to the metadata service from DHCP: %q", routes)
		}
		if out := fetch(t, l, c, "/openstack/latest/meta_data.json"); !strings.Contains(out, `"uuid":"instance-c"`) {
			t.Fatalf("meta_data.json of c (%s): %s", pc.ID, out)
		}
	})
	t.Run("cloud-init", func(t *testing.T) {
		// Debian's cloud-init, inside the VM: its OpenStack datasource
		// reads the service, and its network renderer turns
		// network_data.json into the interfaces file it would write.
		// The subnet runs DHCP, so, as Nova's network_data.json says
		// ipv4_dhcp, cloud-init configures eth0 by DHCP, with the
		// subnet's gateway and DNS. (The whole `cloud-init init` would
		// rewrite this machine's /etc; the reader and renderer are the
		// parts that talk to us.)
		out, err := a.Exec("/usr/bin/python3", "-c", cloudInitProbe, pa.MACAddress)
		if err != nil {
			t.Fatalf("cloud-init: %v\n%s", err, out)
		}
		var got struct {
			InstanceID string `json:"instance_id"`
			Hostname   string
			ENI        string
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("cloud-init probe: %v\n%s", err, out)
		}
		if got.InstanceID != "instance-a" || got.Hostname != "vm-a" ||
			!strings.Contains(got.ENI, "iface eth0 inet dhcp") ||
			!strings.Contains(got.ENI, "default gw 10.81.0.1") ||
			!strings.Contains(got.ENI, "dns-nameservers 198.51.100.53") {
			t.Fatalf("cloud-init took from the service: instance %q, hostname %q, interfaces:\n%s", got.InstanceID, got.Hostname, got.ENI)
		}
	})
	t.Run("proxied to Nova", func(t *testing.T) {
		out := fetch(t, l, b, "/openstack/latest/meta_data.json")
		var h map[string]string
		if err := json.Unmarshal([]byte(out), &h); err != nil {
			t.Fatalf("stand-in answer: %v\n%s", err, out)
		}
		if h["X-Instance-Id"] != "instance-b" || h["X-Tenant-Id"] != pb.ProjectID || h["X-Forwarded-For"] != lab.FixedIP(pb) ||
			h["X-Instance-Id-Signature"] != agent.InstanceSignature(secret, "instance-b") ||
			!strings.HasSuffix(h["path"], "/openstack/latest/meta_data.json") {
			t.Fatalf("Nova saw headers %v", h)
		}
	})
}

// TestMetadataIPv6: the service answers at fe80::a9fe:a9fe too.
func TestMetadataIPv6(t *testing.T) {
	l := newLab(t, lab.Options{})
	ch1, err := l.AddChassisWith("ch1", nil, []string{"--metadata", "--metadata-netns", l.Bed.Prefix + "-c-ch1"})
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "n1", CIDR: "10.82.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := boot(t, l, ch1, "a", "p1", n, map[string]any{"device_id": "instance-a6"})
	waitLinkLocal(t, a)
	req := "printf 'GET /openstack/latest/meta_data.json HTTP/1.0\\r\\nHost: [fe80::a9fe:a9fe]\\r\\n\\r\\n' | busybox nc -w 3 fe80::a9fe:a9fe%eth0 80"
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := a.Exec("sh", "-c", req)
		if err == nil && strings.Contains(out, " 200 ") && strings.Contains(out, `"uuid":"instance-a6"`) {
			return
		}
		if time.Now().After(deadline) {
			flows, _ := ch1.Ofctl("dump-flows", "br-int")
			t.Fatalf("GET over IPv6: %v: %q\nflows:\n%s\n%s", err, out, flows, l.Bed.LogTails(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cloudInitProbe runs cloud-init's OpenStack metadata reader against the
// service and renders the network configuration it derives, printing
// what it found as JSON. argv[1] is the VM's MAC address.
const cloudInitProbe = `
import json, os, sys, tempfile
from cloudinit.sources.helpers import openstack
from cloudinit.net import eni, network_state
res = openstack.MetadataReader("http://169.254.169.254", timeout=5, retries=0).read_v2()
md = res["metadata"]
nc = openstack.convert_net_json(res["networkdata"], known_macs={sys.argv[1]: "eth0"})
d = tempfile.mkdtemp()
eni.Renderer({"eni_path": "interfaces"}).render_network_state(network_state.parse_net_config_data(nc), target=d)
print(json.dumps({"instance_id": md["instance-id"], "hostname": md.get("local-hostname"), "eni": open(os.path.join(d, "interfaces")).read()}))
`
