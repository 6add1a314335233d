package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition: nil when it holds.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// checkTimeout bounds each readiness check.
const checkTimeout = 2 * time.Second

// Handler serves the registry in Prometheus' text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// Mount adds /metrics, /healthz (the process answers) and /readyz (every
// check holds: 200, else 503 naming the failed ones) to mux.
func Mount(mux *http.ServeMux, checks ...Check) {
	mux.Handle("GET /metrics", Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var failed []string
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			err := c.Fn(ctx)
			cancel()
			if err != nil {
				failed = append(failed, c.Name+": "+err.Error())
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(failed) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready\n"+strings.Join(failed, "\n"))
			return
		}
		fmt.Fprintln(w, "ok")
	})
}

// Instrument records API requests: count and latency by method, route and
// code. The route is the ServeMux pattern that served the request: the
// innermost one a handler reported with RecordRoute, else the outer mux's.
func Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rt := &route{}
		r = r.WithContext(context.WithValue(r.Context(), routeKey{}, rt))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		pattern := rt.pattern
		if pattern == "" {
			pattern = r.Pattern
		}
		if pattern == "" {
			pattern = "unmatched"
		}
		// A method-qualified pattern ("GET /v2.0/ports/{id}") carries the
		// method already: the route label is the path part.
		if _, p, ok := strings.Cut(pattern, " "); ok {
			pattern = p
		}
		APIRequests.WithLabelValues(r.Method, pattern, fmt.Sprint(sw.status)).Inc()
		APIRequestDuration.WithLabelValues(r.Method, pattern).Observe(time.Since(start).Seconds())
	})
}

type routeKey struct{}

type route struct{ pattern string }

// RecordRoute wraps an inner ServeMux (one mounted below another, behind a
// middleware that copies the request) so that Instrument labels requests
// with the inner pattern that matched.
func RecordRoute(inner http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		if rt, ok := r.Context().Value(routeKey{}).(*route); ok && r.Pattern != "" {
			rt.pattern = r.Pattern
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers (server-sent events) flush through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ChassisCounter counts the chassis alive (heartbeat keys) and registered.
type ChassisCounter func(ctx context.Context) (alive, registered int64, err error)

var (
	chassisMu      sync.Mutex
	chassisCounter ChassisCounter
)

// SetChassisCounter makes each scrape export wyvern_chassis_alive and
// wyvern_chassis_registered as counted by f (the server sets it; nil
// stops exporting them).
func SetChassisCounter(f ChassisCounter) {
	chassisMu.Lock()
	chassisCounter = f
	chassisMu.Unlock()
}

type chassisCollector struct{}

func (chassisCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- chassisAliveDesc
	ch <- chassisRegisteredDesc
}

func (chassisCollector) Collect(ch chan<- prometheus.Metric) {
	chassisMu.Lock()
	f := chassisCounter
	chassisMu.Unlock()
	if f == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	alive, reg, err := f(ctx)
	if err != nil {
		return // etcd unreachable: no value rather than a failed scrape
	}
	ch <- prometheus.MustNewConstMetric(chassisAliveDesc, prometheus.GaugeValue, float64(alive))
	ch <- prometheus.MustNewConstMetric(chassisRegisteredDesc, prometheus.GaugeValue, float64(reg))
}

func init() { Registry.MustRegister(chassisCollector{}) }
