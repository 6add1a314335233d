package ctl

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"github.com/wyvern-sdn/wyvern/internal/store/storetest"
)

// TestChassisAdd: `wyvernctl chassis add` enrolls a chassis in an etcd with
// authentication on, as its root: the chassis then writes its own binding
// and not another's; `chassis remove` takes its access away.
func TestChassisAdd(t *testing.T) {
	e := storetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.Store.EnableAuth(ctx, "rootpw", ""); err != nil {
		t.Fatal(err)
	}
	wyvernctl := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		env := map[string]string{"WYVERN_ETCD_PASSWORD": "rootpw"}
		args = append(args, "--etcd-endpoints", e.ClientURL, "--etcd-user", store.RootUser)
		code := Main(ctx, args, &out, &errOut, func(k string) string { return env[k] })
		return code, out.String() + errOut.String()
	}
	if code, out := wyvernctl("chassis", "add", "hv1", "--password", "pw1"); code != 0 || !strings.Contains(out, "wyvern-chassis-hv1") {
		t.Fatalf("chassis add: %d %s", code, out)
	}
	hv1, err := store.DialAuth(ctx, e.Endpoints(), nil, "hv1", "pw1")
	if err != nil {
		t.Fatal(err)
	}
	defer hv1.Close()
	if err := hv1.WriteBinding(ctx, "hv1", "p1", map[string]string{"status": "ACTIVE"}); err != nil {
		t.Errorf("own binding: %v", err)
	}
	if err := hv1.WriteBinding(ctx, "hv2", "p1", map[string]string{"status": "ACTIVE"}); !store.IsPermissionDenied(err) {
		t.Errorf("another chassis' binding: %v, want permission denied", err)
	}
	if code, out := wyvernctl("chassis", "remove", "hv1"); code != 0 {
		t.Fatalf("chassis remove: %d %s", code, out)
	}
	if err := hv1.WriteBinding(ctx, "hv1", "p1", map[string]string{"status": "DOWN"}); err == nil {
		t.Error("a removed chassis still writes")
	}
	// Without admin credentials, nothing is enrolled.
	var out, errOut bytes.Buffer
	if code := Main(ctx, []string{"chassis", "add", "hv3", "--etcd-endpoints", e.ClientURL}, &out, &errOut, func(string) string { return "" }); code == 0 {
		t.Errorf("chassis add without credentials succeeded: %s", out.String())
	}
}
