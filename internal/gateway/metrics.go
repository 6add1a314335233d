package gateway

import (
	"context"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/metrics"
)

// bgpSource reads the speaker's sessions and routes for the gateway's
// Prometheus metrics (internal/metrics, at each scrape).
func bgpSource(s *bgp.Speaker) metrics.BGPSource {
	return func(ctx context.Context) ([]metrics.BGPPeer, int, error) {
		peers, err := s.Peers(ctx)
		if err != nil {
			return nil, 0, err
		}
		out := make([]metrics.BGPPeer, len(peers))
		for i, p := range peers {
			out[i] = metrics.BGPPeer{Address: p.Address.String(), State: p.State, Established: p.Established, Advertised: p.Advertised}
		}
		return out, len(s.Routes()), nil
	}
}
