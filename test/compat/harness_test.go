package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// moduleRoot returns the repository root (where go.mod is).
func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// buildWyvern builds ./cmd/wyvern into a temp dir and returns the binary.
// A missing or broken cmd/wyvern fails the test: it is what we test.
func buildWyvern(t *testing.T) string {
	t.Helper()
	root := moduleRoot(t)
	if _, err := os.Stat(filepath.Join(root, "cmd", "wyvern", "main.go")); err != nil {
		t.Fatalf("cmd/wyvern is missing: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "wyvern")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/wyvern")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wyvern: %v\n%s", err, out)
	}
	return bin
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. The listeners
// are held until all are chosen so the ports differ.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// identityFile is the --users file format of internal/api/keystone.
type identityFile struct {
	Projects []map[string]string `json:"projects"`
	Users    []map[string]string `json:"users"`
	Roles    []map[string]string `json:"role_assignments"`
}

// account is one user's credentials.
type account struct {
	user, password, project string
}

// server is a running `wyvern server`.
type server struct {
	url   string // http://127.0.0.1:PORT
	admin account
	log   string // path of its combined output
}

// authURL is the Keystone v3 URL clients use.
func (s *server) authURL() string { return s.url + "/v3" }

// startServer starts `wyvern server` from bin on free loopback ports with a
// fresh data dir, the bootstrap admin, and users (each a member of its own
// project), waits until it answers GET /, and stops it in t.Cleanup.
func startServer(t *testing.T, bin string, users ...account) *server {
	t.Helper()
	return startServerWith(t, bin, nil, users...)
}

// startServerWith is startServer with extra server flags.
func startServerWith(t *testing.T, bin string, extra []string, users ...account) *server {
	t.Helper()
	dir := t.TempDir()
	ports := freePorts(t, 3)
	s := &server{
		url:   fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		admin: account{user: "admin", password: "admin-" + strconv.FormatInt(time.Now().UnixNano(), 36), project: "admin"},
		log:   filepath.Join(dir, "server.log"),
	}
	var idf identityFile
	for _, u := range users {
		idf.Projects = append(idf.Projects, map[string]string{"name": u.project})
		idf.Users = append(idf.Users, map[string]string{"name": u.user, "password": u.password})
		idf.Roles = append(idf.Roles, map[string]string{"user": u.user, "project": u.project, "role": "member"})
	}
	usersFile := filepath.Join(dir, "users.json")
	b, err := json.MarshalIndent(idf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(usersFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	launchServer(t, bin, dir, s.url, ports, append([]string{"--users", usersFile, "--admin-password", s.admin.password}, extra...)...)
	return s
}

// launchServer starts `wyvern server` from bin listening at url (port
// ports[0], embedded etcd on ports[1] and ports[2], data under dir) with the
// extra args, waits until it answers GET /, and stops it in t.Cleanup. Its
// combined output goes to dir/server.log.
func launchServer(t *testing.T, bin, dir, url string, ports []int, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"server",
		"--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--etcd-client-url", fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		"--etcd-peer-url", fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		"--data-dir", filepath.Join(dir, "etcd"),
	}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = withoutOSVars(os.Environ())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start wyvern server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				t.Logf("wyvern server log (last 4 KiB):\n%s", tail(out, 4096))
			}
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logPath)
			exited <- err // let the cleanup's receive complete
			t.Fatalf("wyvern server exited before it was ready: %v\n%s", err, tail(out, 4096))
		default:
		}
		resp, err := client.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("wyvern server not ready at %s after 60s (last error %v)", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withoutOSVars drops OS_* variables so that the caller's own cloud
// settings never leak into a test.
func withoutOSVars(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OS_") {
			out = append(out, kv)
		}
	}
	return out
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// runCmd runs name with args and env under a timeout and returns its
// stdout, stderr and error.
func runCmd(ctx context.Context, dir string, env []string, name string, args ...string) (string, string, error) {
	var stdout, stderr strings.Builder
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%s timed out: %w", name, ctx.Err())
	}
	return stdout.String(), stderr.String(), err
}
