package store

// The identity the Keystone admin API creates, beside the users file's
// read-only entries.
const (
	KindIdentityProjects    = "identity/projects"
	KindIdentityUsers       = "identity/users"
	KindIdentityRoles       = "identity/roles"
	KindIdentityAssignments = "identity/assignments"
)

// IdentityProjectKey is the key of a project created through the API.
func IdentityProjectKey(id string) string { return ObjectKey(KindIdentityProjects, id) }

// IdentityUserKey is the key of a user created through the API.
func IdentityUserKey(id string) string { return ObjectKey(KindIdentityUsers, id) }

// IdentityRoleKey is the key of a role created through the API.
func IdentityRoleKey(id string) string { return ObjectKey(KindIdentityRoles, id) }

// IdentityNameKey reserves a name of a kind ("projects", "users",
// "roles") in a domain, holding the owner's id.
func IdentityNameKey(kind, domain, name string) string {
	return Prefix + "identity/names/" + kind + "/" + domain + "/" + name
}

// IdentityAssignmentKey records role on project for user.
func IdentityAssignmentKey(project, user, role string) string {
	return ObjectKey(KindIdentityAssignments, project+"/"+user+"/"+role)
}
