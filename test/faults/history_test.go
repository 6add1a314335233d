package faults

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

type opKind int

const (
	opCreate opKind = iota
	opDelete
	opList
)

// apiOp is one API call of the history: when it was invoked and answered
// (nanoseconds since the workload began), and what it answered.
type apiOp struct {
	client    int
	kind      opKind
	call, ret int64
	// status is the HTTP status, 0 when no answer came (unknown outcome).
	status int
	// name, id, ip, mac: the port created or deleted.
	name, id, ip, mac string
	// holders maps "ip:…" and "mac:…" to the port holding it (lists).
	holders map[string]string
}

func (o apiOp) ok() bool { return o.status/100 == 2 }

// workload runs clients creating and deleting ports on one network, and
// a reader listing them, recording every call.
type workload struct {
	l       *lab.Lab
	urls    []string // API servers; client c uses urls[c%len]
	project string
	netID   string
	t0      time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	ops     []apiOp
}

func startWorkload(l *lab.Lab, urls []string, project, netID string, clients int) *workload {
	w := &workload{l: l, urls: urls, project: project, netID: netID, t0: time.Now(), stop: make(chan struct{})}
	for c := 0; c < clients; c++ {
		w.wg.Add(1)
		go w.client(c)
	}
	w.wg.Add(1)
	go w.reader(clients)
	return w
}

func (w *workload) now() int64 { return int64(time.Since(w.t0)) }

func (w *workload) record(o apiOp) {
	w.mu.Lock()
	w.ops = append(w.ops, o)
	w.mu.Unlock()
}

func (w *workload) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// statusOf is the HTTP status of a lab call's error (0: no answer).
func statusOf(err error, okStatus int) int {
	if err == nil {
		return okStatus
	}
	var ae *lab.APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// client keeps up to 8 ports of its own: it creates, and deletes the
// oldest once it has 8 (a refused delete is tried again later).
func (w *workload) client(c int) {
	defer w.wg.Done()
	rng := rand.New(rand.NewSource(int64(c)))
	var pool []apiOp
	for n := 0; !w.stopped(); n++ {
		if len(pool) >= 8 || (len(pool) > 0 && rng.Intn(3) == 0) {
			p := pool[0]
			o := apiOp{client: c, kind: opDelete, id: p.id, ip: p.ip, mac: p.mac, name: p.name, call: w.now()}
			err := w.l.DoAt(w.urls[c%len(w.urls)], "DELETE", "/v2.0/ports/"+p.id, w.project, nil, nil)
			o.ret, o.status = w.now(), statusOf(err, 204)
			w.record(o)
			if o.status == 204 || o.status == 404 {
				pool = pool[1:]
			} else {
				pool = append(pool[1:], p) // try again later
			}
			continue
		}
		o := apiOp{client: c, kind: opCreate, name: fmt.Sprintf("w%d-%d", c, n), call: w.now()}
		var out struct{ Port model.Port }
		err := w.l.DoAt(w.urls[c%len(w.urls)], "POST", "/v2.0/ports", w.project,
			map[string]any{"port": map[string]any{"network_id": w.netID, "name": o.name}}, &out)
		p := out.Port
		o.ret, o.status = w.now(), statusOf(err, 201)
		if o.ok() {
			o.id, o.ip, o.mac = p.ID, lab.FixedIP(p), p.MACAddress
			pool = append(pool, o)
		}
		w.record(o)
	}
}

// reader lists the network's ports every 500 ms, from each server in
// turn.
func (w *workload) reader(c int) {
	defer w.wg.Done()
	for i := 0; !w.stopped(); i++ {
		o := apiOp{client: c, kind: opList, call: w.now()}
		ports, err := w.listAt(w.urls[i%len(w.urls)])
		o.ret, o.status = w.now(), statusOf(err, 200)
		if err == nil {
			o.holders = holders(ports)
			w.record(o)
		}
		select {
		case <-w.stop:
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (w *workload) list() ([]model.Port, error) { return w.listAt(w.urls[0]) }

func (w *workload) listAt(base string) ([]model.Port, error) {
	var out struct{ Ports []model.Port }
	err := w.l.DoAt(base, "GET", "/v2.0/ports?"+url.Values{"network_id": {w.netID}}.Encode(), w.project, nil, &out)
	return out.Ports, err
}

func holders(ports []model.Port) map[string]string {
	m := make(map[string]string, 2*len(ports))
	for _, p := range ports {
		m["ip:"+lab.FixedIP(p)] = p.ID
		m["mac:"+p.MACAddress] = p.ID
	}
	return m
}

// finish stops the clients and returns the history.
func (w *workload) finish() []apiOp {
	close(w.stop)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	sort.Slice(w.ops, func(i, j int) bool { return w.ops[i].call < w.ops[j].call })
	return w.ops
}

// verdict is what the final state and the history say.
type verdict struct {
	creates, deletes, lists     int      // calls made
	succeeded, refused, unknown int      // answers: 2xx (and a delete's 404), other statuses, none
	lost                        []string // 2xx creates missing at the end
	changedByFailure            []string // refused calls whose effect is there
	reusedIP, reusedMAC         []string // addresses held twice at the end
	linearizable                porcupine.CheckResult
}

// check compares the history with the final list of the network's ports
// and checks the history for linearizability, per IP and per MAC.
func check(t *testing.T, ops []apiOp, final []model.Port) verdict {
	t.Helper()
	var v verdict
	byName := map[string]model.Port{}
	byID := map[string]model.Port{}
	seenIP, seenMAC := map[string]string{}, map[string]string{}
	for _, p := range final {
		byName[p.Name], byID[p.ID] = p, p
		ip := lab.FixedIP(p)
		if other, dup := seenIP[ip]; dup {
			v.reusedIP = append(v.reusedIP, fmt.Sprintf("%s held by %s and %s", ip, other, p.ID))
		}
		if other, dup := seenMAC[p.MACAddress]; dup {
			v.reusedMAC = append(v.reusedMAC, fmt.Sprintf("%s held by %s and %s", p.MACAddress, other, p.ID))
		}
		seenIP[ip], seenMAC[p.MACAddress] = p.ID, p.ID
	}
	live := map[string]bool{}  // ids that must exist at the end
	known := map[string]bool{} // ids the history explains
	var hist []porcupine.Operation
	add := func(o apiOp, in portIn, out portOut) {
		for _, key := range []string{"ip:" + o.ip, "mac:" + o.mac} {
			in.key = key
			hist = append(hist, porcupine.Operation{ClientId: o.client, Input: in, Call: o.call, Output: out, Return: o.ret})
		}
	}
	var end int64
	for _, o := range ops {
		end = max(end, o.ret)
		switch {
		case o.status == 0:
			v.unknown++
		case o.ok() || (o.kind == opDelete && o.status == 404):
			v.succeeded++
		default:
			v.refused++
		}
		switch o.kind {
		case opCreate:
			v.creates++
			switch {
			case o.ok():
				live[o.id], known[o.id] = true, true
				add(o, portIn{kind: opCreate, id: o.id}, portOut{status: o.status})
			case o.status == 0:
				// Unknown outcome: if the port is there, the create took
				// effect at some point after its call.
				if p, ok := byName[o.name]; ok {
					known[p.ID] = true
					o.id, o.ip, o.mac, o.ret = p.ID, lab.FixedIP(p), p.MACAddress, math.MaxInt64
					add(o, portIn{kind: opCreate, id: o.id}, portOut{status: 201})
				}
			default:
				if p, ok := byName[o.name]; ok {
					v.changedByFailure = append(v.changedByFailure, fmt.Sprintf("create %s answered %d but made %s", o.name, o.status, p.ID))
				}
			}
		case opDelete:
			v.deletes++
			if o.status == 204 || o.status == 404 {
				delete(live, o.id)
			}
			if o.status == 0 {
				o.ret = math.MaxInt64
			}
			add(o, portIn{kind: opDelete, id: o.id}, portOut{status: o.status})
		case opList:
			v.lists++
			for key := range keysOf(ops) {
				hist = append(hist, porcupine.Operation{ClientId: o.client, Input: portIn{kind: opList, key: key},
					Call: o.call, Output: portOut{status: 200, holder: o.holders[key]}, Return: o.ret})
			}
		}
	}
	for id := range live {
		if _, ok := byID[id]; !ok {
			v.lost = append(v.lost, id)
		}
	}
	for _, p := range final {
		if !known[p.ID] {
			v.changedByFailure = append(v.changedByFailure, fmt.Sprintf("port %s (%s) no successful call made", p.ID, p.Name))
		}
	}
	// The final list is the last read of every address.
	finalHolders := holders(final)
	for key := range keysOf(ops) {
		hist = append(hist, porcupine.Operation{ClientId: 1 << 20, Input: portIn{kind: opList, key: key},
			Call: end + 1, Output: portOut{status: 200, holder: finalHolders[key]}, Return: end + 2})
	}
	var info porcupine.LinearizationInfo
	v.linearizable, info = porcupine.CheckOperationsVerbose(portModel, hist, 60*time.Second)
	if v.linearizable == porcupine.Illegal {
		// Keep the history for a look (porcupine's visualisation): the
		// test bed's directory is gone by then.
		path := filepath.Join(os.TempDir(), fmt.Sprintf("wyvern-porcupine-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(portModel, info, path); err != nil {
			t.Logf("porcupine visualisation: %v", err)
		} else {
			t.Logf("the non-linearizable history, visualised: %s", path)
		}
	}
	return v
}

// keysOf is every address a create of the history was answered with.
func keysOf(ops []apiOp) map[string]bool {
	keys := map[string]bool{}
	for _, o := range ops {
		if o.kind == opCreate && o.ok() {
			keys["ip:"+o.ip], keys["mac:"+o.mac] = true, true
		}
	}
	return keys
}

// portIn and portOut are the model's operations: a create or delete of
// the port id holding address key, or a read of key's holder.
type portIn struct {
	kind    opKind
	key, id string
}

type portOut struct {
	status int
	holder string
}

// portModel is one address (an IP or a MAC, partitioned by key): its
// state is the port holding it, "" when free. A create succeeds only on
// a free address; a delete's 204 frees it and a 404 says the port does
// not hold it; a refused call changes nothing; a call without an answer
// may or may not have taken effect.
var portModel = (&porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, o := range h {
			k := o.Input.(portIn).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], o)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() []any { return []any{""} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(string), input.(portIn), output.(portOut)
		switch in.kind {
		case opCreate:
			if s == "" {
				return []any{in.id}
			}
		case opDelete:
			switch {
			case out.status == 204 && s == in.id:
				return []any{""}
			case out.status == 404 && s != in.id:
				return []any{s}
			case out.status == 0 && s == in.id:
				return []any{s, ""}
			case out.status != 204 && out.status != 404:
				return []any{s}
			}
		case opList:
			if s == out.holder {
				return []any{s}
			}
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(portIn), output.(portOut)
		return fmt.Sprintf("%v %s %s → %d %s", in.kind, in.key, in.id, out.status, out.holder)
	},
}).ToModel()

// successesAfter counts the successful creates invoked at or after at.
func (w *workload) successesAfter(at int64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, o := range w.ops {
		if o.kind == opCreate && o.ok() && o.call >= at {
			n++
		}
	}
	return n
}

// recovery is the time from at to the answer of the first successful
// create invoked at or after at.
func (w *workload) recovery(at int64) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	best := int64(-1)
	for _, o := range w.ops {
		if o.kind == opCreate && o.ok() && o.call >= at && (best < 0 || o.ret < best) {
			best = o.ret
		}
	}
	if best < 0 {
		return 0, false
	}
	return time.Duration(best - at), true
}
