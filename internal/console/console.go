// Package console is Wyvern's web console, served by `wyvern server` at
// /console/: the live topology picture, the chassis with their liveness,
// ports and flow counts, the networks, and per-port detail with a trace
// form that runs the same tracer as `wyvernctl trace`.
//
// It is server-rendered HTML (html/template) with a little vanilla JS that
// refreshes the picture and the chassis table. It sits behind the same
// Keystone login as the API: the login form gets a token from
// /v3/auth/tokens and keeps it in an HttpOnly cookie; every page is built
// from the Neutron API called in-process with that token, so a user sees
// exactly what the API would show them.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/topology"
	"github.com/wyvern-sdn/wyvern/internal/trace"
)

//go:embed assets
var assets embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console/"

// cookieName holds the user's Keystone token.
const cookieName = "wyvern_console_token"

// Options configure the console.
type Options struct {
	// API serves Neutron (/v2.0) and Keystone (/v3); the console calls it
	// in-process with the user's token.
	API http.Handler
	// Store gives the chassis' stats (flow counts); nil shows none.
	Store *store.Store
	// Login requires a Keystone login (the server serves Keystone); false
	// with --noauth and no identity, where every caller is admin.
	Login bool
	Log   *slog.Logger
}

// Console serves the web console.
type Console struct {
	o    Options
	tmpl *template.Template
}

// New returns the console.
func New(o Options) (*Console, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	t, err := template.New("").Funcs(template.FuncMap{
		"short":  short,
		"join":   func(s []string) string { return strings.Join(s, ", ") },
		"status": func(s string) string { return strings.ToLower(s) },
	}).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	return &Console{o: o, tmpl: t}, nil
}

// Register mounts the console on mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.Handle("GET /console", http.RedirectHandler(Prefix, http.StatusFound))
	mux.HandleFunc("GET /console/{$}", c.page(c.overview))
	mux.HandleFunc("GET /console/login", c.loginForm)
	mux.HandleFunc("POST /console/login", c.login)
	mux.HandleFunc("POST /console/logout", c.logout)
	mux.HandleFunc("GET /console/topology.svg", c.page(c.topologySVG))
	mux.HandleFunc("GET /console/chassis", c.page(c.chassisFragment))
	mux.HandleFunc("GET /console/ports/{id}", c.page(c.port))
	mux.HandleFunc("GET /console/ports/{id}/status", c.page(c.portStatus))
	mux.HandleFunc("POST /console/ports/{id}/trace", c.page(c.trace))
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", staticFiles()))
}

func staticFiles() http.Handler {
	h := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/assets/" + strings.TrimPrefix(r.URL.Path, "/")
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r2)
	})
}

// session is one request's view of the API: the caller's token.
type session struct {
	c     *Console
	r     *http.Request
	token string
}

// errLogin means the caller must (again) log in.
var errLogin = errors.New("console: login required")

// page wraps a handler that needs a session: without a token (when login
// is required) or with one the API refuses, it goes to the login form.
func (c *Console) page(fn func(w http.ResponseWriter, s *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := &session{c: c, r: r}
		if ck, err := r.Cookie(cookieName); err == nil {
			s.token = ck.Value
		}
		err := errLogin
		if s.token != "" || !c.o.Login {
			err = fn(w, s)
		}
		if errors.Is(err, errLogin) {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, ".svg") && !strings.HasSuffix(r.URL.Path, "/status") &&
				!strings.HasSuffix(r.URL.Path, "/chassis") {
				http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.Path), http.StatusFound)
				return
			}
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		if err != nil {
			c.o.Log.Warn("console", "path", r.URL.Path, "err", err)
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	}
}

// apiError is an API answer other than the one expected.
type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("API %d: %s", e.status, e.body) }

// call runs one API request in-process and decodes the answer into out.
func (s *session) call(method, path string, body, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(s.r.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	req.Host = s.r.Host
	req.RemoteAddr = s.r.RemoteAddr
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if s.token != "" {
		req.Header.Set("X-Auth-Token", s.token)
	}
	rec := httptest.NewRecorder()
	s.c.o.API.ServeHTTP(rec, req)
	if rec.Code == http.StatusUnauthorized && s.c.o.Login {
		return nil, errLogin
	}
	if rec.Code/100 != 2 {
		return nil, &apiError{status: rec.Code, body: strings.TrimSpace(rec.Body.String())}
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return nil, fmt.Errorf("console: decode %s: %w", path, err)
		}
	}
	return rec.Header(), nil
}

// list GETs a collection into into.
func (s *session) list(path, key string, into any) error {
	var body map[string]json.RawMessage
	if _, err := s.call(http.MethodGet, "/v2.0/"+path, nil, &body); err != nil {
		return err
	}
	raw, ok := body[key]
	if !ok {
		return fmt.Errorf("console: no %q in /v2.0/%s", key, path)
	}
	return json.Unmarshal(raw, into)
}

// topology reads the caller's view of the model, as wyvernctl does.
func (s *session) topology() (*trace.Topology, error) {
	return trace.LoadTopology(s.list)
}

func (c *Console) render(w http.ResponseWriter, name string, data any) error {
	var b bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("console: template %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(b.Bytes())
	return err
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// networkRow is one line of the networks table.
type networkRow struct {
	model.Network
	CIDRs []string
	Ports int
}

// chassisRow is one line of the chassis table.
type chassisRow struct {
	trace.Chassis
	Ports int
	Flows int
	Stats bool // the agent reported its flows
}

func (s *session) chassisRows(t *trace.Topology) []chassisRow {
	var rows []chassisRow
	for _, ch := range t.Chassis {
		row := chassisRow{Chassis: ch}
		for _, p := range t.Ports {
			if p.HostID == ch.Name && !strings.HasPrefix(p.DeviceOwner, "network:") {
				row.Ports++
			}
		}
		if s.c.o.Store != nil {
			var st model.ChassisStats
			if _, err := s.c.o.Store.Get(s.r.Context(), store.StatsKey(ch.Name), &st); err == nil {
				row.Flows, row.Stats = st.Flows, true
			}
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b chassisRow) int { return strings.Compare(a.Name, b.Name) })
	return rows
}

type overviewData struct {
	Login    bool
	Networks []networkRow
	Chassis  []chassisRow
	Ports    []model.Port
}

func (c *Console) overview(w http.ResponseWriter, s *session) error {
	t, err := s.topology()
	if err != nil {
		return err
	}
	d := overviewData{Login: c.o.Login, Chassis: s.chassisRows(t)}
	for _, n := range t.Networks {
		row := networkRow{Network: n}
		for _, sub := range t.Subnets {
			if sub.NetworkID == n.ID {
				row.CIDRs = append(row.CIDRs, sub.CIDR)
			}
		}
		for _, p := range t.Ports {
			if p.NetworkID == n.ID {
				row.Ports++
			}
		}
		d.Networks = append(d.Networks, row)
	}
	slices.SortFunc(d.Networks, func(a, b networkRow) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	for _, p := range t.Ports {
		if !strings.HasPrefix(p.DeviceOwner, "network:") {
			d.Ports = append(d.Ports, p)
		}
	}
	slices.SortFunc(d.Ports, func(a, b model.Port) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	return c.render(w, "overview.html", d)
}

func (c *Console) chassisFragment(w http.ResponseWriter, s *session) error {
	t, err := s.topology()
	if err != nil {
		return err
	}
	return c.render(w, "chassis", s.chassisRows(t))
}

func (c *Console) topologySVG(w http.ResponseWriter, s *session) error {
	t, err := s.topology()
	if err != nil {
		return err
	}
	dot := topology.DOT(t, topology.Options{Title: " ", Links: Prefix + "ports/"})
	svg, err := topology.Render(s.r.Context(), dot, "svg")
	if err != nil {
		c.o.Log.Warn("console: topology", "err", err)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return nil
	}
	// Inline-able: the <svg> element alone, without the XML prolog.
	if i := bytes.Index(svg, []byte("<svg")); i > 0 {
		svg = svg[i:]
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(svg)
	return err
}

type portData struct {
	Login   bool
	Port    model.Port
	Network string
	Groups  []string
	Packet  string
	Trace   string
	Error   string
}

func (c *Console) portData(s *session, id string) (*portData, *trace.Topology, error) {
	t, err := s.topology()
	if err != nil {
		return nil, nil, err
	}
	d := &portData{Login: c.o.Login}
	found := false
	for _, p := range t.Ports {
		if p.ID == id {
			d.Port, found = p, true
		}
	}
	if !found {
		return nil, nil, &apiError{status: http.StatusNotFound, body: "port " + id + " not found"}
	}
	for _, n := range t.Networks {
		if n.ID == d.Port.NetworkID {
			d.Network = n.Name
		}
	}
	for _, g := range d.Port.SecurityGroups {
		name := short(g)
		for _, sg := range t.SecurityGroups {
			if sg.ID == g && sg.Name != "" {
				name = sg.Name
			}
		}
		d.Groups = append(d.Groups, name)
	}
	d.Packet = defaultPacket(t, d.Port)
	return d, t, nil
}

// defaultPacket proposes a packet to trace: ICMP to another port of the
// same network, else to the subnet's gateway.
func defaultPacket(t *trace.Topology, p model.Port) string {
	for _, q := range t.Ports {
		if q.ID != p.ID && q.NetworkID == p.NetworkID && !strings.HasPrefix(q.DeviceOwner, "network:") && len(q.FixedIPs) > 0 {
			return "icmp, dst " + q.FixedIPs[0].IPAddress
		}
	}
	return "icmp, dst 8.8.8.8"
}

func (c *Console) port(w http.ResponseWriter, s *session) error {
	d, _, err := c.portData(s, s.r.PathValue("id"))
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusNotFound {
			http.Error(w, ae.body, http.StatusNotFound)
			return nil
		}
		return err
	}
	return c.render(w, "port.html", d)
}

func (c *Console) portStatus(w http.ResponseWriter, s *session) error {
	var body struct {
		Port model.Port `json:"port"`
	}
	if _, err := s.call(http.MethodGet, "/v2.0/ports/"+url.PathEscape(s.r.PathValue("id")), nil, &body); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := io.WriteString(w, body.Port.Status)
	return err
}

// trace runs the tracer of `wyvernctl trace` on the form's packet.
func (c *Console) trace(w http.ResponseWriter, s *session) error {
	d, t, err := c.portData(s, s.r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.r.ParseForm(); err != nil {
		return err
	}
	d.Packet = strings.TrimSpace(s.r.PostFormValue("packet"))
	pkt, err := trace.ParsePacket(d.Packet)
	if err == nil {
		var res *trace.Result
		if res, err = trace.Run(t, d.Port.ID, pkt); err == nil {
			var b bytes.Buffer
			if err = res.WriteText(&b); err == nil {
				d.Trace = b.String()
			}
		}
	}
	if err != nil {
		d.Error = err.Error()
	}
	return c.render(w, "port.html", d)
}

type loginData struct {
	Next, User, Project, Error string
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if !c.o.Login {
		http.Redirect(w, r, Prefix, http.StatusFound)
		return
	}
	_ = c.render(w, "login.html", loginData{Next: safeNext(r.URL.Query().Get("next")), Project: "admin"})
}

// safeNext keeps a redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix
	}
	return next
}

// login gets a token for the form's user and project from Keystone (in
// process, the same /v3/auth/tokens the CLI uses) and keeps it in a cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d := loginData{Next: safeNext(r.PostFormValue("next")), User: r.PostFormValue("username"), Project: r.PostFormValue("project")}
	domain := map[string]string{"name": "Default"}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": d.User, "domain": domain, "password": r.PostFormValue("password")}}},
		"scope": map[string]any{"project": map[string]any{"name": d.Project, "domain": domain}},
	}}
	s := &session{c: c, r: r}
	hdr, err := s.call(http.MethodPost, "/v3/auth/tokens", body, nil)
	token := ""
	if err == nil {
		token = hdr.Get("X-Subject-Token")
	}
	if err != nil || token == "" {
		d.Error = "Login failed: wrong user, password or project."
		w.WriteHeader(http.StatusUnauthorized)
		_ = c.render(w, "login.html", d)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: Prefix, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}
