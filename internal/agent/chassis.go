package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// register writes the chassis record (store.ChassisKey), and a heartbeat
// key (store.AliveKey) under a lease kept alive for as long as ctx lives;
// a gateway chassis also its record as a gateway candidate
// (store.GatewayChassisKey) under the same lease.
// When the agent dies the lease expires (ttl), the heartbeat goes and the
// API shows the chassis down; the record stays until an operator deletes
// the agent. It returns when the first registration is written.
func register(ctx context.Context, st Store, ch model.Chassis, ttl time.Duration) error {
	val, err := json.Marshal(ch)
	if err != nil {
		return fmt.Errorf("agent: encode chassis: %w", err)
	}
	leased := map[string]string{store.AliveKey(ch.Name): ch.StartedAt.Format(time.RFC3339)}
	if ch.Gateway {
		leased[store.GatewayChassisKey(ch.Name)] = string(val)
	}
	err = st.Register(ctx, ttl, map[string]string{store.ChassisKey(ch.Name): string(val)}, leased)
	if err != nil {
		return fmt.Errorf("agent: register chassis %s: %w", ch.Name, err)
	}
	return nil
}
