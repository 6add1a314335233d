package neutron

import (
	"context"
	"crypto/sha1"
	"fmt"
	"net/http"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// agentView is a chassis as Neutron's agent extension shows it, so that
// `openstack network agent list` reports which hypervisors are up.
type agentView struct {
	ID                 string         `json:"id"`
	AgentType          string         `json:"agent_type"`
	Binary             string         `json:"binary"`
	Host               string         `json:"host"`
	Topic              string         `json:"topic"`
	Alive              bool           `json:"alive"`
	AdminStateUp       bool           `json:"admin_state_up"`
	AvailabilityZone   *string        `json:"availability_zone"`
	Description        *string        `json:"description"`
	Configurations     map[string]any `json:"configurations"`
	StartedAt          string         `json:"started_at"`
	CreatedAt          string         `json:"created_at"`
	HeartbeatTimestamp string         `json:"heartbeat_timestamp"`
	ResourcesSynced    *bool          `json:"resources_synced"`
}

// agentID derives a stable UUID-shaped id from a chassis name.
func agentID(name string) string {
	h := sha1.Sum([]byte("wyvern-chassis:" + name))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func (s *Server) agents(ctx context.Context) ([]agentView, error) {
	chassis, _, err := store.ListOf[model.Chassis](ctx, s.store, store.KindPrefix(store.KindChassis))
	if err != nil {
		return nil, err
	}
	alive, _, err := s.store.List(ctx, store.AliveKey(""))
	if err != nil {
		return nil, err
	}
	beats := map[string]string{}
	for _, kv := range alive {
		beats[strings.TrimPrefix(kv.Key, store.AliveKey(""))] = string(kv.Value)
	}
	out := make([]agentView, 0, len(chassis))
	for _, c := range chassis {
		started := c.StartedAt.UTC().Format("2006-01-02 15:04:05")
		beat, up := beats[c.Name]
		a := agentView{ID: agentID(c.Name), AgentType: "Wyvern agent", Binary: "wyvern-agent", Host: c.Name,
			Topic: "N/A", Alive: up, AdminStateUp: true, StartedAt: started, CreatedAt: started,
			HeartbeatTimestamp: started,
			Configurations: map[string]any{"tunnel_ip": c.TunnelIP, "encaps": c.Encaps,
				"bridge_mappings": c.BridgeMappings, "gateway": c.Gateway, "fip_mode": fipMode(c.FIPMode)}}
		if up {
			a.HeartbeatTimestamp = strings.Replace(strings.TrimSuffix(beat, "Z"), "T", " ", 1)
		}
		out = append(out, a)
	}
	return out, nil
}

// registerAgents serves GET /v2.0/agents[/{id}] (admin only, as in
// Neutron) and DELETE for chassis that are gone for good.
func (s *Server) registerAgents(mux *http.ServeMux) {
	mux.HandleFunc("GET /v2.0/agents", func(w http.ResponseWriter, r *http.Request) {
		if !principal(r).Admin {
			writeJSON(w, http.StatusOK, map[string]any{"agents": []any{}})
			return
		}
		as, err := s.agents(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		q := r.URL.Query()
		out := []agentView{}
		for _, a := range as {
			if h := q.Get("host"); h != "" && h != a.Host {
				continue
			}
			if v := q.Get("alive"); v != "" && strings.EqualFold(v, "true") != a.Alive {
				continue
			}
			out = append(out, a)
		}
		writeJSON(w, http.StatusOK, map[string]any{"agents": out})
	})
	find := func(w http.ResponseWriter, r *http.Request) (agentView, bool) {
		id := r.PathValue("id")
		if principal(r).Admin {
			as, err := s.agents(r.Context())
			if err != nil {
				s.writeError(w, r, err)
				return agentView{}, false
			}
			for _, a := range as {
				if a.ID == id {
					return a, true
				}
			}
		}
		s.writeError(w, r, newError(http.StatusNotFound, "AgentNotFound", "Agent %s could not be found.", id))
		return agentView{}, false
	}
	mux.HandleFunc("GET /v2.0/agents/{id}", func(w http.ResponseWriter, r *http.Request) {
		if a, ok := find(w, r); ok {
			writeJSON(w, http.StatusOK, map[string]any{"agent": a})
		}
	})
	mux.HandleFunc("DELETE /v2.0/agents/{id}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := find(w, r)
		if !ok {
			return
		}
		if a.Alive {
			s.writeError(w, r, Conflict("AgentInUse", "Agent %s is alive; stop it before deleting it.", a.ID))
			return
		}
		err := s.store.Txn(r.Context(), func(tx *store.Tx) error {
			tx.Delete(store.ChassisKey(a.Host))
			tx.Delete(store.StatsKey(a.Host)) // the console's flow and port counts
			return nil
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// fipMode is a chassis' floating-IP mode as the agents API shows it (a
// record from before modes existed is distributed).
func fipMode(m string) string {
	if m == "" {
		return model.FIPModeDistributed
	}
	return m
}
