package metrics

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The floating-IP gateway's BGP speaker, read at each scrape.
var (
	bgpSessionUpDesc = prometheus.NewDesc("wyvern_gateway_bgp_session_up",
		"1 when the BGP session with the peer is established, else 0.", []string{"peer", "state"}, nil)
	bgpAdvertisedDesc = prometheus.NewDesc("wyvern_gateway_bgp_routes_advertised",
		"Routes advertised to the peer.", []string{"peer"}, nil)
	bgpAnnouncedDesc = prometheus.NewDesc("wyvern_gateway_bgp_routes_announced",
		"Routes (floating IPs as /32) the gateway's speaker announces.", nil, nil)
)

// BGPPeer is one BGP session as the speaker reports it.
type BGPPeer struct {
	Address     string
	State       string // idle, connect, active, opensent, openconfirm, established
	Established bool
	Advertised  uint64
}

// BGPSource reads the speaker's sessions and the number of routes it
// announces.
type BGPSource func(ctx context.Context) (peers []BGPPeer, announced int, err error)

var (
	bgpMu     sync.Mutex
	bgpSource BGPSource
)

// SetBGPSource makes each scrape export the gateway's BGP metrics from f
// (the gateway sets it once its speaker runs; nil stops exporting them).
func SetBGPSource(f BGPSource) {
	bgpMu.Lock()
	bgpSource = f
	bgpMu.Unlock()
}

// BGPStarted reports whether a BGP source is set: the gateway's speaker
// runs (readiness).
func BGPStarted() bool {
	bgpMu.Lock()
	defer bgpMu.Unlock()
	return bgpSource != nil
}

type bgpCollector struct{}

func (bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- bgpSessionUpDesc
	ch <- bgpAdvertisedDesc
	ch <- bgpAnnouncedDesc
}

func (bgpCollector) Collect(ch chan<- prometheus.Metric) {
	bgpMu.Lock()
	f := bgpSource
	bgpMu.Unlock()
	if f == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	peers, announced, err := f(ctx)
	if err != nil {
		return
	}
	for _, p := range peers {
		up := 0.0
		if p.Established {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(bgpSessionUpDesc, prometheus.GaugeValue, up, p.Address, p.State)
		ch <- prometheus.MustNewConstMetric(bgpAdvertisedDesc, prometheus.GaugeValue, float64(p.Advertised), p.Address)
	}
	ch <- prometheus.MustNewConstMetric(bgpAnnouncedDesc, prometheus.GaugeValue, float64(announced))
}

func init() { Registry.MustRegister(bgpCollector{}) }
