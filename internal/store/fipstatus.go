package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Floating IP statuses. A chassis that has programmed a floating IP's NAT
// says so in its own key, fip_status/<chassis>/<floating IP> (the port it
// programmed it for), never in the floating IP's record: with etcd's
// authentication a chassis may write no record of the model (see
// Grants). Every server follows these reports (ApplyFIPStatuses) and marks
// the floating IP ACTIVE, in one transaction that also deletes the
// report.

// FIPStatusPrefix holds the reports of every chassis.
const FIPStatusPrefix = Prefix + "fip_status/"

// FIPStatusOf is the prefix of the reports a chassis writes.
func FIPStatusOf(chassis string) string { return FIPStatusPrefix + chassis + "/" }

// FIPStatusKey is chassis' report on floating IP fipID.
func FIPStatusKey(chassis, fipID string) string { return FIPStatusOf(chassis) + fipID }

// FIPStatusReport is what a chassis reports of a floating IP: it has
// programmed it for this port.
type FIPStatusReport struct {
	PortID string `json:"port_id"`
}

// applyFIPStatuses applies reports (keys under FIPStatusPrefix) in one
// transaction: each floating IP becomes ACTIVE when it is still
// associated with the reported port (none for one with port forwardings)
// (its status, revision and update time change; every other stored field
// is kept), and each report goes. The reports and their floating IPs are
// read in one round trip.
func (s *Store) applyFIPStatuses(ctx context.Context, keys []string) error {
	fipOf := func(key string) string { return key[strings.LastIndex(key, "/")+1:] }
	return s.Txn(ctx, func(tx *Tx) error {
		read := make([]string, 0, 2*len(keys))
		for _, k := range keys {
			read = append(read, k, ObjectKey(KindFloatingIPs, fipOf(k)))
		}
		tx.Prefetch(read...)
		for _, key := range keys {
			if err := applyFIPStatus(tx, key, fipOf(key)); err != nil {
				return err
			}
		}
		return nil
	})
}

// applyFIPStatus applies one report inside tx.
func applyFIPStatus(tx *Tx, key, fipID string) error {
	var rep FIPStatusReport
	ok, err := tx.Get(key, &rep)
	tx.Delete(key)
	if err != nil || !ok {
		return nil // gone, or not a report: dropped
	}
	raw := tx.GetString(ObjectKey(KindFloatingIPs, fipID))
	if raw == "" {
		return nil
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return fmt.Errorf("store: decode floating IP %s: %w", fipID, err)
	}
	var cur struct {
		Status   string `json:"status"`
		PortID   string `json:"port_id"`
		Revision int64  `json:"revision_number"`
	}
	if err := json.Unmarshal([]byte(raw), &cur); err != nil {
		return fmt.Errorf("store: decode floating IP %s: %w", fipID, err)
	}
	if cur.Status == "ACTIVE" || cur.PortID != rep.PortID {
		return nil
	}
	rec["status"], _ = json.Marshal("ACTIVE")
	rec["revision_number"], _ = json.Marshal(cur.Revision + 1)
	rec["updated_at"], _ = json.Marshal(time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	out, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store: encode floating IP %s: %w", fipID, err)
	}
	tx.PutString(ObjectKey(KindFloatingIPs, fipID), string(out))
	return nil
}

// fipStatusBatch is how many reports one transaction applies at most.
const fipStatusBatch = 64

// ApplyFIPStatuses follows every chassis' floating IP reports and applies
// them (applyFIPStatuses), what has queued up at once, up to
// fipStatusBatch reports a transaction (one report at a time after a
// failure, so one bad report holds no other back), until ctx ends. Every
// server runs it; applying a report twice changes nothing. A failed
// report is retried after a second.
func (s *Store) ApplyFIPStatuses(ctx context.Context, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ch := make(chan Event, 256)
	go s.Inform(ctx, 0, FIPStatusPrefix, ch, log)
	failed := map[string]bool{}
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	take := func(todo map[string]bool, e Event) {
		if !e.Delete {
			for _, kv := range e.KVs {
				todo[kv.Key] = true
			}
		}
	}
	for {
		todo := map[string]bool{}
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
		case e := <-ch:
			take(todo, e)
			drain(ch, func(e Event) { take(todo, e) })
		}
		alone := failed
		failed = map[string]bool{}
		var batch []string
		for k := range todo {
			if !alone[k] {
				batch = append(batch, k)
			}
		}
		apply := func(keys []string) {
			if err := s.applyFIPStatuses(ctx, keys); err != nil && ctx.Err() == nil {
				if len(keys) == 1 {
					log.Warn("floating IP status", "report", keys[0], "err", err)
				}
				for _, k := range keys {
					failed[k] = true
				}
			}
		}
		for len(batch) > 0 {
			n := min(len(batch), fipStatusBatch)
			apply(batch[:n])
			batch = batch[n:]
		}
		for k := range alone {
			apply([]string{k})
		}
		if len(failed) > 0 {
			retry.Reset(time.Second)
		}
	}
}
