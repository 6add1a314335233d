package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// scrape GETs a metrics or health endpoint.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue reads one sample ("name{labels}" exactly as exported) from
// Prometheus text; -1 when absent.
func metricValue(text, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// waitMetric waits until a sample satisfies ok.
func waitMetric(t *testing.T, url, series string, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, text := scrape(t, url)
		v := metricValue(text, series)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s: %v", series, url, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAgentAndServerMetrics: on real OVS, an agent started with
// --metrics-listen is ready once synced and counts what a VM's boot did
// (a port bound, DHCP answered through a packet-in, bundles applied, flows
// by table) and the gateway it sees alive; the server counts the chassis
// alive, and one fewer when an agent dies.
func TestAgentAndServerMetrics(t *testing.T) {
	l := newLab(t, lab.Options{AgentArgs: []string{"--lease-ttl", "2s"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ch1, err := l.AddChassisWith("ch1", nil, []string{"--metrics-listen", addr})
	if err != nil {
		t.Fatal(err)
	}
	// ch2 is a gateway: the only chassis whose liveness an agent follows.
	ch2, err := l.AddChassisWith("ch2", nil, []string{"--gateway"})
	if err != nil {
		t.Fatal(err)
	}
	agent := "http://" + addr
	if code, _ := scrape(t, agent+"/healthz"); code != http.StatusOK {
		t.Fatalf("agent /healthz: %d", code)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := scrape(t, agent+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent /readyz: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "m", CIDR: "10.9.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	vm, _, err := l.Boot(ch1, "m1", "p1", n.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := vm.DHCP(ctx); err != nil {
		t.Fatal(err)
	}
	metrics := agent + "/metrics"
	waitMetric(t, metrics, "wyvern_agent_ports_bound", func(v float64) bool { return v == 1 })
	waitMetric(t, metrics, `wyvern_agent_dhcp_requests_total{result="replied"}`, func(v float64) bool { return v >= 1 })
	waitMetric(t, metrics, "wyvern_agent_packet_ins_total", func(v float64) bool { return v >= 1 })
	waitMetric(t, metrics, `wyvern_agent_bundles_total{result="applied"}`, func(v float64) bool { return v >= 2 })
	waitMetric(t, metrics, `wyvern_agent_flows{table="Classify"}`, func(v float64) bool { return v > 0 })
	waitMetric(t, metrics, `wyvern_agent_syncs_total{result="ok"}`, func(v float64) bool { return v >= 2 })
	waitMetric(t, metrics, "wyvern_agent_gateways_alive", func(v float64) bool { return v == 1 })
	if v := waitMetric(t, metrics, "wyvern_agent_watch_apply_lag_seconds_count", func(v float64) bool { return v >= 1 }); v < 1 {
		t.Fatal("no lag observed")
	}

	server := l.APIURL + "/metrics"
	waitMetric(t, server, "wyvern_chassis_alive", func(v float64) bool { return v == 2 })
	if err := l.KillAgent(ch2); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, server, "wyvern_chassis_alive", func(v float64) bool { return v == 1 })
	waitMetric(t, server, "wyvern_chassis_registered", func(v float64) bool { return v == 2 })
	waitMetric(t, metrics, "wyvern_agent_gateways_alive", func(v float64) bool { return v == 0 })

	// Deleting the dead agent removes its chassis and the stats it
	// published for the console.
	if _, err := l.Store.GetString(context.Background(), store.StatsKey("ch2")); err != nil {
		t.Fatalf("ch2's stats: %v", err)
	}
	var agents struct {
		Agents []struct {
			ID string `json:"id"`
		} `json:"agents"`
	}
	if err := l.Do("GET", "/v2.0/agents?host=ch2", "", nil, &agents); err != nil || len(agents.Agents) != 1 {
		t.Fatalf("agents of ch2: %+v %v", agents, err)
	}
	if err := l.Do("DELETE", "/v2.0/agents/"+agents.Agents[0].ID, "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Store.GetString(context.Background(), store.StatsKey("ch2")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ch2's stats after its agent was deleted: %v", err)
	}
	waitMetric(t, server, "wyvern_chassis_registered", func(v float64) bool { return v == 1 })
}
