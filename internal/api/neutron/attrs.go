package neutron

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
)

// attrs is the attribute map of one resource in a request body. Each
// accessor reports whether the attribute was given, and an InvalidInput
// error when it has the wrong type.
type attrs map[string]json.RawMessage

// maxBody bounds request bodies; bulk creates of thousands of ports fit.
const maxBody = 16 << 20

// decodeBody reads {"<singular>": {...}} or, for bulk create,
// {"<collection>": [{...}, ...]}. bulk reports which form was used.
func decodeBody(r *http.Request, singular, collection string) (items []attrs, bulk bool, err error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, false, BadRequest("Failed to read request body: %v", err)
	}
	if len(b) > maxBody {
		return nil, false, newError(http.StatusRequestEntityTooLarge, "HTTPRequestEntityTooLarge", "Request body too large")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, false, BadRequest("Malformed request body: %v", err)
	}
	if raw, ok := top[singular]; ok && len(top) == 1 {
		var a attrs
		if err := json.Unmarshal(raw, &a); err != nil || a == nil {
			return nil, false, BadRequest("Malformed request body: %s must be an object", singular)
		}
		return []attrs{a}, false, nil
	}
	if raw, ok := top[collection]; ok && collection != "" && len(top) == 1 {
		var list []attrs
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, false, BadRequest("Malformed request body: %s must be a list of objects", collection)
		}
		if len(list) == 0 {
			return nil, false, BadRequest("Resources required")
		}
		for _, a := range list {
			if a == nil {
				return nil, false, BadRequest("Malformed request body: %s must be a list of objects", collection)
			}
		}
		return list, true, nil
	}
	return nil, false, BadRequest("Unable to find '%s' in request body", singular)
}

// only rejects attributes outside allowed, as Neutron does.
func (a attrs) only(allowed ...string) error {
	var bad []string
	for k := range a {
		found := false
		for _, ok := range allowed {
			if k == ok {
				found = true
				break
			}
		}
		if !found {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return BadRequest("Unrecognized attribute(s) '%s'", strings.Join(bad, ", "))
	}
	return nil
}

func (a attrs) has(k string) bool { _, ok := a[k]; return ok }

func (a attrs) isNull(k string) bool { return string(a[k]) == "null" }

func (a attrs) str(k string) (string, bool, error) {
	raw, ok := a[k]
	if !ok {
		return "", false, nil
	}
	if string(raw) == "null" {
		return "", true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, InvalidInput("'%s' is not a valid string for %s", string(raw), k)
	}
	if len(s) > 255 && k != "description" {
		return "", true, InvalidInput("'%s' exceeds maximum length of 255 for %s", s, k)
	}
	return s, true, nil
}

// boolean accepts JSON booleans and the strings Neutron converts
// ("true", "False", "1", "0").
func (a attrs) boolean(k string) (bool, bool, error) {
	raw, ok := a[k]
	if !ok {
		return false, false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(s) {
		case "true", "1", "yes":
			return true, true, nil
		case "false", "0", "no":
			return false, true, nil
		}
	}
	return false, true, InvalidInput("'%s' cannot be converted to boolean", string(raw))
}

func (a attrs) integer(k string) (int, bool, error) {
	raw, ok := a[k]
	if !ok || string(raw) == "null" {
		return 0, ok, nil
	}
	var n json.Number
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			n = json.Number(s)
		} else {
			return 0, true, InvalidInput("'%s' is not an integer", string(raw))
		}
	}
	i, err := n.Int64()
	if err != nil {
		return 0, true, InvalidInput("'%s' is not an integer", string(raw))
	}
	return int(i), true, nil
}

func (a attrs) strList(k string) ([]string, bool, error) {
	raw, ok := a[k]
	if !ok {
		return nil, false, nil
	}
	if string(raw) == "null" {
		return []string{}, true, nil
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, true, InvalidInput("'%s' is not a list", string(raw))
	}
	if l == nil {
		l = []string{}
	}
	return l, true, nil
}

// into decodes attribute k into v (for structured attributes).
func (a attrs) into(k string, v any) (bool, error) {
	raw, ok := a[k]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, InvalidInput("Invalid data format for %s: '%s'", k, string(raw))
	}
	return true, nil
}

// common reads the standard writable attributes into std.
func (a attrs) common(name, description *string) error {
	if v, ok, err := a.str("name"); err != nil {
		return err
	} else if ok {
		*name = v
	}
	if v, ok, err := a.str("description"); err != nil {
		return err
	} else if ok {
		if len(v) > 255 {
			return InvalidInput("'%s' exceeds maximum length of 255", v)
		}
		*description = v
	}
	return nil
}

// project resolves project_id/tenant_id on create: only admins may create
// for another project.
func (a attrs) project(callerProject string, admin bool) (string, error) {
	p, okP, err := a.str("project_id")
	if err != nil {
		return "", err
	}
	t, okT, err := a.str("tenant_id")
	if err != nil {
		return "", err
	}
	if okP && okT && p != t {
		return "", BadRequest("'project_id' and 'tenant_id' do not match")
	}
	if !okP {
		p, okP = t, okT
	}
	if !okP || p == "" {
		return callerProject, nil
	}
	if p != callerProject && !admin {
		return "", BadRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges")
	}
	return p, nil
}

// isUUID reports whether s is a UUID as oslo's is_uuid_like reads one:
// 32 hex digits, with or without the four hyphens.
func isUUID(s string) bool {
	if len(s) == 36 {
		for _, i := range []int{8, 13, 18, 23} {
			if s[i] != '-' {
				return false
			}
		}
		s = strings.ReplaceAll(s, "-", "")
	}
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
