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

// applyFIPStatus applies one report: the floating IP becomes ACTIVE when
// it is still associated with the reported port (none for one with port
// forwardings) (its status, revision and
// update time change; every other stored field is kept), and the report
// goes, in one transaction.
func (s *Store) applyFIPStatus(ctx context.Context, key string) error {
	fipID := key[strings.LastIndex(key, "/")+1:]
	return s.Txn(ctx, func(tx *Tx) error {
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
	})
}

// ApplyFIPStatuses follows every chassis' floating IP reports and applies
// each (applyFIPStatus) until ctx ends. Every server runs it; applying a
// report twice changes nothing. A failed transaction is retried after a
// second.
func (s *Store) ApplyFIPStatuses(ctx context.Context, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ch := make(chan Event, 256)
	go s.Inform(ctx, 0, FIPStatusPrefix, ch, log)
	failed := map[string]bool{}
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		todo := map[string]bool{}
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
		case e := <-ch:
			if !e.Delete {
				for _, kv := range e.KVs {
					todo[kv.Key] = true
				}
			}
		}
		for k := range failed {
			todo[k] = true
		}
		failed = map[string]bool{}
		for k := range todo {
			if err := s.applyFIPStatus(ctx, k); err != nil && ctx.Err() == nil {
				log.Warn("floating IP status", "report", k, "err", err)
				failed[k] = true
			}
		}
		if len(failed) > 0 {
			retry.Reset(time.Second)
		}
	}
}
