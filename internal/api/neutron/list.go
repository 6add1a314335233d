package neutron

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// reserved query parameters that are not filters.
var reserved = map[string]bool{
	"fields": true, "sort_key": true, "sort_dir": true, "limit": true, "marker": true,
	"page_reverse": true, "tags": true, "tags-any": true, "not-tags": true, "not-tags-any": true,
}

// handleList serves GET /v2.0/<collection> with Neutron's conventions:
// filters (a repeated key means OR), fields, sort_key/sort_dir, limit,
// marker, page_reverse and <collection>_links.
func (s *Server) handleList(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		q := r.URL.Query()
		if s.fastPage(w, r, res, p.Admin, q) {
			return
		}
		page, links, err := s.listPage(r, res, p, q)
		if err == nil && res.prepare != nil {
			var wrote bool
			if wrote, err = res.prepare(r.Context()); err == nil && wrote {
				page, links, err = s.listPage(r, res, p, q)
			}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]any, len(page))
		for i, it := range page {
			v, err := project(it.obj, q["fields"])
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			out[i] = v
		}
		body := map[string]any{res.bodyKey(): out}
		if links != nil {
			body[res.bodyKey()+"_links"] = links
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// listPage reads the collection and gives the page of it the caller
// sees, as the query filters, sorts and paginates it.
func (s *Server) listPage(r *http.Request, res *resource, p auth.Principal, q url.Values) ([]item, []link, error) {
	all, err := res.list(r.Context())
	if err != nil {
		return nil, nil, err
	}
	visible := all[:0:0]
	for _, o := range all {
		if s.canSee(res, p, o) && matchTags(o.Std().Tags, q) {
			visible = append(visible, o)
		}
	}
	items, err := filterAndSort(visible, q)
	if err != nil {
		return nil, nil, err
	}
	return paginate(items, q, s.requestBase(r), res.collection)
}

type item struct {
	obj model.Object
	m   map[string]any // JSON form, only when filtering or sorting needs it
}

func asMap(o model.Object) (map[string]any, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("neutron: encode %T: %w", o, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("neutron: decode %T: %w", o, err)
	}
	return m, nil
}

func matchTags(tags []string, q url.Values) bool {
	has := map[string]bool{}
	for _, t := range tags {
		has[t] = true
	}
	split := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for _, t := range strings.Split(v, ",") {
				if t != "" {
					out = append(out, t)
				}
			}
		}
		return out
	}
	if want := split("tags"); len(want) > 0 {
		for _, t := range want {
			if !has[t] {
				return false
			}
		}
	}
	if want := split("tags-any"); len(want) > 0 {
		any := false
		for _, t := range want {
			any = any || has[t]
		}
		if !any {
			return false
		}
	}
	if want := split("not-tags"); len(want) > 0 {
		all := true
		for _, t := range want {
			all = all && has[t]
		}
		if all {
			return false
		}
	}
	for _, t := range split("not-tags-any") {
		if has[t] {
			return false
		}
	}
	return true
}

// valueString renders a JSON value the way a query string would carry it.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// matchFilter reports whether the attribute value v matches any of the
// wanted values. Lists match when any element matches; fixed_ips takes
// "ip_address=..." and "subnet_id=..." forms.
func matchFilter(key string, v any, want []string) bool {
	for _, w := range want {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					k, val, _ := strings.Cut(w, "=")
					if valueString(m[k]) == val {
						return true
					}
					continue
				}
				if valueString(e) == w {
					return true
				}
			}
		case bool:
			if b, err := strconv.ParseBool(strings.ToLower(w)); err == nil && b == x {
				return true
			}
		default:
			if valueString(x) == w {
				return true
			}
		}
	}
	return false
}

// filterOnly is an object with attributes Neutron filters on but does not
// show (a subnet's "shared").
type filterOnly interface{ filterAttrs() map[string]any }

func filterAndSort(objs []model.Object, q url.Values) ([]item, error) {
	filters := map[string][]string{}
	for k, v := range q {
		if !reserved[k] {
			filters[k] = v
		}
	}
	sortKeys := q["sort_key"]
	needMap := len(filters) > 0 || len(sortKeys) > 0
	items := make([]item, 0, len(objs))
	for _, o := range objs {
		it := item{obj: o}
		if needMap {
			m, err := asMap(o)
			if err != nil {
				return nil, err
			}
			it.m = m
			var hidden map[string]any
			if f, isF := o.(filterOnly); isF {
				hidden = f.filterAttrs()
			}
			ok := true
			for k, want := range filters {
				v, present := m[k]
				if !present {
					v, present = hidden[k]
				}
				if !present {
					if k == "tenant_id" {
						v = m["project_id"]
					} else {
						// Neutron ignores filters on unknown attributes.
						continue
					}
				}
				if !matchFilter(k, v, want) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
		}
		items = append(items, it)
	}
	dirs := q["sort_dir"]
	for i, d := range dirs {
		if d != "asc" && d != "desc" {
			return nil, BadRequest("%s is an invalid value for sort_dir, valid values are 'asc' and 'desc'", d)
		}
		if i >= len(sortKeys) {
			return nil, BadRequest("The number of sort_keys and sort_dirs must be same")
		}
	}
	if len(sortKeys) > 0 && len(items) > 0 {
		for _, k := range sortKeys {
			if _, ok := items[0].m[k]; !ok {
				return nil, BadRequest("%s is an invalid attribute for sort_keys", k)
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		for n, k := range sortKeys {
			a, b := items[i].m[k], items[j].m[k]
			c := compare(a, b)
			if c == 0 {
				continue
			}
			if n < len(dirs) && dirs[n] == "desc" {
				return c > 0
			}
			return c < 0
		}
		return items[i].obj.Std().ID < items[j].obj.Std().ID
	})
	return items, nil
}

func compare(a, b any) int {
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(valueString(a), valueString(b))
}

type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// paginate applies limit/marker/page_reverse and builds next/previous
// links, as Neutron's pagination helper does.
func paginate(items []item, q url.Values, base, collection string) ([]item, []link, error) {
	ls := q.Get("limit")
	if ls == "" {
		return items, nil, nil
	}
	limit, err := strconv.Atoi(ls)
	if err != nil || limit < 0 {
		return nil, nil, BadRequest("Limit must be an integer 0 or greater and not '%s'", ls)
	}
	if limit == 0 {
		return items, nil, nil
	}
	reverse := strings.EqualFold(q.Get("page_reverse"), "true")
	start := 0
	end := len(items)
	if marker := q.Get("marker"); marker != "" {
		idx := -1
		for i, it := range items {
			if it.obj.Std().ID == marker {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, nil, newError(http.StatusNotFound, "MarkerNotFound", "Marker %s could not be found.", marker)
		}
		if reverse {
			end = idx
		} else {
			start = idx + 1
		}
	}
	var page []item
	var more bool
	if reverse {
		from := end - limit
		if from < 0 {
			from = 0
		}
		page = items[from:end]
		more = from > 0
	} else {
		to := start + limit
		if to > len(items) {
			to = len(items)
		}
		page = items[start:to]
		more = to < len(items)
	}
	return page, pageLinks(page, q, base, collection, more, reverse), nil
}

// pageLinks builds the next/previous links of a page, as Neutron's
// pagination helper does.
func pageLinks(page []item, q url.Values, base, collection string, more, reverse bool) []link {
	mk := func(rel, marker string, rev bool) link {
		v := url.Values{}
		for k, vs := range q {
			if k != "marker" && k != "page_reverse" {
				v[k] = vs
			}
		}
		v.Set("marker", marker)
		if rev {
			v.Set("page_reverse", "True")
		}
		return link{Rel: rel, Href: base + "/v2.0/" + collection + "?" + v.Encode()}
	}
	links := []link{}
	if len(page) > 0 {
		first, last := page[0].obj.Std().ID, page[len(page)-1].obj.Std().ID
		if (!reverse && more) || (reverse && q.Get("marker") != "") {
			links = append(links, mk("next", last, false))
		}
		if (reverse && more) || (!reverse && q.Get("marker") != "") {
			links = append(links, mk("previous", first, true))
		}
	}
	return links
}

// project applies ?fields= to one object; no fields means all.
func project(o model.Object, fields []string) (any, error) {
	if len(fields) == 0 {
		return o, nil
	}
	m, err := asMap(o)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, f := range fields {
		for _, k := range strings.Split(f, ",") {
			if v, ok := m[k]; ok {
				out[k] = v
			} else if k == "tenant_id" {
				out[k] = m["project_id"]
			}
		}
	}
	return out, nil
}

// fastPage serves an admin's plain paginated listing (limit, marker and
// fields only) from the resource's id-ordered page reader, so a page of
// 1,000 does not read the whole collection. It reports false when the
// request needs the general path.
func (s *Server) fastPage(w http.ResponseWriter, r *http.Request, res *resource, admin bool, q url.Values) bool {
	if res.page == nil || !admin {
		return false
	}
	for k := range q {
		if k != "limit" && k != "marker" && k != "fields" {
			return false
		}
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		return false
	}
	marker := q.Get("marker")
	objs, more, err := res.page(r.Context(), marker, limit)
	if err != nil {
		if isNotFound(err) {
			return false // unknown marker: the general path answers it
		}
		s.writeError(w, r, err)
		return true
	}
	out := make([]any, len(objs))
	for i, o := range objs {
		v, err := project(o, q["fields"])
		if err != nil {
			s.writeError(w, r, err)
			return true
		}
		out[i] = v
	}
	items := make([]item, len(objs))
	for i, o := range objs {
		items[i] = item{obj: o}
	}
	links := pageLinks(items, q, s.requestBase(r), res.collection, more, false)
	writeJSON(w, http.StatusOK, map[string]any{res.bodyKey(): out, res.bodyKey() + "_links": links})
	return true
}
