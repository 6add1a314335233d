package e2e

import (
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
)

func secGroup(t *testing.T, l *lab.Lab, project, name string) string {
	t.Helper()
	var out struct {
		SecurityGroup struct{ ID string } `json:"security_group"`
	}
	if err := l.Do("POST", "/v2.0/security-groups", project, map[string]any{"security_group": map[string]any{"name": name}}, &out); err != nil {
		t.Fatal(err)
	}
	return out.SecurityGroup.ID
}

func rule(t *testing.T, l *lab.Lab, project string, r map[string]any) string {
	t.Helper()
	var out struct {
		Rule struct{ ID string } `json:"security_group_rule"`
	}
	if err := l.Do("POST", "/v2.0/security-group-rules", project, map[string]any{"security_group_rule": r}, &out); err != nil {
		t.Fatal(err)
	}
	return out.Rule.ID
}

// TestSecurityGroups: a TCP port allowed by a rule connects and another
// does not; ICMP follows its rule; remote_group_id admits the group's
// members and refuses others; an ongoing flow survives an unrelated rule
// change.
func TestSecurityGroups(t *testing.T) {
	l := newLab(t, lab.Options{})
	chs := chassis(t, l, 2)
	n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "sg", CIDR: "10.3.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	web := secGroup(t, l, "p1", "web")
	clients := secGroup(t, l, "p1", "clients")
	others := secGroup(t, l, "p1", "others")
	rule(t, l, "p1", map[string]any{"security_group_id": web, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
	rule(t, l, "p1", map[string]any{"security_group_id": web, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "icmp", "remote_group_id": clients})

	with := func(ip, sg string) map[string]any {
		m := fixed(sub.ID, ip)
		m["security_groups"] = []string{sg}
		return m
	}
	srv, _ := boot(t, l, chs[1], "srv", "p1", n, with("10.3.0.10", web))
	c1, _ := boot(t, l, chs[0], "c1", "p1", n, with("10.3.0.11", clients))
	c2, _ := boot(t, l, chs[0], "c2", "p1", n, with("10.3.0.12", others))
	tcpServe(t, srv, 22)
	tcpServe(t, srv, 23)

	if !tcpConnect(c1, "10.3.0.10", 22, 10*time.Second) {
		t.Fatalf("c1 → srv:22 refused; the rule allows it\n%s", l.Bed.LogTails(10))
	}
	if tcpConnect(c1, "10.3.0.10", 23, 3*time.Second) {
		t.Fatal("c1 → srv:23 connected; no rule allows it")
	}
	if !tcpConnect(c2, "10.3.0.10", 22, 10*time.Second) {
		t.Fatal("c2 → srv:22 refused; the rule allows any source")
	}
	mustPing(t, l, c1, "10.3.0.10") // a member of "clients"
	mustNotPing(t, c2, "10.3.0.10") // not a member

	// An ongoing flow (50 pps ping, tracked by conntrack) loses nothing
	// while an unrelated rule is added and removed.
	wait := fastPing(t, c1, "10.3.0.10", 20*time.Millisecond, 150)
	time.Sleep(time.Second) // let the flow run before the change: timing is the subject
	id := rule(t, l, "p1", map[string]any{"security_group_id": web, "direction": "ingress", "ethertype": "IPv4",
		"protocol": "udp", "port_range_min": 53, "port_range_max": 53})
	if err := l.Do("DELETE", "/v2.0/security-group-rules/"+id, "p1", nil, nil); err != nil {
		t.Fatal(err)
	}
	if st := wait(); st.received != st.sent {
		t.Fatalf("ongoing flow lost %d of %d packets across an unrelated rule change", st.sent-st.received, st.sent)
	}

	// Membership changes apply: c2 joins "clients" and may ping.
	if err := l.Do("PUT", "/v2.0/ports/"+portOf(t, l, "10.3.0.12"), "p1", map[string]any{"port": map[string]any{
		"security_groups": []string{others, clients}}}, nil); err != nil {
		t.Fatal(err)
	}
	mustPing(t, l, c2, "10.3.0.10")
}

// portOf finds the port holding a fixed address.
func portOf(t *testing.T, l *lab.Lab, ip string) string {
	t.Helper()
	var out struct {
		Ports []struct{ ID string } `json:"ports"`
	}
	if err := l.Do("GET", "/v2.0/ports?fixed_ips=ip_address%3D"+ip, "", nil, &out); err != nil || len(out.Ports) != 1 {
		t.Fatalf("port of %s: %v %v", ip, out, err)
	}
	return out.Ports[0].ID
}
