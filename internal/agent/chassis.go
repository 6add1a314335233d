package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// register writes the chassis record, and a heartbeat key under a lease
// kept alive for as long as ctx lives. When the agent dies the lease
// expires (ttl), the heartbeat goes and the API shows the chassis down;
// the record stays until an operator deletes the agent. It returns when
// the first registration is written.
func register(ctx context.Context, st *store.Store, ch model.Chassis, ttl time.Duration) error {
	cli := st.Client()
	val, err := json.Marshal(ch)
	if err != nil {
		return fmt.Errorf("agent: encode chassis: %w", err)
	}
	grant := func() (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
		lease, err := cli.Grant(ctx, int64(ttl/time.Second))
		if err != nil {
			return 0, nil, fmt.Errorf("agent: lease: %w", err)
		}
		_, err = cli.Txn(ctx).Then(
			clientv3.OpPut(store.ChassisKey(ch.Name), string(val)),
			clientv3.OpPut(store.AliveKey(ch.Name), ch.StartedAt.Format(time.RFC3339), clientv3.WithLease(lease.ID)),
		).Commit()
		if err != nil {
			return 0, nil, fmt.Errorf("agent: register chassis: %w", err)
		}
		ka, err := cli.KeepAlive(ctx, lease.ID)
		if err != nil {
			return 0, nil, fmt.Errorf("agent: keepalive: %w", err)
		}
		return lease.ID, ka, nil
	}
	_, ka, err := grant()
	if err != nil {
		return err
	}
	go func() {
		for {
			for range ka {
			}
			// The keepalive channel closes when the lease is lost (etcd
			// restarted, long partition) or ctx ends: register again.
			for {
				if ctx.Err() != nil {
					return
				}
				var err error
				_, ka, err = grant()
				if err == nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
	}()
	return nil
}
