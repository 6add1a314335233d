package neutron

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// resource is one Neutron collection. The generic handlers in this file do
// what every collection shares — scoping by project, list conventions,
// standard attributes, revisions and If-Match, tags, quotas, bulk create —
// and call these functions for what is particular to the collection. Every
// function that takes a *store.Tx runs inside the single etcd transaction
// of the request and may run more than once (on conflict), so it must have
// no other side effects.
type resource struct {
	collection string // "networks"
	singular   string // "network"
	kind       string // "Network", for NotFound and quotas
	// list returns every object of the collection.
	list func(ctx context.Context) ([]model.Object, error)
	// prepare, when set, runs once a list request is known to succeed,
	// before its answer: what Neutron does on a look at the collection
	// (a project's default security group). It reports whether it wrote,
	// and then the list is read again. A refused list writes nothing.
	prepare func(ctx context.Context) (bool, error)
	// load reads one object inside a transaction; it returns nil, nil when
	// the object does not exist.
	load func(tx *store.Tx, id string) (model.Object, error)
	// save writes an object inside a transaction.
	save func(tx *store.Tx, o model.Object) error
	// prefetch, when set, reads in one round trip, before load, the keys
	// an update of object id with attributes a will read (the object's
	// own, and those of what the attributes name), so that the update
	// costs fewer round trips. It only reads.
	prefetch func(tx *store.Tx, id string, a attrs)
	// prefetchCreate, when set, reads in few round trips, before the
	// objects are created, the keys that creating them reads by what
	// their attributes name, and may draw ahead what they allocate at
	// random (drawn.go, carried by the context it returns): a bulk create
	// then costs about as many round trips as one. It only reads.
	prefetchCreate func(ctx context.Context, tx *store.Tx, items []attrs) (context.Context, error)
	// visible decides whether a non-admin caller may see o; nil means only
	// objects of the caller's project.
	visible func(p auth.Principal, o model.Object) bool
	// create validates attributes and writes a new object (and whatever
	// else it allocates). The generic code has filled std.
	create func(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error)
	// update applies attributes to a copy of cur and writes it.
	update func(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error)
	// remove deletes cur and what hangs off it, or fails with a 409.
	remove func(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error
	// page, when set, reads one page in id order straight from the store
	// (objects after marker, at most limit, and whether more follow); the
	// list handler uses it for an admin's plain paginated listing instead
	// of reading the whole collection.
	page func(ctx context.Context, marker string, limit int) ([]model.Object, bool, error)
	// extra registers collection-specific routes (router interfaces).
	extra func(s *Server, mux *http.ServeMux)
	// adminOnly says only admins may see (and so change) the collection's
	// objects, whatever their project: Neutron's policy for metering.
	adminOnly bool
	// readOnly are the collection's attributes an update may not name,
	// beyond the standard ones. Like Neutron, which checks a body against
	// the attribute map before it reads the object, they are refused with
	// a 400 even when the object does not exist for the caller.
	readOnly []string
}

// bodyKey is the collection's name in JSON bodies: Neutron writes
// "security_groups" where the URL says "security-groups".
// A collection under a path ("metering/metering-labels") is named by its
// last element.
func (res *resource) bodyKey() string {
	return strings.ReplaceAll(res.collection[strings.LastIndex(res.collection, "/")+1:], "-", "_")
}

// now is the current time as Neutron's timestamps write it.
func now() string { return model.Timestamp(time.Now()) }

func (s *Server) canSee(res *resource, p auth.Principal, o model.Object) bool {
	if res.adminOnly {
		return p.Admin
	}
	if p.Admin || o.Std().ProjectID == p.ProjectID {
		return true
	}
	return res.visible != nil && res.visible(p, o)
}

// owns reports whether p may change o: admins, and members of o's project.
func owns(p auth.Principal, o model.Object) bool { return p.Admin || o.Std().ProjectID == p.ProjectID }

// principal is the caller of r. Register refuses every request that
// carries none (see authenticated), so handlers always get the principal
// the auth middleware put there; were one reached without it, the zero
// Principal has no project and no admin rights.
func principal(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}

// authenticated refuses, with a 401, a request that carries no principal:
// a missing auth middleware must never make the caller an admin. Only the
// middleware of --noauth installs an admin principal without a token.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.FromContext(r.Context()); !ok {
			s.writeError(w, r, Unauthorized())
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) register(mux *http.ServeMux, res *resource) {
	base := "/v2.0/" + res.collection
	mux.HandleFunc("GET "+base, s.handleList(res))
	mux.HandleFunc("POST "+base, s.handleCreate(res))
	mux.HandleFunc("GET "+base+"/{id}", s.handleShow(res))
	mux.HandleFunc("PUT "+base+"/{id}", s.handleUpdate(res))
	mux.HandleFunc("DELETE "+base+"/{id}", s.handleDelete(res))
	mux.HandleFunc("GET "+base+"/{id}/tags", s.handleTags(res))
	mux.HandleFunc("PUT "+base+"/{id}/tags", s.handleTags(res))
	mux.HandleFunc("DELETE "+base+"/{id}/tags", s.handleTags(res))
	mux.HandleFunc("GET "+base+"/{id}/tags/{tag}", s.handleTags(res))
	mux.HandleFunc("PUT "+base+"/{id}/tags/{tag}", s.handleTags(res))
	mux.HandleFunc("DELETE "+base+"/{id}/tags/{tag}", s.handleTags(res))
	if res.extra != nil {
		res.extra(s, mux)
	}
}

// get reads a visible object outside a transaction.
func (s *Server) get(ctx context.Context, res *resource, p auth.Principal, id string) (model.Object, error) {
	var o model.Object
	err := s.store.Txn(ctx, func(tx *store.Tx) error {
		var err error
		o, err = res.load(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if o == nil || !s.canSee(res, p, o) {
		return nil, NotFound(res.kind, id)
	}
	return o, nil
}

func (s *Server) handleShow(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, err := s.get(r.Context(), res, principal(r), r.PathValue("id"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		v, err := project(o, r.URL.Query()["fields"])
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{res.singular: v})
	}
}

func (s *Server) handleCreate(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		items, bulk, err := decodeBody(r, res.singular, res.bodyKey())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx := r.Context()
		stds := make([]model.Standard, len(items))
		perProject := map[string]int{}
		for i, a := range items {
			project, err := a.project(p.ProjectID, p.Admin)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			t := now()
			stds[i] = model.Standard{ID: newID(), ProjectID: project, TenantID: project, CreatedAt: t, UpdatedAt: t, Tags: []string{}, RevisionNumber: 0}
			perProject[project]++
		}
		for project, n := range perProject {
			if err := s.checkQuota(ctx, project, res, n); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		out := make([]model.Object, len(items))
		err = s.store.Txn(ctx, func(tx *store.Tx) error {
			ctx := ctx
			if res.prefetchCreate != nil {
				var err error
				if ctx, err = res.prefetchCreate(ctx, tx, items); err != nil {
					return err
				}
			}
			for i, a := range items {
				o, err := res.create(ctx, tx, p, stds[i], a)
				if err != nil {
					return err
				}
				tx.PutString(ownerKey(o.Std().ProjectID, res.collection, o.Std().ID), "")
				out[i] = o
			}
			return nil
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if bulk {
			vs := make([]any, len(out))
			for i, o := range out {
				vs[i] = o
			}
			writeJSON(w, http.StatusCreated, map[string]any{res.bodyKey(): vs})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{res.singular: out[0]})
	}
}

// ifMatch parses "If-Match: revision_number=N"; ok is false when absent.
func ifMatch(r *http.Request) (int64, bool, error) {
	var rev int64
	found := false
	for _, h := range r.Header.Values("If-Match") {
		for _, part := range strings.Split(h, ",") {
			part = strings.TrimSpace(part)
			v, ok := strings.CutPrefix(part, "revision_number=")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, false, BadRequest("Invalid If-Match header: %s", part)
			}
			rev, found = n, true
		}
	}
	return rev, found, nil
}

// touch bumps the standard attributes of an object being changed.
func touch(o model.Object) {
	st := o.Std()
	st.RevisionNumber++
	st.UpdatedAt = now()
}

func (s *Server) handleUpdate(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		id := r.PathValue("id")
		want, check, err := ifMatch(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		items, bulk, err := decodeBody(r, res.singular, "")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if bulk || len(items) != 1 {
			s.writeError(w, r, BadRequest("Bulk update is not supported"))
			return
		}
		a := items[0]
		for _, ro := range append([]string{"id", "project_id", "tenant_id", "created_at", "updated_at", "revision_number"}, res.readOnly...) {
			if a.has(ro) {
				s.writeError(w, r, BadRequest("Cannot update read-only attribute %s", ro))
				return
			}
		}
		ctx := r.Context()
		var out model.Object
		err = s.store.Txn(ctx, func(tx *store.Tx) error {
			if res.prefetch != nil {
				res.prefetch(tx, id, a)
			}
			cur, err := res.load(tx, id)
			if err != nil {
				return err
			}
			if cur == nil || !s.canSee(res, p, cur) {
				return NotFound(res.kind, id)
			}
			if !owns(p, cur) {
				return NotFound(res.kind, id)
			}
			if check && cur.Std().RevisionNumber != want {
				return PreconditionFailed()
			}
			o, err := res.update(ctx, tx, p, cur, a)
			if err != nil {
				return err
			}
			out = o
			return nil
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{res.singular: out})
	}
}

func (s *Server) handleDelete(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		id := r.PathValue("id")
		want, check, err := ifMatch(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx := r.Context()
		err = s.store.Txn(ctx, func(tx *store.Tx) error {
			cur, err := res.load(tx, id)
			if err != nil {
				return err
			}
			if cur == nil || !s.canSee(res, p, cur) || !owns(p, cur) {
				return NotFound(res.kind, id)
			}
			if check && cur.Std().RevisionNumber != want {
				return PreconditionFailed()
			}
			tx.Delete(ownerKey(cur.Std().ProjectID, res.collection, id))
			return res.remove(ctx, tx, p, cur)
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleTags serves the standard-attr-tag API on one resource.
func (s *Server) handleTags(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		id, tag := r.PathValue("id"), r.PathValue("tag")
		if r.Method == http.MethodGet {
			o, err := s.get(r.Context(), res, p, id)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			tags := o.Std().Tags
			if tag == "" {
				writeJSON(w, http.StatusOK, map[string]any{"tags": nonNil(tags)})
				return
			}
			for _, t := range tags {
				if t == tag {
					w.WriteHeader(http.StatusNoContent)
					return
				}
			}
			s.writeError(w, r, newError(http.StatusNotFound, "TagNotFound", "Tag %s could not be found for %s %s.", tag, res.singular, id))
			return
		}
		var replace []string
		if r.Method == http.MethodPut && tag == "" {
			var body struct {
				Tags *[]string `json:"tags"`
			}
			if err := decodeJSON(r, &body); err != nil || body.Tags == nil {
				s.writeError(w, r, BadRequest("Invalid input: body must be {\"tags\": [...]}"))
				return
			}
			replace = *body.Tags
		}
		for _, t := range append(replace, tag) {
			if len(t) > 255 || strings.Contains(t, ",") {
				s.writeError(w, r, InvalidInput("'%s' is not a valid tag", t))
				return
			}
		}
		var out model.Object
		err := s.store.Txn(r.Context(), func(tx *store.Tx) error {
			cur, err := res.load(tx, id)
			if err != nil {
				return err
			}
			if cur == nil || !s.canSee(res, p, cur) || !owns(p, cur) {
				return NotFound(res.kind, id)
			}
			st := cur.Std()
			switch {
			case r.Method == http.MethodPut && tag == "":
				st.Tags = dedupe(replace)
			case r.Method == http.MethodPut:
				st.Tags = dedupe(append(st.Tags, tag))
			case r.Method == http.MethodDelete && tag == "":
				st.Tags = []string{}
			default:
				found := false
				kept := []string{}
				for _, t := range st.Tags {
					if t == tag {
						found = true
					} else {
						kept = append(kept, t)
					}
				}
				if !found {
					return newError(http.StatusNotFound, "TagNotFound", "Tag %s could not be found for %s %s.", tag, res.singular, id)
				}
				st.Tags = kept
			}
			touch(cur)
			out = cur
			return res.save(tx, cur)
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case tag != "":
			w.WriteHeader(http.StatusCreated)
		default:
			writeJSON(w, http.StatusOK, map[string]any{"tags": out.Std().Tags})
		}
	}
}

func dedupe(in []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range in {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ownerKey indexes every object by project, so quotas count with one
// count-only range read.
func ownerKey(project, collection, id string) string {
	return store.Prefix + "owner/" + project + "/" + collection + "/" + id
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
