// Package keystone is the subset of the Keystone v3 identity API that Wyvern
// serves on the same listener as its Neutron API, so that unmodified
// OpenStack clients (python-openstackclient, openstacksdk, gophercloud)
// authenticate against Wyvern itself, and the token middleware that guards
// the Neutron routes.
//
// # Endpoints
//
//	GET    /v3, /v3/          version document (v3.14, stable)
//	POST   /v3/auth/tokens    issue a token (password or token method)
//	GET    /v3/auth/tokens    validate X-Subject-Token (HEAD likewise)
//	DELETE /v3/auth/tokens    revoke X-Subject-Token
//
// A password request names the user by id, or by name and domain; its scope
// names a project by id, or by name and domain. A request without a scope
// gets an unscoped token (no project, no roles, no catalog), as Keystone
// gives to users without a default project. Scoped tokens carry a catalog
// with two services, both at the server's base URL (Config.PublicURL, else
// the request's Host): "keystone" (type identity, base URL + "/v3") and
// "neutron" (type network, the base URL itself; clients append /v2.0).
//
// The token middleware (Service.Middleware) answers a missing, invalid,
// expired, revoked or unscoped X-Auth-Token with 401 and keystonemiddleware's
// body, {"error": {"code": 401, "title": "Unauthorized", "message": "The
// request you have made requires authentication."}}, as Neutron does.
//
// Roles are admin, member and reader; as in a Keystone bootstrap, admin
// implies member and member implies reader, and tokens list the effective
// roles.
//
// # A remote Keystone
//
// Where a real Keystone runs, Remote replaces the Service (the server's
// --keystone-url): Remote.Middleware validates each X-Auth-Token with GET
// /v3/auth/tokens on that Keystone (X-Subject-Token, authenticated by a
// service user's project-scoped token, renewed at three quarters of its
// life or when Keystone refuses it), maps the token's roles to the
// auth.Principal exactly as the built-in middleware does, and answers 401
// in the same format with WWW-Authenticate naming that Keystone. Results
// are cached by token hash for at most RemoteConfig.CacheTTL (default 1m,
// at most MaxRemoteCacheTTL = 5m, so that a revocation takes effect) and
// never past the token's expiry, in at most CacheSize entries; tokens
// Keystone refuses are remembered apart (as many, as long), so that a flood
// of bogus tokens neither reaches Keystone nor evicts valid ones. Keystone
// failures (unreachable, 5xx, service credentials refused) are 503, never
// 401. The server's /v3 then answers Remote.NotIdentity (404 naming the
// real Keystone); Wyvern does not proxy or redirect client logins.
//
// # Tokens
//
// A token is 32 random bytes in hex (no leading '-' for a CLI to misread). It is stored in
// etcd at TokenKey (Prefix "tokens/" + hex SHA-256 of the token, never the
// token itself) under a lease whose TTL is the token's lifetime, so expired
// tokens vanish by themselves and every server process sharing the etcd
// cluster accepts the tokens of the others. Validated tokens are cached in
// memory for at most Config.CacheTTL (a few seconds) and never past their
// expiry; a revocation therefore reaches other server processes within
// CacheTTL.
//
// # Identity file
//
// The users, projects and role assignments come from a JSON file (the
// server's --users flag) plus a bootstrap admin from Config (user
// Config.AdminName with role admin on project Config.AdminProject). Only the
// "default" domain (named "Default") exists. Example (abridged from
// testdata/users.json):
//
//	{
//	  "projects": [
//	    {"name": "demo"},
//	    {"name": "ops", "id": "0c4e939acacf4376bdcd1129f1a054ad", "domain": "default"}
//	  ],
//	  "users": [
//	    {"name": "alice", "password": "alice-dev-password"},
//	    {"name": "bob", "id": "7ad1d9b9c5e54a8f9f2c6ad8d1e0c2b1",
//	     "password_hash": "$2a$10$qR3I2Kw5leYMGMWaYkTKJ.MWNg1Zw9P9mVc036ssjOhiBAZNcyFA."}
//	  ],
//	  "role_assignments": [
//	    {"user": "alice", "project": "demo", "role": "member"},
//	    {"user": "bob", "project": "ops", "role": "reader"}
//	  ]
//	}
//
// Fields: "name" is required; "id" defaults to a stable id derived from the
// name (32 hex digits, the same on every server); "domain" may be omitted,
// "default" or "Default"; "enabled" defaults to true. A user has either a
// bcrypt "password_hash" or, for development, a plain "password" hashed at
// load. A role assignment names its user and project by name or id, and a
// role among admin, member and reader. Unknown fields are errors.
package keystone
