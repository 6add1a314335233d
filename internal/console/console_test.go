package console_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/api/neutron"
	"github.com/wyvern-sdn/wyvern/internal/server"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer runs a server with Keystone (admin/secret) and returns its
// base URL once /readyz says 200.
func startServer(t *testing.T) string {
	t.Helper()
	cfg := server.Config{Listen: freeAddr(t), DataDir: t.TempDir(), EtcdClientURL: "http://" + freeAddr(t),
		EtcdPeerURL: "http://" + freeAddr(t), AdminUser: "admin", AdminPassword: "secret", AdminProject: "admin",
		UnsafeNoFsync: true, TokenTTL: time.Hour, Neutron: neutron.DefaultConfig()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	base := "http://" + cfg.Listen
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// api calls the Neutron API with a token.
func api(t *testing.T, base, token, method, path, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	_ = json.Unmarshal(b, &out)
	return out
}

func token(t *testing.T, base string) string {
	t.Helper()
	body := `{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "secret"}}},
		"scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}`
	resp, err := http.Post(base+"/v3/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("X-Subject-Token")
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (int, string, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.Path, string(b)
}

// TestConsoleLoginPagesAndTrace: the console sends a stranger to the
// login form, refuses a wrong password, and after a login shows the
// networks, the topology picture, a port's page and a trace from it.
func TestConsoleLoginPagesAndTrace(t *testing.T) {
	base := startServer(t)
	tok := token(t, base)
	n := api(t, base, tok, "POST", "/v2.0/networks", `{"network": {"name": "console-blue"}}`)["network"].(map[string]any)
	api(t, base, tok, "POST", "/v2.0/subnets", `{"subnet": {"network_id": "`+n["id"].(string)+`", "cidr": "10.7.0.0/24", "ip_version": 4}}`)
	var ports []string
	for _, name := range []string{"web1", "web2"} {
		p := api(t, base, tok, "POST", "/v2.0/ports", `{"port": {"network_id": "`+n["id"].(string)+`", "name": "`+name+`", "device_owner": "compute:nova"}}`)["port"].(map[string]any)
		ports = append(ports, p["id"].(string))
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if code, path, body := fetch(t, c, "GET", base+"/console/", nil); code != 200 || path != "/console/login" || !strings.Contains(body, `id="login"`) {
		t.Fatalf("before login: %d at %s", code, path)
	}
	if code, _, _ := fetch(t, c, "GET", base+"/console/topology.svg", nil); code != http.StatusUnauthorized {
		t.Errorf("topology before login: %d, want 401", code)
	}
	code, _, body := fetch(t, c, "POST", base+"/console/login", url.Values{"username": {"admin"}, "password": {"wrong"}, "project": {"admin"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "Login failed") {
		t.Errorf("wrong password: %d", code)
	}
	code, path, body := fetch(t, c, "POST", base+"/console/login", url.Values{"username": {"admin"}, "password": {"secret"},
		"project": {"admin"}, "next": {"/console/"}})
	if code != 200 || path != "/console/" {
		t.Fatalf("login: %d at %s", code, path)
	}
	for _, want := range []string{`data-network="console-blue"`, "10.7.0.0/24", "web1", "/console/ports/" + ports[0]} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	code, _, svg := fetch(t, c, "GET", base+"/console/topology.svg", nil)
	if code != 200 || !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "10.7.0.0/24") || !strings.Contains(svg, ">web2<") {
		t.Errorf("topology: %d %.100s", code, svg)
	}
	code, _, body = fetch(t, c, "GET", base+"/console/ports/"+ports[0], nil)
	if code != 200 || !strings.Contains(body, `id="trace-form"`) || !strings.Contains(body, "icmp, dst 10.7.0.") {
		t.Errorf("port page: %d", code)
	}
	if code, _, st := fetch(t, c, "GET", base+"/console/ports/"+ports[0]+"/status", nil); code != 200 || st != "DOWN" {
		t.Errorf("port status: %d %q", code, st)
	}
	code, _, body = fetch(t, c, "POST", base+"/console/ports/"+ports[0]+"/trace", url.Values{"packet": {"icmp, dst 10.7.0.99"}})
	if code != 200 || !strings.Contains(body, `id="trace-result"`) || !strings.Contains(body, "Verdict:") {
		t.Errorf("trace: %d\n%s", code, body)
	}
	code, _, body = fetch(t, c, "POST", base+"/console/ports/"+ports[0]+"/trace", url.Values{"packet": {"bogus"}})
	if code != 200 || !strings.Contains(body, `id="trace-error"`) {
		t.Errorf("bad packet: %d", code)
	}
	if code, _, _ := fetch(t, c, "GET", base+"/console/ports/nope", nil); code != http.StatusNotFound {
		t.Errorf("unknown port: %d", code)
	}
	if code, path, _ := fetch(t, c, "POST", base+"/console/logout", nil); code != 200 || path != "/console/login" {
		t.Errorf("logout: %d at %s", code, path)
	}
	if _, path, _ := fetch(t, c, "GET", base+"/console/", nil); path != "/console/login" {
		t.Errorf("after logout: at %s", path)
	}
}
