package neutron

import (
	"encoding/json"
	"maps"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Port "trusted" attribute (extension "port-trusted-vif"). As in Neutron,
// the value lives in the port's binding:profile under "trusted" (where Nova
// reads it for SR-IOV VFs) and is shown as the port's "trusted" attribute:
// null when unset. Only admins may set it. Wyvern's OVS pipeline treats
// trusted and untrusted VIFs alike.

const profileTrusted = "trusted"

// MarshalJSON renders the port with its trusted attribute.
func (o *portObj) MarshalJSON() ([]byte, error) {
	type plain model.Port // without this method
	var trusted *bool
	if v, ok := o.Profile[profileTrusted].(bool); ok {
		trusted = &v
	}
	port := o.Port
	o.binding.Apply(&port)
	return json.Marshal(struct {
		*plain
		Trusted *bool `json:"trusted"`
	}{plain: (*plain)(&port), Trusted: trusted})
}

// parseTrusted applies the trusted attribute to profile (a copy is
// written when it changes). A binding:profile given in the same request
// with a different "trusted" is refused.
func parseTrusted(a attrs, p auth.Principal, profile *map[string]any, rule string) error {
	if !a.has("trusted") {
		return nil
	}
	if !p.Admin {
		return Forbidden("(rule:%s:trusted) is disallowed by policy", rule)
	}
	m := maps.Clone(*profile)
	if m == nil {
		m = map[string]any{}
	}
	if a.isNull("trusted") {
		delete(m, profileTrusted)
		*profile = m
		return nil
	}
	v, _, err := a.boolean("trusted")
	if err != nil {
		return err
	}
	if a.has("binding:profile") {
		if pv, ok := m[profileTrusted]; ok && pv != v {
			return InvalidInput("trusted (%v) and binding:profile trusted (%v) differ", v, pv)
		}
	}
	m[profileTrusted] = v
	*profile = m
	return nil
}
