package neutron

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Error is an API failure in Neutron's shape:
// {"NeutronError": {"type": ..., "message": ..., "detail": ""}}.
type Error struct {
	Status  int
	Type    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message) }

func newError(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is Neutron's 400 for invalid input.
func BadRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "HTTPBadRequest", format, args...)
}

// InvalidInput is Neutron's 400 InvalidInput ("Invalid input for operation: ...").
func InvalidInput(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "InvalidInput",
		Message: "Invalid input for operation: " + fmt.Sprintf(format, args...) + "."}
}

// badAttr is Neutron's 400 for an attribute whose value is invalid:
// "Invalid input for attr. Reason: ...".
func badAttr(attr, format string, args ...any) *Error {
	return BadRequest("Invalid input for %s. Reason: %s.", attr, fmt.Sprintf(format, args...))
}

// NotFound is the 404 for a resource that does not exist or that the caller
// may not see. kind is Neutron's resource name: "Network", "Subnet", ...
func NotFound(kind, id string) *Error {
	return newError(http.StatusNotFound, kind+"NotFound", "%s %s could not be found.", kind, id)
}

// Conflict is a 409 with Neutron's exception type name.
func Conflict(typ, format string, args ...any) *Error {
	return newError(http.StatusConflict, typ, format, args...)
}

// Forbidden is a 403 for an action the caller's role does not allow on a
// resource it can see.
func Forbidden(format string, args ...any) *Error {
	return newError(http.StatusForbidden, "HTTPForbidden", format, args...)
}

// Unauthorized is the 401 for a request without an authenticated caller.
func Unauthorized() *Error {
	return newError(http.StatusUnauthorized, "HTTPUnauthorized", "The request you have made requires authentication.")
}

// PreconditionFailed is the 412 for an If-Match revision mismatch.
func PreconditionFailed() *Error {
	return newError(http.StatusPreconditionFailed, "RevisionNumberConstraintFailed",
		"Constrained to revision number that does not match the current revision.")
}

type errorBody struct {
	NeutronError struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Detail  string `json:"detail"`
	} `json:"NeutronError"`
}

// writeError answers with err in Neutron's format. Errors that are not an
// *Error are internal: logged, and answered with a 500 that leaks nothing.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.Is(err, store.ErrTxnTooLarge) {
		e = BadRequest("The request changes too many objects for one transaction of the store: split it into smaller bulk requests.")
	}
	if e == nil && !errors.As(err, &e) && timedOut(r, err) {
		s.log.Warn("request timed out on the store", "method", r.Method, "path", r.URL.Path, "err", err)
		e = storeUnavailable()
	}
	if e == nil && !errors.As(err, &e) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = newError(http.StatusInternalServerError, "HTTPInternalServerError",
			"Request Failed: internal server error while processing your request.")
	}
	writeJSON(w, e.Status, neutronError(e.Type, e.Message))
}

func neutronError(typ, message string) errorBody {
	var body errorBody
	body.NeutronError.Type = typ
	body.NeutronError.Message = message
	return body
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode response", "err", err)
		http.Error(w, `{"NeutronError":{"type":"HTTPInternalServerError","message":"encode failed","detail":""}}`, 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
