package neutron

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Quotas are per-project limits by collection; -1 means unlimited.
type Quotas map[string]int

// quotaNames maps the quota API's names to collections.
var quotaNames = map[string]string{
	"network": "networks", "subnet": "subnets", "port": "ports", "router": "routers",
	"floatingip": "floatingips", "security_group": "security-groups",
	"security_group_rule": "security-group-rules", "subnetpool": "subnetpools",
}

// DefaultQuotas are Neutron's defaults.
func DefaultQuotas() Quotas {
	return Quotas{"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
		"security_group": 10, "security_group_rule": 100, "subnetpool": -1}
}

func quotaKey(project string) string { return store.ObjectKey(store.KindQuotas, project) }

// quotas returns the effective limits of a project.
func (s *Server) quotas(ctx context.Context, project string) (Quotas, error) {
	q := Quotas{}
	for k, v := range s.cfg.Quotas {
		q[k] = v
	}
	var over Quotas
	if _, err := s.store.Get(ctx, quotaKey(project), &over); err != nil && !isNotFound(err) {
		return nil, err
	}
	for k, v := range over {
		q[k] = v
	}
	return q, nil
}

// checkQuota fails with 409 OverQuota when adding n objects of res to
// project would pass its limit. The count is read, not reserved: concurrent
// creates may pass the limit by the number in flight, as with Neutron's
// default quota driver.
func (s *Server) checkQuota(ctx context.Context, project string, res *resource, n int) error {
	name := ""
	for qn, coll := range quotaNames {
		if coll == res.collection {
			name = qn
		}
	}
	if name == "" {
		return nil
	}
	q, err := s.quotas(ctx, project)
	if err != nil {
		return err
	}
	limit, ok := q[name]
	if !ok || limit < 0 {
		return nil
	}
	key := project + "/" + res.collection
	if s.usage.admit(key, n, limit, time.Now()) {
		return nil
	}
	prefix := store.Prefix + "owner/" + project + "/" + res.collection + "/"
	count, err := s.store.Count(ctx, prefix)
	if err != nil {
		return fmt.Errorf("neutron: %w", err)
	}
	if int(count)+n > limit {
		return Conflict("OverQuota", "Quota exceeded for resources: ['%s'].", name)
	}
	s.usage.record(key, int(count)+n, time.Now())
	return nil
}

// usageCache saves the count of a project's objects (an etcd range scan
// whose cost grows with the project) on every create. It remembers a
// recent exact count plus what this server admitted since, and admits
// without counting only while that stays well below the limit: near the
// limit every create counts exactly. Other servers' creates are seen at the
// next count, at most usageTTL later; deletes only make the cache
// conservative.
type usageCache struct {
	mu   sync.Mutex
	used map[string]usage
}

type usage struct {
	count int
	at    time.Time
}

// usageTTL bounds how long a count is trusted.
const usageTTL = 5 * time.Second

// admit reports whether n more objects fit far enough below limit on the
// cached count, and records them if so.
func (c *usageCache) admit(key string, n, limit int, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.used[key]
	slack := max(limit/10, 8)
	if !ok || now.Sub(u.at) > usageTTL || u.count+n > limit-slack {
		return false
	}
	u.count += n
	c.used[key] = u
	return true
}

// record stores an exact count (including the n being admitted).
func (c *usageCache) record(key string, count int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used == nil {
		c.used = map[string]usage{}
	}
	c.used[key] = usage{count: count, at: now}
}

func (s *Server) registerQuotas(mux *http.ServeMux) {
	mux.HandleFunc("GET /v2.0/quotas", func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		if !p.Admin {
			q, err := s.quotas(r.Context(), p.ProjectID)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"quotas": []any{withProject(q, p.ProjectID)}})
			return
		}
		kvs, _, err := s.store.List(r.Context(), store.KindPrefix(store.KindQuotas))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := []any{}
		for _, kv := range kvs {
			project := strings.TrimPrefix(kv.Key, store.KindPrefix(store.KindQuotas))
			q, err := s.quotas(r.Context(), project)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			out = append(out, withProject(q, project))
		}
		writeJSON(w, http.StatusOK, map[string]any{"quotas": out})
	})
	show := func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		project := r.PathValue("project")
		if !p.Admin && project != p.ProjectID {
			s.writeError(w, r, Forbidden("Non-admin is not authorized to access quotas for another project"))
			return
		}
		var q Quotas
		var err error
		if strings.HasSuffix(r.URL.Path, "/default") {
			q = s.cfg.Quotas
		} else {
			q, err = s.quotas(r.Context(), project)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/details.json") || strings.HasSuffix(r.URL.Path, "/details") {
			det := map[string]any{}
			for name, limit := range q {
				coll := quotaNames[name]
				used, err := s.store.Count(r.Context(), store.Prefix+"owner/"+project+"/"+coll+"/")
				if err != nil {
					s.writeError(w, r, err)
					return
				}
				det[name] = map[string]int{"limit": limit, "used": int(used), "reserved": 0}
			}
			writeJSON(w, http.StatusOK, map[string]any{"quota": det})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"quota": q})
	}
	mux.HandleFunc("GET /v2.0/quotas/{project}", show)
	mux.HandleFunc("GET /v2.0/quotas/{project}/default", show)
	mux.HandleFunc("GET /v2.0/quotas/{project}/details", show)
	mux.HandleFunc("GET /v2.0/quotas/{project}/details.json", show)
	mux.HandleFunc("PUT /v2.0/quotas/{project}", func(w http.ResponseWriter, r *http.Request) {
		if !principal(r).Admin {
			s.writeError(w, r, Forbidden("Only admin can update quotas"))
			return
		}
		project := r.PathValue("project")
		var body struct {
			Quota map[string]any `json:"quota"`
		}
		if err := decodeJSON(r, &body); err != nil || body.Quota == nil {
			s.writeError(w, r, BadRequest("Malformed request body: expected {\"quota\": {...}}"))
			return
		}
		// "check_limit" (neutron-lib's quota-check-limit) asks that a limit
		// below the project's usage be refused, "force" that it be set
		// anyway; without either, as in Neutron, it is set.
		var flags [2]bool
		for i, k := range []string{"check_limit", "force"} {
			raw, ok := body.Quota[k]
			if !ok {
				continue
			}
			b, ok := raw.(bool)
			if !ok {
				s.writeError(w, r, InvalidInput("'%v' cannot be converted to boolean for %s", raw, k))
				return
			}
			flags[i] = b
			delete(body.Quota, k)
		}
		checkLimit := flags[0] && !flags[1]
		upd := Quotas{}
		for k, v := range body.Quota {
			if _, ok := quotaNames[k]; !ok {
				s.writeError(w, r, BadRequest("Unrecognized attribute(s) '%s'", k))
				return
			}
			// Neutron converts the value to an integer and checks it is in
			// [-1, 2^31-1], the range of its database column.
			n, ok := v.(float64)
			if str, isStr := v.(string); isStr {
				i, err := strconv.Atoi(strings.TrimSpace(str))
				n, ok = float64(i), err == nil
			}
			if !ok || n != float64(int(n)) {
				s.writeError(w, r, badAttr(k, "'%v' is not an integer", v))
				return
			}
			if n < -1 || n > math.MaxInt32 {
				s.writeError(w, r, badAttr(k, "'%v' is not in range -1 through %d", v, math.MaxInt32))
				return
			}
			upd[k] = int(n)
			if checkLimit && n >= 0 {
				used, err := s.store.Count(r.Context(), store.Prefix+"owner/"+project+"/"+quotaNames[k]+"/")
				if err != nil {
					s.writeError(w, r, err)
					return
				}
				if int(used) > int(n) {
					s.writeError(w, r, BadRequest("Quota limit %d for %s must be greater than or equal to already used %d", int(n), k, used))
					return
				}
			}
		}
		var q Quotas
		err := s.store.Txn(r.Context(), func(tx *store.Tx) error {
			cur := Quotas{}
			if _, err := tx.Get(quotaKey(project), &cur); err != nil {
				return err
			}
			for k, v := range upd {
				cur[k] = v
			}
			q = cur
			return tx.Put(quotaKey(project), cur)
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		eff, err := s.quotas(r.Context(), project)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		_ = q
		writeJSON(w, http.StatusOK, map[string]any{"quota": eff})
	})
	mux.HandleFunc("DELETE /v2.0/quotas/{project}", func(w http.ResponseWriter, r *http.Request) {
		if !principal(r).Admin {
			s.writeError(w, r, Forbidden("Only admin can delete quotas"))
			return
		}
		project := r.PathValue("project")
		err := s.store.Txn(r.Context(), func(tx *store.Tx) error {
			// Neutron's quota driver answers 404 TenantQuotaNotFound when
			// the project has no quota of its own to delete.
			if !tx.Exists(quotaKey(project)) {
				return newError(http.StatusNotFound, "TenantQuotaNotFound", "Quota for tenant %s could not be found.", project)
			}
			tx.Delete(quotaKey(project))
			return nil
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func withProject(q Quotas, project string) map[string]any {
	m := map[string]any{"project_id": project, "tenant_id": project}
	for k, v := range q {
		m[k] = v
	}
	return m
}
