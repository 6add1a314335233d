package logical

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Port forwardings are NATed by the chassis of their ports when there is
// one that reaches the external network, else by the router's active SNAT
// gateway; with neither, nothing serves them and Skipped says why.
func TestBuildPortForwardings(t *testing.T) {
	for _, tc := range []struct {
		name        string
		targets     []string // ports forwarded to: a-n1 is on ch1 (here), b-n1 on ch2
		gateway     bool     // ch1 may be the router's gateway
		mapped      bool     // ch1 maps the external network
		edge        bool     // ch1 is in edge mode
		centralized bool
		programmed  bool // NATed here
		skipped     bool
	}{
		{name: "local port, mapped", targets: []string{"a-n1"}, mapped: true, programmed: true},
		{name: "local port, not mapped: no gateway either", targets: []string{"a-n1"}, skipped: true},
		{name: "remote port without the external network, here the gateway", targets: []string{"b-n1"}, gateway: true, mapped: true,
			centralized: true, programmed: true},
		{name: "ports on two chassis, here the gateway", targets: []string{"a-n1", "b-n1"}, gateway: true, mapped: true,
			centralized: true, programmed: true},
		{name: "ports on two chassis, no gateway", targets: []string{"a-n1", "b-n1"}, mapped: true, skipped: true},
		{name: "local port on an edge-mode chassis, here the gateway", targets: []string{"a-n1"}, gateway: true, mapped: true, edge: true,
			centralized: true, programmed: true},
	} {
		in := withGateway(topo(9, network("n1", "geneve", 1, 1)), "n1")
		f := in.FloatingIPs["fip1"]
		f.PortID, f.FixedIPAddress = "", ""
		for i, target := range tc.targets {
			ip := map[string]string{"a-n1": "10.0.0.10", "b-n1": "10.0.0.11"}[target]
			f.PortForwardings = append(f.PortForwardings, model.PortForwarding{ID: target, Protocol: "tcp", ExternalPort: 2222 + i,
				InternalPort: 22, InternalIPAddress: ip, InternalPortID: target})
		}
		in.Ext = External{Gateway: tc.gateway, Edge: tc.edge, Mappings: map[string]string{}, Ports: map[string]uint32{}}
		if tc.mapped {
			in.Ext.Mappings["public"], in.Ext.Ports["public"] = "br-ex", 99
		}
		res, err := Build(in, NewKeys())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		pfs := res.View.PortForwardings
		if tc.skipped {
			if len(pfs) != 0 || len(res.Skipped) == 0 || !strings.Contains(res.Skipped[len(res.Skipped)-1].Error(), "port forwardings") {
				t.Errorf("%s: forwardings %+v, skipped %v", tc.name, pfs, res.Skipped)
			}
			continue
		}
		if len(pfs) != 1 || len(pfs[0].Rules) != len(tc.targets) || pfs[0].Centralized != tc.centralized ||
			pfs[0].FloatingIP != netip.MustParseAddr("203.0.113.10") || pfs[0].MAC.String() != "fa:16:3e:ee:00:10" || pfs[0].RouterID != "r1" {
			t.Errorf("%s: forwardings %+v", tc.name, pfs)
			continue
		}
		r := pfs[0].Rules[0]
		if r.Protocol != 6 || r.ExternalPort != 2222 || r.InternalPort != 22 || r.PortID != tc.targets[0] {
			t.Errorf("%s: rule %+v", tc.name, r)
		}
		if _, announced := res.Announce[netip.MustParseAddr("203.0.113.10")]; res.ProgrammedFIPs["fip1"] != tc.programmed || announced != tc.programmed {
			t.Errorf("%s: programmed %v, announce %v", tc.name, res.ProgrammedFIPs, res.Announce)
		}
		if len(res.View.FloatingIPs) != 0 {
			t.Errorf("%s: a forwarded floating IP is no 1:1 floating IP: %+v", tc.name, res.View.FloatingIPs)
		}
	}
}
