package ctl

import (
	"encoding/json"
	"strings"
	"testing"
)

func init() {
	// The fake Neutron serves any collection; trace also lists agents.
	listKey["agents"] = "agents"
}

// seedTrace: router r1 joins n1 (10.1.0.0/24) and n2 (10.2.0.0/24); vm1
// (ch1, group default) and vm2 (ch2, group web: ssh in) are on each.
func seedTrace(f *fakeNeutron) {
	f.add("networks", map[string]any{"id": "n1", "name": "n1", "admin_state_up": true, "provider:network_type": "geneve", "provider:segmentation_id": 101.0})
	f.add("networks", map[string]any{"id": "n2", "name": "n2", "admin_state_up": true, "provider:network_type": "geneve", "provider:segmentation_id": 102.0})
	f.add("subnets", map[string]any{"id": "s1", "network_id": "n1", "cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.1", "ip_version": 4.0})
	f.add("subnets", map[string]any{"id": "s2", "network_id": "n2", "cidr": "10.2.0.0/24", "gateway_ip": "10.2.0.1", "ip_version": 4.0})
	port := func(id, netID, sub, ip, mac, host, owner, device string, groups ...any) {
		f.add("ports", map[string]any{"id": id, "name": id, "network_id": netID, "mac_address": mac, "admin_state_up": true,
			"fixed_ips": []any{map[string]any{"subnet_id": sub, "ip_address": ip}}, "binding:host_id": host,
			"device_owner": owner, "device_id": device, "port_security_enabled": owner == "", "security_groups": groups})
	}
	port("ri1", "n1", "s1", "10.1.0.1", "fa:16:3e:00:00:01", "", "network:router_interface", "r1")
	port("ri2", "n2", "s2", "10.2.0.1", "fa:16:3e:00:00:02", "", "network:router_interface", "r1")
	port("vm1", "n1", "s1", "10.1.0.10", "fa:16:3e:00:01:10", "ch1", "", "", "default")
	port("vm2", "n2", "s2", "10.2.0.10", "fa:16:3e:00:02:10", "ch2", "", "", "web")
	f.add("routers", map[string]any{"id": "r1", "name": "r1", "routes": []any{}})
	f.add("security-groups", map[string]any{"id": "default", "name": "default"})
	f.add("security-groups", map[string]any{"id": "web", "name": "web"})
	f.add("security-group-rules", map[string]any{"id": "out", "security_group_id": "default", "direction": "egress", "ethertype": "IPv4"})
	f.add("security-group-rules", map[string]any{"id": "ssh", "security_group_id": "web", "direction": "ingress", "ethertype": "IPv4",
		"protocol": "tcp", "port_range_min": 22.0, "port_range_max": 22.0, "remote_ip_prefix": "0.0.0.0/0"})
	f.add("agents", map[string]any{"id": "a1", "host": "ch1", "alive": true, "configurations": map[string]any{"tunnel_ip": "192.0.2.1", "encaps": []any{"geneve"}}})
	f.add("agents", map[string]any{"id": "a2", "host": "ch2", "alive": true, "configurations": map[string]any{"tunnel_ip": "192.0.2.2", "encaps": []any{"geneve"}}})
}

func TestTraceText(t *testing.T) {
	f := newFakeNeutron(t)
	seedTrace(f)
	out := mustRun(t, f, "trace", "vm1", "tcp, dst 10.2.0.10:22")
	for _, want := range []string{
		"Packet:  tcp 10.1.0.10:40000 → 10.2.0.10:22 ttl 64",
		"egress-acl    ch1      pass",
		"rule out: egress IPv4 any to any",
		"routed on ch1 by router r1 (r1)",
		"geneve tunnel to chassis ch2 (tun_dst 192.0.2.2), VNI 102",
		"rule ssh: ingress IPv4 tcp 22 from 0.0.0.0/0",
		"Verdict: delivered",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("trace output lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, f, "trace", "vm1", "tcp, dst 10.2.0.10:23")
	if !strings.Contains(out, "no ingress rule of web (web) admits it") || !strings.Contains(out, "Verdict: drop") {
		t.Errorf("denied trace:\n%s", out)
	}
}

func TestTraceJSON(t *testing.T) {
	f := newFakeNeutron(t)
	seedTrace(f)
	out := mustRun(t, f, "trace", "vm1", "icmp, dst 10.2.0.10", "-o", "json")
	var got struct {
		Logical struct {
			Verdict string
			Route   struct {
				RouterID    string `json:"router_id"`
				EgressNetID string `json:"egress_network_id"`
			}
			Output struct {
				VNI     int
				Chassis string
			}
			Steps []struct {
				Stage, Verdict string
				Rule           *struct{ ID string }
			}
		}
		OFProto any
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	l := got.Logical
	// vm2's group admits only ssh: the ping is dropped at its ingress.
	if l.Verdict != "drop" || l.Route.RouterID != "r1" || l.Route.EgressNetID != "n2" || l.Output.VNI != 102 || l.Output.Chassis != "ch2" || got.OFProto != nil {
		t.Errorf("json trace: %+v\n%s", got, out)
	}
	if last := l.Steps[len(l.Steps)-1]; last.Stage != "ingress-acl" || last.Verdict != "drop" {
		t.Errorf("last step %+v", last)
	}
}

func TestTraceErrors(t *testing.T) {
	f := newFakeNeutron(t)
	seedTrace(f)
	for _, args := range [][]string{
		{"trace", "vm1", "tcp, dst 10.2.0.10"},    // no port
		{"trace", "nope", "tcp, dst 10.2.0.10:1"}, // no such port
		{"trace", "vm1"},
		{"trace", "vm1", "tcp, dst 10.2.0.10:22", "--ovs", "--ovsdb", "unix:/nonexistent/db.sock"},
	} {
		if code, out, errOut := run(t, f, nil, args...); code == 0 || errOut == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want an error", args, code, out, errOut)
		}
	}
}
