// Package compat holds Wyvern's client compatibility tests: they build
// cmd/wyvern, start a real `wyvern server` on loopback ports with an
// embedded etcd, and drive it with unmodified OpenStack clients — the
// python `openstack` CLI (TestOpenStackCLI) and gophercloud v2's own
// networking acceptance tests (TestGophercloudAcceptance).
//
// They are slow (tens of seconds to minutes) and skip only under -short.
package compat
