// Package metrics declares every Prometheus metric Wyvern exports, in one
// place, so that their names, labels and help live side by side (the Grafana
// dashboard in docs/ is checked against Names). It also serves /metrics,
// /healthz and /readyz for the server and the agent (Mount).
//
// The metrics are process-wide, registered on Registry. Packages record
// into them with one-line hooks (metrics.APIRequests.WithLabelValues(...)).
package metrics

import (
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Registry holds Wyvern's metrics, the Go runtime's and the process'.
var Registry = prometheus.NewRegistry()

// Latency buckets: API and etcd calls are milliseconds; syncs and lags may
// take seconds.
var (
	fastBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	slowBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// The API (wyvern server).
var (
	// APIRequests counts requests by method, route pattern (the ServeMux
	// pattern, never the raw path) and status code.
	APIRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_api_requests_total",
		Help: "API requests served, by method, route pattern and status code.",
	}, []string{"method", "route", "code"})
	// APIRequestDuration is the latency of requests by method and route.
	APIRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wyvern_api_request_duration_seconds", Buckets: fastBuckets,
		Help: "Time to serve an API request, by method and route pattern.",
	}, []string{"method", "route"})
	// ChassisAlive is the number of chassis whose agent holds its
	// heartbeat lease, read from etcd at each scrape (see ChassisCollector).
	chassisAliveDesc = prometheus.NewDesc("wyvern_chassis_alive",
		"Chassis whose agent holds its heartbeat lease.", nil, nil)
	chassisRegisteredDesc = prometheus.NewDesc("wyvern_chassis_registered",
		"Chassis registered in etcd, alive or not.", nil, nil)
)

// The store (etcd), in every process.
var (
	// StoreTxns counts optimistic transactions by outcome: committed, or
	// aborted (an error from the transaction's function or from etcd).
	StoreTxns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_store_txns_total",
		Help: "Store transactions finished, by result (committed, aborted).",
	}, []string{"result"})
	// StoreTxnConflicts counts commits refused because a key read changed.
	StoreTxnConflicts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wyvern_store_txn_conflicts_total",
		Help: "Transaction commits refused by etcd because a key read or guarded changed.",
	})
	// StoreTxnRetries counts attempts re-run after a conflict.
	StoreTxnRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wyvern_store_txn_retries_total",
		Help: "Transaction attempts re-run on fresh data after a conflict.",
	})
	// EtcdRequestDuration is the latency of each etcd gRPC call, by
	// method (Range, Txn, Put, LeaseGrant, ...).
	EtcdRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wyvern_etcd_request_duration_seconds", Buckets: fastBuckets,
		Help: "Latency of etcd requests, by gRPC method.",
	}, []string{"method"})
	// EtcdRequestErrors counts etcd calls that failed, by method.
	EtcdRequestErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_etcd_request_errors_total",
		Help: "etcd requests that returned an error, by gRPC method.",
	}, []string{"method"})
	// WatchEvents counts informer events received, by type: reset (a
	// complete listing), put or delete.
	WatchEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_watch_events_total",
		Help: "Informer events received from etcd, by type (reset, put, delete).",
	}, []string{"type"})
)

// The agent.
var (
	// AgentSyncs counts syncs (compile and reconcile) by result.
	AgentSyncs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_agent_syncs_total",
		Help: "Agent syncs (compile, then reconcile br-int), by result (ok, error).",
	}, []string{"result"})
	// AgentSyncDuration is a sync's time, by phase: compile (view and
	// sections) or bundle (diff and OpenFlow bundle).
	AgentSyncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wyvern_agent_sync_duration_seconds", Buckets: slowBuckets,
		Help: "Time of an agent sync, by phase (compile, bundle).",
	}, []string{"phase"})
	// AgentSections counts compiled pipeline sections by outcome:
	// recompiled, or reused because their inputs' fingerprint was unchanged.
	AgentSections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_agent_sections_total",
		Help: "Pipeline sections per sync, by outcome (recompiled, reused).",
	}, []string{"outcome"})
	// AgentFlows is the number of flows installed on br-int, by table.
	AgentFlows = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wyvern_agent_flows",
		Help: "Flows the agent has installed on br-int, by table name.",
	}, []string{"table"})
	// AgentBundles counts OpenFlow bundles by result: applied or refused
	// by the switch.
	AgentBundles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_agent_bundles_total",
		Help: "OpenFlow bundles sent to br-int, by result (applied, refused).",
	}, []string{"result"})
	// AgentSyncRetries counts syncs retried after a failure.
	AgentSyncRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wyvern_agent_sync_retries_total",
		Help: "Agent syncs retried after a failed one (refused bundle, lost switch).",
	})
	// AgentWatchLag is the time from an informer receiving a change to the
	// flows reflecting it being installed.
	AgentWatchLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "wyvern_agent_watch_apply_lag_seconds", Buckets: slowBuckets,
		Help: "Time from a watch event's arrival to the sync that applied it.",
	})
	// AgentAppliedRevision is the etcd revision of the last change the
	// agent applied.
	AgentAppliedRevision = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wyvern_agent_applied_revision",
		Help: "etcd revision of the newest watch event applied by the agent.",
	})
	// AgentPortsBound is the number of local ports bound to this chassis.
	AgentPortsBound = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wyvern_agent_ports_bound",
		Help: "Ports plugged into br-int on this chassis and bound to it.",
	})
	// AgentPacketIns counts packet-ins from br-int.
	AgentPacketIns = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wyvern_agent_packet_ins_total",
		Help: "Packet-ins received from br-int.",
	})
	// AgentPacketInsDropped counts packet-ins dropped because the agent
	// was behind.
	AgentPacketInsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wyvern_agent_packet_ins_dropped_total",
		Help: "Packet-ins dropped because the agent's queue was full.",
	})
	// AgentDHCP counts DHCP requests by result: replied, or unanswered
	// (unknown port or MAC, malformed, or a failed packet-out).
	AgentDHCP = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wyvern_agent_dhcp_requests_total",
		Help: "DHCP requests answered by the agent, by result (replied, unanswered).",
	}, []string{"result"})
	// AgentPeersAlive is the number of gateway chassis the agent sees
	// alive: the only liveness it follows (gateway elections).
	AgentPeersAlive = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wyvern_agent_gateways_alive",
		Help: "Gateway chassis the agent sees alive (their registrations under their agents' leases), itself included when it is one.",
	})
)

// all is every Wyvern collector, registered once.
var all = []prometheus.Collector{
	APIRequests, APIRequestDuration,
	StoreTxns, StoreTxnConflicts, StoreTxnRetries, EtcdRequestDuration, EtcdRequestErrors, WatchEvents,
	AgentSyncs, AgentSyncDuration, AgentSections, AgentFlows, AgentBundles, AgentSyncRetries,
	AgentWatchLag, AgentAppliedRevision, AgentPortsBound, AgentPacketIns,
	AgentPacketInsDropped, AgentDHCP, AgentPeersAlive,
	AgentMeteringPackets, AgentMeteringBytes,
}

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	Registry.MustRegister(all...)
}

// Names returns the name of every Wyvern metric (without the _bucket,
// _sum and _count series of histograms), sorted, whether or not it has a
// value yet.
func Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range all {
			c.Describe(ch)
		}
		chassisCollector{}.Describe(ch)
		bgpCollector{}.Describe(ch)
		close(ch)
	}()
	var out []string
	for d := range ch {
		// Desc has no accessor for its name; its String has fqName: "...".
		s := d.String()
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			s = s[i+len(`fqName: "`):]
			out = append(out, s[:strings.IndexByte(s, '"')])
		}
	}
	sort.Strings(out)
	return out
}

// Value returns the sum of the values of c's series (counters and
// gauges), for tests and the demo's summary.
func Value(c prometheus.Collector) float64 {
	var sum float64
	each(c, func(m *dto.Metric) {
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		}
	})
	return sum
}

// SampleCount returns the number of observations in c's histograms.
func SampleCount(c prometheus.Collector) uint64 {
	var n uint64
	each(c, func(m *dto.Metric) {
		if m.Histogram != nil {
			n += m.Histogram.GetSampleCount()
		}
	})
	return n
}

func each(c prometheus.Collector, fn func(*dto.Metric)) {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil {
			fn(&d)
		}
	}
}
