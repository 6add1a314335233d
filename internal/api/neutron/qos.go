package neutron

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// QoS (extension "qos" and its companions): policies, their rules
// (bandwidth_limit in both directions, dscp_marking, minimum_bandwidth),
// the rule types served, and qos_policy_id on networks and ports. Keys:
// store.QoSPolicyKey (the policy with its rules), store.QoSBoundKey (what
// it is attached to) and store.QoSDefaultKey (a project's default).
//
// The data plane (pipeline/qos.go) enforces bandwidth limits with
// OpenFlow meters and DSCP marks with a set-field. It cannot guarantee a
// minimum bandwidth: as Neutron does for a backend without the rule type,
// such a rule is stored and shown, rule-types does not list it, and a
// policy holding one is refused (409 QosRuleNotSupported) on a port or a
// network, as is adding one to a policy in use.

const qosPolicyKind = "QosPolicy"

// policyObj is a QoS policy as the API shows it.
type policyObj struct{ model.QoSPolicy }

// MarshalJSON renders the policy with each rule in Neutron's form.
func (o *policyObj) MarshalJSON() ([]byte, error) {
	type plain model.QoSPolicy
	rules := make([]map[string]any, len(o.Rules))
	for i := range o.Rules {
		rules[i] = ruleJSON(o.ID, &o.Rules[i], true)
	}
	return json.Marshal(struct {
		*plain
		Rules []map[string]any `json:"rules"`
	}{plain: (*plain)(&o.QoSPolicy), Rules: rules})
}

// ruleJSON is a rule's API form; withType adds "type" (as in a policy's
// rules list).
func ruleJSON(policyID string, r *model.QoSRule, withType bool) map[string]any {
	m := map[string]any{"id": r.ID, "qos_policy_id": policyID}
	if withType {
		m["type"] = r.Type
	}
	switch r.Type {
	case model.RuleBandwidthLimit:
		m["max_kbps"], m["max_burst_kbps"], m["direction"] = r.MaxKbps, r.MaxBurstKbps, r.Direction
	case model.RuleDSCPMarking:
		m["dscp_mark"] = r.DSCPMark
	case model.RuleMinimumBandwidth:
		m["min_kbps"], m["direction"] = r.MinKbps, r.Direction
	}
	return m
}

func qosPoliciesResource(s *Server) *resource {
	return &resource{
		collection: "qos/policies", singular: "policy", kind: qosPolicyKind,
		list: func(ctx context.Context) ([]model.Object, error) {
			l, _, err := store.ListOf[model.QoSPolicy](ctx, s.store, store.KindPrefix(store.KindQoSPolicies))
			out := make([]model.Object, len(l))
			for i := range l {
				out[i] = &policyObj{l[i]}
			}
			return out, err
		},
		load: func(tx *store.Tx, id string) (model.Object, error) {
			pol, err := loadPolicy(tx, id)
			if pol == nil || err != nil {
				return nil, err
			}
			return &policyObj{*pol}, nil
		},
		save: func(tx *store.Tx, o model.Object) error {
			return tx.Put(store.QoSPolicyKey(o.Std().ID), &o.(*policyObj).QoSPolicy)
		},
		visible: func(p auth.Principal, o model.Object) bool { return o.(*policyObj).Shared },
		create:  s.createPolicy,
		update:  s.updatePolicy,
		remove:  s.removePolicy,
		extra: func(s *Server, mux *http.ServeMux) {
			for _, typ := range []string{model.RuleBandwidthLimit, model.RuleDSCPMarking, model.RuleMinimumBandwidth} {
				base := "/v2.0/qos/policies/{id}/" + typ + "_rules"
				mux.HandleFunc("GET "+base, s.handleRules(typ))
				mux.HandleFunc("POST "+base, s.handleRuleCreate(typ))
				mux.HandleFunc("GET "+base+"/{rule}", s.handleRule(typ))
				mux.HandleFunc("PUT "+base+"/{rule}", s.handleRule(typ))
				mux.HandleFunc("DELETE "+base+"/{rule}", s.handleRule(typ))
			}
			mux.HandleFunc("GET /v2.0/qos/rule-types", s.handleRuleTypes)
			mux.HandleFunc("GET /v2.0/qos/rule-types/{type}", s.handleRuleType)
		},
	}
}

func loadPolicy(tx *store.Tx, id string) (*model.QoSPolicy, error) {
	var pol model.QoSPolicy
	ok, err := tx.Get(store.QoSPolicyKey(id), &pol)
	if err != nil || !ok {
		return nil, err
	}
	return &pol, nil
}

// policyNotFound is Neutron's QosPolicyNotFound.
func policyNotFound(id string) *Error {
	return newError(http.StatusNotFound, "QosPolicyNotFound", "QoS policy %s could not be found.", id)
}

// setDefault makes pol its project's default policy (or stops it being
// one), refusing a second default (QoSPolicyDefaultAlreadyExists).
func setDefault(tx *store.Tx, pol *model.QoSPolicy, want bool) error {
	key := store.QoSDefaultKey(pol.ProjectID)
	cur := tx.GetString(key)
	switch {
	case want && cur != "" && cur != pol.ID:
		return Conflict("QoSPolicyDefaultAlreadyExists", "A default QoS policy exists for project %s.", pol.ProjectID)
	case want:
		tx.PutString(key, pol.ID)
	case cur == pol.ID:
		tx.Delete(key)
	}
	pol.IsDefault = want
	return nil
}

func (s *Server) createPolicy(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only("name", "description", "project_id", "tenant_id", "shared", "is_default"); err != nil {
		return nil, err
	}
	pol := &model.QoSPolicy{Standard: std, Rules: []model.QoSRule{}}
	if err := a.common(&pol.Name, &pol.Description); err != nil {
		return nil, err
	}
	if err := s.policyFlags(tx, p, pol, a); err != nil {
		return nil, err
	}
	return &policyObj{*pol}, tx.Put(store.QoSPolicyKey(pol.ID), pol)
}

// policyFlags applies shared (an admin's, as Neutron's policy has it) and
// is_default.
func (s *Server) policyFlags(tx *store.Tx, p auth.Principal, pol *model.QoSPolicy, a attrs) error {
	if v, ok, err := a.boolean("shared"); err != nil {
		return err
	} else if ok {
		if !p.Admin && v {
			return Forbidden("(rule:create_policy:shared) is disallowed by policy")
		}
		pol.Shared = v
	}
	if v, ok, err := a.boolean("is_default"); err != nil {
		return err
	} else if ok {
		return setDefault(tx, pol, v)
	}
	return nil
}

func (s *Server) updatePolicy(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	o := cur.(*policyObj)
	if err := a.only("name", "description", "shared", "is_default"); err != nil {
		return nil, err
	}
	if err := a.common(&o.Name, &o.Description); err != nil {
		return nil, err
	}
	if err := s.policyFlags(tx, p, &o.QoSPolicy, a); err != nil {
		return nil, err
	}
	touch(o)
	return o, tx.Put(store.QoSPolicyKey(o.ID), &o.QoSPolicy)
}

func (s *Server) removePolicy(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	o := cur.(*policyObj)
	if bound := loadBound(tx, o.ID); len(bound) > 0 {
		kind, id, _ := strings.Cut(bound[0], ":")
		return Conflict("QosPolicyInUse", "QoS Policy %s is used by %s %s.", o.ID, kind, id)
	}
	if tx.GetString(store.QoSDefaultKey(o.ProjectID)) == o.ID {
		tx.Delete(store.QoSDefaultKey(o.ProjectID))
	}
	tx.Delete(store.QoSPolicyKey(o.ID))
	tx.Delete(store.QoSBoundKey(o.ID))
	return nil
}

// loadBound is what a policy is attached to ("network:<id>", "port:<id>").
func loadBound(tx *store.Tx, policyID string) []string {
	var l []string
	if _, err := tx.Get(store.QoSBoundKey(policyID), &l); err != nil {
		return nil
	}
	return l
}

func putBound(tx *store.Tx, policyID string, l []string) error {
	if len(l) == 0 {
		tx.Delete(store.QoSBoundKey(policyID))
		return nil
	}
	return tx.Put(store.QoSBoundKey(policyID), l)
}

// unsupportedRule is the first rule of pol the data plane cannot enforce.
func unsupportedRule(pol *model.QoSPolicy) *model.QoSRule {
	for i := range pol.Rules {
		if !slices.Contains(model.ServedRuleTypes, pol.Rules[i].Type) {
			return &pol.Rules[i]
		}
	}
	return nil
}

// attachQoS reads qos_policy_id from a and attaches the policy to the
// network or port (kind "network" or "port") whose current policy is
// *cur, in the caller's transaction: the policy must be visible to the
// caller and hold only rules the data plane enforces. It reports whether
// a named qos_policy_id.
func (s *Server) attachQoS(tx *store.Tx, p auth.Principal, a attrs, kind, id string, cur **string) (bool, error) {
	if !a.has("qos_policy_id") {
		return false, nil
	}
	want, _, err := a.str("qos_policy_id")
	if err != nil {
		return true, err
	}
	return true, s.setQoS(tx, p, kind, id, cur, want)
}

// setQoS attaches policy want ("" for none) in place of *cur.
func (s *Server) setQoS(tx *store.Tx, p auth.Principal, kind, id string, cur **string, want string) error {
	old := ""
	if *cur != nil {
		old = **cur
	}
	if want == old {
		return nil
	}
	member := kind + ":" + id
	if want != "" {
		pol, err := loadPolicy(tx, want)
		if err != nil {
			return err
		}
		if pol == nil || !(p.Admin || pol.ProjectID == p.ProjectID || pol.Shared) {
			return policyNotFound(want)
		}
		if r := unsupportedRule(pol); r != nil {
			if kind == "network" {
				return Conflict("QosRuleNotSupportedByNetwork", "Rule %s is not supported by network %s: this data plane cannot guarantee a minimum bandwidth.", r.Type, id)
			}
			return Conflict("QosRuleNotSupported", "Rule %s is not supported by port %s: this data plane cannot guarantee a minimum bandwidth.", r.Type, id)
		}
		if err := putBound(tx, want, append(loadBound(tx, want), member)); err != nil {
			return err
		}
		w := want
		*cur = &w
	} else {
		*cur = nil
	}
	if old != "" {
		return putBound(tx, old, slices.DeleteFunc(loadBound(tx, old), func(m string) bool { return m == member }))
	}
	return nil
}

// defaultQoS attaches the project's default policy to a network created
// without a qos_policy_id.
func (s *Server) defaultQoS(tx *store.Tx, p auth.Principal, n *model.Network) error {
	def := tx.GetString(store.QoSDefaultKey(n.ProjectID))
	if def == "" {
		return nil
	}
	return s.setQoS(tx, auth.Principal{Admin: true}, "network", n.ID, &n.QoSPolicyID, def)
}

// releaseQoS detaches a deleted network's or port's policy.
func releaseQoS(tx *store.Tx, kind, id string, cur *string) error {
	if cur == nil || *cur == "" {
		return nil
	}
	member := kind + ":" + id
	return putBound(tx, *cur, slices.DeleteFunc(loadBound(tx, *cur), func(m string) bool { return m == member }))
}

// Rules.

// ruleKinds names each rule type's body and NotFound kind.
var ruleKinds = map[string]struct{ singular, collection, notFound string }{
	model.RuleBandwidthLimit:   {"bandwidth_limit_rule", "bandwidth_limit_rules", "QosBandwidthLimitRule"},
	model.RuleDSCPMarking:      {"dscp_marking_rule", "dscp_marking_rules", "QosDscpMarkingRule"},
	model.RuleMinimumBandwidth: {"minimum_bandwidth_rule", "minimum_bandwidth_rules", "QosMinimumBandwidthRule"},
}

// maxKbps is Neutron's upper bound of rate attributes
// (db_const.DB_INTEGER_MAX_VALUE).
const maxKbps = 2147483647

// parseRule applies a rule body to r (a new rule when create), with
// Neutron's validation.
func parseRule(typ string, a attrs, r *model.QoSRule, create bool) error {
	rate := func(k string, dst *int, required bool) error {
		v, ok, err := a.integer(k)
		if err != nil {
			return err
		}
		if !ok {
			if required {
				return BadRequest("Failed to parse request. Required attribute '%s' not specified", k)
			}
			return nil
		}
		if v < 0 || v > maxKbps {
			return InvalidInput("%d is not in range [0, %d] for %s", v, maxKbps, k)
		}
		*dst = v
		return nil
	}
	direction := func() error {
		d, ok, err := a.str("direction")
		if err != nil || !ok {
			return err
		}
		if d != model.DirectionEgress && d != model.DirectionIngress {
			return InvalidInput("%s is not in valid_values (%s, %s) for direction", d, model.DirectionIngress, model.DirectionEgress)
		}
		r.Direction = d
		return nil
	}
	switch typ {
	case model.RuleBandwidthLimit:
		if err := a.only("max_kbps", "max_burst_kbps", "direction"); err != nil {
			return err
		}
		if create {
			r.Direction = model.DirectionEgress
		}
		if err := rate("max_kbps", &r.MaxKbps, create); err != nil {
			return err
		}
		if err := rate("max_burst_kbps", &r.MaxBurstKbps, false); err != nil {
			return err
		}
		return direction()
	case model.RuleDSCPMarking:
		if err := a.only("dscp_mark"); err != nil {
			return err
		}
		v, ok, err := a.integer("dscp_mark")
		if err != nil {
			return err
		}
		if !ok && create {
			return BadRequest("Failed to parse request. Required attribute 'dscp_mark' not specified")
		}
		if ok {
			if !slices.Contains(model.ValidDSCPMarks, v) {
				return InvalidInput("%d is not in valid_values %v for dscp_mark", v, model.ValidDSCPMarks)
			}
			r.DSCPMark = v
		}
		return nil
	case model.RuleMinimumBandwidth:
		if err := a.only("min_kbps", "direction"); err != nil {
			return err
		}
		if create {
			r.Direction = model.DirectionEgress
		}
		if err := rate("min_kbps", &r.MinKbps, create); err != nil {
			return err
		}
		return direction()
	}
	return BadRequest("unknown rule type %s", typ)
}

// qosRuleKey is what a policy holds at most one of: a rule type per
// direction (dscp_marking has none).
func qosRuleKey(r *model.QoSRule) string { return r.Type + "/" + r.Direction }

// ruleConflict refuses a second rule of a type and direction in a policy.
func ruleConflict(pol *model.QoSPolicy, r *model.QoSRule) error {
	for i := range pol.Rules {
		if o := &pol.Rules[i]; o.ID != r.ID && qosRuleKey(o) == qosRuleKey(r) {
			return Conflict("QoSRulesConflict", "Rule %s conflicts with rule %s which already exists in QoS Policy %s.", r.Type, o.ID, pol.ID)
		}
	}
	return nil
}

// withPolicy runs fn on a policy the caller may see (change: and owns)
// in one transaction, writing it back when fn changed it.
func (s *Server) withPolicy(r *http.Request, change bool, fn func(tx *store.Tx, pol *model.QoSPolicy) (bool, error)) error {
	p := principal(r)
	id := r.PathValue("id")
	return s.store.Txn(r.Context(), func(tx *store.Tx) error {
		pol, err := loadPolicy(tx, id)
		if err != nil {
			return err
		}
		if pol == nil || !(p.Admin || pol.ProjectID == p.ProjectID || pol.Shared) || change && !(p.Admin || pol.ProjectID == p.ProjectID) {
			return policyNotFound(id)
		}
		dirty, err := fn(tx, pol)
		if err != nil || !dirty {
			return err
		}
		touch(pol)
		return tx.Put(store.QoSPolicyKey(pol.ID), pol)
	})
}

func (s *Server) handleRules(typ string) http.HandlerFunc {
	k := ruleKinds[typ]
	return func(w http.ResponseWriter, r *http.Request) {
		out := []any{}
		err := s.withPolicy(r, false, func(tx *store.Tx, pol *model.QoSPolicy) (bool, error) {
			for i := range pol.Rules {
				if pol.Rules[i].Type == typ {
					out = append(out, ruleJSON(pol.ID, &pol.Rules[i], false))
				}
			}
			return false, nil
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{k.collection: out})
	}
}

func (s *Server) handleRuleCreate(typ string) http.HandlerFunc {
	k := ruleKinds[typ]
	return func(w http.ResponseWriter, r *http.Request) {
		items, bulk, err := decodeBody(r, k.singular, "")
		if err == nil && (bulk || len(items) != 1) {
			err = BadRequest("Bulk create of %s is not supported", k.collection)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rule := model.QoSRule{ID: newID(), Type: typ}
		if err := parseRule(typ, items[0], &rule, true); err != nil {
			s.writeError(w, r, err)
			return
		}
		var polID string
		err = s.withPolicy(r, true, func(tx *store.Tx, pol *model.QoSPolicy) (bool, error) {
			polID = pol.ID
			if err := ruleConflict(pol, &rule); err != nil {
				return false, err
			}
			if !slices.Contains(model.ServedRuleTypes, typ) {
				if bound := loadBound(tx, pol.ID); len(bound) > 0 {
					kind, id, _ := strings.Cut(bound[0], ":")
					return false, Conflict("QosRuleNotSupported", "Rule %s is not supported by %s %s: this data plane cannot guarantee a minimum bandwidth, and policy %s is attached to it.", typ, kind, id, pol.ID)
				}
			}
			pol.Rules = append(pol.Rules, rule)
			return true, nil
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{k.singular: ruleJSON(polID, &rule, false)})
	}
}

// handleRule serves GET, PUT and DELETE of one rule.
func (s *Server) handleRule(typ string) http.HandlerFunc {
	k := ruleKinds[typ]
	return func(w http.ResponseWriter, r *http.Request) {
		ruleID := r.PathValue("rule")
		var body attrs
		if r.Method == http.MethodPut {
			items, bulk, err := decodeBody(r, k.singular, "")
			if err == nil && (bulk || len(items) != 1) {
				err = BadRequest("Bulk update is not supported")
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			body = items[0]
		}
		var out map[string]any
		err := s.withPolicy(r, r.Method != http.MethodGet, func(tx *store.Tx, pol *model.QoSPolicy) (bool, error) {
			i := slices.IndexFunc(pol.Rules, func(x model.QoSRule) bool { return x.ID == ruleID && x.Type == typ })
			if i < 0 {
				return false, newError(http.StatusNotFound, "QosRuleNotFound", "QoS rule %s for policy %s could not be found.", ruleID, pol.ID)
			}
			switch r.Method {
			case http.MethodGet:
				out = ruleJSON(pol.ID, &pol.Rules[i], false)
				return false, nil
			case http.MethodDelete:
				pol.Rules = slices.Delete(pol.Rules, i, i+1)
				return true, nil
			}
			rule := pol.Rules[i]
			if err := parseRule(typ, body, &rule, false); err != nil {
				return false, err
			}
			if err := ruleConflict(pol, &rule); err != nil {
				return false, err
			}
			pol.Rules[i] = rule
			out = ruleJSON(pol.ID, &rule, false)
			return true, nil
		})
		switch {
		case err != nil:
			s.writeError(w, r, err)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusOK, map[string]any{k.singular: out})
		}
	}
}

// ruleParams are the parameters of each served rule type, as
// GET /v2.0/qos/rule-types/{type} reports them.
var ruleParams = map[string][]map[string]any{
	model.RuleBandwidthLimit: {
		{"parameter_name": "max_kbps", "parameter_type": "range", "parameter_values": map[string]int{"start": 0, "end": maxKbps}},
		{"parameter_name": "max_burst_kbps", "parameter_type": "range", "parameter_values": map[string]int{"start": 0, "end": maxKbps}},
		{"parameter_name": "direction", "parameter_type": "choices", "parameter_values": []string{model.DirectionIngress, model.DirectionEgress}},
	},
	model.RuleDSCPMarking: {
		{"parameter_name": "dscp_mark", "parameter_type": "choices", "parameter_values": model.ValidDSCPMarks},
	},
}

func (s *Server) handleRuleTypes(w http.ResponseWriter, r *http.Request) {
	out := []any{}
	for _, t := range model.ServedRuleTypes {
		out = append(out, map[string]string{"type": t})
	}
	writeJSON(w, http.StatusOK, map[string]any{"rule_types": out})
}

func (s *Server) handleRuleType(w http.ResponseWriter, r *http.Request) {
	t := r.PathValue("type")
	if !slices.Contains(model.ServedRuleTypes, t) {
		s.writeError(w, r, newError(http.StatusNotFound, "HTTPNotFound", "Rule type %s could not be found.", t))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rule_type": map[string]any{"type": t,
		"drivers": []any{map[string]any{"name": "wyvern", "supported_parameters": ruleParams[t]}}}})
}
