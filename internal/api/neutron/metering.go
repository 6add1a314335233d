package neutron

import (
	"cmp"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Metering (extension "metering"): labels and their rules, under
// /v2.0/metering/. Keys: store/metering.go. As in Neutron's default
// policy, every call is an admin's: a member is refused creating (403)
// and sees no label or rule (404, empty lists). Nothing of a label or
// rule can be updated (Neutron's attributes are all allow_put False).
//
// A label applies to every router of its project, a shared label to every
// router. Its rules count the packets crossing a router's external
// gateway (ingress: from the external network into the router; egress:
// out to it) whose address on the external side is in remote_ip_prefix,
// or (extension metering_source_and_destination_fields) whose source and
// destination are in source_ip_prefix and destination_ip_prefix as the
// router sees them (an internal address before SNAT, after DNAT); what an
// excluded rule matches is not counted. The agents count them in flows
// (pipeline/metering.go) and publish their counters per chassis
// (store.MeteringCountersKey); `wyvernctl metering` sums them. IPv6
// prefixes count the IPv6 a router routes through its gateway without
// NAT, on its active gateway chassis (pipeline/ipv6gw.go); a rule without
// prefix counts both families.

// meteringLabelObj is a label as the API shows it.
type meteringLabelObj struct{ model.MeteringLabel }

// MarshalJSON renders the label with Neutron's attributes only.
func (o *meteringLabelObj) MarshalJSON() ([]byte, error) {
	l := &o.MeteringLabel
	return json.Marshal(struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
		ProjectID   string `json:"project_id"`
		TenantID    string `json:"tenant_id"`
		Shared      bool   `json:"shared"`
	}{l.ID, l.Name, l.Description, l.ProjectID, l.ProjectID, l.Shared})
}

// meteringRuleObj is a label rule as the API shows it.
type meteringRuleObj struct{ model.MeteringLabelRule }

// MarshalJSON renders the rule with Neutron's attributes only.
func (o *meteringRuleObj) MarshalJSON() ([]byte, error) {
	r := &o.MeteringLabelRule
	orNull := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return json.Marshal(struct {
		ID                  string  `json:"id"`
		MeteringLabelID     string  `json:"metering_label_id"`
		Direction           string  `json:"direction"`
		RemoteIPPrefix      *string `json:"remote_ip_prefix"`
		SourceIPPrefix      *string `json:"source_ip_prefix"`
		DestinationIPPrefix *string `json:"destination_ip_prefix"`
		Excluded            bool    `json:"excluded"`
		ProjectID           string  `json:"project_id"`
		TenantID            string  `json:"tenant_id"`
	}{r.ID, r.MeteringLabelID, r.Direction, orNull(r.RemoteIPPrefix), orNull(r.SourceIPPrefix), orNull(r.DestinationIPPrefix),
		r.Excluded, r.ProjectID, r.ProjectID})
}

func meteringLabelsResource(s *Server) *resource {
	return &resource{
		collection: "metering/metering-labels", singular: "metering_label", kind: "MeteringLabel",
		adminOnly: true,
		list: func(ctx context.Context) ([]model.Object, error) {
			ls, _, err := store.ListOf[model.MeteringLabel](ctx, s.store, store.KindPrefix(store.KindMeteringLabels))
			out := make([]model.Object, len(ls))
			for i := range ls {
				out[i] = &meteringLabelObj{ls[i]}
			}
			return out, err
		},
		load: func(tx *store.Tx, id string) (model.Object, error) {
			l, err := getObject[model.MeteringLabel](tx, store.KindMeteringLabels, id)
			if l == nil || err != nil {
				return nil, err
			}
			return &meteringLabelObj{*l}, nil
		},
		save: func(tx *store.Tx, o model.Object) error {
			l := &o.(*meteringLabelObj).MeteringLabel
			return tx.Put(store.ObjectKey(store.KindMeteringLabels, l.ID), l)
		},
		create: s.createMeteringLabel,
		update: updateNothing,
		remove: s.removeMeteringLabel,
		extra: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("GET /v2.0/metering/counters", s.handleMeteringCounters)
		},
		readOnly: []string{"name", "description", "shared"},
	}
}

func meteringRulesResource(s *Server) *resource {
	return &resource{
		collection: "metering/metering-label-rules", singular: "metering_label_rule", kind: "MeteringLabelRule",
		adminOnly: true,
		list: func(ctx context.Context) ([]model.Object, error) {
			rs, _, err := store.ListOf[model.MeteringLabelRule](ctx, s.store, store.KindPrefix(store.KindMeteringRules))
			out := make([]model.Object, len(rs))
			for i := range rs {
				out[i] = &meteringRuleObj{rs[i]}
			}
			return out, err
		},
		load: func(tx *store.Tx, id string) (model.Object, error) {
			r, err := getObject[model.MeteringLabelRule](tx, store.KindMeteringRules, id)
			if r == nil || err != nil {
				return nil, err
			}
			return &meteringRuleObj{*r}, nil
		},
		save: func(tx *store.Tx, o model.Object) error {
			r := &o.(*meteringRuleObj).MeteringLabelRule
			return tx.Put(store.ObjectKey(store.KindMeteringRules, r.ID), r)
		},
		create:   s.createMeteringRule,
		update:   updateNothing,
		remove:   s.removeMeteringRule,
		readOnly: []string{"metering_label_id", "direction", "remote_ip_prefix", "excluded"},
	}
}

// updateNothing is the update of a collection whose attributes are all
// read-only: an empty body changes nothing, any attribute is refused.
func updateNothing(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	for k := range a {
		return nil, BadRequest("Cannot update read-only attribute %s", k)
	}
	return cur, nil
}

// allocateMeteringKey reserves a free datapath key for a label or rule.
func allocateMeteringKey(tx *store.Tx, owner string) (int, error) {
	for range 32 {
		k := 1 + rand.IntN(model.MeteringKeyMax)
		if !tx.Exists(store.MeteringKeyKey(k)) {
			tx.PutString(store.MeteringKeyKey(k), owner)
			return k, nil
		}
	}
	return 0, Conflict("NoMeteringKeyAvailable", "Unable to allocate a metering key: too many metering labels and rules.")
}

func (s *Server) createMeteringLabel(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if !p.Admin {
		return nil, Forbidden("(rule:create_metering_label) is disallowed by policy")
	}
	if err := a.only("name", "description", "project_id", "tenant_id", "shared"); err != nil {
		return nil, err
	}
	l := model.MeteringLabel{Standard: std}
	if err := a.common(&l.Name, &l.Description); err != nil {
		return nil, err
	}
	if sh, ok, err := a.boolean("shared"); err != nil {
		return nil, err
	} else if ok {
		l.Shared = sh
	}
	k, err := allocateMeteringKey(tx, l.ID)
	if err != nil {
		return nil, err
	}
	l.Key = k
	return &meteringLabelObj{l}, tx.Put(store.ObjectKey(store.KindMeteringLabels, l.ID), &l)
}

// removeMeteringLabel deletes a label with its rules (Neutron's cascade).
func (s *Server) removeMeteringLabel(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	l := &cur.(*meteringLabelObj).MeteringLabel
	rules, err := s.labelRules(ctx, tx, l.ID)
	if err != nil {
		return err
	}
	for _, r := range rules {
		tx.Delete(store.ObjectKey(store.KindMeteringRules, r.ID))
		tx.Delete(ownerKey(r.ProjectID, "metering/metering-label-rules", r.ID))
		if r.Key != 0 {
			tx.Delete(store.MeteringKeyKey(r.Key))
		}
	}
	if l.Key != 0 {
		tx.Delete(store.MeteringKeyKey(l.Key))
	}
	tx.Delete(store.ObjectKey(store.KindMeteringLabels, l.ID))
	return nil
}

// labelRules reads the rules of a label inside tx: a rule created or
// deleted after the snapshot fails the commit.
func (s *Server) labelRules(ctx context.Context, tx *store.Tx, labelID string) ([]model.MeteringLabelRule, error) {
	prefix := store.KindPrefix(store.KindMeteringRules)
	tx.Guard(prefix)
	all, _, err := store.ListOf[model.MeteringLabelRule](ctx, s.store, prefix)
	if err != nil {
		return nil, err
	}
	var out []model.MeteringLabelRule
	for _, r := range all {
		if r.MeteringLabelID == labelID {
			out = append(out, r)
		}
	}
	return out, nil
}

var meteringDirections = []string{"ingress", "egress"}

func (s *Server) createMeteringRule(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if !p.Admin {
		return nil, Forbidden("(rule:create_metering_label_rule) is disallowed by policy")
	}
	if err := a.only("metering_label_id", "direction", "remote_ip_prefix", "source_ip_prefix", "destination_ip_prefix",
		"excluded", "project_id", "tenant_id"); err != nil {
		return nil, err
	}
	r := model.MeteringLabelRule{Standard: std}
	required := func(k string) (string, error) {
		v, ok, err := a.str(k)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", BadRequest("Failed to parse request. Required attribute '%s' not specified", k)
		}
		return v, nil
	}
	var err error
	if r.MeteringLabelID, err = required("metering_label_id"); err != nil {
		return nil, err
	}
	if !isUUID(r.MeteringLabelID) {
		return nil, badAttr("metering_label_id", "'%s' is not a valid UUID", r.MeteringLabelID)
	}
	if r.Direction, err = required("direction"); err != nil {
		return nil, err
	}
	if !slices.Contains(meteringDirections, r.Direction) {
		return nil, badAttr("direction", "%s is not in %s", r.Direction, "['ingress', 'egress']")
	}
	var remote netip.Prefix
	if v, ok, err := a.str("remote_ip_prefix"); err != nil {
		return nil, err
	} else if ok && v != "" {
		if remote, err = parseRemotePrefix(v); err != nil {
			return nil, err
		}
		r.RemoteIPPrefix = v
	}
	for _, f := range []struct {
		attr string
		dst  *string
	}{{"source_ip_prefix", &r.SourceIPPrefix}, {"destination_ip_prefix", &r.DestinationIPPrefix}} {
		v, ok, err := a.str(f.attr)
		if err != nil {
			return nil, err
		}
		if !ok || v == "" {
			continue
		}
		if err := checkRulePrefix(f.attr, v); err != nil {
			return nil, err
		}
		*f.dst = v
	}
	if r.RemoteIPPrefix != "" && (r.SourceIPPrefix != "" || r.DestinationIPPrefix != "") {
		return nil, newError(http.StatusBadRequest, "Invalid",
			"Cannot use 'remote-ip-prefix' in conjunction with 'source-ip-prefix' or 'destination-ip-prefix'.")
	}
	if r.RemoteIPPrefix == "" && r.SourceIPPrefix == "" && r.DestinationIPPrefix == "" {
		return nil, newError(http.StatusBadRequest, "Invalid",
			"You must define at least one of the following parameters 'remote_ip_prefix', or 'source_ip_prefix' or 'destination_ip_prefix'.")
	}
	if ex, ok, err := a.boolean("excluded"); err != nil {
		return nil, err
	} else if ok {
		r.Excluded = ex
	}
	label, err := getObject[model.MeteringLabel](tx, store.KindMeteringLabels, r.MeteringLabelID)
	if err != nil {
		return nil, err
	}
	if label == nil {
		return nil, newError(404, "MeteringLabelNotFound", "Metering label %s does not exist", r.MeteringLabelID)
	}
	others, err := s.labelRules(ctx, tx, label.ID)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		op, err := netip.ParsePrefix(o.RemoteIPPrefix)
		if err != nil || !remote.IsValid() || o.Direction != r.Direction || o.Excluded != r.Excluded {
			continue
		}
		if op.Masked().Overlaps(remote.Masked()) {
			return nil, Conflict("MeteringLabelRuleOverlaps",
				"Metering label rule with remote_ip_prefix %s overlaps another.", r.RemoteIPPrefix)
		}
	}
	if r.Key, err = allocateMeteringKey(tx, r.ID); err != nil {
		return nil, err
	}
	return &meteringRuleObj{r}, tx.Put(store.ObjectKey(store.KindMeteringRules, r.ID), &r)
}

// parseRemotePrefix validates a remote_ip_prefix as Neutron's type:subnet
// does (a CIDR).
func parseRemotePrefix(v string) (netip.Prefix, error) {
	prefix, err := netip.ParsePrefix(v)
	if err != nil {
		if a, aerr := netip.ParseAddr(v); aerr == nil {
			return prefix, badAttr("remote_ip_prefix", "'%s' isn't a recognized IP subnet cidr, '%s' is recommended",
				v, netip.PrefixFrom(a, a.BitLen()))
		}
		return prefix, badAttr("remote_ip_prefix", "'%s' is not a valid IP subnet", v)
	}
	return prefix, nil
}

// checkRulePrefix validates a source or destination prefix as Neutron
// does (an address, or an address with a prefix length).
func checkRulePrefix(attr, v string) error {
	if _, err := netip.ParsePrefix(v); err != nil {
		if _, aerr := netip.ParseAddr(v); aerr != nil {
			return newError(http.StatusBadRequest, "Invalid", "%s: %s is invalid [%v].", attr, v, err)
		}
	}
	return nil
}

func (s *Server) removeMeteringRule(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	r := &cur.(*meteringRuleObj).MeteringLabelRule
	if r.Key != 0 {
		tx.Delete(store.MeteringKeyKey(r.Key))
	}
	tx.Delete(store.ObjectKey(store.KindMeteringRules, r.ID))
	return nil
}

// meteringCounter is one rule's counters in GET /v2.0/metering/counters
// (extension "wyvern-metering-counters"): summed over the chassis, and
// per chassis. An excluded rule's counters are what it kept out of its
// label's count.
type meteringCounter struct {
	LabelID        string                    `json:"metering_label_id"`
	LabelName      string                    `json:"metering_label_name"`
	RuleID         string                    `json:"metering_label_rule_id"`
	Direction      string                    `json:"direction"`
	RemoteIPPrefix string                    `json:"remote_ip_prefix,omitempty"`
	Source         string                    `json:"source_ip_prefix,omitempty"`
	Destination    string                    `json:"destination_ip_prefix,omitempty"`
	Excluded       bool                      `json:"excluded"`
	Packets        uint64                    `json:"packets"`
	Bytes          uint64                    `json:"bytes"`
	Chassis        map[string]chassisCounter `json:"chassis"`
}

type chassisCounter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// handleMeteringCounters serves every rule's counters to an admin (Neutron
// has no such call: its metering agent sends them as notifications).
func (s *Server) handleMeteringCounters(w http.ResponseWriter, r *http.Request) {
	if !principal(r).Admin {
		s.writeError(w, r, Forbidden("(rule:get_metering_counters) is disallowed by policy"))
		return
	}
	ctx := r.Context()
	labels, _, err := store.ListOf[model.MeteringLabel](ctx, s.store, store.KindPrefix(store.KindMeteringLabels))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rules, _, err := store.ListOf[model.MeteringLabelRule](ctx, s.store, store.KindPrefix(store.KindMeteringRules))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	kvs, _, err := s.store.List(ctx, store.MeteringCountersPrefix)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	names := map[string]string{}
	for _, l := range labels {
		names[l.ID] = l.Name
	}
	out := make([]*meteringCounter, 0, len(rules))
	byRule := map[string]*meteringCounter{}
	for _, ru := range rules {
		if _, ok := names[ru.MeteringLabelID]; !ok {
			continue
		}
		c := &meteringCounter{LabelID: ru.MeteringLabelID, LabelName: names[ru.MeteringLabelID], RuleID: ru.ID,
			Direction: ru.Direction, RemoteIPPrefix: ru.RemoteIPPrefix, Source: ru.SourceIPPrefix, Destination: ru.DestinationIPPrefix,
			Excluded: ru.Excluded, Chassis: map[string]chassisCounter{}}
		out = append(out, c)
		byRule[ru.ID] = c
	}
	for _, kv := range kvs {
		var mc model.MeteringCounters
		if json.Unmarshal(kv.Value, &mc) != nil {
			continue
		}
		ch := strings.TrimPrefix(kv.Key, store.MeteringCountersPrefix)
		for id, n := range mc.Rules {
			if c := byRule[id]; c != nil {
				c.Packets += n.Packets
				c.Bytes += n.Bytes
				c.Chassis[ch] = chassisCounter{n.Packets, n.Bytes}
			}
		}
	}
	slices.SortFunc(out, func(a, b *meteringCounter) int {
		return cmp.Or(cmp.Compare(a.LabelName, b.LabelName), cmp.Compare(a.LabelID, b.LabelID), cmp.Compare(a.RuleID, b.RuleID))
	})
	writeJSON(w, http.StatusOK, map[string]any{"metering_counters": out})
}
