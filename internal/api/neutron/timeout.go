package neutron

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// DefaultStoreTimeout bounds the store work of one API request when
// Config.StoreTimeout is zero: a request that etcd does not answer in that
// time (a paused or partitioned member, whose connection the etcd client
// keeps until its keepalive gives up, 15 s) is answered 503 instead of
// waiting.
const DefaultStoreTimeout = 10 * time.Second

// withStoreTimeout gives each request a deadline for its store work
// (Config.StoreTimeout; negative: none).
func (s *Server) withStoreTimeout(h http.Handler) http.Handler {
	d := s.cfg.StoreTimeout
	if d == 0 {
		d = DefaultStoreTimeout
	}
	if d < 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// timedOut reports whether err is the request's store deadline passing.
func timedOut(r *http.Request, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded)
}

// storeUnavailable is the 503 of a request whose store did not answer in
// time. A write may or may not have been applied: the store settles a
// transaction whose answer was lost only while the request lasts.
func storeUnavailable() *Error {
	return newError(http.StatusServiceUnavailable, "ServiceUnavailable",
		"The network service's store did not answer in time; retry the request (a change may have been applied: read it back first).")
}
