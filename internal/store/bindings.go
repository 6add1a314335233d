package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Port bindings. A chassis says where a port is plugged by writing its own
// key, never the port record (OVN's Port_Binding, owned by its chassis):
//
//	bindings/<chassis>/<port>         the chassis' binding (model.PortBinding), written by its agent
//	scoped/<net>/bindings/<port>      the port's binding as every reader sees it: the winning
//	                                  chassis' record with "chassis" and "hosts" (every chassis
//	                                  holding a binding of the port), written by the server
//
// With etcd's authentication a chassis may write only under
// bindings/<chassis>/ (see ChassisRole), so no chassis can move another's
// port. The server mirrors the bindings (MirrorBindings) into the scope
// of the port's network, which agents already watch, so a binding reaches
// only the chassis that hold the network. The API reports the mirror as
// the port's binding:host_id, status and binding:vif_type. A port record
// an older agent bound (binding:host_id and status in the record) is read
// as it is, until the server moves its binding into the chassis' key at
// start (api/neutron's MigrateBindings).

// BindingsPrefix holds every chassis' bindings.
const BindingsPrefix = Prefix + "bindings/"

// BindingsOf is the prefix of the bindings a chassis writes.
func BindingsOf(chassis string) string { return BindingsPrefix + chassis + "/" }

// BindingKey is chassis' binding of a port.
func BindingKey(chassis, portID string) string { return BindingsOf(chassis) + portID }

// bindingScope is the kind of the mirrors within a network's scope.
const bindingScope = "bindings"

// BindingMirrorKey is the mirror of a port's binding in its network's
// scope (ScopedOf), written by MirrorBindings.
func BindingMirrorKey(netID, portID string) string {
	return ScopedOf(netID) + bindingScope + "/" + portID
}

// ParseBindingMirror splits a key under ScopedPrefix into the network and
// port of a binding's mirror; ok is false for any other scoped key.
func ParseBindingMirror(key string) (netID, portID string, ok bool) {
	rest, found := strings.CutPrefix(key, ScopedPrefix)
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[1] != bindingScope || parts[0] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// parseBindingKey splits a key under BindingsPrefix.
func parseBindingKey(key string) (chassis, portID string, ok bool) {
	rest, found := strings.CutPrefix(key, BindingsPrefix)
	if !found {
		return "", "", false
	}
	chassis, portID, ok = strings.Cut(rest, "/")
	return chassis, portID, ok && chassis != "" && portID != "" && !strings.Contains(portID, "/")
}

// bindingRecord is what the mirror reads of a binding.
type bindingRecord struct {
	Status string `json:"status"`
}

// mirrorRecord is what a port deletion reads of the mirror.
type mirrorRecord struct {
	Hosts []string `json:"hosts"`
}

// WriteBinding writes chassis' binding of portID (a model.PortBinding,
// encoded) unless it already holds exactly that: one transaction on the
// chassis' own key, which is all an enrolled chassis may write there.
func (s *Store) WriteBinding(ctx context.Context, chassis, portID string, binding any) error {
	b, err := json.Marshal(binding)
	if err != nil {
		return fmt.Errorf("store: encode binding: %w", err)
	}
	return s.Update(ctx, BindingKey(chassis, portID), func(cur []byte) ([]byte, error) {
		if string(cur) == string(b) {
			return nil, nil
		}
		return b, nil
	})
}

// winner picks, among a port's bindings, the one the port reports: an
// ACTIVE one before any other, then the most recently written (a port
// moving to another chassis is bound there before its old chassis lets it
// go).
func winner(bs map[string]*KV) string {
	best := ""
	var bestActive bool
	var bestRev int64
	for c, kv := range bs {
		var r bindingRecord
		_ = json.Unmarshal(kv.Value, &r)
		active := r.Status == "ACTIVE"
		if best == "" || active && !bestActive || active == bestActive && (kv.ModRevision > bestRev || kv.ModRevision == bestRev && c < best) {
			best, bestActive, bestRev = c, active, kv.ModRevision
		}
	}
	return best
}

// mirrorValue is the mirror of a port's bindings: the winner's record with
// its chassis and every chassis holding one. ok is false without bindings.
func mirrorValue(bs map[string]*KV) (string, bool) {
	w := winner(bs)
	if w == "" {
		return "", false
	}
	rec := map[string]json.RawMessage{}
	_ = json.Unmarshal(bs[w].Value, &rec)
	rec["chassis"], _ = json.Marshal(w)
	hosts := make([]string, 0, len(bs))
	for c := range bs {
		hosts = append(hosts, c)
	}
	slices.Sort(hosts)
	rec["hosts"], _ = json.Marshal(hosts)
	b, _ := json.Marshal(rec)
	return string(b), true
}

// mirrorPort makes the mirror of portID's bindings match the bindings of
// the chassis in hosts (those the caller knows of; a binding of another
// chassis arrives as an event of its own), in one transaction guarded by
// every key it read. The bindings of a port that no longer exists are
// deleted.
func (s *Store) mirrorPort(ctx context.Context, portID string, hosts []string) error {
	return s.Txn(ctx, func(tx *Tx) error {
		netID := tx.GetString(IndexKey(KindPorts, portID))
		keys := make([]string, 0, len(hosts)+1)
		for _, c := range hosts {
			keys = append(keys, BindingKey(c, portID))
		}
		if netID != "" {
			keys = append(keys, BindingMirrorKey(netID, portID))
		}
		tx.Prefetch(keys...)
		bs := map[string]*KV{}
		for _, c := range hosts {
			k := BindingKey(c, portID)
			if kv := tx.reads[k]; kv != nil {
				bs[c] = &KV{Key: k, Value: kv.Value, ModRevision: kv.ModRevision}
			}
		}
		if netID == "" {
			for _, kv := range bs {
				tx.Delete(kv.Key)
			}
			return nil
		}
		mk := BindingMirrorKey(netID, portID)
		cur, had := tx.value(mk)
		want, ok := mirrorValue(bs)
		switch {
		case !ok && had:
			tx.Delete(mk)
		case ok && cur != want:
			tx.PutString(mk, want)
		}
		return nil
	})
}

// MirrorBindings follows every chassis' bindings and keeps their mirrors
// in the scopes of the ports' networks (BindingMirrorKey), one transaction
// for each port whose bindings changed, until ctx ends. Every server runs
// it; the transactions are idempotent, so several servers agree. A failed
// transaction is retried with the next event or after a second.
func (s *Store) MirrorBindings(ctx context.Context, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ch := make(chan Event, 256)
	go s.Inform(ctx, 0, BindingsPrefix, ch, log)
	hosts := map[string]map[string]bool{} // port -> chassis with a binding
	failed := map[string]bool{}
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	fold := func(e Event, dirty map[string]bool) {
		if e.Reset {
			for p := range hosts {
				dirty[p] = true
			}
			hosts = map[string]map[string]bool{}
		}
		for _, kv := range e.KVs {
			c, p, ok := parseBindingKey(kv.Key)
			if !ok {
				continue
			}
			dirty[p] = true
			if e.Delete {
				delete(hosts[p], c)
				if len(hosts[p]) == 0 {
					delete(hosts, p)
				}
				continue
			}
			if hosts[p] == nil {
				hosts[p] = map[string]bool{}
			}
			hosts[p][c] = true
		}
		if e.Reset {
			// A full listing: only the ports whose mirror differs
			// cost a transaction.
			s.pruneClean(ctx, e.KVs, dirty)
		}
	}
	for {
		dirty := map[string]bool{}
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
		case e := <-ch:
			fold(e, dirty)
			// Fold in what is already queued: a port changed twice
			// is mirrored once.
			drain(ch, func(e Event) { fold(e, dirty) })
		}
		for p := range failed {
			dirty[p] = true
		}
		failed = s.mirrorPorts(ctx, dirty, hosts, log)
		if len(failed) > 0 {
			retry.Reset(time.Second)
		}
	}
}

// mirrorParallel bounds the mirror transactions in flight: each port's is
// independent of the others', and one at a time (three round trips each)
// left a cold start's bindings queued behind one another for minutes.
const mirrorParallel = 16

// mirrorPorts mirrors the dirty ports' bindings (hosts: port → chassis),
// mirrorParallel at a time, and returns those that failed.
func (s *Store) mirrorPorts(ctx context.Context, dirty map[string]bool, hosts map[string]map[string]bool, log *slog.Logger) map[string]bool {
	var mu sync.Mutex
	failed := map[string]bool{}
	sem := make(chan struct{}, mirrorParallel)
	var wg sync.WaitGroup
	for p := range dirty {
		cs := make([]string, 0, len(hosts[p]))
		for c := range hosts[p] {
			cs = append(cs, c)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.mirrorPort(ctx, p, cs); err != nil && ctx.Err() == nil {
				log.Warn("binding mirror", "port", p, "err", err)
				mu.Lock()
				failed[p] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// pruneClean removes from dirty the ports whose mirror already matches the
// listed bindings, reading the mirrors of every network in one listing; a
// port with a mirror but no binding stays dirty, so its mirror goes.
func (s *Store) pruneClean(ctx context.Context, listed []KV, dirty map[string]bool) {
	mirrors, _, err := s.List(ctx, ScopedPrefix)
	if err != nil {
		return // every port stays dirty
	}
	byPort := map[string]map[string]*KV{}
	for i := range listed {
		c, p, ok := parseBindingKey(listed[i].Key)
		if !ok {
			continue
		}
		if byPort[p] == nil {
			byPort[p] = map[string]*KV{}
		}
		byPort[p][c] = &listed[i]
	}
	for _, m := range mirrors {
		_, p, ok := ParseBindingMirror(m.Key)
		if !ok {
			continue
		}
		dirty[p] = true
		if want, ok := mirrorValue(byPort[p]); ok && want == string(m.Value) {
			delete(dirty, p)
			delete(byPort, p)
		}
	}
}

// deriveBindings adds to a transaction that deletes ports the deletion of
// their binding mirrors and of every chassis' binding the mirrors name,
// so a deleted port leaves no binding behind, whoever deletes it.
func (t *Tx) deriveBindings() {
	portsPrefix := Prefix + KindPorts + "/"
	var mirrors []string
	for k, w := range t.writes {
		if w != nil || !strings.HasPrefix(k, portsPrefix) {
			continue
		}
		netID, portID, ok := strings.Cut(k[len(portsPrefix):], "/")
		if !ok || strings.Contains(portID, "/") {
			continue
		}
		mirrors = append(mirrors, BindingMirrorKey(netID, portID))
	}
	if len(mirrors) == 0 {
		return
	}
	t.fetch(mirrors...)
	for _, mk := range mirrors {
		raw, had := t.value(mk)
		if !had {
			continue
		}
		_, portID, _ := ParseBindingMirror(mk)
		var m mirrorRecord
		_ = json.Unmarshal([]byte(raw), &m)
		for _, c := range m.Hosts {
			t.Delete(BindingKey(c, portID))
		}
		t.Delete(mk)
	}
}

// drain hands f every event already queued on ch, without waiting.
func drain(ch <-chan Event, f func(Event)) {
	for {
		select {
		case e := <-ch:
			f(e)
		default:
			return
		}
	}
}
