package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keystoneTokenLife is the real Keystone's token lifetime in the test: just
// over keystoneauth's 120 s "expires soon" margin (below it the openstack
// CLI re-authenticates before every call), and short enough to wait for a
// token to expire.
const keystoneTokenLife = 125 * time.Second

// realKeystone is Debian's Keystone (python3-keystone) running its public
// WSGI application on a loopback port, with a sqlite database, Fernet keys
// and its config in a temp dir.
type realKeystone struct {
	url           string // http://127.0.0.1:PORT, without /v3
	adminPassword string
	log           string
}

// startKeystone sets up and starts a Keystone as an operator would
// (keystone-manage db_sync, fernet_setup, credential_setup, bootstrap),
// waits until it answers GET /v3, and stops it in t.Cleanup.
func startKeystone(t *testing.T) *realKeystone {
	t.Helper()
	for _, bin := range []string{"keystone-manage", "keystone-wsgi-public"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: install python3-keystone (scripts/deps.sh)", bin)
		}
	}
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	k := &realKeystone{
		url:           fmt.Sprintf("http://127.0.0.1:%d", port),
		adminPassword: "ks-admin-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		log:           filepath.Join(dir, "keystone.log"),
	}
	conf := filepath.Join(dir, "keystone.conf")
	// password_hash_rounds 4 (bcrypt's minimum) keeps each authentication
	// cheap on a shared test machine.
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[DEFAULT]
use_stderr = true
[database]
connection = sqlite:///%[1]s/keystone.db
[fernet_tokens]
key_repository = %[1]s/fernet-keys
[fernet_receipts]
key_repository = %[1]s/fernet-keys
[credential]
key_repository = %[1]s/credential-keys
[token]
expiration = %[2]d
[identity]
password_hash_rounds = 4
[oslo_policy]
policy_dirs = %[1]s/policy.d
`, dir, int(keystoneTokenLife/time.Second))), 0o600); err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}
	env := append(withoutOSVars(os.Environ()), "HOME="+dir)
	manage := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		_, errOut, err := runCmd(ctx, dir, env, "keystone-manage", append([]string{"--config-file", conf}, args...)...)
		if err != nil {
			t.Fatalf("keystone-manage %s: %v\n%s", args[0], err, tail([]byte(errOut), 4096))
		}
	}
	manage("db_sync")
	manage("fernet_setup", "--keystone-user", me.Username, "--keystone-group", grp.Name)
	manage("credential_setup", "--keystone-user", me.Username, "--keystone-group", grp.Name)
	manage("bootstrap", "--bootstrap-password", k.adminPassword,
		"--bootstrap-public-url", k.url+"/v3", "--bootstrap-region-id", "RegionOne")
	// Write-ahead logging: with sqlite's default rollback journal, a read
	// left open on one of Keystone's pooled connections makes writes fail
	// with "database is locked".
	if out, err := exec.Command("python3", "-c",
		"import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL').fetchone()[0])",
		filepath.Join(dir, "keystone.db")).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "wal" {
		t.Fatalf("sqlite WAL mode: %v %s", err, out)
	}

	logf, err := os.Create(k.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("keystone-wsgi-public", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Env = append(env, "OS_KEYSTONE_CONFIG_DIR="+dir, "OS_KEYSTONE_CONFIG_FILES=keystone.conf")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start keystone-wsgi-public: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logf.Close()
		if t.Failed() {
			if out, err := os.ReadFile(k.log); err == nil {
				t.Logf("keystone log (last 4 KiB):\n%s", tail(out, 4096))
			}
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(k.log)
			exited <- err
			t.Fatalf("keystone exited before it was ready: %v\n%s", err, tail(out, 4096))
		default:
		}
		resp, err := client.Get(k.url + "/v3")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return k
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("keystone not ready at %s after 90s (last error %v)", k.url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// openstack is the openstack CLI authenticating at the real Keystone.
func (k *realKeystone) openstack(t *testing.T, a account) *osc {
	env := append(withoutOSVars(os.Environ()),
		"OS_AUTH_URL="+k.url+"/v3",
		"OS_USERNAME="+a.user,
		"OS_PASSWORD="+a.password,
		"OS_PROJECT_NAME="+a.project,
		"OS_USER_DOMAIN_NAME=Default",
		"OS_PROJECT_DOMAIN_NAME=Default",
		"OS_IDENTITY_API_VERSION=3",
		"OS_REGION_NAME=RegionOne",
		"OS_INTERFACE=public",
		"HOME="+t.TempDir(),
	)
	return &osc{t: t, env: env, who: a.user}
}

// token gets a project-scoped token from the real Keystone directly.
func (k *realKeystone) token(t *testing.T, a account) (string, time.Time) {
	t.Helper()
	body := fmt.Sprintf(`{"auth": {"identity": {"methods": ["password"], "password": {"user":
		{"name": %q, "domain": {"name": "Default"}, "password": %q}}},
		"scope": {"project": {"name": %q, "domain": {"name": "Default"}}}}}`, a.user, a.password, a.project)
	code, b, hdr := call(t, "POST", k.url+"/v3/auth/tokens", "", body)
	if code != http.StatusCreated || hdr.Get("X-Subject-Token") == "" {
		t.Fatalf("token for %s: %d %s", a.user, code, b)
	}
	var out struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return hdr.Get("X-Subject-Token"), out.Token.ExpiresAt
}

// call makes one HTTP request with an optional token and JSON body.
func call(t *testing.T, method, url, token, body string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// keystonemiddleware's 401, as Neutron answers it.
const wantUnauthorized = `{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}`

// TestRealKeystone runs Wyvern with --keystone-url against Debian's
// Keystone: users, projects and roles made with the openstack CLI; their
// tokens, validated by that Keystone, scope what they see and may change
// in Wyvern's Neutron API and its console; invalid, revoked and expired
// tokens get keystonemiddleware's 401.
func TestRealKeystone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Keystone and the openstack CLI: slow")
	}
	bin := buildWyvern(t)
	ks := startKeystone(t)
	ports := freePorts(t, 3)
	wyURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)

	// The operator's part, with the openstack CLI against Keystone: a
	// service user for Wyvern, Wyvern in the catalog as the network
	// service, two tenants.
	admin := ks.openstack(t, account{"admin", ks.adminPassword, "admin"})
	svc := account{"wyvern", "svc-" + suffix, "service"}
	alice := account{"alice", "alice-" + suffix, "alpha"}
	bob := account{"bob", "bob-" + suffix, "beta"}
	admin.ok("role", "create", "service")
	admin.ok("project", "create", "service")
	admin.ok("user", "create", "--password", svc.password, svc.user)
	admin.ok("role", "add", "--project", "service", "--user", svc.user, "service")
	admin.ok("service", "create", "--name", "neutron", "network")
	admin.ok("endpoint", "create", "--region", "RegionOne", "network", "public", wyURL)
	projectID := map[string]string{}
	for _, a := range []account{alice, bob} {
		projectID[a.project] = admin.obj("project", "create", a.project)["id"].(string)
		admin.ok("user", "create", "--password", a.password, a.user)
		admin.ok("role", "add", "--project", a.project, "--user", a.user, "member")
	}
	// A token to watch expire at the end of the test.
	expiring, expiresAt := ks.token(t, alice)

	dir := t.TempDir()
	launchServer(t, bin, dir, wyURL, ports,
		"--keystone-url", ks.url,
		"--keystone-username", svc.user, "--keystone-password", svc.password,
		"--keystone-project-name", svc.project,
		"--keystone-token-cache-time", "3s")

	// Tenants use Wyvern through Keystone's catalog.
	osA, osB := ks.openstack(t, alice), ks.openstack(t, bob)
	net := osA.obj("network", "create", "net-alpha-"+suffix)
	netID := net["id"].(string)
	if net["project_id"] != projectID["alpha"] {
		t.Errorf("network's project %v, want alpha's %s", net["project_id"], projectID["alpha"])
	}
	if !slices.Contains(ids(osA.list("network", "list")), netID) {
		t.Errorf("alice's network list lacks %s", netID)
	}
	if slices.Contains(ids(osB.list("network", "list")), netID) {
		t.Errorf("bob sees alice's network %s", netID)
	}
	if _, errOut, err := osB.run("network", "show", netID); err == nil {
		t.Errorf("bob: network show %s succeeded", netID)
	} else if !strings.Contains(errOut, "No Network found") {
		t.Errorf("bob: network show %s: %s", netID, errOut)
	}
	if _, errOut, err := osA.run("network", "create", "--provider-network-type", "vxlan", "--provider-segment", "4242", "prov-"+suffix); err == nil || !strings.Contains(errOut, "403") {
		t.Errorf("member creating a provider network: err %v, stderr %s; want 403", err, errOut)
	}

	// The same, exactly, over HTTP with tokens from Keystone.
	bobTok, _ := ks.token(t, bob)
	if code, b, _ := call(t, "GET", wyURL+"/v2.0/networks/"+netID, bobTok, ""); code != http.StatusNotFound || !strings.Contains(string(b), "NeutronError") {
		t.Errorf("bob GET alice's network: %d %s, want Neutron's 404", code, b)
	}
	if code, b, _ := call(t, "POST", wyURL+"/v2.0/networks", expiring,
		`{"network": {"name": "p", "provider:network_type": "vxlan", "provider:segmentation_id": 4343}}`); code != http.StatusForbidden {
		t.Errorf("alice POST a provider network: %d %s, want 403", code, b)
	}
	adminTok, _ := ks.token(t, account{"admin", ks.adminPassword, "admin"})
	if code, b, _ := call(t, "GET", wyURL+"/v2.0/networks/"+netID, adminTok, ""); code != http.StatusOK {
		t.Errorf("Keystone admin GET alice's network: %d %s, want 200 (role admin is Wyvern's admin)", code, b)
	}

	// Wyvern does not pose as the identity service.
	if code, b, _ := call(t, "GET", wyURL+"/v3/auth/tokens", adminTok, ""); code != http.StatusNotFound || !strings.Contains(string(b), ks.url+"/v3") {
		t.Errorf("GET /v3/auth/tokens on Wyvern: %d %s, want 404 naming %s", code, b, ks.url)
	}

	// The web console logs in through the real Keystone (forwarded in
	// process) and shows the user's own network.
	noRedirect := &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(password string) *http.Response {
		t.Helper()
		resp, err := noRedirect.PostForm(wyURL+"/console/login", url.Values{"username": {alice.user},
			"password": {password}, "project": {alice.project}, "next": {"/console/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("console login with a wrong password: %d, want 401", resp.StatusCode)
	}
	if resp := login(alice.password); resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Errorf("console login: %d, cookies %v; want 303 with the token cookie", resp.StatusCode, resp.Cookies())
	} else {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", wyURL+"/console/", nil)
		for _, c := range resp.Cookies() {
			req.AddCookie(c)
		}
		page, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(page.Body)
		page.Body.Close()
		if page.StatusCode != http.StatusOK || !strings.Contains(string(b), "net-alpha-"+suffix) {
			t.Errorf("console overview after login: %d, shows alice's network: %v", page.StatusCode, strings.Contains(string(b), "net-alpha-"+suffix))
		}
	}

	// Invalid tokens: keystonemiddleware's 401, naming the real Keystone.
	for _, tok := range []string{"", "bogus", expiring + "x"} {
		code, b, hdr := call(t, "GET", wyURL+"/v2.0/networks", tok, "")
		if code != http.StatusUnauthorized || strings.TrimSpace(string(b)) != wantUnauthorized {
			t.Errorf("token %q: %d %s", tok, code, b)
		}
		if got := hdr.Get("WWW-Authenticate"); got != `Keystone uri="`+ks.url+`"` {
			t.Errorf("token %q: WWW-Authenticate %q", tok, got)
		}
	}

	// Revoked in Keystone (by its owner, with the CLI): refused once the
	// 3 s cache entry lapses.
	revoked, _ := ks.token(t, alice)
	if code, b, _ := call(t, "GET", wyURL+"/v2.0/networks", revoked, ""); code != http.StatusOK {
		t.Fatalf("fresh token: %d %s", code, b)
	}
	osA.ok("token", "revoke", revoked)
	revokedAt := time.Now()
	for {
		code, b, _ := call(t, "GET", wyURL+"/v2.0/networks", revoked, "")
		if code == http.StatusUnauthorized && strings.TrimSpace(string(b)) == wantUnauthorized {
			t.Logf("revoked token refused %v after its revocation", time.Since(revokedAt).Round(time.Millisecond))
			break
		}
		if time.Since(revokedAt) > 3*time.Second+10*time.Second {
			t.Fatalf("revoked token still accepted %v after its revocation (cache time 3s): %d %s", time.Since(revokedAt), code, b)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Expired: accepted until its expiry, refused after, with no cache
	// entry outliving it.
	if time.Now().Before(expiresAt.Add(-2 * time.Second)) {
		if code, b, _ := call(t, "GET", wyURL+"/v2.0/networks", expiring, ""); code != http.StatusOK {
			t.Errorf("token before its expiry (%v): %d %s", expiresAt, code, b)
		}
	}
	for {
		code, b, _ := call(t, "GET", wyURL+"/v2.0/networks", expiring, "")
		if code == http.StatusUnauthorized && strings.TrimSpace(string(b)) == wantUnauthorized {
			if late := time.Since(expiresAt); late > 0 {
				t.Logf("expired token refused %v after its expiry", late.Round(time.Millisecond))
			} else {
				t.Errorf("token refused %v before its expiry", -late)
			}
			break
		}
		if time.Now().After(expiresAt.Add(10 * time.Second)) {
			t.Fatalf("token still accepted 10s after its expiry at %v: %d %s", expiresAt, code, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
