package gateway

import (
	"context"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
)

// Route is one announcement.
type Route = bgp.Route

// Announcer is what the gateway needs of its BGP speaker (a *bgp.Speaker;
// a *bgp.Fake in tests): a declarative set of routes.
type Announcer interface {
	Set(ctx context.Context, routes []Route) error
}
