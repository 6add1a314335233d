package store

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcd's authentication, as Wyvern uses it. The server connects as a user
// holding etcd's root role; every chassis and gateway as a user of its own
// name (the common name of its client certificate, or a password) whose
// role lets it read the model it needs and write only its own keys, with
// etcd's key-range permissions:
//
//	chassis NAME   read: ReadablePrefixes
//	               write: chassis/NAME, alive/NAME, gateway_chassis/NAME, stats/NAME, metering/NAME (keys),
//	               bindings/NAME/ and fip_status/NAME/ (prefixes)
//	gateway NAME   read: ReadablePrefixes
//	               write: edge/gateways/NAME (its registration) and edge/pools/ (automatic steering)
//
// Leases need no permission (etcd lets any authenticated user grant one);
// a key put under a lease needs write permission on the key.

// RootUser is etcd's superuser; enabling authentication needs it.
const RootUser = "root"

// ReadablePrefixes are what an enrolled chassis or gateway may read: the
// model and the keys derived from it, never tokens, identities, claims or
// quotas.
var ReadablePrefixes = []string{
	Prefix + KindNetworks + "/",
	Prefix + KindSubnets + "/",
	Prefix + KindPorts + "/",
	Prefix + KindRouters + "/",
	Prefix + KindFloatingIPs + "/",
	Prefix + KindSecGroups + "/",
	Prefix + KindSGRules + "/",
	GroupRulesPrefix,
	ScopedPrefix,
	Prefix + "index/",
	Prefix + KindChassis + "/",
	Prefix + "alive/",
	GatewayChassisPrefix,
	Prefix + "edge/",
	Prefix + KindMeteringLabels + "/",
	Prefix + KindMeteringRules + "/",
	Prefix + KindQoSPolicies + "/",
	Prefix + "ping", // Dial's probe
}

// Role is what an enrolled user may do.
type Role int

// Roles of enrolled users.
const (
	RoleChassis Role = iota // an agent: its chassis record, heartbeat, stats, bindings and floating IP reports
	RoleGateway             // an edge gateway: its registration and the pools' steering
)

// RoleName is the etcd role of an enrolled user.
func RoleName(r Role, name string) string {
	if r == RoleGateway {
		return "wyvern-gateway-" + name
	}
	return "wyvern-chassis-" + name
}

// Grant is one key-range permission: Key alone, or every key with the
// prefix Key when Prefix is set.
type Grant struct {
	Key    string
	Prefix bool
	Write  bool
}

// Grants are the permissions of role r for the user name.
func Grants(r Role, name string) []Grant {
	var gs []Grant
	for _, p := range ReadablePrefixes {
		gs = append(gs, Grant{Key: p, Prefix: p[len(p)-1] == '/'})
	}
	switch r {
	case RoleGateway:
		gs = append(gs, Grant{Key: EdgeGatewayKey(name), Write: true}, Grant{Key: EdgePoolsPrefix, Prefix: true, Write: true})
	default:
		gs = append(gs, Grant{Key: ChassisKey(name), Write: true}, Grant{Key: AliveKey(name), Write: true},
			Grant{Key: GatewayChassisKey(name), Write: true},
			Grant{Key: StatsKey(name), Write: true}, Grant{Key: MeteringCountersKey(name), Write: true},
			Grant{Key: BindingsOf(name), Prefix: true, Write: true}, Grant{Key: FIPStatusOf(name), Prefix: true, Write: true})
	}
	return gs
}

// Enroll creates the etcd user name (idempotent) with the role r: with an
// empty password, the user authenticates only by a client certificate
// whose common name is name. The caller must hold etcd's root role.
func (s *Store) Enroll(ctx context.Context, name string, r Role, password string) error {
	if name == "" || name == RootUser {
		return fmt.Errorf("store: enroll %q: not a chassis or gateway name", name)
	}
	if err := s.addUser(ctx, name, password); err != nil {
		return err
	}
	role := RoleName(r, name)
	if _, err := s.cli.RoleAdd(ctx, role); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("store: add role %s: %w", role, err)
	}
	for _, g := range Grants(r, name) {
		end := ""
		if g.Prefix {
			end = clientv3.GetPrefixRangeEnd(g.Key)
		}
		perm := clientv3.PermissionType(clientv3.PermRead)
		if g.Write {
			perm = clientv3.PermissionType(clientv3.PermReadWrite)
		}
		if _, err := s.cli.RoleGrantPermission(ctx, role, g.Key, end, perm); err != nil {
			return fmt.Errorf("store: grant %s on %s: %w", role, g.Key, err)
		}
	}
	if _, err := s.cli.UserGrantRole(ctx, name, role); err != nil {
		return fmt.Errorf("store: grant role %s to %s: %w", role, name, err)
	}
	return nil
}

// Unenroll deletes the user name and its roles: its client certificate
// then reads and writes nothing.
func (s *Store) Unenroll(ctx context.Context, name string) error {
	if _, err := s.cli.UserDelete(ctx, name); err != nil && !errors.Is(err, rpctypes.ErrUserNotFound) {
		return fmt.Errorf("store: delete user %s: %w", name, err)
	}
	for _, r := range []Role{RoleChassis, RoleGateway} {
		if _, err := s.cli.RoleDelete(ctx, RoleName(r, name)); err != nil && !errors.Is(err, rpctypes.ErrRoleNotFound) {
			return fmt.Errorf("store: delete role %s: %w", RoleName(r, name), err)
		}
	}
	return nil
}

func (s *Store) addUser(ctx context.Context, name, password string) error {
	_, err := s.cli.UserAddWithOptions(ctx, name, password, &clientv3.UserAddOptions{NoPassword: password == ""})
	if err != nil && !errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		return fmt.Errorf("store: add user %s: %w", name, err)
	}
	return nil
}

// AuthEnabled reports whether etcd checks permissions.
func (s *Store) AuthEnabled(ctx context.Context) (bool, error) {
	resp, err := s.cli.AuthStatus(ctx)
	if err != nil {
		return false, fmt.Errorf("store: auth status: %w", err)
	}
	return resp.Enabled, nil
}

// EnableAuth turns etcd's authentication on, once: it creates the root
// user (with rootPassword, or certificate-only when empty) and, when
// admin is another name (the common name of the server's client
// certificate), that user with the root role too. It does nothing when
// authentication is already on.
func (s *Store) EnableAuth(ctx context.Context, rootPassword, admin string) error {
	on, err := s.AuthEnabled(ctx)
	if err != nil || on {
		return err
	}
	users := []string{RootUser}
	if admin != "" && admin != RootUser {
		users = append(users, admin)
	}
	for _, u := range users {
		pw := ""
		if u == RootUser {
			pw = rootPassword
		}
		if err := s.addUser(ctx, u, pw); err != nil {
			return err
		}
		if _, err := s.cli.UserGrantRole(ctx, u, RootUser); err != nil {
			return fmt.Errorf("store: grant root to %s: %w", u, err)
		}
	}
	if _, err := s.cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("store: enable auth: %w", err)
	}
	return nil
}

// isAuthError reports whether err is etcd refusing the client's identity
// or its permission, as opposed to etcd being unreachable.
func isAuthError(err error) bool {
	for _, e := range []error{rpctypes.ErrPermissionDenied, rpctypes.ErrUserEmpty, rpctypes.ErrAuthFailed,
		rpctypes.ErrInvalidAuthToken, rpctypes.ErrUserNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// IsPermissionDenied reports whether err is etcd refusing an operation to
// the user (a missing permission).
func IsPermissionDenied(err error) bool { return errors.Is(err, rpctypes.ErrPermissionDenied) }
