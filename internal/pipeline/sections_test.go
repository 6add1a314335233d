package pipeline

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// cloneView deep-copies a view (it is plain data).
func cloneView(t testing.TB, v *View) *View {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out View
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func flowTexts(fs []ofp.Flow) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// mutate changes one random thing of the view, anything Compile reads.
func mutate(r *rand.Rand, v *View, step int) string {
	pick := func(n int) int { return r.IntN(max(n, 1)) }
	chassis := []string{v.Local.Name, "", "ch2", "ch3", "gone"}
	for _, rc := range v.Remote {
		chassis = append(chassis, rc.Name)
	}
	if len(v.Ports) == 0 {
		v.Ports = append(v.Ports, Port{ID: "new", NetworkID: v.Networks[0].ID, Key: 999, MAC: mac("fa:16:3e:99:99:99"),
			IPs: addrs("10.0.0.99"), Chassis: v.Local.Name, OFPort: 99, PortSecurity: true})
		return "add first port"
	}
	p := &v.Ports[pick(len(v.Ports))]
	switch k := r.IntN(24); k {
	case 0:
		p.IPs = append(p.IPs, netip.AddrFrom4([4]byte{10, byte(r.IntN(3)), byte(r.IntN(2)), byte(r.IntN(250) + 2)}))
		return "port " + p.ID + ": add IP"
	case 1:
		if len(p.IPs) > 0 {
			p.IPs = p.IPs[1:]
		}
		return "port " + p.ID + ": drop IP"
	case 2:
		p.MAC = net.HardwareAddr{0xfa, 0x16, 0x3e, byte(step), byte(r.IntN(256)), byte(r.IntN(256))}
		return "port " + p.ID + ": MAC"
	case 3:
		p.PortSecurity = !p.PortSecurity
		return "port " + p.ID + ": port security"
	case 4:
		p.AllowedAddressPairs = append(p.AllowedAddressPairs, AddressPair{
			Prefix: netip.MustParsePrefix("10.9.0.0/24"), MAC: net.HardwareAddr{0xfa, 0x16, 0x3e, 9, 9, byte(step)}})
		return "port " + p.ID + ": address pair"
	case 5:
		if len(v.SecurityGroups) > 0 {
			p.SecurityGroups = append(p.SecurityGroups, v.SecurityGroups[pick(len(v.SecurityGroups))].ID)
		} else {
			p.SecurityGroups = nil
		}
		return "port " + p.ID + ": security groups"
	case 6, 7:
		p.Chassis = chassis[pick(len(chassis))]
		return "port " + p.ID + ": chassis " + p.Chassis
	case 8:
		p.OFPort = uint32(200 + r.IntN(5))
		return "port " + p.ID + ": ofport"
	case 9:
		i := pick(len(v.Ports))
		v.Ports = append(v.Ports[:i], v.Ports[i+1:]...)
		return "delete a port"
	case 10:
		q := *p
		q.ID, q.Key, q.OFPort = fmt.Sprintf("new%d", step), uint32(1000+step), uint32(300+step)
		q.MAC = net.HardwareAddr{0xfa, 0x16, 0x3e, 0x77, byte(step >> 8), byte(step)}
		q.IPs = []netip.Addr{netip.AddrFrom4([4]byte{10, 0, 7, byte(step)})}
		if len(v.Networks) > 0 {
			q.NetworkID = v.Networks[pick(len(v.Networks))].ID
		}
		v.Ports = append(v.Ports, q)
		return "add port " + q.ID
	case 11:
		n := &v.Networks[pick(len(v.Networks))]
		n.SegmentationID = uint32(100 + r.IntN(4))
		return "network " + n.ID + ": segmentation id"
	case 12:
		n := &v.Networks[pick(len(v.Networks))]
		n.Type = []string{"geneve", "vxlan", "flat"}[r.IntN(3)]
		n.MTU = 1400 + r.IntN(3)
		n.CTZone = uint16(r.IntN(3))
		return "network " + n.ID + ": type, MTU, zone"
	case 13:
		if len(v.Subnets) > 0 {
			s := &v.Subnets[pick(len(v.Subnets))]
			s.EnableDHCP = !s.EnableDHCP
		}
		return "subnet DHCP"
	case 14:
		if len(v.Remote) > 0 {
			rc := &v.Remote[pick(len(v.Remote))]
			rc.TunnelIP = netip.AddrFrom4([4]byte{192, 0, 2, byte(50 + r.IntN(3))})
			if r.IntN(2) == 0 {
				rc.Encaps = []Encap{EncapVXLAN}
			}
		}
		return "remote chassis"
	case 15:
		v.Local.GeneveOFPort = uint32(1 + r.IntN(3))
		return "local tunnel port"
	case 16:
		if len(v.Routers) > 0 {
			rt := &v.Routers[pick(len(v.Routers))]
			rt.Routes = append(rt.Routes, Route{Destination: netip.MustParsePrefix("10.50.0.0/16"), NextHop: netip.MustParseAddr("10.0.0.5")})
			if rt.Gateway != nil {
				rt.Gateway.Chassis = chassis[pick(len(chassis))]
			}
		}
		return "router"
	case 17:
		if len(v.FloatingIPs) > 0 {
			f := &v.FloatingIPs[pick(len(v.FloatingIPs))]
			f.Centralized = !f.Centralized
		}
		return "floating ip"
	case 18:
		if len(v.SecurityGroups) > 0 {
			g := &v.SecurityGroups[pick(len(v.SecurityGroups))]
			g.Members = append(g.Members, netip.MustParsePrefix(fmt.Sprintf("10.0.8.%d/32", step%250)))
			if len(g.Rules) > 0 && r.IntN(2) == 0 {
				g.Rules = g.Rules[1:]
			}
		}
		return "security group"
	case 19:
		v.SecurityGroupsEnabled = !v.SecurityGroupsEnabled
		return "security groups enabled"
	case 20:
		if len(v.External) > 0 {
			e := &v.External[pick(len(v.External))]
			e.OFPort = uint32(r.IntN(2) * 40)
		}
		return "external network"
	case 21:
		if len(v.Routers) > 0 {
			i := pick(len(v.Routers))
			v.Routers = append(v.Routers[:i], v.Routers[i+1:]...)
		}
		return "delete router"
	case 22:
		if len(v.Networks) > 1 {
			i := pick(len(v.Networks))
			v.Networks = append(v.Networks[:i], v.Networks[i+1:]...)
		}
		return "delete network"
	default:
		return "nothing"
	}
}

// TestSectionsMatchCompile drives every golden scenario through random
// changes and checks that compiling incrementally from the previous
// sections always gives exactly the flows of a full compilation: a section
// whose hash missed an input would keep stale flows and fail here.
func TestSectionsMatchCompile(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(sc.name))))
			for run := 0; run < 20; run++ {
				v := sc.view()
				cfg := sc.cfg
				gen := uint32(1)
				prev := CompileSections(v, cfg, gen, nil)
				var history []string
				for step := 0; step < 30; step++ {
					v = cloneView(t, v)
					switch r.IntN(30) {
					case 0:
						gen++
						history = append(history, "generation")
					case 1:
						cfg.NDResponder = !cfg.NDResponder
						history = append(history, "config")
					default:
						history = append(history, mutate(r, v, step))
					}
					secs := CompileSections(v, cfg, gen, prev)
					got := strings.Join(flowTexts(Flatten(secs)), "\n")
					want := strings.Join(flowTexts(Compile(v, cfg, gen)), "\n")
					if got != want {
						t.Fatalf("run %d after %v: incremental compile differs from a full one:\n%s", run, history, lineDiff(want, got))
					}
					prev = secs
				}
			}
		})
	}
}

// TestSectionsReusedOnUnrelatedChange checks that a port added on one
// network leaves the other networks' sections alone.
func TestSectionsReusedOnUnrelatedChange(t *testing.T) {
	v := twoChassisTwoNetworks()
	prev := CompileSections(v, testCfg, 1, nil)
	v2 := cloneView(t, v)
	q := v2.Ports[0]
	q.ID, q.Key, q.OFPort = "added", 77, 77
	q.MAC = mac("fa:16:3e:77:77:77")
	q.IPs = addrs("10.0.0.77")
	v2.Ports = append(v2.Ports, q)
	secs := CompileSections(v2, testCfg, 1, prev)
	var rebuilt, reused []string
	for _, s := range secs {
		if s.Reused {
			reused = append(reused, s.ID)
		} else {
			rebuilt = append(rebuilt, s.ID)
		}
	}
	wantRebuilt := fmt.Sprint([]string{"net/" + q.NetworkID}) // no router: l3 stays empty
	if fmt.Sprint(rebuilt) != wantRebuilt {
		t.Errorf("rebuilt %v (reused %v), want %s", rebuilt, reused, wantRebuilt)
	}
	if again := CompileSections(v2, testCfg, 1, secs); len(again) != len(secs) ||
		!func() bool {
			for _, s := range again {
				if !s.Reused {
					return false
				}
			}
			return true
		}() {
		t.Error("an unchanged view rebuilt sections")
	}
}

func BenchmarkCompileSectionsOnePortChange(b *testing.B) {
	v := bigView(1000)
	prev := CompileSections(v, testCfg, 1, nil)
	v2 := cloneView(b, v)
	v2.Ports[0].IPs = append(v2.Ports[0].IPs, netip.MustParseAddr("10.0.200.1"))
	b.ReportAllocs()
	for b.Loop() {
		_ = CompileSections(v2, testCfg, 1, prev)
	}
}

// bringupView is the bring-up benchmark's topology as chassis ch1 sees it
// (bench/bringup): a network of 250 ports and 8 of 100, spread over 3
// chassis, one router on all of them, and every port in a default
// security group (egress anything, ingress from the group).
func bringupView() *View {
	v := &View{Local: local(), SecurityGroupsEnabled: true}
	for c := 2; c <= 3; c++ {
		v.Remote = append(v.Remote, RemoteChassis{Name: fmt.Sprintf("ch%d", c),
			TunnelIP: netip.AddrFrom4([4]byte{192, 0, 2, byte(c)}), Encaps: []Encap{EncapGeneve}})
	}
	sg := SecurityGroup{ID: "default", Key: 1, Rules: []SecurityGroupRule{
		{Direction: Egress, EtherType: "IPv4"}, {Direction: Egress, EtherType: "IPv6"},
		{Direction: Ingress, EtherType: "IPv4", RemoteGroupID: "default"},
		{Direction: Ingress, EtherType: "IPv6", RemoteGroupID: "default"},
	}}
	r := Router{ID: "r1", Key: 1}
	key := uint32(1)
	for n := 0; n < 9; n++ {
		id := fmt.Sprintf("net%d", n)
		v.Networks = append(v.Networks, Network{ID: id, Key: uint32(n + 1), SegmentationID: uint32(100 + n), Type: "geneve", MTU: 1442})
		v.Subnets = append(v.Subnets, Subnet{ID: "s" + id, NetworkID: id,
			CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n), 0, 0}), 22), EnableDHCP: true})
		r.Ports = append(r.Ports, RouterPort{NetworkID: id, MAC: net.HardwareAddr{0xfa, 0x16, 0x3e, 0xff, 0, byte(n)},
			Address: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n), 0, 1}), 22)})
		ports := 100
		if n == 0 {
			ports = 250
		}
		for i := 0; i < ports; i++ {
			ip := netip.AddrFrom4([4]byte{10, byte(n), byte((i + 10) >> 8), byte(i + 10)})
			p := Port{ID: fmt.Sprintf("p%d-%d", n, i), NetworkID: id, Key: key, PortSecurity: true,
				MAC: net.HardwareAddr{0xfa, 0x16, 0x3e, byte(n), byte(i >> 8), byte(i)}, IPs: []netip.Addr{ip},
				SecurityGroups: []string{"default"}, Chassis: fmt.Sprintf("ch%d", 1+int(key)%3)}
			if p.Chassis == "ch1" {
				p.OFPort = 10 + key
			}
			key++
			v.Ports = append(v.Ports, p)
			sg.Members = append(sg.Members, netip.PrefixFrom(ip, 32))
		}
	}
	v.Routers = []Router{r}
	v.SecurityGroups = []SecurityGroup{sg}
	return v
}

// BenchmarkBringupEvent is what one port bound on another chassis costs
// this chassis at 1,050 ports: the incremental compilation, and rendering
// the flows of the sections that changed (what the reconciler compares).
func BenchmarkBringupEvent(b *testing.B) {
	v := bringupView()
	prev := CompileSections(v, testCfg, 1, nil)
	v2 := cloneView(b, v)
	v2.Ports[3].Chassis = "ch3"
	b.ReportAllocs()
	var rebuilt, flows int
	for b.Loop() {
		secs := CompileSections(v2, testCfg, 1, prev)
		rebuilt, flows = 0, 0
		for _, s := range secs {
			if s.Reused {
				continue
			}
			rebuilt++
			for _, f := range s.Flows {
				_, _ = f.KeyText()
				flows++
			}
		}
	}
	b.ReportMetric(float64(rebuilt), "sections")
	b.ReportMetric(float64(flows), "flows-rendered")
	b.ReportMetric(float64(len(Compile(v2, testCfg, 1))), "flows")
}

// BenchmarkBringupFull is BenchmarkBringupEvent compiling and rendering
// everything, as the agent did before sections.
func BenchmarkBringupFull(b *testing.B) {
	v := bringupView()
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range Compile(v, testCfg, 1) {
			_, _ = f.KeyText()
		}
	}
}
