package keystone

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// The only domain.
const (
	DefaultDomainID   = "default"
	DefaultDomainName = "Default"
)

// Role names. Admin implies member, member implies reader.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
	RoleReader = "reader"
)

// impliedRoles lists the effective roles of an assigned role, strongest first.
var impliedRoles = map[string][]string{
	RoleAdmin:  {RoleAdmin, RoleMember, RoleReader},
	RoleMember: {RoleMember, RoleReader},
	RoleReader: {RoleReader},
}

// roleOrder ranks roles for a stable listing.
var roleOrder = []string{RoleAdmin, RoleMember, RoleReader}

// Errors of authentication. Every one of them is a 401 to the client, which
// is not told which.
var (
	errBadCredentials = errors.New("keystone: unknown user or wrong password")
	errUserDisabled   = errors.New("keystone: user disabled")
	errNoProject      = errors.New("keystone: unknown or disabled project")
	errNoRole         = errors.New("keystone: user has no role on project")
)

// stableID derives a 32-hex-digit id from a kind and a name, the same on
// every server process that loads the same file.
func stableID(kind, name string) string {
	sum := sha256.Sum256([]byte("wyvern:" + kind + ":" + DefaultDomainID + ":" + name))
	return hex.EncodeToString(sum[:16])
}

// RoleID is the id of a role name.
func RoleID(name string) string { return stableID("role", name) }

// ProjectID is the id Wyvern gives a project named in a users file (or the
// bootstrap admin project) that has no explicit id.
func ProjectID(name string) string { return stableID("project", name) }

// UserID is the id Wyvern gives a user without an explicit id.
func UserID(name string) string { return stableID("user", name) }

// user is one identity.
type user struct {
	ID      string
	Name    string
	Hash    []byte
	Enabled bool
	// roles maps project id to assigned role names.
	roles map[string][]string
	// stored is the user's etcd entry; nil for the users file's.
	stored *storedUser
}

// project is one project.
type project struct {
	ID          string
	Name        string
	Enabled     bool
	Description string
	stored      bool // created through the API, not in the users file
}

// identity is the immutable set of users, projects and assignments.
type identity struct {
	usersByID     map[string]*user
	usersByName   map[string]*user
	projectByID   map[string]*project
	projectByName map[string]*project
}

// dummyHash makes a login with an unknown user cost as much as one with a
// wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("wyvern-no-such-user"), bcrypt.MinCost)

// File is the JSON format of the users file (see the package doc).
type File struct {
	Projects        []FileProject    `json:"projects"`
	Users           []FileUser       `json:"users"`
	RoleAssignments []FileAssignment `json:"role_assignments"`
}

// FileProject is a project in the users file.
type FileProject struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name"`
	Domain  string `json:"domain,omitempty"`
	Enabled *bool  `json:"enabled,omitempty"`
}

// FileUser is a user in the users file.
type FileUser struct {
	ID           string `json:"id,omitempty"`
	Name         string `json:"name"`
	Domain       string `json:"domain,omitempty"`
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	Enabled      *bool  `json:"enabled,omitempty"`
}

// FileAssignment gives a user a role on a project.
type FileAssignment struct {
	User    string `json:"user"`
	Project string `json:"project"`
	Role    string `json:"role"`
}

// ReadFile reads and decodes a users file. Unknown fields are errors.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystone: read users file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keystone: users file %s: %w", path, err)
	}
	return &f, nil
}

func checkDomain(d string) error {
	if d == "" || d == DefaultDomainID || strings.EqualFold(d, DefaultDomainName) {
		return nil
	}
	return fmt.Errorf("domain %q: only the default domain exists", d)
}

func enabled(p *bool) bool { return p == nil || *p }

// admin is the bootstrap administrator.
type admin struct {
	Name, Password, Project string
}

// buildIdentity assembles the identity from a users file (may be nil) and
// the bootstrap admin (skipped when its password is empty). bcryptCost
// hashes plain passwords.
func buildIdentity(f *File, adm admin, bcryptCost int) (*identity, error) {
	id := &identity{
		usersByID:     map[string]*user{},
		usersByName:   map[string]*user{},
		projectByID:   map[string]*project{},
		projectByName: map[string]*project{},
	}
	if f == nil {
		f = &File{}
	}
	projects := f.Projects
	users := f.Users
	assigns := f.RoleAssignments
	if adm.Password != "" {
		projects = append([]FileProject{{Name: adm.Project}}, projects...)
		users = append([]FileUser{{Name: adm.Name, Password: adm.Password}}, users...)
		assigns = append([]FileAssignment{{User: adm.Name, Project: adm.Project, Role: RoleAdmin}}, assigns...)
	}
	for i, fp := range projects {
		if fp.Name == "" {
			return nil, fmt.Errorf("keystone: project %d: name required", i)
		}
		if err := checkDomain(fp.Domain); err != nil {
			return nil, fmt.Errorf("keystone: project %q: %w", fp.Name, err)
		}
		p := &project{ID: fp.ID, Name: fp.Name, Enabled: enabled(fp.Enabled)}
		if p.ID == "" {
			p.ID = ProjectID(fp.Name)
		}
		if _, dup := id.projectByName[p.Name]; dup {
			return nil, fmt.Errorf("keystone: project %q defined twice", p.Name)
		}
		if _, dup := id.projectByID[p.ID]; dup {
			return nil, fmt.Errorf("keystone: project id %q defined twice", p.ID)
		}
		id.projectByName[p.Name] = p
		id.projectByID[p.ID] = p
	}
	for i, fu := range users {
		if fu.Name == "" {
			return nil, fmt.Errorf("keystone: user %d: name required", i)
		}
		if err := checkDomain(fu.Domain); err != nil {
			return nil, fmt.Errorf("keystone: user %q: %w", fu.Name, err)
		}
		u := &user{ID: fu.ID, Name: fu.Name, Enabled: enabled(fu.Enabled), roles: map[string][]string{}}
		if u.ID == "" {
			u.ID = UserID(fu.Name)
		}
		switch {
		case fu.PasswordHash != "" && fu.Password != "":
			return nil, fmt.Errorf("keystone: user %q: give password or password_hash, not both", fu.Name)
		case fu.PasswordHash != "":
			if _, err := bcrypt.Cost([]byte(fu.PasswordHash)); err != nil {
				return nil, fmt.Errorf("keystone: user %q: password_hash: %w", fu.Name, err)
			}
			u.Hash = []byte(fu.PasswordHash)
		case fu.Password != "":
			h, err := bcrypt.GenerateFromPassword([]byte(fu.Password), bcryptCost)
			if err != nil {
				return nil, fmt.Errorf("keystone: user %q: hash password: %w", fu.Name, err)
			}
			u.Hash = h
		default:
			return nil, fmt.Errorf("keystone: user %q: password or password_hash required", fu.Name)
		}
		if _, dup := id.usersByName[u.Name]; dup {
			return nil, fmt.Errorf("keystone: user %q defined twice", u.Name)
		}
		if _, dup := id.usersByID[u.ID]; dup {
			return nil, fmt.Errorf("keystone: user id %q defined twice", u.ID)
		}
		id.usersByName[u.Name] = u
		id.usersByID[u.ID] = u
	}
	for i, a := range assigns {
		u := id.usersByName[a.User]
		if u == nil {
			u = id.usersByID[a.User]
		}
		if u == nil {
			return nil, fmt.Errorf("keystone: role assignment %d: unknown user %q", i, a.User)
		}
		p := id.projectByName[a.Project]
		if p == nil {
			p = id.projectByID[a.Project]
		}
		if p == nil {
			return nil, fmt.Errorf("keystone: role assignment %d: unknown project %q", i, a.Project)
		}
		if _, ok := impliedRoles[a.Role]; !ok {
			return nil, fmt.Errorf("keystone: role assignment %d: unknown role %q (admin, member or reader)", i, a.Role)
		}
		u.roles[p.ID] = append(u.roles[p.ID], a.Role)
	}
	return id, nil
}

// userRef names a user in a request: by id, or by name in a domain given by
// id or name.
type userRef struct {
	ID     string
	Name   string
	Domain domainRef
}

type domainRef struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

func (d domainRef) isDefault() bool {
	if d.ID != "" {
		return d.ID == DefaultDomainID
	}
	return strings.EqualFold(d.Name, DefaultDomainName)
}

// lookupUser finds a user; nil when unknown.
func (id *identity) lookupUser(ref userRef) *user {
	if ref.ID != "" {
		u := id.usersByID[ref.ID]
		if u == nil || (ref.Name != "" && ref.Name != u.Name) {
			return nil
		}
		return u
	}
	if !ref.Domain.isDefault() {
		return nil
	}
	return id.usersByName[ref.Name]
}

// authenticate checks a password.
func (id *identity) authenticate(ref userRef, password string) (*user, error) {
	u := id.lookupUser(ref)
	if u == nil {
		// Spend the same time as a real comparison.
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, errBadCredentials
	}
	if err := bcrypt.CompareHashAndPassword(u.Hash, []byte(password)); err != nil {
		return nil, errBadCredentials
	}
	if !u.Enabled {
		return nil, errUserDisabled
	}
	return u, nil
}

// lookupProject finds an enabled project by id, or by name in a domain.
func (id *identity) lookupProject(pid, name string, dom domainRef) (*project, error) {
	var p *project
	if pid != "" {
		p = id.projectByID[pid]
		if p != nil && name != "" && name != p.Name {
			p = nil
		}
	} else if dom.isDefault() {
		p = id.projectByName[name]
	}
	if p == nil || !p.Enabled {
		return nil, errNoProject
	}
	return p, nil
}

// effectiveRoles lists the roles of u on project p, implied ones included,
// strongest first; errNoRole when it has none.
func (u *user) effectiveRoles(projectID string) ([]string, error) {
	have := map[string]bool{}
	for _, r := range u.roles[projectID] {
		for _, e := range impliedRoles[r] {
			have[e] = true
		}
	}
	var out []string
	for _, r := range roleOrder {
		if have[r] {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errNoRole
	}
	return out, nil
}
