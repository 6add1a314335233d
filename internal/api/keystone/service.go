package keystone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"golang.org/x/crypto/bcrypt"
)

// AdminPasswordEnv is the environment variable the server reads the
// bootstrap admin's password from when no flag gives it.
const AdminPasswordEnv = "WYVERN_ADMIN_PASSWORD"

// Defaults of Config.
const (
	DefaultTokenTTL  = time.Hour
	DefaultCacheTTL  = 3 * time.Second
	DefaultCacheSize = 4096
	DefaultRegion    = "RegionOne"
	DefaultAdminName = "admin"
)

// Config configures the identity service. The zero value of every field but
// AdminPassword (or UsersFile) is usable.
type Config struct {
	// UsersFile is the JSON users file (--users); empty: only the admin.
	UsersFile string
	// AdminName, AdminPassword and AdminProject bootstrap an administrator
	// with role admin on AdminProject (both names default to "admin").
	// An empty password bootstraps no admin; New fails if that leaves no
	// user at all.
	AdminName     string
	AdminPassword string
	AdminProject  string
	// TokenTTL is the lifetime of a token (default 1h).
	TokenTTL time.Duration
	// PublicURL is the base URL clients reach the server at, used in the
	// catalog and version links (e.g. https://cloud.example:9696). Empty:
	// derived from each request's Host.
	PublicURL string
	// Region of the catalog endpoints (default RegionOne).
	Region string
	// CacheTTL bounds how long a validated token is trusted from memory
	// (default 3s; negative disables the cache). CacheSize bounds the number
	// of cached tokens (default 4096).
	CacheTTL  time.Duration
	CacheSize int
	// BcryptCost hashes plain passwords of the users file and the admin
	// (default bcrypt.DefaultCost).
	BcryptCost int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.AdminName == "" {
		c.AdminName = DefaultAdminName
	}
	if c.AdminProject == "" {
		c.AdminProject = DefaultAdminName
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.CacheTTL < 0 {
		c.CacheTTL = 0
	}
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = bcrypt.DefaultCost
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Service is the Keystone v3 subset and the token middleware. It is safe
// for concurrent use and holds no state but a short cache: every token
// lives in etcd.
type Service struct {
	cfg    Config
	id     *identity
	tokens *tokenStore
	st     *store.Store
	log    *slog.Logger
}

// New loads the identity (users file and bootstrap admin) and returns the
// service storing its tokens in st's etcd cluster.
func New(cfg Config, st *store.Store, log *slog.Logger) (*Service, error) {
	cfg.setDefaults()
	if st == nil {
		return nil, errors.New("keystone: no store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.TokenTTL < time.Second {
		return nil, fmt.Errorf("keystone: token lifetime %v: at least 1s", cfg.TokenTTL)
	}
	var f *File
	if cfg.UsersFile != "" {
		var err error
		if f, err = ReadFile(cfg.UsersFile); err != nil {
			return nil, err
		}
	}
	id, err := buildIdentity(f, admin{Name: cfg.AdminName, Password: cfg.AdminPassword, Project: cfg.AdminProject}, cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	if len(id.usersByID) == 0 {
		return nil, errors.New("keystone: no users: give an admin password (" + AdminPasswordEnv + ") or a users file")
	}
	log.Info("identity loaded", "users", len(id.usersByID), "projects", len(id.projectByID),
		"users_file", cfg.UsersFile, "token_ttl", cfg.TokenTTL)
	return &Service{
		cfg:    cfg,
		id:     id,
		tokens: newTokenStore(st, cfg.Now, cfg.CacheTTL, cfg.CacheSize),
		st:     st,
		log:    log,
	}, nil
}

// Validate returns the live token with the given id, checked against the
// current identity (its user enabled, its project still there). It
// reports ErrInvalidToken for unknown, expired and revoked tokens.
func (s *Service) Validate(ctx context.Context, tokenID string) (*Token, error) {
	tok, err := s.tokens.get(ctx, tokenID)
	if errors.Is(err, errTokenNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if u := s.id.usersByID[tok.User.ID]; u != nil {
		if !u.Enabled {
			return nil, ErrInvalidToken
		}
	} else {
		var su storedUser
		if ok, err := s.getStored(ctx, store.IdentityUserKey(tok.User.ID), &su); err != nil {
			return nil, err
		} else if !ok || !su.Enabled {
			return nil, ErrInvalidToken
		}
	}
	if tok.Project != nil {
		if p := s.id.projectByID[tok.Project.ID]; p != nil {
			if !p.Enabled {
				return nil, ErrInvalidToken
			}
		} else {
			var sp storedProject
			if ok, err := s.getStored(ctx, store.IdentityProjectKey(tok.Project.ID), &sp); err != nil {
				return nil, err
			} else if !ok || !sp.Enabled {
				return nil, ErrInvalidToken
			}
		}
	}
	return tok, nil
}

// ErrInvalidToken is returned by Validate for a token that is unknown,
// expired or revoked.
var ErrInvalidToken = errors.New("keystone: invalid token")

// BaseURL is the URL clients reach this server at: Config.PublicURL, else
// the request's scheme and Host.
func (s *Service) BaseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
