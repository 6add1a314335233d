package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// registerIdentity mounts the Keystone endpoint and returns the middleware
// that authenticates Neutron requests.
func registerIdentity(ctx context.Context, mux *http.ServeMux, st *store.Store, cfg Config, log *slog.Logger) (func(http.Handler) http.Handler, error) {
	// TODO(keystone): wire internal/api/keystone once it lands.
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			project := r.Header.Get("X-Project-Id")
			if project == "" {
				project = "admin"
			}
			p := auth.Principal{ProjectID: project, Admin: true, Roles: []string{"admin"}}
			h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		})
	}, nil
}
