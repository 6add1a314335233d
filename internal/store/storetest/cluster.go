package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Leader asks each endpoint of a cluster for its status and returns the
// endpoint of the member that is the leader, as its members see it. It
// fails while the cluster has no leader (an election, no quorum).
func Leader(ctx context.Context, endpoints []string) (string, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second})
	if err != nil {
		return "", fmt.Errorf("storetest: etcd client: %w", err)
	}
	defer cli.Close()
	var errs []error
	for _, ep := range endpoints {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := cli.Status(sctx, ep)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Leader != 0 && st.Leader == st.Header.MemberId {
			return ep, nil
		}
	}
	return "", fmt.Errorf("storetest: no leader among %v: %w", endpoints, errors.Join(errs...))
}

// CompactCluster compacts the history of the cluster at endpoints up to
// its current revision (physically, as etcd's periodic compaction would)
// and returns that revision: a watch from an older revision then fails
// with a compaction error.
func CompactCluster(ctx context.Context, endpoints []string) (int64, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("storetest: etcd client: %w", err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, store.Prefix, clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("storetest: read revision: %w", err)
	}
	rev := resp.Header.Revision
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, fmt.Errorf("storetest: compact at %d: %w", rev, err)
	}
	return rev, nil
}

// MemberStatus asks the member at endpoint for its status: its own member
// id and the id of the leader it follows (zero without a leader).
func MemberStatus(ctx context.Context, endpoint string) (member, leader uint64, err error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: time.Second})
	if err != nil {
		return 0, 0, fmt.Errorf("storetest: etcd client: %w", err)
	}
	defer cli.Close()
	st, err := cli.Status(ctx, endpoint)
	if err != nil {
		return 0, 0, fmt.Errorf("storetest: status of %s: %w", endpoint, err)
	}
	return st.Header.MemberId, st.Leader, nil
}
