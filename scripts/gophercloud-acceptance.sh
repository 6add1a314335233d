#!/usr/bin/env bash
# Runs gophercloud's own networking acceptance tests (networks, subnets,
# ports, extensions, security groups, tags, routers, floating IPs) against a
# fresh `wyvern server` on loopback ports, and prints per-package
# pass/skip/fail counts and every failure. It is test/compat's
# TestGophercloudAcceptance; the allow-list of known gaps lives there.
#
#   scripts/gophercloud-acceptance.sh            # summary and failures
#   scripts/gophercloud-acceptance.sh -v         # also the per-test log
set -euo pipefail
cd "$(dirname "$0")/.."
exec go test -count=1 -timeout 25m -run '^TestGophercloudAcceptance$' "$@" ./test/compat
