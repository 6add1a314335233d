package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// TestDHCPAndPingAcrossChassis boots VMs on three chassis, over Geneve and
// VXLAN: every VM gets its address from its local agent's DHCP with a stock
// client and reaches the others, on the same chassis and across; no ARP
// request crosses the underlay.
func TestDHCPAndPingAcrossChassis(t *testing.T) {
	for _, typ := range []string{"geneve", "vxlan"} {
		t.Run(typ, func(t *testing.T) {
			l := newLab(t, lab.Options{})
			chs := make([]*testbed.Chassis, 3)
			for i := range chs {
				ch, err := l.AddChassis("ch" + lab.Itoa(i+1))
				if err != nil {
					t.Fatal(err)
				}
				chs[i] = ch
			}
			n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "net1", Type: typ, CIDR: "10.1.0.0/24"})
			if err != nil {
				t.Fatal(err)
			}
			capture, err := l.Bed.CaptureUnderlay()
			if err != nil {
				t.Fatal(err)
			}
			// Two VMs on ch1, one on ch2 and ch3.
			placement := []*testbed.Chassis{chs[0], chs[0], chs[1], chs[2]}
			vms := make([]*testbed.VM, len(placement))
			ips := make([]string, len(placement))
			for i, ch := range placement {
				vm, p, err := l.Boot(ch, "vm"+lab.Itoa(i+1), "p1", n.ID, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := l.WaitPort(p.ID, 10*time.Second, func(p model.Port) bool {
					return p.Status == model.StatusActive && p.HostID == ch.Name
				}); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				lease, err := vm.DHCP(ctx)
				cancel()
				if err != nil {
					t.Fatalf("vm%d DHCP: %v\n%s", i+1, err, l.Bed.LogTails(20))
				}
				if lease.Addr.Addr().String() != lab.FixedIP(p) {
					t.Fatalf("vm%d got %s by DHCP, port has %s", i+1, lease.Addr, lab.FixedIP(p))
				}
				if lease.Router.String() != "10.1.0.1" || lease.MTU != n.MTU {
					t.Fatalf("vm%d lease: router %s mtu %d (network mtu %d)", i+1, lease.Router, lease.MTU, n.MTU)
				}
				vms[i], ips[i] = vm, lease.Addr.Addr().String()
			}
			for i, vm := range vms {
				for j := range vms {
					if i == j {
						continue
					}
					if got, err := vm.Ping(ips[j], 2, 10*time.Second); err != nil {
						t.Fatalf("vm%d → vm%d (%s): %d replies: %v\n%s", i+1, j+1, ips[j], got, err, l.Bed.LogTails(20))
					}
				}
			}
			pkts, err := capture.Stop()
			if err != nil {
				t.Fatal(err)
			}
			tunnelled := testbed.Count(pkts, func(p testbed.Packet) bool {
				if typ == "vxlan" {
					_, ok := p.VXLAN()
					return ok
				}
				_, ok := p.Geneve()
				return ok
			})
			if tunnelled == 0 {
				t.Fatalf("no %s packet on the underlay: the cross-chassis pings did not tunnel", typ)
			}
			arps := testbed.Count(pkts, func(p testbed.Packet) bool { return p.IsARP() })
			if arps != 0 {
				var lines []string
				for _, p := range pkts {
					if p.IsARP() {
						lines = append(lines, p.Summary())
					}
				}
				t.Fatalf("%d ARP packets crossed the underlay:\n%s", arps, strings.Join(lines, "\n"))
			}
		})
	}
}
