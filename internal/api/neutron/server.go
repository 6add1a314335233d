// Package neutron serves Wyvern's Neutron v2.0 compatible REST API:
// networks, subnets, ports, routers, floating IPs, security groups and their
// rules, tags, extensions and quotas, on the logical model kept in etcd.
//
// Every request is scoped to the caller's project (admins see all), every
// logical change is one etcd transaction, and every failure is answered in
// Neutron's error format and changes nothing.
package neutron

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Config holds the API's policy knobs.
type Config struct {
	// Segment ranges for tenant networks, by network type (geneve, vxlan,
	// vlan); ids are allocated from these.
	GeneveRange [2]int
	VXLANRange  [2]int
	VLANRange   [2]int
	// VLANRanges are the VLAN ranges by physical network (Neutron's
	// network_vlan_ranges, provider.go); nil: any physical network takes
	// any id of VLANRange.
	VLANRanges VLANRanges
	// DefaultNetworkType is used when a tenant creates a network without
	// provider attributes.
	DefaultNetworkType string
	// GlobalMTU is the underlay MTU; tunnel overheads are subtracted.
	GlobalMTU int
	// BaseMAC is the first three octets of allocated MACs ("fa:16:3e").
	BaseMAC string
	// Quotas are the defaults for every project.
	Quotas Quotas
	// PublicURL overrides the base URL used in links.
	PublicURL string
	// StoreTimeout bounds each read's store work (0:
	// DefaultStoreTimeout; negative: none); past it the read is a 503.
	StoreTimeout time.Duration
}

// DefaultConfig is what `wyvern server` uses without flags.
func DefaultConfig() Config {
	return Config{
		// Disjoint and below 2^16: agents use the segmentation id as the
		// network's conntrack zone.
		GeneveRange:        [2]int{1, 32767},
		VXLANRange:         [2]int{32768, 65535},
		VLANRange:          [2]int{1, 4094},
		DefaultNetworkType: "geneve",
		GlobalMTU:          1500,
		BaseMAC:            "fa:16:3e",
		Quotas:             DefaultQuotas(),
	}
}

// Server is the Neutron API. It holds no state of its own beyond caches:
// several may serve one etcd.
type Server struct {
	store *store.Store
	cfg   Config
	log   *slog.Logger
	// collections are the resources served, in the API reference's order;
	// resources indexes them by collection name.
	collections []*resource
	resources   map[string]*resource
	usage       usageCache
}

// New returns the API on st.
func New(st *store.Store, cfg Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{store: st, cfg: cfg, log: log, resources: map[string]*resource{}}
	// To serve a new collection, write its resource in its own file and
	// add it here.
	s.collections = []*resource{
		networksResource(s),
		subnetsResource(s),
		subnetPoolsResource(s),
		portsResource(s),
		routersResource(s),
		floatingIPsResource(s),
		securityGroupsResource(s),
		securityGroupRulesResource(s),
		addressScopesResource(s),
		addressGroupsResource(s),
		meteringLabelsResource(s),
		meteringRulesResource(s),
		qosPoliciesResource(s),
	}
	for _, res := range s.collections {
		s.resources[res.collection] = res
	}
	return s
}

// Register adds the API's routes to mux. wrap (the token middleware, or
// the admin-granting one of --noauth) is applied to every /v2.0 route and
// must put an auth.Principal in the request's context: a /v2.0 request
// without one is refused with 401, whatever wrap is (nil included). The
// version document stays open.
func (s *Server) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	inner := http.NewServeMux()
	for _, res := range s.collections {
		s.register(inner, res)
	}
	inner.HandleFunc("GET /v2.0/{$}", s.handleResources)
	inner.HandleFunc("GET /v2.0/extensions", s.handleExtensions)
	inner.HandleFunc("GET /v2.0/extensions/{alias}", s.handleExtension)
	s.registerQuotas(inner)
	s.registerAgents(inner)
	inner.HandleFunc("/v2.0/", unrouted(inner))
	h := s.authenticated(metrics.RecordRoute(inner))
	if wrap != nil {
		h = wrap(h)
	}
	h = s.withStoreTimeout(h)
	mux.Handle("/v2.0/", h)
	mux.Handle("/v2.0", http.RedirectHandler("/v2.0/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /{$}", s.handleVersions)
}

// unrouted answers what no route of mux takes, in Neutron's format rather
// than net/http's plain text: 405 with an Allow header when the path is
// served with other methods, else 404.
func unrouted(mux *http.ServeMux) http.HandlerFunc {
	const catchAll = "/v2.0/"
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != catchAll && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, neutronError("HTTPMethodNotAllowed",
				"The method "+r.Method+" is not allowed for this resource."))
			return
		}
		writeJSON(w, http.StatusNotFound, neutronError("HTTPNotFound", "The resource could not be found."))
	}
}

// requestBase returns the externally visible base URL of a request.
func (s *Server) requestBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
		"id": "v2.0", "status": "CURRENT",
		"links": []any{map[string]string{"rel": "self", "href": s.requestBase(r) + "/v2.0/"}},
	}}})
}

func (s *Server) handleResources(w http.ResponseWriter, r *http.Request) {
	var out []any
	names := make([]string, 0, len(s.resources))
	for n := range s.resources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		res := s.resources[n]
		out = append(out, map[string]any{"name": res.singular, "collection": res.collection,
			"links": []any{map[string]string{"rel": "self", "href": s.requestBase(r) + "/v2.0/" + res.collection}}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": out})
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func decodeJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return BadRequest("Failed to read request body: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return BadRequest("Malformed request body: %v", err)
	}
	return nil
}
