package keystone

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/wyvern-sdn/wyvern/internal/auth"
)

// Middleware guards the Neutron routes: it validates X-Auth-Token and puts
// the token's auth.Principal into the request context. A missing, invalid,
// expired, revoked or unscoped token gets 401 in keystonemiddleware's format
// (what Neutron answers). With noauth (development only) every request is
// the admin of the project named by X-Project-Id, else of project "admin".
func (s *Service) Middleware(next http.Handler, noauth bool) http.Handler {
	if noauth {
		return NoAuth(next)
	}
	return authenticate(s, s.BaseURL, s.log, next)
}

// validator is where a token's data comes from: the built-in Service or a
// Remote Keystone.
type validator interface {
	Validate(ctx context.Context, tokenID string) (*Token, error)
}

// authenticate is the token middleware of both the built-in and a remote
// Keystone: the token's roles become the auth.Principal, the same way for
// both. keystoneURL names the identity service in a 401's WWW-Authenticate.
func authenticate(v validator, keystoneURL func(*http.Request) string, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := v.Validate(r.Context(), r.Header.Get("X-Auth-Token"))
		if errors.Is(err, ErrInvalidToken) || (err == nil && tok.Project == nil) {
			w.Header().Set("WWW-Authenticate", `Keystone uri="`+keystoneURL(r)+`"`)
			keystoneError(w, http.StatusUnauthorized, "Unauthorized", unauthorizedMsg)
			return
		}
		if err != nil {
			log.Error("validate token", "err", err)
			unavailable(w)
			return
		}
		p := auth.Principal{
			UserID:      tok.User.ID,
			UserName:    tok.User.Name,
			ProjectID:   tok.Project.ID,
			ProjectName: tok.Project.Name,
			Roles:       tok.RoleNames(),
			Admin:       tok.HasRole(RoleAdmin),
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// NoAuth is the development middleware: every request is an admin of the
// project in X-Project-Id, else of project "admin". It needs no Service.
func NoAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		project := r.Header.Get("X-Project-Id")
		if project == "" {
			project = "admin"
		}
		p := auth.Principal{
			UserID:      "admin",
			UserName:    "admin",
			ProjectID:   project,
			ProjectName: project,
			Roles:       []string{RoleAdmin, RoleMember, RoleReader},
			Admin:       true,
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}
