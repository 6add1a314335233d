// Package compat holds Wyvern's client compatibility tests: they build
// cmd/wyvern, start a real `wyvern server` on loopback ports with an
// embedded etcd, and drive it with unmodified OpenStack clients — the
// python `openstack` CLI (TestOpenStackCLI) and gophercloud v2's own
// networking acceptance tests (TestGophercloudAcceptance). TestRealKeystone
// runs the server with --keystone-url against Debian's Keystone
// (python3-keystone, set up with keystone-manage in a temp dir), with users
// and projects made by the openstack CLI.
//
// They are slow (tens of seconds to minutes) and skip only under -short.
package compat
