package faults

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// TestEtcdClusterFaults: with two servers and two agents on a 3-member
// etcd cluster, 16 clients (spread over both servers) creating and deleting ports and a 50 pps ping
// between VMs on two chassis, the leader is killed, a follower is killed,
// the leader is paused (SIGSTOP, then SIGCONT) and every member is
// restarted in turn. Afterwards every create answered 201 is there unless
// a delete answered 204, no IP or MAC is held twice, no refused request
// changed anything, the history is linearizable, no echo was lost, and the
// agents, which were never restarted, still serve a new port.
func TestEtcdClusterFaults(t *testing.T) {
	bed := testbed.ForTest(t)
	c := startCluster(t, bed, 3)
	l := newLab(t, bed, lab.Options{EtcdEndpoints: c.clients})
	ch1, err := l.AddChassis("ch1")
	if err != nil {
		t.Fatal(err)
	}
	ch2, err := l.AddChassis("ch2")
	if err != nil {
		t.Fatal(err)
	}
	agentPIDs := map[string]int{}
	for _, ch := range []*testbed.Chassis{ch1, ch2} {
		agentPIDs[ch.Name], _ = ch.PID("wyvern-agent")
	}
	n, sub, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "ping", CIDR: "10.30.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := boot(t, l, ch1, "a", "p1", n, fixed(sub.ID, "10.30.0.10"))
	_, _ = boot(t, l, ch2, "b", "p1", n, fixed(sub.ID, "10.30.0.11"))
	mustPing(t, l, a, "10.30.0.11", 20*time.Second)
	load, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "p1", Name: "load", CIDR: "10.31.0.0/22"})
	if err != nil {
		t.Fatal(err)
	}

	// A second server on the same cluster: the clients are spread over
	// both, so two processes race for the same addresses.
	second, err := l.StartExtraServer("wyvern-server-2")
	if err != nil {
		t.Fatal(err)
	}
	png := startPing(t, a, "10.30.0.11", 20*time.Millisecond)
	w := startWorkload(l, []string{l.APIURL, second}, "p1", load.ID, 16)
	defer func() {
		select {
		case <-w.stop:
		default:
			w.finish()
		}
	}()
	// The load runs before the first fault.
	waitFor(t, 30*time.Second, "first creates", func() bool { return w.successesAfter(0) >= 32 })

	type injected struct {
		name  string
		at    time.Time
		apiAt int64 // w's clock
		note  string
	}
	var faults []injected
	// apiBack waits for a create invoked after the fault to succeed.
	apiBack := func(f injected) {
		waitFor(t, 60*time.Second, "API serving again after "+f.name, func() bool { return w.successesAfter(f.apiAt) > 0 })
	}
	inject := func(name, note string, do func()) injected {
		f := injected{name: name, at: time.Now(), apiAt: w.now(), note: note}
		do()
		faults = append(faults, f)
		return f
	}

	// 1. Kill the leader; restart it once the cluster serves without it.
	ld := c.leader(10 * time.Second)
	f := inject("kill the leader (SIGKILL)", "member "+c.names[ld], func() { c.kill(ld, syscall.SIGKILL) })
	apiBack(f)
	f = inject("restart a member", "member "+c.names[ld]+" (killed leader) started again", func() { c.start(ld) })
	c.waitHealthy(60 * time.Second)
	apiBack(f)

	// 2. Kill a follower, then restart it.
	fo := (c.leader(10*time.Second) + 1) % len(c.names)
	f = inject("kill a follower (SIGKILL)", "member "+c.names[fo], func() { c.kill(fo, syscall.SIGKILL) })
	apiBack(f)
	f = inject("restart a member", "member "+c.names[fo]+" (killed follower) started again", func() { c.start(fo) })
	c.waitHealthy(60 * time.Second)
	apiBack(f)

	// 3. Pause the leader until the others have elected another, then
	// let it go on.
	ld = c.leader(10 * time.Second)
	f = inject("pause the leader (SIGSTOP, SIGCONT)", "member "+c.names[ld]+"; the servers' etcd clients spread requests over all members, and those sent to the paused one wait until the client's keepalive (10 s, then a 5 s timeout: internal/store) drops its connection",
		func() { c.signal(ld, syscall.SIGSTOP) })
	apiBack(f)
	c.signal(ld, syscall.SIGCONT)
	c.waitHealthy(60 * time.Second)

	// 4. Restart every member in turn (SIGTERM).
	for i := range c.names {
		f = inject("restart a member", "rolling restart of "+c.names[i], func() {
			c.kill(i, syscall.SIGTERM)
			c.start(i)
		})
		c.waitHealthy(60 * time.Second)
		apiBack(f)
	}
	// The ping runs on for 50 more echoes, so that a loss at the end shows.
	seen := png.replies()
	waitFor(t, 20*time.Second, "ping tail", func() bool { return png.replies() >= seen+50 })
	ops := w.finish()
	pr := png.stop()

	var final []model.Port
	waitFor(t, 30*time.Second, "final list", func() bool {
		var err error
		final, err = w.list()
		return err == nil
	})
	v := check(t, ops, final)

	// Report.
	lostTotal := 0
	for i, f := range faults {
		from := f.at.Sub(png.start)
		to := time.Duration(1 << 62)
		if i+1 < len(faults) {
			to = faults[i+1].at.Sub(png.start)
		}
		lost := pr.lostBetween(from, to)
		lostTotal += lost
		rec, _ := w.recovery(f.apiAt)
		report.fault(faultRecord{phase: "etcd cluster", name: f.name, recover: rec, pingLost: lost, note: f.note})
		t.Logf("%s (%s): API back after %s, %d echoes lost", f.name, f.note, rec, lost)
	}
	report.reqs(requests{phase: "etcd cluster: port create/delete/list", succeeded: v.succeeded, refused: v.refused,
		unknown: v.unknown, lost: len(v.lost), note: fmt.Sprintf("%d creates, %d deletes, %d lists by 16+1 clients", v.creates, v.deletes, v.lists)})
	report.ping("etcd cluster phase: %d echoes at 50 pps between chassis, %d lost", pr.sent, len(pr.lost))
	report.checked("etcd cluster: every 201 present at the end unless deleted: %d lost; IPs held twice: %d; MACs held twice: %d; refused requests that changed something: %d",
		len(v.lost), len(v.reusedIP), len(v.reusedMAC), len(v.changedByFailure))
	report.checked("etcd cluster: porcupine (v1.3.1) on the port-create/delete/IP- and MAC-allocation model, %d operations: %s", len(ops), v.linearizable)
	t.Logf("requests: %d succeeded, %d refused, %d unanswered; %d creates, %d deletes, %d lists; pings %d sent, %d lost; porcupine %s",
		v.succeeded, v.refused, v.unknown, v.creates, v.deletes, v.lists, pr.sent, len(pr.lost), v.linearizable)

	if len(v.lost) > 0 {
		t.Errorf("%d ports answered 201 are gone: %v", len(v.lost), v.lost)
	}
	if len(v.reusedIP)+len(v.reusedMAC) > 0 {
		t.Errorf("addresses held twice: %v %v", v.reusedIP, v.reusedMAC)
	}
	if len(v.changedByFailure) > 0 {
		t.Errorf("failed requests changed something: %v", v.changedByFailure)
	}
	if v.unknown > 0 {
		t.Errorf("%d requests got no answer from a running server", v.unknown)
	}
	if v.linearizable != porcupine.Ok {
		t.Errorf("history not linearizable: %s", v.linearizable)
	}
	if len(pr.lost) > 0 {
		t.Errorf("%d of %d echoes lost (at %v)", len(pr.lost), pr.sent, pr.lost)
	}
	if v.succeeded == 0 || pr.sent < 100 {
		t.Fatalf("the run did nothing: %d successes, %d echoes", v.succeeded, pr.sent)
	}

	// The agents reconnected by themselves (same processes) and serve
	// what was created after the faults.
	for _, ch := range []*testbed.Chassis{ch1, ch2} {
		if pid, running := ch.PID("wyvern-agent"); !running || pid != agentPIDs[ch.Name] {
			t.Errorf("agent of %s was restarted or died (pid %d → %d, running %v)", ch.Name, agentPIDs[ch.Name], pid, running)
		}
		if err := l.WaitChassis(ch.Name, true, 30*time.Second); err != nil {
			t.Error(err)
		}
	}
	_, _ = boot(t, l, ch2, "c", "p1", n, fixed(sub.ID, "10.30.0.12"))
	mustPing(t, l, a, "10.30.0.12", 20*time.Second)
	report.checked("etcd cluster: both agents (never restarted) and the server reconnected by themselves; a port created after the faults is bound and reachable across the chassis")
	if t.Failed() {
		t.Log(strings.TrimSpace(l.Bed.LogTails(30)))
	}
}
