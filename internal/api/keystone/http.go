package keystone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// timeFormat is how Keystone prints token times.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// maxBody bounds an authentication request.
const maxBody = 64 << 10

// Register adds the Keystone routes to mux. Every other request under /v3
// (the identity admin API: domains, projects, users, roles) is answered in
// Keystone's error format: 405 on a served path, else 404.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v3", s.handleVersion)
	mux.HandleFunc("GET /v3/{$}", s.handleVersion)
	mux.HandleFunc("POST /v3/auth/tokens", s.handleIssue)
	// GET patterns also serve HEAD.
	mux.HandleFunc("GET /v3/auth/tokens", s.handleValidate)
	mux.HandleFunc("DELETE /v3/auth/tokens", s.handleRevoke)
	for _, path := range []string{"/v3", "/v3/{$}", "/v3/auth/tokens"} {
		mux.HandleFunc(path, methodNotAllowed)
	}
	s.registerAdmin(mux)
	mux.HandleFunc("/v3/", NotFound)
}

// NotFound is Keystone's 404 for a path it does not serve. A server without
// the identity API (--noauth) answers every /v3 path with it.
func NotFound(w http.ResponseWriter, r *http.Request) {
	keystoneError(w, http.StatusNotFound, "Not Found", "The resource could not be found.")
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	keystoneError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "The method is not allowed for the requested URL.")
}

// Link is a link of a version document.
type Link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// MediaType is a media type of a version document.
type MediaType struct {
	Base string `json:"base"`
	Type string `json:"type"`
}

// Version is the identity v3 entry of a version document, as served at
// /v3 and listed by `GET /` (multiple choices).
type Version struct {
	ID         string      `json:"id"`
	Status     string      `json:"status"`
	Updated    string      `json:"updated"`
	Links      []Link      `json:"links"`
	MediaTypes []MediaType `json:"media-types"`
}

// VersionEntry is the v3 version entry with links for the request's base
// URL, for a caller assembling the `GET /` multiple-choices document
// ({"versions": {"values": [...]}} in Keystone's format).
func (s *Service) VersionEntry(r *http.Request) Version {
	return Version{
		ID:         "v3.14",
		Status:     "stable",
		Updated:    "2020-04-07T00:00:00Z",
		Links:      []Link{{Rel: "self", Href: s.BaseURL(r) + "/v3/"}},
		MediaTypes: []MediaType{{Base: "application/json", Type: "application/vnd.openstack.identity-v3+json"}},
	}
}

func (s *Service) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"version": s.VersionEntry(r)})
}

// keystoneError writes Keystone's error body.
func keystoneError(w http.ResponseWriter, code int, title, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "title": title, "message": msg}})
}

const unauthorizedMsg = "The request you have made requires authentication."

func (s *Service) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Keystone uri="`+s.BaseURL(r)+`"`)
	keystoneError(w, http.StatusUnauthorized, "Unauthorized", unauthorizedMsg)
}

func badRequest(w http.ResponseWriter, msg string) {
	keystoneError(w, http.StatusBadRequest, "Bad Request", msg)
}

func unavailable(w http.ResponseWriter) {
	keystoneError(w, http.StatusServiceUnavailable, "Service Unavailable", "The identity backend is unavailable; retry later.")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// authRequest is the body of POST /v3/auth/tokens.
type authRequest struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *struct {
					ID       string     `json:"id"`
					Name     string     `json:"name"`
					Domain   *domainRef `json:"domain"`
					Password *string    `json:"password"`
				} `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

// scopeRequest is an object scope; only projects are served.
type scopeRequest struct {
	Project *struct {
		ID     string     `json:"id"`
		Name   string     `json:"name"`
		Domain *domainRef `json:"domain"`
	} `json:"project"`
	Domain json.RawMessage `json:"domain"`
	System json.RawMessage `json:"system"`
	Trust  json.RawMessage `json:"OS-TRUST:trust"`
}

// requestError is a malformed request, a 400.
type requestError string

func (e requestError) Error() string { return string(e) }

// parsedScope is the project a request scopes to; empty for unscoped.
type parsedScope struct {
	id, name string
	domain   domainRef
	// unsupported is a domain, system or trust scope.
	unsupported bool
}

func parseScope(raw json.RawMessage) (parsedScope, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `"unscoped"` {
		return parsedScope{}, nil
	}
	var sr scopeRequest
	if err := json.Unmarshal(raw, &sr); err != nil {
		return parsedScope{}, requestError("Invalid scope: " + err.Error())
	}
	switch {
	case sr.Project != nil:
		p := sr.Project
		if p.ID == "" && p.Name == "" {
			return parsedScope{}, requestError("Expecting to find id or name in project.")
		}
		ps := parsedScope{id: p.ID, name: p.Name}
		if p.ID == "" {
			if p.Domain == nil || (p.Domain.ID == "" && p.Domain.Name == "") {
				return parsedScope{}, requestError("Expecting to find domain in project.")
			}
			ps.domain = *p.Domain
		}
		return ps, nil
	case sr.Domain != nil, sr.System != nil, sr.Trust != nil:
		return parsedScope{unsupported: true}, nil
	}
	return parsedScope{}, requestError("Invalid scope: expecting project.")
}

func (s *Service) handleIssue(w http.ResponseWriter, r *http.Request) {
	var req authRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		badRequest(w, "Malformed request body: "+err.Error())
		return
	}
	if req.Auth == nil || req.Auth.Identity == nil {
		badRequest(w, "Expecting to find identity in auth.")
		return
	}
	ident := req.Auth.Identity
	if len(ident.Methods) == 0 {
		badRequest(w, "Expecting to find methods in identity.")
		return
	}
	scope, err := parseScope(req.Auth.Scope)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	view, err := s.view(r.Context())
	if err != nil {
		s.log.Error("identity view", "err", err)
		unavailable(w)
		return
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	var (
		u       *user
		methods []string
		expires = now.Add(s.cfg.TokenTTL)
		audit   []string
	)
	switch ident.Methods[0] {
	case "password":
		pw := ident.Password
		if pw == nil || pw.User == nil {
			badRequest(w, "Expecting to find user in password.")
			return
		}
		pu := pw.User
		if pu.Password == nil {
			badRequest(w, "Expecting to find password in user.")
			return
		}
		if pu.ID == "" && pu.Name == "" {
			badRequest(w, "Expecting to find id or name in user.")
			return
		}
		ref := userRef{ID: pu.ID, Name: pu.Name}
		if pu.ID == "" {
			if pu.Domain == nil || (pu.Domain.ID == "" && pu.Domain.Name == "") {
				badRequest(w, "Expecting to find domain in user.")
				return
			}
			ref.Domain = *pu.Domain
		}
		u, err = view.authenticate(ref, *pu.Password)
		if err != nil {
			s.log.Info("authentication failed", "user", pu.Name, "user_id", pu.ID, "remote", r.RemoteAddr, "err", err)
			s.unauthorized(w, r)
			return
		}
		methods = []string{"password"}
	case "token":
		if ident.Token == nil || ident.Token.ID == "" {
			badRequest(w, "Expecting to find id in token.")
			return
		}
		orig, err := s.Validate(r.Context(), ident.Token.ID)
		if errors.Is(err, ErrInvalidToken) {
			s.unauthorized(w, r)
			return
		}
		if err != nil {
			s.log.Error("validate token", "err", err)
			unavailable(w)
			return
		}
		u = view.usersByID[orig.User.ID]
		// A token from a token never outlives the original.
		expires = orig.ExpiresAt
		methods = []string{"token"}
		for _, m := range orig.Methods {
			if m != "token" {
				methods = append(methods, m)
			}
		}
		audit = orig.AuditIDs[:min(1, len(orig.AuditIDs))]
	default:
		s.unauthorized(w, r)
		return
	}
	if scope.unsupported {
		s.log.Info("authentication failed", "user", u.Name, "err", "only project scopes are served")
		s.unauthorized(w, r)
		return
	}
	auditID, err := randomAuditID()
	if err != nil {
		s.log.Error("issue token", "err", err)
		unavailable(w)
		return
	}
	tok := &Token{
		Methods:   methods,
		User:      Scoped{ID: u.ID, Name: u.Name, Domain: Ref{ID: DefaultDomainID, Name: DefaultDomainName}},
		IssuedAt:  now,
		ExpiresAt: expires,
		AuditIDs:  append([]string{auditID}, audit...),
	}
	if scope.id != "" || scope.name != "" {
		p, err := view.lookupProject(scope.id, scope.name, scope.domain)
		var roles []string
		if err == nil {
			roles, err = u.effectiveRoles(p.ID)
		}
		if err != nil {
			s.log.Info("authentication failed", "user", u.Name, "project", scope.name, "project_id", scope.id, "err", err)
			s.unauthorized(w, r)
			return
		}
		tok.Project = &Scoped{ID: p.ID, Name: p.Name, Domain: Ref{ID: DefaultDomainID, Name: DefaultDomainName}}
		for _, name := range roles {
			tok.Roles = append(tok.Roles, Ref{ID: RoleID(name), Name: name})
		}
	}
	id, err := s.tokens.create(r.Context(), tok)
	if err != nil {
		s.log.Error("issue token", "err", err)
		unavailable(w)
		return
	}
	s.log.Debug("token issued", "user", u.Name, "project", projectName(tok), "expires_at", tok.ExpiresAt)
	w.Header().Set("X-Subject-Token", id)
	writeJSON(w, http.StatusCreated, s.render(r, tok))
}

func projectName(t *Token) string {
	if t.Project == nil {
		return ""
	}
	return t.Project.Name
}

// tokenResponse is Keystone's token body.
type tokenResponse struct {
	Token tokenBody `json:"token"`
}

type tokenBody struct {
	Methods   []string  `json:"methods"`
	User      userBody  `json:"user"`
	Project   *Scoped   `json:"project,omitempty"`
	IsDomain  *bool     `json:"is_domain,omitempty"`
	Roles     []Ref     `json:"roles,omitempty"`
	Catalog   []service `json:"catalog,omitempty"`
	IssuedAt  string    `json:"issued_at"`
	ExpiresAt string    `json:"expires_at"`
	AuditIDs  []string  `json:"audit_ids"`
}

type userBody struct {
	Scoped
	PasswordExpiresAt *string `json:"password_expires_at"`
}

type service struct {
	Endpoints []endpoint `json:"endpoints"`
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	Name      string     `json:"name"`
}

type endpoint struct {
	ID        string `json:"id"`
	Interface string `json:"interface"`
	Region    string `json:"region"`
	RegionID  string `json:"region_id"`
	URL       string `json:"url"`
}

// render is the response body of a token; scoped tokens carry the catalog
// unless the request asks ?nocatalog.
func (s *Service) render(r *http.Request, t *Token) tokenResponse {
	b := tokenBody{
		Methods:   t.Methods,
		User:      userBody{Scoped: t.User},
		Project:   t.Project,
		Roles:     t.Roles,
		IssuedAt:  t.IssuedAt.UTC().Format(timeFormat),
		ExpiresAt: t.ExpiresAt.UTC().Format(timeFormat),
		AuditIDs:  t.AuditIDs,
	}
	if t.Project != nil {
		f := false
		b.IsDomain = &f
		if !r.URL.Query().Has("nocatalog") {
			b.Catalog = s.catalog(r)
		}
	}
	return tokenResponse{Token: b}
}

func (s *Service) catalog(r *http.Request) []service {
	base := s.BaseURL(r)
	svc := func(typ, name, url string) service {
		sv := service{ID: stableID("service", typ), Type: typ, Name: name}
		for _, iface := range []string{"public", "internal", "admin"} {
			sv.Endpoints = append(sv.Endpoints, endpoint{
				ID:        stableID("endpoint", typ+"/"+iface),
				Interface: iface,
				Region:    s.cfg.Region,
				RegionID:  s.cfg.Region,
				URL:       url,
			})
		}
		return sv
	}
	return []service{
		svc("identity", "keystone", base+"/v3"),
		svc("network", "neutron", base),
	}
}

// subject authenticates the caller (X-Auth-Token) and loads the subject
// token (X-Subject-Token) it may act on: its own, or any if admin. On
// failure it writes the response and returns false.
func (s *Service) subject(w http.ResponseWriter, r *http.Request) (string, *Token, bool) {
	caller, err := s.Validate(r.Context(), r.Header.Get("X-Auth-Token"))
	if errors.Is(err, ErrInvalidToken) {
		s.unauthorized(w, r)
		return "", nil, false
	}
	if err != nil {
		s.log.Error("validate token", "err", err)
		unavailable(w)
		return "", nil, false
	}
	sid := r.Header.Get("X-Subject-Token")
	if sid == "" {
		badRequest(w, "Expecting to find X-Subject-Token in the request headers.")
		return "", nil, false
	}
	subj, err := s.Validate(r.Context(), sid)
	if errors.Is(err, ErrInvalidToken) {
		keystoneError(w, http.StatusNotFound, "Not Found", "Could not find token: "+sid+".")
		return "", nil, false
	}
	if err != nil {
		s.log.Error("validate token", "err", err)
		unavailable(w)
		return "", nil, false
	}
	if !caller.HasRole(RoleAdmin) && caller.User.ID != subj.User.ID {
		keystoneError(w, http.StatusForbidden, "Forbidden",
			"You are not authorized to perform the requested action: identity:validate_token.")
		return "", nil, false
	}
	return sid, subj, true
}

func (s *Service) handleValidate(w http.ResponseWriter, r *http.Request) {
	sid, subj, ok := s.subject(w, r)
	if !ok {
		return
	}
	w.Header().Set("X-Subject-Token", sid)
	writeJSON(w, http.StatusOK, s.render(r, subj))
}

func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request) {
	sid, subj, ok := s.subject(w, r)
	if !ok {
		return
	}
	if err := s.tokens.revoke(context.WithoutCancel(r.Context()), sid, subj); err != nil {
		s.log.Error("revoke token", "err", err)
		unavailable(w)
		return
	}
	s.log.Debug("token revoked", "user", subj.User.Name, "project", projectName(subj))
	w.WriteHeader(http.StatusNoContent)
}
