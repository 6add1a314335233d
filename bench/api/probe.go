package main

import (
	"context"
	"fmt"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// serialResult is the uncontended cost of one create and of the etcd
// round trips it is made of, all from one client, one request at a time.
type serialResult struct {
	Create  Summary // one port create, one client
	EtcdGet Summary // one linearizable single-key Range on the embedded etcd
	EtcdPut Summary // one blind write transaction (a raft proposal, WAL write and, with fsync, a sync)
	// etcd requests per uncontended create, from etcd's own counters.
	Range, Txn, Other float64
}

// serialProbe times n serial creates, then n serial etcd Gets and Puts on
// a key outside Wyvern's prefix, straight against the embedded etcd.
func serialProbe(ctx context.Context, s *serverProc, c *client, netID string, n int) (serialResult, error) {
	var res serialResult
	before, err := s.etcdMetrics(ctx)
	if err != nil {
		return res, err
	}
	cr := createPorts(ctx, c, netID, 1, n, 0)
	if cr.errCount() > 0 {
		return res, fmt.Errorf("serial creates failed: %v", cr.Errors)
	}
	after, err := s.etcdMetrics(ctx)
	if err != nil {
		return res, err
	}
	res.Create = cr.Lat
	res.Range, res.Txn, res.Other = perCreate(before, after, n)

	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := store.Dial(dctx, []string{s.EtcdURL})
	cancel()
	if err != nil {
		return res, fmt.Errorf("etcd client: %w", err)
	}
	defer st.Close()
	const key = "/bench-probe/key"
	put := func(v string) error {
		return st.Txn(ctx, func(tx *store.Tx) error { tx.PutString(key, v); return nil })
	}
	if err := put("x"); err != nil {
		return res, fmt.Errorf("etcd put: %w", err)
	}
	gets := make([]time.Duration, 0, n)
	puts := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if _, err := st.GetString(ctx, key); err != nil {
			return res, fmt.Errorf("etcd get: %w", err)
		}
		gets = append(gets, time.Since(t0))
		t0 = time.Now()
		if err := put(fmt.Sprint(i)); err != nil {
			return res, fmt.Errorf("etcd put: %w", err)
		}
		puts = append(puts, time.Since(t0))
	}
	res.EtcdGet, res.EtcdPut = summarize(gets), summarize(puts)
	return res, nil
}

// perCreate returns the etcd gRPC requests per create between two scrapes.
func perCreate(before, after metrics, creates int) (rng, txn, other float64) {
	const h = "grpc_server_handled_total"
	total := delta(before, after, h+"{grpc_service=etcdserverpb.KV}")
	rng = delta(before, after, h+"{grpc_method=Range}")
	txn = delta(before, after, h+"{grpc_method=Txn}")
	n := float64(creates)
	return rng / n, txn / n, (total - rng - txn) / n
}
