package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/wyvern-sdn/wyvern/internal/api/keystone"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// registerIdentity mounts the Keystone endpoint and returns the middleware
// that authenticates Neutron requests.
func registerIdentity(ctx context.Context, mux *http.ServeMux, st *store.Store, cfg Config, log *slog.Logger) (func(http.Handler) http.Handler, error) {
	if cfg.NoAuth && cfg.AdminPassword == "" && cfg.UsersFile == "" {
		log.Warn("authentication disabled (--noauth): every caller is admin")
		mux.HandleFunc("/v3", keystone.NotFound)
		mux.HandleFunc("/v3/", keystone.NotFound)
		return keystone.NoAuth, nil
	}
	ks, err := keystone.New(keystone.Config{UsersFile: cfg.UsersFile, AdminName: cfg.AdminUser,
		AdminPassword: cfg.AdminPassword, AdminProject: cfg.AdminProject,
		TokenTTL: cfg.TokenTTL, PublicURL: cfg.PublicURL}, st, log)
	if err != nil {
		return nil, err
	}
	ks.Register(mux)
	return func(h http.Handler) http.Handler { return ks.Middleware(h, cfg.NoAuth) }, nil
}
