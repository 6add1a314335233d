package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeNeutron is a hand-written, in-memory Neutron (and a token endpoint)
// good enough for the CLI: collections of JSON objects keyed by id, exact
// match filters, and a record of every request.
type fakeNeutron struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	objects  map[string][]map[string]any // collection -> objects, in creation order
	nextID   int
	requests []fakeRequest
	token    string // when set, /v2.0 requires X-Auth-Token == token
}

type fakeRequest struct {
	method, path, query string
	header              http.Header
	body                map[string]any
}

// listKey maps each URL collection to its list key.
var listKey = map[string]string{
	"networks": "networks", "subnets": "subnets", "ports": "ports", "routers": "routers",
	"floatingips": "floatingips", "security-groups": "security_groups",
	"security-group-rules": "security_group_rules",
}

// singular maps each URL collection to its object key.
var singular = map[string]string{
	"networks": "network", "subnets": "subnet", "ports": "port", "routers": "router",
	"floatingips": "floatingip", "security-groups": "security_group",
	"security-group-rules": "security_group_rule",
}

func newFakeNeutron(t *testing.T) *fakeNeutron {
	f := &fakeNeutron{t: t, objects: map[string][]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/auth/tokens", f.auth)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSONStatus(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
			"id": "v2.0", "status": "CURRENT", "links": []any{map[string]any{"rel": "self", "href": f.srv.URL + "/v2.0/"}},
		}}})
	})
	mux.HandleFunc("GET /v2.0/{coll}", f.list)
	mux.HandleFunc("POST /v2.0/{coll}", f.create)
	mux.HandleFunc("GET /v2.0/{coll}/{id}", f.get)
	mux.HandleFunc("PUT /v2.0/{coll}/{id}", f.update)
	mux.HandleFunc("DELETE /v2.0/{coll}/{id}", f.delete)
	mux.HandleFunc("PUT /v2.0/routers/{id}/{action}", f.routerAction)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Body != nil {
			_ = json.NewDecoder(r.Body).Decode(&body)
		}
		f.mu.Lock()
		f.requests = append(f.requests, fakeRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		token := f.token
		f.mu.Unlock()
		if token != "" && strings.HasPrefix(r.URL.Path, "/v2.0/") && r.Header.Get("X-Auth-Token") != token {
			neutronError(w, http.StatusUnauthorized, "Authentication required")
			return
		}
		r = r.WithContext(withBody(r.Context(), body))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// add stores obj (it must have an id) in coll.
func (f *fakeNeutron) add(coll string, obj map[string]any) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[coll] = append(f.objects[coll], obj)
	return obj
}

// last returns the body of the last request with method and path.
func (f *fakeNeutron) last(method, path string) fakeRequest {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if r := f.requests[i]; r.method == method && r.path == path {
			return r
		}
	}
	f.t.Fatalf("no %s %s request; got %v", method, path, f.requests)
	return fakeRequest{}
}

func (f *fakeNeutron) auth(w http.ResponseWriter, r *http.Request) {
	body := bodyOf(r)
	pw := lookup(body, "auth.identity.password.user.password")
	if pw != "secret" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":401,"title":"Unauthorized","message":"The request you have made requires authentication."}}`)
		return
	}
	f.mu.Lock()
	f.token = "tok-123"
	f.mu.Unlock()
	w.Header().Set("X-Subject-Token", "tok-123")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
		"methods":    []string{"password"},
		"expires_at": "2099-01-01T00:00:00.000000Z",
		"project":    map[string]any{"id": "p1", "name": "demo", "domain": map[string]any{"id": "default", "name": "Default"}},
		"user":       map[string]any{"id": "u1", "name": "alice", "domain": map[string]any{"id": "default", "name": "Default"}},
		"catalog": []any{map[string]any{
			"type": "network", "name": "neutron", "id": "svc1",
			"endpoints": []any{map[string]any{"id": "e1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": f.srv.URL}},
		}},
	}})
}

func (f *fakeNeutron) list(w http.ResponseWriter, r *http.Request) {
	coll := r.PathValue("coll")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for _, obj := range f.objects[coll] {
		match := true
		for k, vs := range r.URL.Query() {
			if k == "fields" {
				continue
			}
			match = match && fmt.Sprint(obj[k]) == vs[0]
		}
		if match {
			out = append(out, obj)
		}
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{listKey[coll]: out})
}

func (f *fakeNeutron) find(coll, id string) (int, map[string]any) {
	for i, obj := range f.objects[coll] {
		if obj["id"] == id {
			return i, obj
		}
	}
	return -1, nil
}

func (f *fakeNeutron) get(w http.ResponseWriter, r *http.Request) {
	coll, id := r.PathValue("coll"), r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, obj := f.find(coll, id); obj != nil {
		writeJSONStatus(w, http.StatusOK, map[string]any{singular[coll]: obj})
		return
	}
	neutronError(w, http.StatusNotFound, fmt.Sprintf("%s %s could not be found.", singular[coll], id))
}

func (f *fakeNeutron) create(w http.ResponseWriter, r *http.Request) {
	coll := r.PathValue("coll")
	in, _ := bodyOf(r)[singular[coll]].(map[string]any)
	if in == nil {
		neutronError(w, http.StatusBadRequest, fmt.Sprintf("no %s object in body %v", singular[coll], bodyOf(r)))
		return
	}
	obj := maps.Clone(in)
	if name, _ := obj["name"].(string); name == "conflict" {
		neutronError(w, http.StatusConflict, "Quota exceeded for resources: ['network'].")
		return
	}
	f.mu.Lock()
	f.nextID++
	obj["id"] = fmt.Sprintf("%s-%d", singular[coll], f.nextID)
	obj["project_id"] = "p1"
	f.objects[coll] = append(f.objects[coll], obj)
	f.mu.Unlock()
	writeJSONStatus(w, http.StatusCreated, map[string]any{singular[coll]: obj})
}

func (f *fakeNeutron) update(w http.ResponseWriter, r *http.Request) {
	coll, id := r.PathValue("coll"), r.PathValue("id")
	changes, _ := bodyOf(r)[singular[coll]].(map[string]any)
	f.mu.Lock()
	defer f.mu.Unlock()
	_, obj := f.find(coll, id)
	if obj == nil {
		neutronError(w, http.StatusNotFound, "not found")
		return
	}
	for k, v := range changes {
		obj[k] = v
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{singular[coll]: obj})
}

func (f *fakeNeutron) delete(w http.ResponseWriter, r *http.Request) {
	coll, id := r.PathValue("coll"), r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	i, obj := f.find(coll, id)
	if obj == nil {
		neutronError(w, http.StatusNotFound, fmt.Sprintf("%s %s could not be found.", singular[coll], id))
		return
	}
	f.objects[coll] = append(f.objects[coll][:i], f.objects[coll][i+1:]...)
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeNeutron) routerAction(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	if action != "add_router_interface" && action != "remove_router_interface" {
		f.update(w, r)
		return
	}
	body := bodyOf(r)
	writeJSONStatus(w, http.StatusOK, map[string]any{
		"id": id, "subnet_id": body["subnet_id"], "port_id": "port-if", "project_id": "p1",
	})
}

func neutronError(w http.ResponseWriter, code int, msg string) {
	writeJSONStatus(w, code, map[string]any{"NeutronError": map[string]any{"type": "Fake", "message": msg, "detail": ""}})
}

func writeJSONStatus(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

type bodyKey struct{}

func withBody(ctx context.Context, body map[string]any) context.Context {
	return context.WithValue(ctx, bodyKey{}, body)
}

func bodyOf(r *http.Request) map[string]any {
	b, _ := r.Context().Value(bodyKey{}).(map[string]any)
	return b
}
