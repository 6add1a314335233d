package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// TestOwnProcessFaults: on a 3-member etcd cluster, faults of Wyvern's own
// processes: the API server killed during bulk creates (each is all or
// nothing), an agent cut off from etcd for 30 s across a compaction
// (traffic flows on; it re-registers and resyncs by itself), and an agent
// killed in the middle of its flow bundle (br-int keeps its previous
// table exactly; OpenFlow bundles are atomic).
func TestOwnProcessFaults(t *testing.T) {
	bed := testbed.ForTest(t)
	c := startCluster(t, bed, 3)
	proxy := newCutProxy(t, c.clients)
	l := newLab(t, bed, lab.Options{EtcdEndpoints: c.clients})
	// ch1's agent reaches etcd only through a link the test can cut.
	ch1, err := l.AddChassisWith("ch1", nil, []string{"--etcd-endpoints", proxy.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ch2, err := l.AddChassis("ch2")
	if err != nil {
		t.Fatal(err)
	}
	// ch3 takes the VM booted during the cut: a plug on the userspace
	// datapath of a chassis the ping crosses can drop a packet while
	// vswitchd reconfigures, which is not what the cut measures.
	ch3, err := l.AddChassis("ch3")
	if err != nil {
		t.Fatal(err)
	}
	n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "own", CIDR: "10.40.0.0/22"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := boot(t, l, ch1, "a", "p1", n, fixed(sub.ID, "10.40.0.10"))
	_, _ = boot(t, l, ch2, "b", "p1", n, fixed(sub.ID, "10.40.0.11"))
	mustPing(t, l, a, "10.40.0.11", 20*time.Second)

	t.Run("server killed in a bulk create", func(t *testing.T) { serverKilledInBulk(t, l, n) })
	t.Run("agent cut off from etcd", func(t *testing.T) { agentCut(t, l, c, proxy, ch1, ch3, a, n, sub) })
	t.Run("agent killed in a bundle", func(t *testing.T) { agentKilledInBundle(t, l, ch1, n) })
}

// bulkSize ports a bulk create: etcd's default limit of 128 operations a
// transaction bounds one request's ports.
const bulkSize = 16

func bulkBody(netID, prefix string) []byte {
	ports := make([]map[string]any, bulkSize)
	for i := range ports {
		ports[i] = map[string]any{"network_id": netID, "name": fmt.Sprintf("%s-%d", prefix, i)}
	}
	b, _ := json.Marshal(map[string]any{"ports": ports})
	return b
}

// countNamed counts the network's ports whose name starts with prefix.
func countNamed(t *testing.T, l *lab.Lab, netID, prefix string) int {
	t.Helper()
	var out struct{ Ports []model.Port }
	if err := l.Do("GET", "/v2.0/ports?"+url.Values{"network_id": {netID}}.Encode(), "p1", nil, &out); err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, p := range out.Ports {
		if strings.HasPrefix(p.Name, prefix+"-") {
			k++
		}
	}
	return k
}

// serverKilledInBulk kills the server (SIGKILL) a little later each time
// after a bulk create was written to it; each bulk is then all there or
// not at all.
func serverKilledInBulk(t *testing.T, l *lab.Lab, n model.Network) {
	var answered, allThere, noneThere int
	var recoveries []time.Duration
	for i, delay := range []time.Duration{0, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond, 12 * time.Millisecond, 16 * time.Millisecond, 20 * time.Millisecond, 24 * time.Millisecond, 28 * time.Millisecond, 32 * time.Millisecond} {
		prefix := fmt.Sprintf("bulk%d", i)
		req, err := http.NewRequest("POST", l.APIURL+"/v2.0/ports", bytes.NewReader(bulkBody(n.ID, prefix)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Project-Id", "p1")
		// WroteRequest comes again when the transport retries the request
		// on a new connection: the first write is the one that counts.
		wrote := make(chan struct{})
		wroteOnce := sync.OnceFunc(func() { close(wrote) })
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wroteOnce() }}))
		type answer struct {
			status int
			body   string
		}
		done := make(chan answer, 1)
		go func() {
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				done <- answer{}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- answer{resp.StatusCode, string(b)}
		}()
		select {
		case <-wrote:
		case <-time.After(10 * time.Second):
			t.Fatal("bulk request not written")
		}
		time.Sleep(delay) // the fault's timing is the subject: a spread of points in the request
		killed := time.Now()
		if err := l.StopServer(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		ans := <-done
		if err := l.StartServer(); err != nil {
			t.Fatal(err)
		}
		recoveries = append(recoveries, time.Since(killed))
		got := countNamed(t, l, n.ID, prefix)
		switch {
		case ans.status == 201:
			answered++
			if got != bulkSize {
				t.Errorf("bulk %s answered 201 but %d of %d ports are there", prefix, got, bulkSize)
			}
		case ans.status != 0:
			t.Errorf("bulk %s answered %d: %s", prefix, ans.status, ans.body)
		case got == bulkSize:
			allThere++
		case got == 0:
			noneThere++
		default:
			t.Errorf("bulk %s cut by the kill: %d of %d ports written (half a request)", prefix, got, bulkSize)
		}
	}
	for _, r := range recoveries {
		report.fault(faultRecord{phase: "own processes", name: "kill the API server in a bulk create (SIGKILL)", recover: r})
	}
	report.reqs(requests{phase: fmt.Sprintf("server kill: bulk creates of %d ports", bulkSize), succeeded: answered, refused: 0,
		unknown: allThere + noneThere, note: fmt.Sprintf("unanswered (cut by the kill): %d wholly written, %d not at all, 0 in part", allThere, noneThere)})
	report.checked("server killed during %d bulk creates of %d ports: %d answered 201 (all present), %d cut and wholly written, %d cut and not written, 0 half-written",
		answered+allThere+noneThere, bulkSize, answered, allThere, noneThere)
	t.Logf("bulk creates: %d answered, %d cut and whole, %d cut and absent", answered, allThere, noneThere)
}

// agentCut holds every byte between ch1's agent and etcd for 30 s (the
// connections stay open, as across a partition), long enough for its
// chassis registration to expire. Meanwhile a VM is booted on ch3 and the
// cluster's history is compacted past the agent's watches. The ping
// between the chassis loses nothing; once the link is back the agent, the
// same process, registers again and reaches the new VM.
func agentCut(t *testing.T, l *lab.Lab, c *cluster, proxy *cutProxy, ch1, ch3 *testbed.Chassis, a *testbed.VM, n model.Network, sub model.Subnet) {
	pid, _ := ch1.PID("wyvern-agent")
	png := startPing(t, a, "10.40.0.11", 20*time.Millisecond)
	waitFor(t, 10*time.Second, "ping under way", func() bool { return png.replies() >= 25 })
	agentLog := filepath.Join(ch1.RunDir, "wyvern-agent.log")
	var logOffset int64
	if st, err := os.Stat(agentLog); err == nil {
		logOffset = st.Size()
	}
	cutAt := time.Now()
	proxy.setCut(true)
	healed := false
	defer func() {
		if !healed {
			proxy.setCut(false)
		}
	}()
	// The cut is real: the chassis' registration lease expires.
	if err := l.WaitChassis(ch1.Name, false, 25*time.Second); err != nil {
		t.Fatal(err)
	}
	expired := time.Since(cutAt)
	_, cp := boot(t, l, ch3, "c", "p1", n, fixed(sub.ID, "10.40.0.12"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	rev, err := storetest.CompactCluster(ctx, c.clients)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(cutAt.Add(30 * time.Second))) // the cut's length is the fault
	proxy.setCut(false)
	healed = true
	healAt := time.Now()
	if err := l.WaitChassis(ch1.Name, true, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	registered := time.Since(healAt)
	reach := mustPing(t, l, a, lab.FixedIP(cp), 30*time.Second)
	recovered := time.Since(healAt)
	seen := png.replies()
	waitFor(t, 20*time.Second, "ping tail", func() bool { return png.replies() >= seen+50 })
	pr := png.stop()
	// How the agent resumed: watches resumed past the compaction re-list.
	relists := 0
	if f, err := os.Open(agentLog); err == nil {
		b, _ := io.ReadAll(io.NewSectionReader(f, logOffset, 1<<40))
		f.Close()
		relists = strings.Count(string(b), "watch compacted")
	}
	if now, running := ch1.PID("wyvern-agent"); !running || now != pid {
		t.Errorf("the agent was restarted or died (pid %d → %d, running %v)", pid, now, running)
	}
	report.fault(faultRecord{phase: "own processes", name: "cut an agent off from etcd for 30 s (+ compaction)", recover: recovered, pingLost: len(pr.lost),
		note: fmt.Sprintf("registration expired %s into the cut; history compacted at revision %d during it; after the link's return: registered again in %s, the VM booted during the cut reachable in %s",
			expired.Round(time.Millisecond), rev, registered.Round(time.Millisecond), reach.Round(time.Millisecond))})
	report.ping("agent cut off from etcd for 30 s: %d echoes at 50 pps between chassis, %d lost", pr.sent, len(pr.lost))
	report.checked("agent cut off for 30 s across a compaction (revision %d): same agent process re-registered and resynced (a VM booted during the cut answers) %s after the link's return; %d of its watches found their revision compacted and re-listed", rev, recovered.Round(time.Millisecond), relists)
	t.Logf("cut: expired after %s, back %s after heal, reach %s; %d compacted watches re-listed; pings %d sent, %d lost", expired, registered, recovered, relists, pr.sent, len(pr.lost))
	if len(pr.lost) > 0 {
		t.Errorf("%d of %d echoes lost during the cut (at %v)", len(pr.lost), pr.sent, pr.lost)
	}
	// The cut outlasts the etcd client's keepalive (15 s), so the agent's
	// watches resume on new connections, from revisions now compacted.
	if relists == 0 {
		t.Errorf("no watch of the agent met the compaction: the test did not exercise it")
	}
}

var cookieRE = regexp.MustCompile(`cookie=0x([0-9a-f]+), ?`)

// byGeneration splits Wyvern's flows by cookie generation, the cookie cut
// out (other flows under generation 0).
func byGeneration(flows []string) map[uint32][]string {
	out := map[uint32][]string{}
	for _, f := range flows {
		var gen uint32
		if m := cookieRE.FindStringSubmatch(f); m != nil {
			c, _ := strconv.ParseUint(m[1], 16, 64)
			if pipeline.IsOwnCookie(c) {
				gen = pipeline.CookieGeneration(c)
			}
		}
		out[gen] = append(out[gen], cookieRE.ReplaceAllString(f, ""))
	}
	return out
}

// agentKilledInBundle: with ch1's agent stopped, ports are added, so that
// its next start installs a larger table in one bundle. That start goes
// through an OpenFlow proxy that lets 100 of the bundle's messages reach
// vswitchd and then holds the rest: the agent is SIGKILLed with its bundle
// open and uncommitted. br-int then holds exactly the flows it had before
// (cookies and all); a clean start installs the whole new table.
func agentKilledInBundle(t *testing.T, l *lab.Lab, ch1 *testbed.Chassis, n model.Network) {
	const holdAfter = 100
	if err := l.KillAgent(ch1); err != nil {
		t.Fatal(err)
	}
	before, err := ch1.DumpFlows("br-int")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		req := map[string]any{}
		if err := json.Unmarshal(bulkBody(n.ID, fmt.Sprintf("extra%d", i)), &req); err != nil {
			t.Fatal(err)
		}
		if err := l.Do("POST", "/v2.0/ports", "p1", req, nil); err != nil {
			t.Fatal(err)
		}
	}
	hold := newOFHold(t, ch1.RunDir, "br-int", holdAfter)
	if err := l.StartAgentProcess(ch1, "--ovs-rundir", hold.dir); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hold.held:
	case <-time.After(30 * time.Second):
		adds, _ := hold.counts()
		t.Fatalf("the agent's bundle never passed %d messages (%d seen)\n%s", holdAfter, adds, l.Bed.LogTails(20))
	}
	if err := l.KillAgent(ch1); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	adds, committed := hold.counts()
	if committed || adds != holdAfter {
		t.Fatalf("proxy forwarded %d bundle messages, commit %v: the kill is not inside the bundle", adds, committed)
	}
	after, err := ch1.DumpFlows("br-int")
	if err != nil {
		t.Fatal(err)
	}
	if !equal(before, after) {
		t.Errorf("br-int changed by a bundle cut after %d of its messages: %d flows before, %d after", adds, len(before), len(after))
	}
	if err := l.StartAgent(ch1); err != nil {
		t.Fatal(err)
	}
	var final []string
	waitFor(t, 30*time.Second, "the new table installed", func() bool {
		flows, err := ch1.DumpFlows("br-int")
		if err != nil {
			return false
		}
		final = flows
		gens := byGeneration(flows)
		delete(gens, 0)
		return len(gens) == 1 && len(flows) > len(before)+holdAfter
	})
	recovered := time.Since(killed)
	report.fault(faultRecord{phase: "own processes", name: "kill an agent in the middle of a bundle (SIGKILL)", recover: recovered,
		note: fmt.Sprintf("killed with its bundle open: %d flow messages delivered to vswitchd, the rest and the commit held back by an OpenFlow proxy; br-int: %d flows before, identical right after the kill, %d once a new agent installed its table", adds, len(before), len(final))})
	report.checked("agent killed inside its bundle (%d flow messages delivered, no commit): br-int unchanged flow for flow (%d flows, cookies included); the restarted agent installed the new table (%d flows) %s after the kill",
		adds, len(before), len(final), recovered.Round(time.Millisecond))
	t.Logf("bundle cut after %d messages: %d flows before = after; %d after restart", adds, len(before), len(final))
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
