package ctl

import (
	"reflect"
	"strings"
	"testing"
)

func TestFloatingIPSteer(t *testing.T) {
	f := newFakeNeutron(t)
	f.add("floatingips", map[string]any{"id": "fip9", "floating_ip_address": "203.0.113.9", "status": "ACTIVE", "edge_pool": "general",
		"edge_pool_moves": []any{
			map[string]any{"from": "general", "pool": "scrubbing", "reason": "auto", "at": "2026-12-06T16:00:00Z", "by": "gw2", "rate_pps": 812.0},
			map[string]any{"from": "scrubbing", "pool": "general", "reason": "manual", "at": "2026-12-06T16:05:00Z", "by": "admin"},
		}})
	got := mustRun(t, f, "floatingip", "moves", "203.0.113.9")
	want := "" +
		"floating IP 203.0.113.9 is in edge pool general\n" +
		"AT                    FROM       TO         REASON  BY     RATE (PPS)\n" +
		"2026-12-06T16:00:00Z  general    scrubbing  auto    gw2    812\n" +
		"2026-12-06T16:05:00Z  scrubbing  general    manual  admin  \n"
	if got != want {
		t.Errorf("moves:\n%s\nwant:\n%s", got, want)
	}
	mustRun(t, f, "floatingip", "steer", "203.0.113.9", "--pool", "scrubbing")
	if b := f.last("PUT", "/v2.0/floatingips/fip9").body; !reflect.DeepEqual(b, map[string]any{"floatingip": map[string]any{"edge_pool": "scrubbing"}}) {
		t.Errorf("steer body = %v", b)
	}
	mustRun(t, f, "floatingip", "steer", "fip9", "--default")
	if b := f.last("PUT", "/v2.0/floatingips/fip9").body; !reflect.DeepEqual(b, map[string]any{"floatingip": map[string]any{"edge_pool": nil}}) {
		t.Errorf("steer --default body = %v", b)
	}
	for _, args := range [][]string{{"fip9"}, {"fip9", "--pool", "x", "--default"}} {
		if code, _, errOut := run(t, f, nil, append([]string{"floatingip", "steer"}, args...)...); code == 0 || !strings.Contains(errOut, "exactly one of --pool and --default") {
			t.Errorf("steer %v: exit %d, %q", args, code, errOut)
		}
	}
	if list := mustRun(t, f, "floatingip", "list"); !strings.Contains(list, "EDGE POOL") {
		t.Errorf("list without the edge pool:\n%s", list)
	}
}
