package gateway

import (
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// TestFlowCacheIsCompile: whatever changed between two syncs, the cache
// returns exactly Compile's flows, stamped with the generation's cookie.
func TestFlowCacheIsCompile(t *testing.T) {
	var c flowCache
	check := func(step string, r *Records, p Ports, gen uint32) {
		t.Helper()
		v, _ := BuildView(r, DefaultPool)
		got, err := c.flows(v, p, gen)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		flows := make([]ofp.Flow, len(got))
		for i, d := range got {
			if d.flow.Cookie != cookie(gen) {
				t.Fatalf("%s: flow %s has cookie %#x, want %#x", step, d.flow, d.flow.Cookie, cookie(gen))
			}
			flows[i] = d.flow
			flows[i].Cookie = 0
		}
		if g, w := ofp.Text(flows), ofp.Text(Compile(v, p)); g != w {
			t.Fatalf("%s: cache gives\n%s\nCompile gives\n%s", step, g, w)
		}
	}
	r := scenario()
	check("first", r, testPorts, 1)
	check("unchanged", r, testPorts, 1)
	r.Ports["vm1"].MACAddress = "fa:16:3e:00:01:ff"
	check("a VM's MAC", r, testPorts, 1)
	r.Chassis["ch1"].TunnelIP = "192.0.2.9"
	check("a chassis' address", r, testPorts, 1)
	r.Pools["f2"] = &PoolAssignment{Pool: "scrubbing"}
	check("steered away (outbound only)", r, testPorts, 1)
	r.FloatingIPs["f1"].PortID = ""
	check("disassociated", r, testPorts, 1)
	noMAC := testPorts
	noMAC.UpstreamMAC = nil
	check("upstream unresolved", r, noMAC, 1)
	check("upstream resolved", r, testPorts, 1)
	check("new generation", r, testPorts, 2)
}
