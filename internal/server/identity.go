package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/wyvern-sdn/wyvern/internal/api/keystone"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// registerIdentity mounts the identity routes and returns the middleware
// that authenticates Neutron requests and the handler the web console
// calls in process.
//
// With a remote Keystone (--keystone-url) Wyvern is only the network
// service, as Neutron is: tokens are validated by that Keystone, and every
// /v3 path answers 404 naming the real identity service, so a client
// misconfigured with Wyvern as its auth URL fails at once and clearly
// rather than being handed passwords to forward. Only the console's login,
// in process, forwards its POST /v3/auth/tokens to that Keystone.
func registerIdentity(ctx context.Context, mux *http.ServeMux, st *store.Store, cfg Config, log *slog.Logger) (func(http.Handler) http.Handler, http.Handler, error) {
	if cfg.Keystone.URL != "" {
		rk, err := keystone.NewRemote(cfg.Keystone, log)
		if err != nil {
			return nil, nil, err
		}
		mux.HandleFunc("/v3", rk.NotIdentity)
		mux.HandleFunc("/v3/", rk.NotIdentity)
		consoleMux := http.NewServeMux()
		consoleMux.HandleFunc("POST /v3/auth/tokens", rk.IssueToken)
		consoleMux.Handle("/", mux)
		log.Info("tokens are validated by a remote Keystone", "url", rk.URL(), "service_user", cfg.Keystone.Username)
		return rk.Middleware, consoleMux, nil
	}
	if cfg.NoAuth && cfg.AdminPassword == "" && cfg.UsersFile == "" {
		log.Warn("authentication disabled (--noauth): every caller is admin")
		mux.HandleFunc("/v3", keystone.NotFound)
		mux.HandleFunc("/v3/", keystone.NotFound)
		return keystone.NoAuth, mux, nil
	}
	ks, err := keystone.New(keystone.Config{UsersFile: cfg.UsersFile, AdminName: cfg.AdminUser,
		AdminPassword: cfg.AdminPassword, AdminProject: cfg.AdminProject,
		TokenTTL: cfg.TokenTTL, PublicURL: cfg.PublicURL}, st, log)
	if err != nil {
		return nil, nil, err
	}
	ks.Register(mux)
	return func(h http.Handler) http.Handler { return ks.Middleware(h, cfg.NoAuth) }, mux, nil
}
