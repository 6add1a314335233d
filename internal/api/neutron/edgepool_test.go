package neutron

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// TestFloatingIPEdgePool: an admin steers a floating IP to a registered
// gateway pool and back; members may not, unknown and malformed pools are
// refused in Neutron's error format; nothing changes on a refusal; every
// move is shown; deleting the floating IP deletes its pool record.
func TestFloatingIPEdgePool(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	tp := newFIPTopology(t, a)
	vm := mkPort(t, a, "p1", tp.net, nil)
	f := obj(t, a.must(http.StatusCreated, "POST", "/v2.0/floatingips", "p1", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "port_id": vm["id"]}}), "floatingip")
	id := f["id"].(string)
	path := "/v2.0/floatingips/" + id
	if f["edge_pool"] != model.DefaultEdgePool || len(f["edge_pool_moves"].([]any)) != 0 {
		t.Fatalf("new floating IP: edge_pool %v, moves %v", f["edge_pool"], f["edge_pool_moves"])
	}
	unchanged := func(what string) {
		t.Helper()
		if n, err := a.st.Count(ctx, store.EdgePoolKey(id)); err != nil || n != 0 {
			t.Fatalf("%s: pool record written (%d, %v)", what, n, err)
		}
		g := obj(t, a.must(http.StatusOK, "GET", path, "p1", nil), "floatingip")
		if g["edge_pool"] != model.DefaultEdgePool || g["revision_number"] != f["revision_number"] || g["port_id"] != vm["id"] {
			t.Fatalf("%s: floating IP changed: %v", what, g)
		}
	}

	// A member may not steer, even its own address.
	code, body := a.call("PUT", path, "p1", map[string]any{"floatingip": map[string]any{"edge_pool": "scrubbing"}})
	if code != http.StatusForbidden || errType(body) != "HTTPForbidden" ||
		!strings.Contains(errMessage(body), "edge_pool") {
		t.Fatalf("member steering: %d %v", code, body)
	}
	unchanged("member")
	// No gateway of pool scrubbing runs yet: unknown pool.
	code, body = a.call("PUT", path, "", map[string]any{"floatingip": map[string]any{"edge_pool": "scrubbing"}})
	if code != http.StatusBadRequest || errType(body) != "BadRequest" || !strings.Contains(errMessage(body), "edge pool scrubbing is unknown") {
		t.Fatalf("unknown pool: %d %v", code, body)
	}
	unchanged("unknown pool")
	for _, bad := range []any{"Scrub Bing", 7, "-x", strings.Repeat("a", 64)} {
		code, body = a.call("PUT", path, "", map[string]any{"floatingip": map[string]any{"edge_pool": bad}})
		if code != http.StatusBadRequest || errType(body) == "" {
			t.Fatalf("edge_pool %v: %d %v", bad, code, body)
		}
	}
	unchanged("malformed pools")
	// Not at creation either: it is a steering of an existing address.
	code, _ = a.call("POST", "/v2.0/floatingips", "", map[string]any{"floatingip": map[string]any{
		"floating_network_id": tp.ext, "edge_pool": model.DefaultEdgePool}})
	if code != http.StatusBadRequest {
		t.Fatalf("edge_pool at creation: %d", code)
	}

	// A gateway of pool scrubbing registers: the admin steers there.
	if err := a.st.Txn(ctx, func(tx *store.Tx) error {
		return tx.Put(store.EdgeGatewayKey("gw4"), model.EdgeGateway{Name: "gw4", Pool: "scrubbing", UplinkIP: "198.51.100.14"})
	}); err != nil {
		t.Fatal(err)
	}
	g := obj(t, a.must(http.StatusOK, "PUT", path, "", map[string]any{"floatingip": map[string]any{"edge_pool": "scrubbing"}}), "floatingip")
	moves := g["edge_pool_moves"].([]any)
	if g["edge_pool"] != "scrubbing" || len(moves) != 1 || g["port_id"] != vm["id"] || g["status"] != "ACTIVE" {
		t.Fatalf("steered: %v", g)
	}
	m := moves[0].(map[string]any)
	if m["from"] != model.DefaultEdgePool || m["pool"] != "scrubbing" || m["reason"] != model.MoveManual || m["at"] == "" {
		t.Fatalf("move: %v", m)
	}
	var rec model.EdgePool
	if ok, err := a.st.Get(ctx, store.EdgePoolKey(id), &rec); err != nil || ok == 0 || rec.Pool != "scrubbing" || len(rec.Moves) != 1 {
		t.Fatalf("pool record %+v (%d, %v)", rec, ok, err)
	}
	// The member sees where its address is, in show and list.
	if g := obj(t, a.must(http.StatusOK, "GET", path, "p1", nil), "floatingip"); g["edge_pool"] != "scrubbing" {
		t.Fatalf("member's view: %v", g)
	}
	list := a.must(http.StatusOK, "GET", "/v2.0/floatingips", "p1", nil)["floatingips"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["edge_pool"] != "scrubbing" || len(list[0].(map[string]any)["edge_pool_moves"].([]any)) != 1 {
		t.Fatalf("list: %v", list)
	}
	// The same pool again is no move.
	g = obj(t, a.must(http.StatusOK, "PUT", path, "", map[string]any{"floatingip": map[string]any{"edge_pool": "scrubbing"}}), "floatingip")
	if len(g["edge_pool_moves"].([]any)) != 1 {
		t.Fatalf("a no-op steer recorded a move: %v", g["edge_pool_moves"])
	}
	// Back to the default pool (null), with another attribute.
	g = obj(t, a.must(http.StatusOK, "PUT", path, "", map[string]any{"floatingip": map[string]any{"edge_pool": nil, "description": "calm"}}), "floatingip")
	moves = g["edge_pool_moves"].([]any)
	if g["edge_pool"] != model.DefaultEdgePool || len(moves) != 2 || g["description"] != "calm" || g["port_id"] != vm["id"] {
		t.Fatalf("steered back: %v", g)
	}
	if m := moves[1].(map[string]any); m["from"] != "scrubbing" || m["pool"] != model.DefaultEdgePool || m["reason"] != model.MoveManual {
		t.Fatalf("move back: %v", m)
	}
	a.must(http.StatusNoContent, "DELETE", path, "p1", nil)
	if n, err := a.st.Count(ctx, store.EdgePoolKey(id)); err != nil || n != 0 {
		t.Fatalf("pool record left after delete (%d, %v)", n, err)
	}
}

// TestEdgePoolMovesBounded: the record keeps the last MaxEdgeMoves moves.
func TestEdgePoolMovesBounded(t *testing.T) {
	var p *model.EdgePool
	for i := range model.MaxEdgeMoves + 5 {
		pool := "scrubbing"
		if i%2 == 1 {
			pool = model.DefaultEdgePool
		}
		p = p.Move(model.EdgeMove{Pool: pool, Reason: model.MoveManual})
	}
	if len(p.Moves) != model.MaxEdgeMoves || p.Pool != "scrubbing" || p.LastMove().From != model.DefaultEdgePool {
		t.Fatalf("%d moves, pool %s, last %+v", len(p.Moves), p.Pool, p.LastMove())
	}
}
