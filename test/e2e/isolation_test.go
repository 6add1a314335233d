package e2e

import (
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/lab"
)

func fixed(subnet, ip string) map[string]any {
	return map[string]any{"fixed_ips": []map[string]string{{"subnet_id": subnet, "ip_address": ip}}}
}

// TestTenantIsolation: two projects use the same CIDR on their own
// networks, with VMs on the same two chassis. Each VM reaches its own
// network's VMs and nothing of the other project's.
func TestTenantIsolation(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	na, sa, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "a", CIDR: "10.9.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	nb, sb, err := l.CreateNetwork(lab.NetworkSpec{Project: "p2", Name: "b", CIDR: "10.9.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := boot(t, l, chs[0], "a1", "p1", na, fixed(sa.ID, "10.9.0.10"))
	_, _ = boot(t, l, chs[1], "a2", "p1", na, fixed(sa.ID, "10.9.0.11"))
	b1, _ := boot(t, l, chs[0], "b1", "p2", nb, fixed(sb.ID, "10.9.0.20"))
	_, _ = boot(t, l, chs[1], "b2", "p2", nb, fixed(sb.ID, "10.9.0.21"))
	mustPing(t, l, a1, "10.9.0.11")
	mustPing(t, l, b1, "10.9.0.21")
	// The same addresses exist only in the other project's network.
	mustNotPing(t, a1, "10.9.0.21")
	mustNotPing(t, a1, "10.9.0.20")
	mustNotPing(t, b1, "10.9.0.11")
	mustNotPing(t, b1, "10.9.0.10")
}
