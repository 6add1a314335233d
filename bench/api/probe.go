package main

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// serialResult is the uncontended cost of one create and of the etcd
// round trips it is made of, all from one client, one request at a time.
type serialResult struct {
	Create  Summary // one port create, one client
	EtcdGet Summary // one linearizable single-key Range on the embedded etcd
	EtcdPut Summary // one Put (a raft proposal, WAL write and, with fsync, a sync)
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

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.EtcdURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		return res, fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()
	const key = "/bench-probe/key"
	if _, err := cli.Put(ctx, key, "x"); err != nil {
		return res, fmt.Errorf("etcd put: %w", err)
	}
	gets := make([]time.Duration, 0, n)
	puts := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if _, err := cli.Get(ctx, key); err != nil {
			return res, fmt.Errorf("etcd get: %w", err)
		}
		gets = append(gets, time.Since(t0))
		t0 = time.Now()
		if _, err := cli.Put(ctx, key, fmt.Sprint(i)); err != nil {
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
