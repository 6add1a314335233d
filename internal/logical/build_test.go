package logical

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// topo is chassis ch1 with one port on each of nets, a router r1 (zone
// rzone) on all of them, and ch2 holding one more port per network.
func topo(rzone int, nets ...model.Network) *Inputs {
	in := &Inputs{Local: pipeline.LocalChassis{Name: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1"), GeneveOFPort: 1},
		OFPorts: map[string]uint32{}, LocalNets: map[string]bool{}, Networks: map[string]*Network{},
		Peers:   map[string]model.Chassis{"ch2": {Name: "ch2", TunnelIP: "192.0.2.2", Encaps: []string{"geneve", "vxlan"}}},
		Alive:   map[string]bool{"ch1": true, "ch2": true},
		Routers: map[string]*model.RouterRecord{}, RouterPortNet: map[string]string{},
		Rules: map[string]*model.SecurityGroupRule{}, FloatingIPs: map[string]*model.FloatingIPRecord{}}
	r := &model.RouterRecord{CTZone: rzone}
	r.ID = "r1"
	in.Routers[r.ID] = r
	for i, n := range nets {
		n := n
		sub := &model.Subnet{NetworkID: n.ID, CIDR: fmt.Sprintf("10.%d.0.0/24", i), GatewayIP: fmt.Sprintf("10.%d.0.1", i)}
		sub.ID = "s-" + n.ID
		nd := &Network{Network: &n, Subnets: map[string]*model.Subnet{sub.ID: sub}, Ports: map[string]*model.Port{}}
		port := func(id, host, ip, owner string, last byte) {
			p := &model.Port{NetworkID: n.ID, MACAddress: fmt.Sprintf("fa:16:3e:00:%02x:%02x", i, last), HostID: host,
				DeviceOwner: owner, FixedIPs: []model.FixedIP{{SubnetID: sub.ID, IPAddress: ip}}, PortSecurityEnabled: true,
				SecurityGroups: []string{"sg"}}
			p.ID = id
			nd.Ports[id] = p
		}
		port("a-"+n.ID, "ch1", fmt.Sprintf("10.%d.0.10", i), "", 10)
		port("b-"+n.ID, "ch2", fmt.Sprintf("10.%d.0.11", i), "", 11)
		port("ri-"+n.ID, "", fmt.Sprintf("10.%d.0.1", i), model.OwnerRouterInterface, 1)
		nd.Ports["ri-"+n.ID].DeviceID, nd.Ports["ri-"+n.ID].SecurityGroups = "r1", nil
		r.Interfaces = append(r.Interfaces, "ri-"+n.ID)
		in.RouterPortNet["ri-"+n.ID] = n.ID
		in.OFPorts["a-"+n.ID] = uint32(10 + i)
		in.LocalNets[n.ID] = true
		in.Networks[n.ID] = nd
	}
	return in
}

func network(id, typ string, seg, zone int) model.Network {
	n := model.Network{NetworkType: typ, SegmentationID: seg, MTU: 1442, CTZone: zone}
	n.ID = id
	return n
}

// Networks whose segmentation ids collide across types, or land where
// the router NAT zones were (0xf000|key), get the zones the API gave
// them: the view is valid and every zone is distinct.
func TestBuildZones(t *testing.T) {
	in := topo(3,
		network("geneve100", "geneve", 100, 1),
		network("vlan100", "vlan", 100, 2),
		network("vxlan61441", "vxlan", 61441, 4),
		network("vxlan100", "vxlan", 100, 5))
	res, err := Build(in, NewKeys())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped %v", res.Skipped)
	}
	got := map[string]uint16{}
	for _, n := range res.View.Networks {
		got[n.ID] = n.CTZone
	}
	for _, r := range res.View.Routers {
		got[r.ID] = r.CTZone
	}
	want := map[string]uint16{"geneve100": 1, "vlan100": 2, "vxlan61441": 4, "vxlan100": 5, "r1": 3}
	for id, z := range want {
		if got[id] != z {
			t.Errorf("%s: zone %d, want %d", id, got[id], z)
		}
	}
	if len(res.View.Routers) != 1 || len(res.View.Routers[0].Ports) != 4 {
		t.Errorf("routers %+v", res.View.Routers)
	}
}

// A network or router without a zone (a record from before zones were
// allocated) is left out, with a reason, rather than sharing one.
func TestBuildLeavesOutObjectsWithoutZone(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        *Inputs
		nets      int
		routers   int
		skipped   string
		invalid   string
		wantValid bool
	}{
		{name: "all zoned", in: topo(9, network("n1", "geneve", 1, 1), network("n2", "geneve", 2, 2)),
			nets: 2, routers: 1, wantValid: true},
		{name: "network without zone", in: topo(9, network("n1", "geneve", 1, 1), network("n2", "geneve", 2, 0)),
			nets: 1, routers: 1, skipped: "network n2: no conntrack zone", wantValid: true},
		{name: "router without zone", in: topo(0, network("n1", "geneve", 1, 1)),
			nets: 1, routers: 0, skipped: "router r1: no conntrack zone", wantValid: true},
		{name: "two networks on one zone", in: topo(9, network("n1", "geneve", 1, 7), network("n2", "vlan", 1, 7)),
			invalid: "conntrack zone 7 already used"},
	} {
		res, err := Build(tc.in, NewKeys())
		if !tc.wantValid {
			if err == nil || !strings.Contains(err.Error(), tc.invalid) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.invalid)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(res.View.Networks) != tc.nets || len(res.View.Routers) != tc.routers {
			t.Errorf("%s: %d networks, %d routers; want %d, %d", tc.name, len(res.View.Networks), len(res.View.Routers), tc.nets, tc.routers)
		}
		var reasons []string
		for _, e := range res.Skipped {
			reasons = append(reasons, e.Error())
		}
		if all := strings.Join(reasons, "; "); tc.skipped == "" && all != "" || !strings.Contains(all, tc.skipped) {
			t.Errorf("%s: skipped %q, want %q", tc.name, all, tc.skipped)
		}
	}
}

// Keys are stable from one build to the next and tagged by network type.
func TestBuildKeys(t *testing.T) {
	in := topo(9, network("g", "geneve", 5, 1), network("x", "vxlan", 5, 2), network("v", "vlan", 5, 3), network("f", "flat", 0, 4))
	keys := NewKeys()
	first, err := Build(in, keys)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(in, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint32{"g": 5, "x": 1<<24 | 5, "v": 2<<24 | 5, "f": 3<<24 + 1}
	for i, n := range first.View.Networks {
		if n.Key != want[n.ID] {
			t.Errorf("%s: key %#x, want %#x", n.ID, n.Key, want[n.ID])
		}
		if again.View.Networks[i].Key != n.Key {
			t.Errorf("%s: key moved", n.ID)
		}
	}
	for i, p := range first.View.Ports {
		q := again.View.Ports[i]
		if p.Key != q.Key {
			t.Errorf("port %s: key %d then %d", p.ID, p.Key, q.Key)
		}
		if strings.HasPrefix(p.ID, "a-") && (p.Chassis != "ch1" || p.OFPort == 0 || p.Key != p.OFPort) {
			t.Errorf("local port %+v", p)
		}
	}
}

// withGateway gives topo's router r1 a gateway on a flat external network
// (physnet public) and port a-<net> of the first network a floating IP.
func withGateway(in *Inputs, firstNet string) *Inputs {
	ext := network("ext", "flat", 0, 50)
	ext.External, ext.PhysicalNetwork = true, "public"
	sub := &model.Subnet{NetworkID: "ext", CIDR: "203.0.113.0/24", GatewayIP: "203.0.113.1"}
	sub.ID = "s-ext"
	gw := &model.Port{NetworkID: "ext", MACAddress: "fa:16:3e:ee:00:02", DeviceOwner: model.OwnerRouterGateway,
		FixedIPs: []model.FixedIP{{SubnetID: "s-ext", IPAddress: "203.0.113.2"}}}
	gw.ID = "gw"
	fp := &model.Port{NetworkID: "ext", MACAddress: "fa:16:3e:ee:00:10", DeviceOwner: model.OwnerFloatingIP,
		FixedIPs: []model.FixedIP{{SubnetID: "s-ext", IPAddress: "203.0.113.10"}}}
	fp.ID = "fp"
	in.Networks["ext"] = &Network{Network: &ext, Subnets: map[string]*model.Subnet{"s-ext": sub},
		Ports: map[string]*model.Port{"gw": gw, "fp": fp}}
	r := in.Routers["r1"]
	r.Gateway, r.GatewayPort = &model.GatewayInfo{NetworkID: "ext", EnableSNAT: true}, "gw"
	f := &model.FloatingIPRecord{FloatingPort: "fp"}
	f.ID, f.FloatingNetworkID, f.FloatingIPAddress, f.RouterID = "fip1", "ext", "203.0.113.10", "r1"
	f.PortID, f.FixedIPAddress = "a-"+firstNet, "10.0.0.10"
	in.FloatingIPs[f.ID] = f
	return in
}

func TestBuildExternal(t *testing.T) {
	for _, tc := range []struct {
		name        string
		gateway     bool // ch1 is a gateway chassis mapping public
		mapped      bool // ch1 has br-int's patch port to public
		wantGW      string
		centralized bool
		programmed  bool
	}{
		{name: "gateway chassis with the mapping", gateway: true, mapped: true, wantGW: "ch1", programmed: true},
		{name: "mapping, not a gateway", mapped: true, wantGW: "", programmed: true},
		{name: "no mapping", wantGW: "", centralized: true},
	} {
		in := withGateway(topo(9, network("n1", "geneve", 1, 1)), "n1")
		in.Ext = External{Gateway: tc.gateway, Mappings: map[string]string{}, Ports: map[string]uint32{}}
		if tc.gateway || tc.mapped {
			in.Ext.Mappings["public"] = "br-ex"
		}
		if tc.mapped {
			in.Ext.Ports["public"] = 99
		}
		res, err := Build(in, NewKeys())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		v := res.View
		if len(v.External) != 1 || v.External[0].ID != "ext" || len(v.Networks) != 1 {
			t.Fatalf("%s: external %+v, networks %+v", tc.name, v.External, v.Networks)
		}
		if g := v.Routers[0].Gateway; g == nil || g.Chassis != tc.wantGW || g.Address.String() != "203.0.113.2/24" || !g.SNAT {
			t.Errorf("%s: gateway %+v, want on %q", tc.name, g, tc.wantGW)
		}
		if len(v.FloatingIPs) != 1 || v.FloatingIPs[0].Centralized != tc.centralized || v.FloatingIPs[0].MAC.String() != "fa:16:3e:ee:00:10" {
			t.Errorf("%s: floating IPs %+v", tc.name, v.FloatingIPs)
		}
		if res.ProgrammedFIPs["fip1"] != tc.programmed {
			t.Errorf("%s: programmed %v, want %v", tc.name, res.ProgrammedFIPs, tc.programmed)
		}
		if _, ok := res.Announce[netip.MustParseAddr("203.0.113.10")]; ok != tc.programmed {
			t.Errorf("%s: announce %v", tc.name, res.Announce)
		}
	}
}
