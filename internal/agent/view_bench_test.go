package agent

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// bringupState is the state of chassis ch1 in the bring-up benchmark's
// topology (bench/bringup): 9 networks, 1,050 ports over 3 chassis, all in
// the default security group.
func bringupState() *state {
	s := newState("ch1")
	s.gwChassisReady, s.routersReady, s.rulesReady, s.fipsReady = true, true, true, true
	for c := 2; c <= 3; c++ {
		s.peers[fmt.Sprintf("ch%d", c)] = model.Chassis{TunnelIP: fmt.Sprintf("192.0.2.%d", c), Encaps: []string{"geneve"}}
	}
	for i, r := range []model.SecurityGroupRule{
		{Direction: "egress", EtherType: "IPv4"}, {Direction: "egress", EtherType: "IPv6"},
		{Direction: "ingress", EtherType: "IPv4", RemoteGroupID: "default"},
		{Direction: "ingress", EtherType: "IPv6", RemoteGroupID: "default"},
	} {
		r.ID, r.SecurityGroupID = fmt.Sprint("rule", i), "default"
		s.rules[r.ID] = &r
	}
	key := 0
	for n := 0; n < 9; n++ {
		id := fmt.Sprintf("net%d", n)
		nd := &netData{network: &model.Network{Standard: model.Standard{ID: id}, NetworkType: "geneve", SegmentationID: 100 + n, MTU: 1442, CTZone: 1 + n},
			subnets: map[string]*model.Subnet{"s" + id: {Standard: model.Standard{ID: "s" + id}, CIDR: fmt.Sprintf("10.%d.0.0/22", n), EnableDHCP: true}},
			ports:   map[string]*model.Port{}, resets: map[string]bool{"a": true, "b": true, "c": true, "d": true}, cancel: func() {}}
		s.nets[id] = nd
		ports := 100
		if n == 0 {
			ports = 250
		}
		for i := 0; i < ports; i++ {
			p := &model.Port{Standard: model.Standard{ID: fmt.Sprintf("p%d-%d", n, i)}, NetworkID: id, PortSecurityEnabled: true,
				MACAddress:     fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", n, i>>8, i&0xff),
				FixedIPs:       []model.FixedIP{{SubnetID: "s" + id, IPAddress: fmt.Sprintf("10.%d.%d.%d", n, (i+10)>>8, (i+10)&0xff)}},
				SecurityGroups: []string{"default"}, HostID: fmt.Sprintf("ch%d", 1+key%3)}
			if p.HostID == "ch1" {
				name := "tap" + p.ID
				s.ifaces[name] = ovs.Interface{Name: name, OFPort: 10 + key, ExternalIDs: map[string]string{"iface-id": p.ID}}
				s.portNet[p.ID] = id
			}
			key++
			nd.ports[p.ID] = p
		}
	}
	return s
}

// BenchmarkBringupEventAgent is the agent's whole cost of one event at
// 1,050 ports, without the switch: build the view, compile from the
// previous sections, plan against what is installed.
func BenchmarkBringupEventAgent(b *testing.B) {
	s := bringupState()
	local := pipeline.LocalChassis{Name: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1"), GeneveOFPort: 1}
	r := newReconciler(newFakeSwitch(), nil)
	v, _, _ := s.view(local)
	prev := pipeline.CompileSections(v, pipeline.Config{}, 1, nil)
	_, _, _, commit, _ := r.plan(prev)
	commit()
	r.synced = true
	s.nets["net0"].ports["p0-1"].HostID = "ch3"
	b.ReportAllocs()
	for b.Loop() {
		v, _, _ := s.view(local)
		secs := pipeline.CompileSections(v, pipeline.Config{}, 1, prev)
		_, _, _, _, _ = r.plan(secs)
	}
}

func BenchmarkViewBuild(b *testing.B) {
	s := bringupState()
	local := pipeline.LocalChassis{Name: "ch1", TunnelIP: netip.MustParseAddr("192.0.2.1"), GeneveOFPort: 1}
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = s.view(local)
	}
}
