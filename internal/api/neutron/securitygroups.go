package neutron

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// sgRecord is a security group as stored: the model plus the ids of its
// rules. Every rule change reads and writes its group in the same
// transaction, so duplicate checks and revision bumps never race. Readers
// that decode the key as a model.SecurityGroup ignore RuleIDs.
type sgRecord struct {
	model.SecurityGroup
	RuleIDs []string `json:"security_group_rule_ids"`
}

// secGroup is a security group as the API shows it, with its rules.
type secGroup struct {
	model.SecurityGroup
	Rules   []*sgRule `json:"security_group_rules"`
	ruleIDs []string
}

// sgRule is a security group rule as the API shows it: Neutron's nulls for
// an absent protocol or remote, and normalized_cidr. groupProject, filled
// by the rules' resource, is the project of the rule's group: its members
// see the rule, whoever created it.
type sgRule struct {
	model.SecurityGroupRule
	groupProject string
}

type sgRuleJSON struct {
	ID                   string   `json:"id"`
	ProjectID            string   `json:"project_id"`
	TenantID             string   `json:"tenant_id"`
	Description          string   `json:"description"`
	Tags                 []string `json:"tags"`
	CreatedAt            string   `json:"created_at"`
	UpdatedAt            string   `json:"updated_at"`
	RevisionNumber       int64    `json:"revision_number"`
	SecurityGroupID      string   `json:"security_group_id"`
	Direction            string   `json:"direction"`
	EtherType            string   `json:"ethertype"`
	Protocol             *string  `json:"protocol"`
	PortRangeMin         *int     `json:"port_range_min"`
	PortRangeMax         *int     `json:"port_range_max"`
	RemoteIPPrefix       *string  `json:"remote_ip_prefix"`
	NormalizedCIDR       *string  `json:"normalized_cidr"`
	RemoteGroupID        *string  `json:"remote_group_id"`
	RemoteAddressGroupID *string  `json:"remote_address_group_id"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MarshalJSON renders the rule in Neutron's form.
func (r *sgRule) MarshalJSON() ([]byte, error) {
	m := &r.SecurityGroupRule
	out := sgRuleJSON{
		ID: m.ID, ProjectID: m.ProjectID, TenantID: m.TenantID, Description: m.Description,
		Tags: nonNil(m.Tags), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, RevisionNumber: m.RevisionNumber,
		SecurityGroupID: m.SecurityGroupID, Direction: m.Direction, EtherType: m.EtherType,
		Protocol: nullable(m.Protocol), PortRangeMin: m.PortRangeMin, PortRangeMax: m.PortRangeMax,
		RemoteIPPrefix: nullable(m.RemoteIPPrefix), RemoteGroupID: nullable(m.RemoteGroupID),
	}
	if pfx, err := netip.ParsePrefix(m.RemoteIPPrefix); err == nil {
		n := pfx.Masked().String()
		out.NormalizedCIDR = &n
	}
	return json.Marshal(out)
}

func sgKey(id string) string     { return store.ObjectKey(store.KindSecGroups, id) }
func sgRuleKey(id string) string { return store.ObjectKey(store.KindSGRules, id) }

// defaultSGKey records the id of a project's "default" security group.
func defaultSGKey(project string) string { return store.IndexKey("default_security_group", project) }

func sgNotFound(id string) *Error {
	return newError(http.StatusNotFound, "SecurityGroupNotFound", "Security group %s does not exist", id)
}

func loadSGRecord(tx *store.Tx, id string) (*sgRecord, error) {
	var rec sgRecord
	ok, err := tx.Get(sgKey(id), &rec)
	if err != nil || !ok {
		return nil, err
	}
	return &rec, nil
}

func loadSGRule(tx *store.Tx, id string) (*sgRule, error) {
	var r sgRule
	ok, err := tx.Get(sgRuleKey(id), &r.SecurityGroupRule)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

// loadSecGroup reads a group and its rules inside tx.
func loadSecGroup(tx *store.Tx, id string) (*secGroup, error) {
	rec, err := loadSGRecord(tx, id)
	if err != nil || rec == nil {
		return nil, err
	}
	g := &secGroup{SecurityGroup: rec.SecurityGroup, Rules: []*sgRule{}, ruleIDs: rec.RuleIDs}
	for _, rid := range rec.RuleIDs {
		r, err := loadSGRule(tx, rid)
		if err != nil {
			return nil, err
		}
		if r != nil {
			g.Rules = append(g.Rules, r)
		}
	}
	return g, nil
}

func saveSecGroup(tx *store.Tx, g *secGroup) error {
	return tx.Put(sgKey(g.ID), &sgRecord{SecurityGroup: g.SecurityGroup, RuleIDs: nonNil(g.ruleIDs)})
}

func securityGroupsResource(s *Server) *resource {
	return &resource{
		collection: "security-groups", singular: "security_group", kind: "SecurityGroup",
		list:    s.listSecurityGroups,
		prepare: s.prepareSecurityGroups,
		load: func(tx *store.Tx, id string) (model.Object, error) {
			return orNil(loadSecGroup(tx, id))
		},
		save:   func(tx *store.Tx, o model.Object) error { return saveSecGroup(tx, o.(*secGroup)) },
		create: s.createSecurityGroup,
		update: s.updateSecurityGroup,
		remove: s.removeSecurityGroup,
	}
}

// prepareSecurityGroups creates the caller's default group if the project
// has none yet, as Neutron does on a project's first look at its groups
// (a list that succeeds). It reports whether it created one.
func (s *Server) prepareSecurityGroups(ctx context.Context) (bool, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.ProjectID == "" {
		return false, nil
	}
	return s.ensureDefaultSecurityGroupTxn(ctx, p.ProjectID)
}

// listSecurityGroups returns every group with its rules.
func (s *Server) listSecurityGroups(ctx context.Context) ([]model.Object, error) {
	recs, _, err := store.ListOf[sgRecord](ctx, s.store, store.KindPrefix(store.KindSecGroups))
	if err != nil {
		return nil, err
	}
	rules, _, err := store.ListOf[model.SecurityGroupRule](ctx, s.store, store.KindPrefix(store.KindSGRules))
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*sgRule, len(rules))
	for i := range rules {
		byID[rules[i].ID] = &sgRule{SecurityGroupRule: rules[i]}
	}
	out := make([]model.Object, 0, len(recs))
	for _, rec := range recs {
		g := &secGroup{SecurityGroup: rec.SecurityGroup, Rules: []*sgRule{}, ruleIDs: rec.RuleIDs}
		for _, rid := range rec.RuleIDs {
			if r, ok := byID[rid]; ok {
				g.Rules = append(g.Rules, r)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// ensureDefaultSecurityGroupTxn makes sure project has its default group,
// in a transaction of its own; it reads before it writes so that the common
// case costs one read.
func (s *Server) ensureDefaultSecurityGroupTxn(ctx context.Context, project string) (bool, error) {
	if _, err := s.store.GetString(ctx, defaultSGKey(project)); err == nil {
		return false, nil
	} else if !isNotFound(err) {
		return false, err
	}
	return true, s.store.Txn(ctx, func(tx *store.Tx) error {
		_, err := s.ensureDefaultSecurityGroup(ctx, tx, project)
		return err
	})
}

// ensureDefaultSecurityGroup returns the id of the project's "default"
// security group, creating it with Neutron's default rules inside tx on
// first use: egress to anywhere and ingress from members of the group, for
// IPv4 and IPv6.
func (s *Server) ensureDefaultSecurityGroup(ctx context.Context, tx *store.Tx, project string) (string, error) {
	if id := tx.GetString(defaultSGKey(project)); id != "" {
		return id, nil
	}
	t := now()
	g := &secGroup{SecurityGroup: model.SecurityGroup{
		Standard: model.Standard{ID: newID(), ProjectID: project, TenantID: project, Name: "default",
			Description: "Default security group", Tags: []string{}, CreatedAt: t, UpdatedAt: t},
		Stateful: true,
	}}
	for _, r := range []struct{ dir, eth, remote string }{
		{"egress", "IPv4", ""}, {"egress", "IPv6", ""},
		{"ingress", "IPv4", g.ID}, {"ingress", "IPv6", g.ID},
	} {
		if err := s.putRule(tx, g, model.SecurityGroupRule{Direction: r.dir, EtherType: r.eth, RemoteGroupID: r.remote}); err != nil {
			return "", err
		}
	}
	if err := saveSecGroup(tx, g); err != nil {
		return "", err
	}
	tx.PutString(ownerKey(project, "security-groups", g.ID), "")
	tx.PutString(defaultSGKey(project), g.ID)
	return g.ID, nil
}

// putRule writes a new rule of group g (owned by g's project) and records
// it on g; the caller saves g.
func (s *Server) putRule(tx *store.Tx, g *secGroup, r model.SecurityGroupRule) error {
	t := now()
	r.Standard = model.Standard{ID: newID(), ProjectID: g.ProjectID, TenantID: g.ProjectID, Tags: []string{}, CreatedAt: t, UpdatedAt: t}
	r.SecurityGroupID = g.ID
	if err := tx.Put(sgRuleKey(r.ID), &r); err != nil {
		return err
	}
	tx.PutString(ownerKey(r.ProjectID, "security-group-rules", r.ID), "")
	g.ruleIDs = append(g.ruleIDs, r.ID)
	g.Rules = append(g.Rules, &sgRule{SecurityGroupRule: r})
	return nil
}

func isDefaultName(name string) bool { return strings.EqualFold(name, "default") }

func errDefaultSGExists() *Error {
	return Conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
}

func (s *Server) createSecurityGroup(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only("name", "description", "project_id", "tenant_id", "stateful"); err != nil {
		return nil, err
	}
	g := &secGroup{SecurityGroup: model.SecurityGroup{Standard: std, Stateful: true}, Rules: []*sgRule{}}
	if err := a.common(&g.Name, &g.Description); err != nil {
		return nil, err
	}
	if isDefaultName(g.Name) {
		return nil, errDefaultSGExists()
	}
	if v, ok, err := a.boolean("stateful"); err != nil {
		return nil, err
	} else if ok {
		g.Stateful = v
	}
	if _, err := s.ensureDefaultSecurityGroup(ctx, tx, g.ProjectID); err != nil {
		return nil, err
	}
	for _, eth := range []string{"IPv4", "IPv6"} {
		if err := s.putRule(tx, g, model.SecurityGroupRule{Direction: "egress", EtherType: eth}); err != nil {
			return nil, err
		}
	}
	return g, saveSecGroup(tx, g)
}

func (s *Server) updateSecurityGroup(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	g := cur.(*secGroup)
	if err := a.only("name", "description", "stateful"); err != nil {
		return nil, err
	}
	// Neutron validates the attributes (400) before the plugin refuses
	// renaming the default group (409); its description may change.
	name, desc := g.Name, g.Description
	if err := a.common(&name, &desc); err != nil {
		return nil, err
	}
	if a.has("name") {
		if g.Name == "default" {
			return nil, Conflict("SecurityGroupCannotUpdateDefault", "Updating default security group not allowed.")
		}
		if isDefaultName(name) {
			return nil, errDefaultSGExists()
		}
	}
	g.Name, g.Description = name, desc
	if v, ok, err := a.boolean("stateful"); err != nil {
		return nil, err
	} else if ok && v != g.Stateful {
		inUse, err := s.securityGroupInUse(ctx, tx, g.ID)
		if err != nil {
			return nil, err
		}
		if inUse {
			return nil, sgInUse(g.ID)
		}
		g.Stateful = v
	}
	touch(g)
	return g, saveSecGroup(tx, g)
}

func sgInUse(id string) *Error {
	return Conflict("SecurityGroupInUse", "Security Group %s in use.", id)
}

// securityGroupInUse reports whether a port uses group id. The ports are
// listed outside tx, then each match is read inside it, so a port deleted
// meanwhile aborts the transaction rather than blocking it wrongly; a port
// created meanwhile reads the group and so conflicts with any change to it.
func (s *Server) securityGroupInUse(ctx context.Context, tx *store.Tx, id string) (bool, error) {
	ports, _, err := store.ListOf[model.Port](ctx, s.store, store.KindPrefix(store.KindPorts))
	if err != nil {
		return false, err
	}
	for _, port := range ports {
		if slices.Contains(port.SecurityGroups, id) && tx.Exists(store.PortKey(port.NetworkID, port.ID)) {
			return true, nil
		}
	}
	return false, nil
}

// removeSecurityGroup deletes a group unused by ports, with its rules and
// the rules of other groups that name it as their remote group.
func (s *Server) removeSecurityGroup(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	g := cur.(*secGroup)
	if g.Name == "default" && !p.Admin {
		return Conflict("SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
	}
	inUse, err := s.securityGroupInUse(ctx, tx, g.ID)
	if err != nil {
		return err
	}
	if inUse {
		return sgInUse(g.ID)
	}
	for _, r := range g.Rules {
		tx.Delete(sgRuleKey(r.ID))
		tx.Delete(ownerKey(r.ProjectID, "security-group-rules", r.ID))
	}
	rules, _, err := store.ListOf[model.SecurityGroupRule](ctx, s.store, store.KindPrefix(store.KindSGRules))
	if err != nil {
		return err
	}
	for _, r := range rules {
		if r.RemoteGroupID != g.ID || r.SecurityGroupID == g.ID {
			continue
		}
		// Re-read inside tx: the rule may be gone by now.
		if cur, err := loadSGRule(tx, r.ID); err != nil {
			return err
		} else if cur != nil {
			if err := s.deleteRule(tx, &cur.SecurityGroupRule); err != nil {
				return err
			}
		}
	}
	if tx.GetString(defaultSGKey(g.ProjectID)) == g.ID {
		tx.Delete(defaultSGKey(g.ProjectID))
	}
	tx.Delete(sgKey(g.ID))
	return nil
}

// deleteRule deletes a rule and takes it off its group, bumping the group's
// revision.
func (s *Server) deleteRule(tx *store.Tx, r *model.SecurityGroupRule) error {
	tx.Delete(sgRuleKey(r.ID))
	tx.Delete(ownerKey(r.ProjectID, "security-group-rules", r.ID))
	rec, err := loadSGRecord(tx, r.SecurityGroupID)
	if err != nil || rec == nil {
		return err
	}
	rec.RuleIDs = slices.DeleteFunc(rec.RuleIDs, func(id string) bool { return id == r.ID })
	touch(rec)
	return tx.Put(sgKey(rec.ID), rec)
}

func securityGroupRulesResource(s *Server) *resource {
	return &resource{
		collection: "security-group-rules", singular: "security_group_rule", kind: "SecurityGroupRule",
		list: func(ctx context.Context) ([]model.Object, error) {
			rules, _, err := store.ListOf[model.SecurityGroupRule](ctx, s.store, store.KindPrefix(store.KindSGRules))
			if err != nil {
				return nil, err
			}
			groups, _, err := store.ListOf[model.SecurityGroup](ctx, s.store, store.KindPrefix(store.KindSecGroups))
			if err != nil {
				return nil, err
			}
			owner := make(map[string]string, len(groups))
			for _, g := range groups {
				owner[g.ID] = g.ProjectID
			}
			out := make([]model.Object, len(rules))
			for i := range rules {
				out[i] = &sgRule{SecurityGroupRule: rules[i], groupProject: owner[rules[i].SecurityGroupID]}
			}
			return out, nil
		},
		load: func(tx *store.Tx, id string) (model.Object, error) {
			r, err := loadSGRule(tx, id)
			if err != nil || r == nil {
				return nil, err
			}
			if g, err := loadSGRecord(tx, r.SecurityGroupID); err != nil {
				return nil, err
			} else if g != nil {
				r.groupProject = g.ProjectID
			}
			return r, nil
		},
		visible: func(p auth.Principal, o model.Object) bool {
			return o.(*sgRule).groupProject == p.ProjectID
		},
		save: func(tx *store.Tx, o model.Object) error {
			r := o.(*sgRule)
			return tx.Put(sgRuleKey(r.ID), &r.SecurityGroupRule)
		},
		create: s.createSecurityGroupRule,
		update: s.updateSecurityGroupRule,
		remove: func(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
			return s.deleteRule(tx, &cur.(*sgRule).SecurityGroupRule)
		},
	}
}

// protoNumber maps a stored protocol (a name or a number) to its number
// (model.ProtocolNumber); -1 means any.
func protoNumber(p string) int {
	if p == "" {
		return -1
	}
	n, _ := model.ProtocolNumber(p)
	return int(n)
}

// parseProtocol converts the protocol attribute the way Neutron does:
// names lower-cased, numbers 0-255 kept as strings, any/null as "".
func parseProtocol(a attrs) (string, error) {
	raw, ok := a["protocol"]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", BadRequest("Malformed protocol: %v", err)
	}
	var str string
	switch x := v.(type) {
	case string:
		str = x
	case float64:
		str = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		str = string(raw)
	}
	if strings.EqualFold(str, "any") || str == "" {
		return "", nil
	}
	if n, err := strconv.Atoi(str); err == nil {
		if n < 0 || n > 255 {
			return "", errInvalidProtocol(str)
		}
		return strconv.Itoa(n), nil
	}
	if _, ok := model.ProtocolNumber(str); ok {
		return strings.ToLower(str), nil
	}
	return "", errInvalidProtocol(str)
}

func errInvalidProtocol(p string) *Error {
	names := []string{"'any'"}
	for _, n := range model.ProtocolNames() {
		names = append(names, "'"+n+"'")
	}
	return newError(http.StatusBadRequest, "SecurityGroupRuleInvalidProtocol",
		"Security group rule protocol %s not supported. Only protocol values [None, %s] and integer representations [0 to 255] are supported.",
		p, strings.Join(names, ", "))
}

// parsePort reads port_range_min/max: an integer 0-65535 or null.
func parsePort(a attrs, k string) (*int, error) {
	if !a.has(k) || a.isNull(k) {
		return nil, nil
	}
	n, _, err := a.integer(k)
	if err != nil || n < 0 || n > 65535 {
		var v any
		_ = json.Unmarshal(a[k], &v)
		return nil, newError(http.StatusBadRequest, "SecurityGroupInvalidPortValue", "Invalid value for port %v.", v)
	}
	return &n, nil
}

func sgBadRequest(typ, format string, args ...any) *Error {
	return newError(http.StatusBadRequest, typ, format, args...)
}

// validatePorts checks port_range_min/max against the protocol as
// Neutron's _validate_port_range does.
func validatePorts(r *model.SecurityGroupRule) error {
	lo, hi := r.PortRangeMin, r.PortRangeMax
	if lo == nil && hi == nil {
		return nil
	}
	if r.Protocol == "" {
		return sgBadRequest("SecurityGroupProtocolRequiredWithPorts", "Must also specify protocol if port range is given.")
	}
	n := protoNumber(r.Protocol)
	switch {
	case n >= 0 && model.ProtocolHasPorts(uint8(n)):
		if (lo != nil && *lo == 0) || (hi != nil && *hi == 0) {
			return sgBadRequest("SecurityGroupInvalidPortValue", "Invalid value for port 0.")
		}
		if lo != nil && hi != nil && *lo <= *hi {
			return nil
		}
		return sgBadRequest("SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max")
	case n == 1 || n == 58:
		for _, f := range []struct {
			v          *int
			field, key string
		}{{lo, "type", "port_range_min"}, {hi, "code", "port_range_max"}} {
			if f.v != nil && (*f.v < 0 || *f.v > 255) {
				return sgBadRequest("SecurityGroupInvalidIcmpValue", "Invalid value for ICMP %s (%s) %d. It must be 0 to 255.", f.field, f.key, *f.v)
			}
		}
		if lo == nil && hi != nil {
			return sgBadRequest("SecurityGroupMissingIcmpType", "ICMP code (port-range-max) %d is provided but ICMP type (port-range-min) is missing.", *hi)
		}
		return nil
	default:
		return sgBadRequest("SecurityGroupInvalidProtocolForPortRange",
			"Invalid protocol %d for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.", n)
	}
}

// ruleKey is what makes two rules duplicates, as Neutron compares them:
// protocols by number, and an all-addresses prefix the same as none.
func ruleKey(r *model.SecurityGroupRule) string {
	port := func(p *int) string {
		if p == nil {
			return "+"
		}
		return strconv.Itoa(*p)
	}
	pfx := r.RemoteIPPrefix
	if p, err := netip.ParsePrefix(pfx); err == nil {
		pfx = p.Masked().String()
		if p.Bits() == 0 {
			pfx = ""
		}
	}
	return strings.Join([]string{r.SecurityGroupID, r.Direction, r.EtherType, strconv.Itoa(protoNumber(r.Protocol)),
		port(r.PortRangeMin), port(r.PortRangeMax), r.RemoteGroupID, pfx}, "|")
}

var sgRuleAttrs = []string{"security_group_id", "direction", "ethertype", "protocol", "port_range_min",
	"port_range_max", "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "description",
	"project_id", "tenant_id"}

func (s *Server) createSecurityGroupRule(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only(sgRuleAttrs...); err != nil {
		return nil, err
	}
	r := model.SecurityGroupRule{Standard: std, EtherType: "IPv4"}
	var err error
	if r.Description, _, err = a.str("description"); err != nil {
		return nil, err
	}
	sgID, ok, err := a.str("security_group_id")
	if err != nil {
		return nil, err
	}
	if !ok || sgID == "" {
		return nil, BadRequest("Failed to parse request. Required attribute 'security_group_id' not specified")
	}
	r.SecurityGroupID = sgID
	dir, ok, err := a.str("direction")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, BadRequest("Failed to parse request. Required attribute 'direction' not specified")
	}
	if dir != "ingress" && dir != "egress" {
		return nil, BadRequest("Invalid input for direction. Reason: '%s' is not in ['ingress', 'egress'].", dir)
	}
	r.Direction = dir
	if eth, ok, err := a.str("ethertype"); err != nil {
		return nil, err
	} else if ok {
		switch strings.ToLower(eth) {
		case "ipv4":
			r.EtherType = "IPv4"
		case "ipv6":
			r.EtherType = "IPv6"
		default:
			return nil, sgBadRequest("SecurityGroupRuleInvalidEtherType",
				"Security group rule for ethertype '%s' not supported. Allowed values are ['IPv4', 'IPv6'].", eth)
		}
	}
	if r.Protocol, err = parseProtocol(a); err != nil {
		return nil, err
	}
	if r.PortRangeMin, err = parsePort(a, "port_range_min"); err != nil {
		return nil, err
	}
	if r.PortRangeMax, err = parsePort(a, "port_range_max"); err != nil {
		return nil, err
	}
	if ag, _, err := a.str("remote_address_group_id"); err != nil {
		return nil, err
	} else if ag != "" {
		return nil, InvalidInput("remote_address_group_id is not supported")
	}
	prefix, _, err := a.str("remote_ip_prefix")
	if err != nil {
		return nil, err
	}
	remote, _, err := a.str("remote_group_id")
	if err != nil {
		return nil, err
	}
	if prefix != "" && remote != "" {
		return nil, sgBadRequest("SecurityGroupRemoteGroupAndRemoteIpPrefix", "Only remote_ip_prefix or remote_group_id may be provided.")
	}
	if prefix != "" {
		pfx, err := parseIPPrefix(prefix)
		if err != nil {
			return nil, err
		}
		if want := map[bool]string{false: "IPv4", true: "IPv6"}[pfx.Addr().Is6()]; r.EtherType != want {
			return nil, sgBadRequest("SecurityGroupRuleParameterConflict", "Conflicting value ethertype %s for CIDR %s", r.EtherType, prefix)
		}
		r.RemoteIPPrefix = pfx.String()
	}
	r.RemoteGroupID = remote
	if r.EtherType == "IPv4" && r.Protocol != "" && model.ProtocolIsIPv6Only(uint8(protoNumber(r.Protocol))) {
		return nil, sgBadRequest("SecurityGroupEthertypeConflictWithProtocol", "Invalid ethertype %s for protocol %s.", r.EtherType, r.Protocol)
	}
	if err := validatePorts(&r); err != nil {
		return nil, err
	}

	rec, err := loadSGRecord(tx, sgID)
	if err != nil {
		return nil, err
	}
	if rec == nil || !owns(p, rec) {
		return nil, sgNotFound(sgID)
	}
	if remote != "" && remote != sgID {
		rg, err := loadSGRecord(tx, remote)
		if err != nil {
			return nil, err
		}
		if rg == nil || !owns(p, rg) {
			return nil, sgNotFound(remote)
		}
	}
	// An admin adding a rule to another project's group makes it that
	// project's rule, unless a project was named.
	if p.Admin && !a.has("project_id") && !a.has("tenant_id") {
		r.ProjectID, r.TenantID = rec.ProjectID, rec.ProjectID
	}
	key := ruleKey(&r)
	for _, rid := range rec.RuleIDs {
		other, err := loadSGRule(tx, rid)
		if err != nil {
			return nil, err
		}
		if other != nil && ruleKey(&other.SecurityGroupRule) == key {
			return nil, Conflict("SecurityGroupRuleExists", "Security group rule already exists. Rule id is %s.", other.ID)
		}
	}
	if err := tx.Put(sgRuleKey(r.ID), &r); err != nil {
		return nil, err
	}
	rec.RuleIDs = append(rec.RuleIDs, r.ID)
	touch(rec)
	if err := tx.Put(sgKey(rec.ID), rec); err != nil {
		return nil, err
	}
	return &sgRule{SecurityGroupRule: r}, nil
}

// parseIPPrefix accepts a CIDR or a bare address (a host prefix), as
// Neutron's convert_ip_prefix_to_cidr does, keeping the address as given.
func parseIPPrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, newError(http.StatusBadRequest, "InvalidCIDR", "Invalid CIDR %s given as IP prefix.", s)
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, newError(http.StatusBadRequest, "InvalidCIDR", "Invalid CIDR %s given as IP prefix.", s)
	}
	return pfx, nil
}

// updateSecurityGroupRule changes only the description: every other
// attribute of a rule is read-only, as in Neutron.
func (s *Server) updateSecurityGroupRule(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	r := cur.(*sgRule)
	for k := range a {
		if k != "description" {
			return nil, BadRequest("Cannot update read-only attribute %s", k)
		}
	}
	d, _, err := a.str("description")
	if err != nil {
		return nil, err
	}
	r.Description = d
	touch(r)
	return r, tx.Put(sgRuleKey(r.ID), &r.SecurityGroupRule)
}
