package keystone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"golang.org/x/crypto/bcrypt"
)

// The identity admin subset: domains, projects, users, roles and role
// assignments, for an admin token. What the API creates lives in etcd,
// one transaction per change; the users file's entries are read-only.

// storedProject is a project created through the API.
type storedProject struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

// storedUser is a user created through the API.
type storedUser struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Hash             string `json:"hash,omitempty"`
	Enabled          bool   `json:"enabled"`
	Email            string `json:"email,omitempty"`
	Description      string `json:"description,omitempty"`
	DefaultProjectID string `json:"default_project_id,omitempty"`
}

// storedRole is a role created through the API.
type storedRole struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func newHexID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// getStored reads one stored entry; ok is false when absent.
func (s *Service) getStored(ctx context.Context, key string, v any) (bool, error) {
	if _, err := s.st.Get(ctx, key, v); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// view merges the users file's identity with the entries stored in etcd.
func (s *Service) view(ctx context.Context) (*identity, error) {
	id := &identity{
		usersByID:     map[string]*user{},
		usersByName:   map[string]*user{},
		projectByID:   map[string]*project{},
		projectByName: map[string]*project{},
	}
	for k, p := range s.id.projectByID {
		id.projectByID[k] = p
		id.projectByName[p.Name] = p
	}
	for k, u := range s.id.usersByID {
		c := *u
		c.roles = map[string][]string{}
		for p, rs := range u.roles {
			c.roles[p] = append([]string(nil), rs...)
		}
		id.usersByID[k] = &c
		id.usersByName[c.Name] = &c
	}
	if s.st == nil {
		return id, nil
	}
	projects, _, err := store.ListOf[storedProject](ctx, s.st, store.KindPrefix(store.KindIdentityProjects))
	if err != nil {
		return nil, err
	}
	for _, sp := range projects {
		p := &project{ID: sp.ID, Name: sp.Name, Enabled: sp.Enabled, Description: sp.Description, stored: true}
		id.projectByID[p.ID] = p
		id.projectByName[p.Name] = p
	}
	users, _, err := store.ListOf[storedUser](ctx, s.st, store.KindPrefix(store.KindIdentityUsers))
	if err != nil {
		return nil, err
	}
	for _, su := range users {
		u := &user{ID: su.ID, Name: su.Name, Hash: []byte(su.Hash), Enabled: su.Enabled, roles: map[string][]string{}, stored: &su}
		if su.Hash == "" {
			u.Hash = dummyHash // no password: no login
		}
		id.usersByID[u.ID] = u
		id.usersByName[u.Name] = u
	}
	kvs, _, err := s.st.List(ctx, store.KindPrefix(store.KindIdentityAssignments))
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		parts := strings.Split(strings.TrimPrefix(kv.Key, store.KindPrefix(store.KindIdentityAssignments)), "/")
		if len(parts) != 3 {
			continue
		}
		if u := id.usersByID[parts[1]]; u != nil {
			u.roles[parts[0]] = append(u.roles[parts[0]], parts[2])
		}
	}
	return id, nil
}

// roles lists the built-in roles and the stored ones.
func (s *Service) roles(ctx context.Context) ([]storedRole, error) {
	out := []storedRole{}
	for _, n := range roleOrder {
		out = append(out, storedRole{ID: RoleID(n), Name: n})
	}
	rs, _, err := store.ListOf[storedRole](ctx, s.st, store.KindPrefix(store.KindIdentityRoles))
	if err != nil {
		return nil, err
	}
	return append(out, rs...), nil
}

func (s *Service) registerAdmin(mux *http.ServeMux) {
	h := func(pattern string, f func(w http.ResponseWriter, r *http.Request, id *identity)) {
		mux.HandleFunc(pattern, s.adminOnly(f))
	}
	h("GET /v3/domains", s.listDomains)
	h("GET /v3/domains/{id}", s.showDomain)
	h("GET /v3/projects", s.listProjects)
	h("POST /v3/projects", s.createProject)
	h("GET /v3/projects/{id}", s.showProject)
	h("PATCH /v3/projects/{id}", s.updateProject)
	h("DELETE /v3/projects/{id}", s.deleteProject)
	h("GET /v3/users", s.listUsers)
	h("POST /v3/users", s.createUser)
	h("GET /v3/users/{id}", s.showUser)
	h("PATCH /v3/users/{id}", s.updateUser)
	h("DELETE /v3/users/{id}", s.deleteUser)
	h("GET /v3/roles", s.listRoles)
	h("POST /v3/roles", s.createRole)
	h("GET /v3/roles/{id}", s.showRole)
	h("GET /v3/projects/{p}/users/{u}/roles", s.listGrants)
	h("PUT /v3/projects/{p}/users/{u}/roles/{r}", s.putGrant)
	h("GET /v3/projects/{p}/users/{u}/roles/{r}", s.checkGrant)
	h("DELETE /v3/projects/{p}/users/{u}/roles/{r}", s.deleteGrant)
	h("GET /v3/role_assignments", s.listAssignments)
}

// adminOnly serves f for a valid token with the admin role: 401 without
// one, 403 for any other role.
func (s *Service) adminOnly(f func(w http.ResponseWriter, r *http.Request, id *identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.Validate(r.Context(), r.Header.Get("X-Auth-Token"))
		if errors.Is(err, ErrInvalidToken) {
			s.unauthorized(w, r)
			return
		}
		if err != nil {
			unavailable(w)
			return
		}
		if !tok.HasRole(RoleAdmin) {
			keystoneError(w, http.StatusForbidden, "Forbidden", "You are not authorized to perform the requested action: "+r.Method+" "+r.URL.Path+".")
			return
		}
		id, err := s.view(r.Context())
		if err != nil {
			s.log.Error("identity view", "err", err)
			unavailable(w)
			return
		}
		f(w, r, id)
	}
}

func notFound(w http.ResponseWriter, kind, id string) {
	keystoneError(w, http.StatusNotFound, "Not Found", fmt.Sprintf("Could not find %s: %s.", kind, id))
}

func conflict(w http.ResponseWriter, kind, name string) {
	keystoneError(w, http.StatusConflict, "Conflict",
		fmt.Sprintf("Conflict occurred attempting to store %s - Duplicate entry found with name %s at domain ID %s.", kind, name, DefaultDomainID))
}

func (s *Service) link(r *http.Request, path string) map[string]any {
	return map[string]any{"self": s.BaseURL(r) + "/v3/" + path}
}

func (s *Service) collectionLinks(r *http.Request, path string) map[string]any {
	return map[string]any{"self": s.BaseURL(r) + "/v3/" + path, "previous": nil, "next": nil}
}

// decode reads {"<key>": {...}} into v.
func decode(w http.ResponseWriter, r *http.Request, key string, v any) bool {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&body); err != nil {
		badRequest(w, "Malformed request body: "+err.Error())
		return false
	}
	raw, ok := body[key]
	if !ok {
		badRequest(w, fmt.Sprintf("Invalid input for field '%s': required.", key))
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		badRequest(w, "Invalid input for field '"+key+"': "+err.Error())
		return false
	}
	return true
}

func (s *Service) txn(w http.ResponseWriter, r *http.Request, fn func(tx *store.Tx) error) bool {
	if err := s.st.Txn(r.Context(), fn); err != nil {
		s.log.Error("identity write", "err", err)
		unavailable(w)
		return false
	}
	return true
}

// Domains: only the default domain exists.

func (s *Service) domainJSON(r *http.Request) map[string]any {
	return map[string]any{"id": DefaultDomainID, "name": DefaultDomainName, "description": "The default domain",
		"enabled": true, "tags": []string{}, "options": map[string]any{}, "links": s.link(r, "domains/"+DefaultDomainID)}
}

func (s *Service) listDomains(w http.ResponseWriter, r *http.Request, _ *identity) {
	out := []any{}
	if n := r.URL.Query().Get("name"); n == "" || n == DefaultDomainName {
		out = append(out, s.domainJSON(r))
	}
	writeJSON(w, http.StatusOK, map[string]any{"domains": out, "links": s.collectionLinks(r, "domains")})
}

func (s *Service) showDomain(w http.ResponseWriter, r *http.Request, _ *identity) {
	if id := r.PathValue("id"); id != DefaultDomainID {
		notFound(w, "domain", id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"domain": s.domainJSON(r)})
}

// Projects.

func (s *Service) projectJSON(r *http.Request, p *project) map[string]any {
	return map[string]any{"id": p.ID, "name": p.Name, "description": p.Description, "enabled": p.Enabled,
		"domain_id": DefaultDomainID, "parent_id": DefaultDomainID, "is_domain": false, "tags": []string{},
		"options": map[string]any{}, "links": s.link(r, "projects/"+p.ID)}
}

func (s *Service) listProjects(w http.ResponseWriter, r *http.Request, id *identity) {
	q := r.URL.Query()
	out := []any{}
	for _, p := range sortedProjects(id) {
		if n := q.Get("name"); n != "" && n != p.Name {
			continue
		}
		if d := q.Get("domain_id"); d != "" && d != DefaultDomainID {
			continue
		}
		if e := q.Get("enabled"); e != "" && (e == "true" || e == "True") != p.Enabled {
			continue
		}
		out = append(out, s.projectJSON(r, p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out, "links": s.collectionLinks(r, "projects")})
}

func sortedProjects(id *identity) []*project {
	ps := make([]*project, 0, len(id.projectByID))
	for _, p := range id.projectByID {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
}

type projectBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Enabled     *bool   `json:"enabled"`
	DomainID    *string `json:"domain_id"`
}

func (s *Service) createProject(w http.ResponseWriter, r *http.Request, id *identity) {
	var b projectBody
	if !decode(w, r, "project", &b) {
		return
	}
	if b.Name == nil || *b.Name == "" || len(*b.Name) > 64 {
		badRequest(w, "Invalid input for field 'name': a name of 1 to 64 characters is required.")
		return
	}
	if b.DomainID != nil && *b.DomainID != DefaultDomainID {
		notFound(w, "domain", *b.DomainID)
		return
	}
	if id.projectByName[*b.Name] != nil {
		conflict(w, "project", *b.Name)
		return
	}
	sp := storedProject{ID: newHexID(), Name: *b.Name, Enabled: b.Enabled == nil || *b.Enabled}
	if b.Description != nil {
		sp.Description = *b.Description
	}
	if !s.putNamed(w, r, "project", "", sp.Name, sp.ID, store.IdentityProjectKey(sp.ID), sp) {
		return
	}
	p := &project{ID: sp.ID, Name: sp.Name, Enabled: sp.Enabled, Description: sp.Description}
	writeJSON(w, http.StatusCreated, map[string]any{"project": s.projectJSON(r, p)})
}

func (s *Service) showProject(w http.ResponseWriter, r *http.Request, id *identity) {
	p := id.projectByID[r.PathValue("id")]
	if p == nil {
		notFound(w, "project", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": s.projectJSON(r, p)})
}

func (s *Service) updateProject(w http.ResponseWriter, r *http.Request, id *identity) {
	p := id.projectByID[r.PathValue("id")]
	if p == nil {
		notFound(w, "project", r.PathValue("id"))
		return
	}
	if !p.stored {
		keystoneError(w, http.StatusForbidden, "Forbidden", "Project "+p.Name+" is defined in the users file and is read-only.")
		return
	}
	var b projectBody
	if !decode(w, r, "project", &b) {
		return
	}
	sp := storedProject{ID: p.ID, Name: p.Name, Description: p.Description, Enabled: p.Enabled}
	if b.Name != nil && *b.Name != p.Name {
		if *b.Name == "" || len(*b.Name) > 64 {
			badRequest(w, "Invalid input for field 'name': a name of 1 to 64 characters is required.")
			return
		}
		if id.projectByName[*b.Name] != nil {
			conflict(w, "project", *b.Name)
			return
		}
		sp.Name = *b.Name
	}
	if b.Description != nil {
		sp.Description = *b.Description
	}
	if b.Enabled != nil {
		sp.Enabled = *b.Enabled
	}
	if !s.putNamed(w, r, "project", p.Name, sp.Name, sp.ID, store.IdentityProjectKey(sp.ID), sp) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": s.projectJSON(r,
		&project{ID: sp.ID, Name: sp.Name, Enabled: sp.Enabled, Description: sp.Description})})
}

func (s *Service) deleteProject(w http.ResponseWriter, r *http.Request, id *identity) {
	p := id.projectByID[r.PathValue("id")]
	if p == nil {
		notFound(w, "project", r.PathValue("id"))
		return
	}
	if !p.stored {
		keystoneError(w, http.StatusForbidden, "Forbidden", "Project "+p.Name+" is defined in the users file and is read-only.")
		return
	}
	if !s.txn(w, r, func(tx *store.Tx) error {
		tx.Delete(store.IdentityProjectKey(p.ID))
		tx.Delete(store.IdentityNameKey("projects", DefaultDomainID, p.Name))
		for _, u := range id.usersByID {
			for _, role := range u.roles[p.ID] {
				tx.Delete(store.IdentityAssignmentKey(p.ID, u.ID, role))
			}
		}
		return nil
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// putNamed writes a project or user (kind) v under key in one
// transaction with its name's entry in the domain's unique name index:
// the entry moves from oldName ("" for a new one) to name. A name taken
// meanwhile answers 409 and writes nothing. It reports whether it wrote;
// when not, it has answered.
func (s *Service) putNamed(w http.ResponseWriter, r *http.Request, kind, oldName, name, id, key string, v any) bool {
	dup := false
	if !s.txn(w, r, func(tx *store.Tx) error {
		if name != oldName {
			nk := store.IdentityNameKey(kind+"s", DefaultDomainID, name)
			if dup = tx.Exists(nk); dup {
				return nil
			}
			if oldName != "" {
				tx.Delete(store.IdentityNameKey(kind+"s", DefaultDomainID, oldName))
			}
			tx.PutString(nk, id)
		}
		return tx.Put(key, v)
	}) {
		return false
	}
	if dup {
		conflict(w, kind, name)
		return false
	}
	return true
}

// Users.

func (s *Service) userJSON(r *http.Request, u *user) map[string]any {
	m := map[string]any{"id": u.ID, "name": u.Name, "enabled": u.Enabled, "domain_id": DefaultDomainID,
		"password_expires_at": nil, "options": map[string]any{}, "links": s.link(r, "users/"+u.ID)}
	if u.stored != nil {
		if u.stored.Email != "" {
			m["email"] = u.stored.Email
		}
		if u.stored.Description != "" {
			m["description"] = u.stored.Description
		}
		if u.stored.DefaultProjectID != "" {
			m["default_project_id"] = u.stored.DefaultProjectID
		}
	}
	return m
}

func (s *Service) listUsers(w http.ResponseWriter, r *http.Request, id *identity) {
	q := r.URL.Query()
	us := make([]*user, 0, len(id.usersByID))
	for _, u := range id.usersByID {
		us = append(us, u)
	}
	sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
	out := []any{}
	for _, u := range us {
		if n := q.Get("name"); n != "" && n != u.Name {
			continue
		}
		if d := q.Get("domain_id"); d != "" && d != DefaultDomainID {
			continue
		}
		if e := q.Get("enabled"); e != "" && (e == "true" || e == "True") != u.Enabled {
			continue
		}
		out = append(out, s.userJSON(r, u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "links": s.collectionLinks(r, "users")})
}

type userRequest struct {
	Name             *string `json:"name"`
	Password         *string `json:"password"`
	Enabled          *bool   `json:"enabled"`
	DomainID         *string `json:"domain_id"`
	Email            *string `json:"email"`
	Description      *string `json:"description"`
	DefaultProjectID *string `json:"default_project_id"`
}

// apply fills su from b; false after answering an error.
func (s *Service) apply(w http.ResponseWriter, b userRequest, su *storedUser) bool {
	if b.Password != nil {
		h, err := bcrypt.GenerateFromPassword([]byte(*b.Password), s.cfg.BcryptCost)
		if err != nil {
			badRequest(w, "Invalid input for field 'password'.")
			return false
		}
		su.Hash = string(h)
	}
	if b.Enabled != nil {
		su.Enabled = *b.Enabled
	}
	if b.Email != nil {
		su.Email = *b.Email
	}
	if b.Description != nil {
		su.Description = *b.Description
	}
	if b.DefaultProjectID != nil {
		su.DefaultProjectID = *b.DefaultProjectID
	}
	return true
}

func (s *Service) createUser(w http.ResponseWriter, r *http.Request, id *identity) {
	var b userRequest
	if !decode(w, r, "user", &b) {
		return
	}
	if b.Name == nil || *b.Name == "" || len(*b.Name) > 255 {
		badRequest(w, "Invalid input for field 'name': a name of 1 to 255 characters is required.")
		return
	}
	if b.DomainID != nil && *b.DomainID != DefaultDomainID {
		notFound(w, "domain", *b.DomainID)
		return
	}
	if id.usersByName[*b.Name] != nil {
		conflict(w, "user", *b.Name)
		return
	}
	su := storedUser{ID: newHexID(), Name: *b.Name, Enabled: true}
	if !s.apply(w, b, &su) {
		return
	}
	if !s.putNamed(w, r, "user", "", su.Name, su.ID, store.IdentityUserKey(su.ID), su) {
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": s.userJSON(r, &user{ID: su.ID, Name: su.Name, Enabled: su.Enabled, stored: &su})})
}

func (s *Service) showUser(w http.ResponseWriter, r *http.Request, id *identity) {
	u := id.usersByID[r.PathValue("id")]
	if u == nil {
		notFound(w, "user", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": s.userJSON(r, u)})
}

func (s *Service) updateUser(w http.ResponseWriter, r *http.Request, id *identity) {
	u := id.usersByID[r.PathValue("id")]
	if u == nil {
		notFound(w, "user", r.PathValue("id"))
		return
	}
	if u.stored == nil {
		keystoneError(w, http.StatusForbidden, "Forbidden", "User "+u.Name+" is defined in the users file and is read-only.")
		return
	}
	var b userRequest
	if !decode(w, r, "user", &b) {
		return
	}
	su := *u.stored
	if b.Name != nil && *b.Name != su.Name {
		if *b.Name == "" || len(*b.Name) > 255 {
			badRequest(w, "Invalid input for field 'name': a name of 1 to 255 characters is required.")
			return
		}
		if id.usersByName[*b.Name] != nil {
			conflict(w, "user", *b.Name)
			return
		}
		su.Name = *b.Name
	}
	if !s.apply(w, b, &su) {
		return
	}
	if !s.putNamed(w, r, "user", u.Name, su.Name, su.ID, store.IdentityUserKey(su.ID), su) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": s.userJSON(r, &user{ID: su.ID, Name: su.Name, Enabled: su.Enabled, stored: &su})})
}

func (s *Service) deleteUser(w http.ResponseWriter, r *http.Request, id *identity) {
	u := id.usersByID[r.PathValue("id")]
	if u == nil {
		notFound(w, "user", r.PathValue("id"))
		return
	}
	if u.stored == nil {
		keystoneError(w, http.StatusForbidden, "Forbidden", "User "+u.Name+" is defined in the users file and is read-only.")
		return
	}
	if !s.txn(w, r, func(tx *store.Tx) error {
		tx.Delete(store.IdentityUserKey(u.ID))
		tx.Delete(store.IdentityNameKey("users", DefaultDomainID, u.Name))
		for p, rs := range u.roles {
			for _, role := range rs {
				tx.Delete(store.IdentityAssignmentKey(p, u.ID, role))
			}
		}
		return nil
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Roles.

func (s *Service) roleJSON(r *http.Request, role storedRole) map[string]any {
	return map[string]any{"id": role.ID, "name": role.Name, "domain_id": nil, "description": nil,
		"options": map[string]any{}, "links": s.link(r, "roles/"+role.ID)}
}

func (s *Service) findRole(ctx context.Context, ref string) (*storedRole, error) {
	rs, err := s.roles(ctx)
	if err != nil {
		return nil, err
	}
	for _, role := range rs {
		if role.ID == ref {
			return &role, nil
		}
	}
	return nil, nil
}

func (s *Service) listRoles(w http.ResponseWriter, r *http.Request, _ *identity) {
	rs, err := s.roles(r.Context())
	if err != nil {
		unavailable(w)
		return
	}
	out := []any{}
	for _, role := range rs {
		if n := r.URL.Query().Get("name"); n != "" && n != role.Name {
			continue
		}
		out = append(out, s.roleJSON(r, role))
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": out, "links": s.collectionLinks(r, "roles")})
}

func (s *Service) createRole(w http.ResponseWriter, r *http.Request, _ *identity) {
	var b struct {
		Name *string `json:"name"`
	}
	if !decode(w, r, "role", &b) {
		return
	}
	if b.Name == nil || *b.Name == "" || len(*b.Name) > 255 {
		badRequest(w, "Invalid input for field 'name': a name of 1 to 255 characters is required.")
		return
	}
	rs, err := s.roles(r.Context())
	if err != nil {
		unavailable(w)
		return
	}
	for _, role := range rs {
		if strings.EqualFold(role.Name, *b.Name) {
			keystoneError(w, http.StatusConflict, "Conflict", "Conflict occurred attempting to store role - Duplicate entry found with name "+*b.Name+".")
			return
		}
	}
	role := storedRole{ID: newHexID(), Name: *b.Name}
	dup := false
	if !s.txn(w, r, func(tx *store.Tx) error {
		nk := store.IdentityNameKey("roles", "", strings.ToLower(role.Name))
		if dup = tx.Exists(nk); dup {
			return nil
		}
		tx.PutString(nk, role.ID)
		return tx.Put(store.IdentityRoleKey(role.ID), role)
	}) {
		return
	}
	if dup {
		keystoneError(w, http.StatusConflict, "Conflict", "Conflict occurred attempting to store role - Duplicate entry found with name "+role.Name+".")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"role": s.roleJSON(r, role)})
}

func (s *Service) showRole(w http.ResponseWriter, r *http.Request, _ *identity) {
	role, err := s.findRole(r.Context(), r.PathValue("id"))
	if err != nil {
		unavailable(w)
		return
	}
	if role == nil {
		notFound(w, "role", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"role": s.roleJSON(r, *role)})
}

// Grants of a role to a user on a project.

// grantRefs resolves the path's project, user and role; false after
// answering a 404.
func (s *Service) grantRefs(w http.ResponseWriter, r *http.Request, id *identity, withRole bool) (*project, *user, *storedRole, bool) {
	p := id.projectByID[r.PathValue("p")]
	if p == nil {
		notFound(w, "project", r.PathValue("p"))
		return nil, nil, nil, false
	}
	u := id.usersByID[r.PathValue("u")]
	if u == nil {
		notFound(w, "user", r.PathValue("u"))
		return nil, nil, nil, false
	}
	if !withRole {
		return p, u, nil, true
	}
	role, err := s.findRole(r.Context(), r.PathValue("r"))
	if err != nil {
		unavailable(w)
		return nil, nil, nil, false
	}
	if role == nil {
		notFound(w, "role", r.PathValue("r"))
		return nil, nil, nil, false
	}
	return p, u, role, true
}

func hasRole(u *user, project, role string) bool {
	for _, r := range u.roles[project] {
		if r == role {
			return true
		}
	}
	return false
}

func (s *Service) putGrant(w http.ResponseWriter, r *http.Request, id *identity) {
	p, u, role, ok := s.grantRefs(w, r, id, true)
	if !ok {
		return
	}
	if !s.txn(w, r, func(tx *store.Tx) error {
		tx.PutString(store.IdentityAssignmentKey(p.ID, u.ID, role.Name), "")
		return nil
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) checkGrant(w http.ResponseWriter, r *http.Request, id *identity) {
	p, u, role, ok := s.grantRefs(w, r, id, true)
	if !ok {
		return
	}
	if !hasRole(u, p.ID, role.Name) {
		notFound(w, "role assignment", role.ID)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) deleteGrant(w http.ResponseWriter, r *http.Request, id *identity) {
	p, u, role, ok := s.grantRefs(w, r, id, true)
	if !ok {
		return
	}
	if !hasRole(u, p.ID, role.Name) {
		notFound(w, "role assignment", role.ID)
		return
	}
	key := store.IdentityAssignmentKey(p.ID, u.ID, role.Name)
	fromFile := false
	if !s.txn(w, r, func(tx *store.Tx) error {
		if fromFile = !tx.Exists(key); !fromFile {
			tx.Delete(key)
		}
		return nil
	}) {
		return
	}
	if fromFile {
		keystoneError(w, http.StatusForbidden, "Forbidden", "The role assignment is defined in the users file and is read-only.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) listGrants(w http.ResponseWriter, r *http.Request, id *identity) {
	p, u, _, ok := s.grantRefs(w, r, id, false)
	if !ok {
		return
	}
	out := []any{}
	for _, name := range u.roles[p.ID] {
		out = append(out, s.roleJSON(r, s.roleByName(r.Context(), name)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": out, "links": s.collectionLinks(r, r.URL.Path[len("/v3/"):])})
}

func (s *Service) roleByName(ctx context.Context, name string) storedRole {
	rs, _ := s.roles(ctx)
	for _, role := range rs {
		if role.Name == name {
			return role
		}
	}
	return storedRole{ID: RoleID(name), Name: name}
}

func (s *Service) listAssignments(w http.ResponseWriter, r *http.Request, id *identity) {
	q := r.URL.Query()
	out := []any{}
	us := make([]*user, 0, len(id.usersByID))
	for _, u := range id.usersByID {
		us = append(us, u)
	}
	sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
	for _, u := range us {
		if v := q.Get("user.id"); v != "" && v != u.ID {
			continue
		}
		projects := make([]string, 0, len(u.roles))
		for p := range u.roles {
			projects = append(projects, p)
		}
		sort.Strings(projects)
		for _, p := range projects {
			if v := q.Get("scope.project.id"); v != "" && v != p {
				continue
			}
			for _, name := range u.roles[p] {
				role := s.roleByName(r.Context(), name)
				if v := q.Get("role.id"); v != "" && v != role.ID {
					continue
				}
				out = append(out, map[string]any{
					"role":  map[string]any{"id": role.ID},
					"user":  map[string]any{"id": u.ID},
					"scope": map[string]any{"project": map[string]any{"id": p}},
					"links": map[string]any{"assignment": s.BaseURL(r) + "/v3/projects/" + p + "/users/" + u.ID + "/roles/" + role.ID},
				})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"role_assignments": out, "links": s.collectionLinks(r, "role_assignments")})
}
