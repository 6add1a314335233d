package keystone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Defaults and bounds of RemoteConfig.
const (
	// DefaultRemoteCacheTTL is how long a token validated by a remote
	// Keystone is trusted from memory by default.
	DefaultRemoteCacheTTL = time.Minute
	// MaxRemoteCacheTTL bounds RemoteConfig.CacheTTL, so that a revocation
	// in Keystone takes effect within five minutes (keystonemiddleware's
	// default token_cache_time).
	MaxRemoteCacheTTL = 5 * time.Minute
	// maxTokenLen bounds a token sent to Keystone; Fernet tokens are about
	// 200 bytes, JWS tokens under 1 KiB.
	maxTokenLen = 8 << 10
)

// RemoteConfig configures validation against a real Keystone, with the
// service credentials keystonemiddleware's [keystone_authtoken] section
// takes (auth_url, username, password, project_name, user_domain_name,
// project_domain_name, cafile).
type RemoteConfig struct {
	// URL is the Keystone endpoint, e.g. http://controller:5000 (a
	// trailing /v3 is accepted).
	URL string
	// Username and Password are the service user; ProjectName its project.
	Username, Password, ProjectName string
	// UserDomainName and ProjectDomainName default to "Default".
	UserDomainName, ProjectDomainName string
	// CAFile, when set, is the CA bundle trusted for an https:// URL.
	CAFile string
	// CacheTTL bounds how long a validated token is trusted from memory
	// (default DefaultRemoteCacheTTL, at most MaxRemoteCacheTTL; negative
	// disables the cache); an entry never outlives its token's expiry.
	// CacheSize bounds the number of cached tokens (default 4096).
	CacheTTL  time.Duration
	CacheSize int
	// Timeout bounds each call to Keystone (default 10s).
	Timeout time.Duration
	// Client is the HTTP client (default: one built from CAFile and
	// Timeout), for tests.
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Remote validates tokens against a real Keystone (GET /v3/auth/tokens with
// X-Subject-Token, authenticated by its own service token), caches the
// results for a bounded time, and guards the Neutron routes exactly as the
// built-in Service does. It is safe for concurrent use.
type Remote struct {
	cfg    RemoteConfig
	base   string // without /v3
	client *http.Client
	log    *slog.Logger

	svcMu      sync.Mutex
	svcToken   string
	svcRefresh time.Time // renew the service token from then on

	mu      sync.Mutex
	cache   map[string]cacheEntry // by token hash
	invalid map[string]time.Time  // token hash -> forget the verdict then
}

// NewRemote checks cfg and returns a validator of cfg.URL's tokens. It does
// not contact Keystone: the service token is fetched on first use.
func NewRemote(cfg RemoteConfig, log *slog.Logger) (*Remote, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("keystone URL %q: want http(s)://host[:port][/v3]", cfg.URL)
	}
	if cfg.Username == "" || cfg.Password == "" || cfg.ProjectName == "" {
		return nil, errors.New("keystone: a remote Keystone needs the service user's name, password and project")
	}
	if cfg.CacheTTL > MaxRemoteCacheTTL {
		return nil, fmt.Errorf("keystone: token cache time %v: at most %v, so that revocations take effect", cfg.CacheTTL, MaxRemoteCacheTTL)
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultRemoteCacheTTL
	}
	if cfg.CacheTTL < 0 {
		cfg.CacheTTL = 0
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.UserDomainName == "" {
		cfg.UserDomainName = "Default"
	}
	if cfg.ProjectDomainName == "" {
		cfg.ProjectDomainName = "Default"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("keystone CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("keystone CA file %s: no PEM certificate", cfg.CAFile)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		client = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	base := strings.TrimRight(u.String(), "/")
	base = strings.TrimSuffix(base, "/v3")
	return &Remote{cfg: cfg, base: base, client: client, log: log,
		cache: map[string]cacheEntry{}, invalid: map[string]time.Time{}}, nil
}

// URL is the Keystone endpoint clients should authenticate at (the
// configured URL without a trailing /v3).
func (k *Remote) URL() string { return k.base }

// Middleware guards the Neutron routes like Service.Middleware, with the
// remote Keystone's verdict; the 401 names the remote Keystone in
// WWW-Authenticate, as keystonemiddleware does.
func (k *Remote) Middleware(next http.Handler) http.Handler {
	return authenticate(k, func(*http.Request) string { return k.base }, k.log, next)
}

// errServiceAuth: Keystone refused the service credentials.
var errServiceAuth = errors.New("keystone: the service credentials were refused")

// Validate returns the token's data as Keystone reports it. It reports
// ErrInvalidToken for tokens Keystone does not know (unknown, expired,
// revoked, or their user or project disabled), and other errors when
// Keystone cannot answer or refuses the service credentials.
func (k *Remote) Validate(ctx context.Context, tokenID string) (*Token, error) {
	if tokenID == "" || len(tokenID) > maxTokenLen {
		return nil, ErrInvalidToken
	}
	sum := sha256.Sum256([]byte(tokenID))
	h := hex.EncodeToString(sum[:])
	now := k.cfg.Now()
	k.mu.Lock()
	e, ok := k.cache[h]
	if ok && (!now.Before(e.until) || !now.Before(e.tok.ExpiresAt)) {
		delete(k.cache, h)
		ok = false
	}
	bad := false
	if until, seen := k.invalid[h]; seen {
		if bad = now.Before(until); !bad {
			delete(k.invalid, h)
		}
	}
	k.mu.Unlock()
	if ok {
		return e.tok, nil
	}
	if bad {
		return nil, ErrInvalidToken
	}
	tok, err := k.validate(ctx, tokenID, false)
	if errors.Is(err, errServiceAuth) {
		// The service token may have been revoked or expired early: get a
		// new one once.
		tok, err = k.validate(ctx, tokenID, true)
	}
	if errors.Is(err, ErrInvalidToken) && k.cfg.CacheTTL > 0 {
		// Keystone's verdict on an invalid token never changes; remember
		// it (apart from the valid tokens, which a flood of bogus ones
		// must not evict) so that such a flood does not reach Keystone.
		k.mu.Lock()
		if len(k.invalid) >= k.cfg.CacheSize {
			for h, until := range k.invalid {
				if !now.Before(until) || len(k.invalid) >= k.cfg.CacheSize {
					delete(k.invalid, h)
				}
			}
		}
		k.invalid[h] = k.cfg.Now().Add(k.cfg.CacheTTL)
		k.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	now = k.cfg.Now()
	if !now.Before(tok.ExpiresAt) {
		return nil, ErrInvalidToken
	}
	if k.cfg.CacheTTL > 0 {
		until := now.Add(k.cfg.CacheTTL)
		if tok.ExpiresAt.Before(until) {
			until = tok.ExpiresAt
		}
		k.mu.Lock()
		makeRoom(k.cache, k.cfg.CacheSize, now)
		k.cache[h] = cacheEntry{tok: tok, until: until}
		k.mu.Unlock()
	}
	return tok, nil
}

// validate asks Keystone about tokenID once.
func (k *Remote) validate(ctx context.Context, tokenID string, renew bool) (*Token, error) {
	svc, err := k.serviceToken(ctx, renew)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.base+"/v3/auth/tokens?nocatalog", nil)
	if err != nil {
		return nil, fmt.Errorf("keystone: %w", err)
	}
	req.Header.Set("X-Auth-Token", svc)
	req.Header.Set("X-Subject-Token", tokenID)
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("keystone: validate token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("keystone: validate token: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		var out struct {
			Token *Token `json:"token"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.Token == nil {
			return nil, fmt.Errorf("keystone: validate token: undecodable answer: %v", err)
		}
		out.Token.LeaseID = 0
		return out.Token, nil
	case http.StatusNotFound:
		return nil, ErrInvalidToken
	case http.StatusUnauthorized:
		k.svcMu.Lock()
		if k.svcToken == svc {
			k.svcToken = ""
		}
		k.svcMu.Unlock()
		return nil, errServiceAuth
	default:
		return nil, fmt.Errorf("keystone: validate token: %s: %s", resp.Status, snippet(body))
	}
}

// serviceToken returns the service user's project-scoped token, fetching a
// new one when none is held, when it nears its expiry, or when renew.
func (k *Remote) serviceToken(ctx context.Context, renew bool) (string, error) {
	k.svcMu.Lock()
	defer k.svcMu.Unlock()
	now := k.cfg.Now()
	if !renew && k.svcToken != "" && now.Before(k.svcRefresh) {
		return k.svcToken, nil
	}
	domain := func(name string) map[string]string { return map[string]string{"name": name} }
	body, _ := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": k.cfg.Username, "domain": domain(k.cfg.UserDomainName), "password": k.cfg.Password}}},
		"scope": map[string]any{"project": map[string]any{"name": k.cfg.ProjectName, "domain": domain(k.cfg.ProjectDomainName)}},
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.base+"/v3/auth/tokens?nocatalog", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("keystone: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("keystone: service token: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("keystone: service token: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		k.svcToken = ""
		return "", fmt.Errorf("keystone: service token for user %q: %s: %s", k.cfg.Username, resp.Status, snippet(rb))
	}
	var out struct {
		Token struct {
			IssuedAt  time.Time `json:"issued_at"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	id := resp.Header.Get("X-Subject-Token")
	if err := json.Unmarshal(rb, &out); err != nil || id == "" {
		return "", fmt.Errorf("keystone: service token: undecodable answer (%v)", err)
	}
	// Renew after three quarters of the lifetime, measured by Keystone's own
	// clock so that clock skew does not matter.
	life := out.Token.ExpiresAt.Sub(out.Token.IssuedAt)
	k.svcToken, k.svcRefresh = id, now.Add(life*3/4)
	k.log.Info("keystone service token obtained", "url", k.base, "user", k.cfg.Username, "lifetime", life)
	return id, nil
}

// snippet is the start of an error body, for a log line.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// cacheLen is the number of cached valid and invalid tokens, for tests.
func (k *Remote) cacheLen() (valid, invalid int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.cache), len(k.invalid)
}

// NotIdentity answers every /v3 request of a server whose identity service
// is a remote Keystone: 404 in Keystone's format, naming where the identity
// service is, like a Neutron server (which serves no /v3) would, but
// helpfully. Wyvern neither proxies passwords nor redirects them.
func (k *Remote) NotIdentity(w http.ResponseWriter, r *http.Request) {
	keystoneError(w, http.StatusNotFound, "Not Found",
		"This is the network service; the identity service is at "+k.base+"/v3 (use it as the auth URL).")
}

// IssueToken forwards a POST /v3/auth/tokens request to the remote
// Keystone and copies its answer (status, X-Subject-Token and body). The
// server gives it only to its web console, in process, so that the console
// login works; the public /v3 routes stay NotIdentity.
func (k *Remote) IssueToken(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		badRequest(w, "unreadable body")
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, k.base+"/v3/auth/tokens", bytes.NewReader(body))
	if err != nil {
		unavailable(w)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		k.log.Error("keystone: issue token", "err", err)
		unavailable(w)
		return
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		unavailable(w)
		return
	}
	if v := resp.Header.Get("X-Subject-Token"); v != "" {
		w.Header().Set("X-Subject-Token", v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(rb)
}
