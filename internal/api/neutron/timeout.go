package neutron

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// DefaultStoreTimeout bounds the store work of one API read when
// Config.StoreTimeout is zero: a read that etcd does not answer in that
// time (a paused or partitioned member, whose connection the etcd client
// keeps until its keepalive gives up, 15 s) is answered 503 instead of
// waiting.
//
// Writes have no such deadline: a transaction whose answer is lost is
// settled (store.Tx.resolve) before the request is answered, so that a
// failed request never has changed anything; cutting it short would
// answer 503 for a change that may have been applied.
const DefaultStoreTimeout = 10 * time.Second

// withStoreTimeout gives each read (GET, HEAD) a deadline for its store
// work (Config.StoreTimeout; negative: none).
func (s *Server) withStoreTimeout(h http.Handler) http.Handler {
	d := s.cfg.StoreTimeout
	if d == 0 {
		d = DefaultStoreTimeout
	}
	if d < 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// timedOut reports whether err is the request's store deadline passing.
func timedOut(r *http.Request, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded)
}

// storeUnavailable is the 503 of a read whose store did not answer in
// time.
func storeUnavailable() *Error {
	return newError(http.StatusServiceUnavailable, "ServiceUnavailable",
		"The network service's store did not answer in time; retry the request.")
}
