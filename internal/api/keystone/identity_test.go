package keystone

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/store"
	"golang.org/x/crypto/bcrypt"
)

func TestIdentityFromFile(t *testing.T) {
	f, err := ReadFile(filepath.Join("testdata", "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := buildIdentity(f, admin{Name: "admin", Password: "pw", Project: "admin"}, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(id.usersByID); got != 4 {
		t.Errorf("users = %d, want 4 (admin, alice, bob, carol)", got)
	}
	alice := id.usersByName["alice"]
	if alice == nil || alice.ID != UserID("alice") || len(alice.ID) != 32 {
		t.Fatalf("alice = %+v", alice)
	}
	if id.projectByName["ops"].ID != "0c4e939acacf4376bdcd1129f1a054ad" {
		t.Errorf("ops id = %s", id.projectByName["ops"].ID)
	}
	if id.projectByName["demo"].ID != ProjectID("demo") {
		t.Errorf("demo id = %s", id.projectByName["demo"].ID)
	}
	if _, err := id.authenticate(userRef{Name: "alice", Domain: domainRef{Name: "default"}}, "alice-dev-password"); err != nil {
		t.Errorf("alice with plain password from file: %v", err)
	}
	if _, err := id.authenticate(userRef{ID: "7ad1d9b9c5e54a8f9f2c6ad8d1e0c2b1"}, "bob-password"); err != nil {
		t.Errorf("bob by id with hashed password: %v", err)
	}
	if _, err := id.authenticate(userRef{Name: "bob", Domain: domainRef{ID: "default"}}, "wrong"); err != errBadCredentials {
		t.Errorf("bob wrong password: %v", err)
	}
	if _, err := id.authenticate(userRef{Name: "bob", Domain: domainRef{ID: "other"}}, "bob-password"); err != errBadCredentials {
		t.Errorf("bob in another domain: %v", err)
	}
	if _, err := id.authenticate(userRef{Name: "carol", Domain: domainRef{ID: "default"}}, "carol-dev-password"); err != errUserDisabled {
		t.Errorf("disabled carol: %v", err)
	}
	adm := id.usersByName["admin"]
	roles, err := adm.effectiveRoles(ProjectID("admin"))
	if err != nil || !slices.Equal(roles, []string{"admin", "member", "reader"}) {
		t.Errorf("admin roles = %v, %v", roles, err)
	}
	roles, err = alice.effectiveRoles(ProjectID("demo"))
	if err != nil || !slices.Equal(roles, []string{"member", "reader"}) {
		t.Errorf("alice roles on demo = %v, %v", roles, err)
	}
	if _, err := alice.effectiveRoles("0c4e939acacf4376bdcd1129f1a054ad"); err != errNoRole {
		t.Errorf("alice on ops: %v", err)
	}
	if _, err := id.lookupProject("", "archived", domainRef{ID: "default"}); err != errNoProject {
		t.Errorf("disabled project: %v", err)
	}
}

func TestIdentityFileErrors(t *testing.T) {
	cases := map[string]string{
		"unknown field":   `{"users": [{"name": "a", "password": "x", "pasword": "y"}]}`,
		"no password":     `{"users": [{"name": "a"}]}`,
		"both passwords":  `{"users": [{"name": "a", "password": "x", "password_hash": "$2a$04$abc"}]}`,
		"bad hash":        `{"users": [{"name": "a", "password_hash": "plain"}]}`,
		"duplicate user":  `{"users": [{"name": "a", "password": "x"}, {"name": "a", "password": "y"}]}`,
		"admin clash":     `{"users": [{"name": "admin", "password": "x"}]}`,
		"other domain":    `{"projects": [{"name": "p", "domain": "corp"}]}`,
		"unknown role":    `{"projects": [{"name": "p"}], "users": [{"name": "a", "password": "x"}], "role_assignments": [{"user": "a", "project": "p", "role": "owner"}]}`,
		"unknown user":    `{"projects": [{"name": "p"}], "role_assignments": [{"user": "zz", "project": "p", "role": "member"}]}`,
		"unknown project": `{"users": [{"name": "a", "password": "x"}], "role_assignments": [{"user": "a", "project": "zz", "role": "member"}]}`,
		"not json":        `users: []`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users.json")
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := ReadFile(path)
			if err == nil {
				_, err = buildIdentity(f, admin{Name: "admin", Password: "pw", Project: "admin"}, bcrypt.MinCost)
			}
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !strings.HasPrefix(err.Error(), "keystone:") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestNewNeedsAUser(t *testing.T) {
	if _, err := New(Config{}, &store.Store{}, nil); err == nil || !strings.Contains(err.Error(), AdminPasswordEnv) {
		t.Fatalf("New without users: %v", err)
	}
}
