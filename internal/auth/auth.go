// Package auth carries the authenticated caller of an API request through a
// context. The Keystone token middleware puts a Principal there; the Neutron
// handlers read it to scope what the caller may see and change.
package auth

import "context"

// Principal is the caller of one request, as established by a token.
type Principal struct {
	UserID      string
	UserName    string
	ProjectID   string
	ProjectName string
	Roles       []string
	// Admin callers see and change every project's resources.
	Admin bool
}

// HasRole reports whether the principal holds the named role.
func (p Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of the request, and false when the
// request carries none.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
