#!/usr/bin/env bash
# Wyvern's benchmarks: `./bench/run.sh [api|...]` runs the named benchmarks,
# all of them by default, and writes results under bench/results/. Each
# benchmark is one run_<name> function; bench/README.md says what each
# measures and how to reproduce its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
TMP=bench/out
RESULTS=bench/results
mkdir -p "$TMP" "$RESULTS"

# results_file NAME: bench/results/NAME-<date>.md, never overwriting an
# earlier run of the same day.
results_file() {
	local f="$RESULTS/$1-$(date +%F).md"
	[ -e "$f" ] && f="$RESULTS/$1-$(date +%F-%H%M%S).md"
	echo "$f"
}

# build_wyvern: the server binary into $TMP/wyvern, from the working tree,
# or from commit $WYVERN_REV (e.g. WYVERN_REV=HEAD when others' unfinished
# work in the tree does not build). Prints what was built.
build_wyvern() {
	rm -f "$TMP/wyvern-agent" # absent when the revision predates it
	if [ -z "${WYVERN_REV:-}" ]; then
		"$GO" build -o "$TMP/" ./cmd/wyvern ./cmd/wyvern-agent
		local dirty=""
		[ -n "$(git status --porcelain -- cmd internal go.mod go.sum 2>/dev/null)" ] && dirty=" + uncommitted changes"
		echo "working tree at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$dirty"
		return
	fi
	local rev src
	rev=$(git rev-parse --short "$WYVERN_REV")
	src=$(mktemp -d)
	git archive "$rev" | tar -x -C "$src"
	(cd "$src" && "$GO" build -o "$OLDPWD/$TMP/" ./cmd/wyvern && { [ ! -d cmd/wyvern-agent ] || "$GO" build -o "$OLDPWD/$TMP/" ./cmd/wyvern-agent; })
	rm -rf "$src"
	echo "commit $rev"
}

# api: port creates/s and latency with 64 clients on the embedded etcd
# (fsync on, and --unsafe-no-fsync), list latency at 10,000 ports, and a
# CPU profile of the server. Extra arguments go to the program, e.g.
# API_ARGS="-rounds 1 -nofsync-rounds 0 -profile 0".
run_api() {
	local built out cmd="./bench/run.sh api"
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/api
	out=$(results_file api)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${API_ARGS:-}" ] && cmd="API_ARGS=\"$API_ARGS\" $cmd"
	# shellcheck disable=SC2086
	"$TMP/api" -wyvern "$TMP/wyvern" -tmp "$TMP" -out "$out" -command "$cmd" \
		-built "$built" ${API_ARGS:-}
	echo "bench: api results in $out"
}

# bringup: the local controller on the workload vs-ovn also runs on OVN —
# port bring-up latency (0→200 ports, then with 1,000 present), 800 ports
# bound in bulk, br-int flows and agent RSS per chassis, full resync and
# the kill -9 restart test — on a 3-chassis test bed (needs root). Two full
# runs (BRINGUP_RUNS), ranges across runs; extra arguments in BRINGUP_ARGS,
# e.g. BRINGUP_ARGS="-ports 50 -extra-ports 20 -more 10" for a quick look.
run_bringup() {
	local built out cmd="./bench/run.sh bringup"
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/bringup
	out=$(results_file bringup)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${BRINGUP_ARGS:-}" ] && cmd="BRINGUP_ARGS=\"$BRINGUP_ARGS\" $cmd"
	# shellcheck disable=SC2086
	local agent="$TMP/wyvern-agent"
	[ -x "$agent" ] || agent=none
	"$TMP/bringup" -runs "${BRINGUP_RUNS:-2}" -wyvern "$TMP/wyvern" -wyvern-agent "$agent" -built "$built" -out "$out" \
		-command "$cmd" ${BRINGUP_ARGS:-}
	echo "bench: bringup results in $out"
}

# dataplane: TCP throughput and RTT through Wyvern's pipeline (same
# network, routed, routed with security groups, floating IP) as ratios to
# hand-written Geneve flows measured beside each path, and datapath flows
# during 100 connections, on one test bed (needs root). Extra arguments in
# DATAPLANE_ARGS, e.g. DATAPLANE_ARGS="-rounds 1 -t 2" for a quick look.
run_dataplane() {
	local built out cmd="./bench/run.sh dataplane"
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/dataplane
	out=$(results_file dataplane)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${DATAPLANE_ARGS:-}" ] && cmd="DATAPLANE_ARGS=\"$DATAPLANE_ARGS\" $cmd"
	# shellcheck disable=SC2086
	"$TMP/dataplane" -wyvern "$TMP/wyvern" -built "$built" -out "$out" -command "$cmd" ${DATAPLANE_ARGS:-}
	echo "bench: dataplane results in $out"
}

# ipv6svc: how fast the local agent answers a VM's router solicitation
# and DHCPv6 SOLICIT, p50/p99, beside DHCPv4 DISCOVER on the same path
# (needs root). Extra arguments in IPV6SVC_ARGS, e.g. "-rounds 1 -n 50".
run_ipv6svc() {
	local built out cmd="./bench/run.sh ipv6svc"
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/ipv6svc
	out=$(results_file ipv6svc)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${IPV6SVC_ARGS:-}" ] && cmd="IPV6SVC_ARGS=\"$IPV6SVC_ARGS\" $cmd"
	# shellcheck disable=SC2086
	"$TMP/ipv6svc" -wyvern "$TMP/wyvern" -wyvern-agent "$TMP/wyvern-agent" -built "$built" -out "$out" \
		-command "$cmd" ${IPV6SVC_ARGS:-}
	echo "bench: ipv6svc results in $out"
}

# metadata: the metadata service's request latency with 50 VMs asking at
# once (needs root). Extra arguments in METADATA_ARGS, e.g. "-vms 5 -n 5".
run_metadata() {
	local built out cmd="./bench/run.sh metadata"
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/metadata
	out=$(results_file metadata)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${METADATA_ARGS:-}" ] && cmd="METADATA_ARGS=\"$METADATA_ARGS\" $cmd"
	# shellcheck disable=SC2086
	"$TMP/metadata" -wyvern "$TMP/wyvern" -wyvern-agent "$TMP/wyvern-agent" -built "$built" -out "$out" \
		-command "$cmd" ${METADATA_ARGS:-}
	echo "bench: metadata results in $out"
}

# qos: QoS bandwidth-limit accuracy — iperf3 through a port with a limit
# of 5, 10 and 50 Mbit/s in each direction, and the unlimited rate of the
# same path (needs root). Extra arguments in QOS_ARGS, e.g. "-runs 1".
run_qos() {
	local built out cmd="./bench/run.sh qos"
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/qos
	out=$(results_file qos)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${QOS_ARGS:-}" ] && cmd="QOS_ARGS=\"$QOS_ARGS\" $cmd"
	# shellcheck disable=SC2086
	"$TMP/qos" -wyvern "$TMP/wyvern" -wyvern-agent "$TMP/wyvern-agent" -built "$built" -out "$out" \
		-command "$cmd" ${QOS_ARGS:-}
	echo "bench: qos results in $out"
}

# edge: the floating-IP edge — association → route in FRR for 1,000
# floating IPs (p50/p99/all), the edge path's TCP (iperf3) and RTT ratios
# against hand-written flows on the same hops, side by side, and packets
# lost when a gateway dies under a 50 pps stream (kill -9 and a silent
# uplink cut; BGP timers 1 s/3 s, no BFD), on a bed with 3 gateways, an FRR
# upstream router and an FRR underlay router (needs root). Extra
# arguments in EDGE_ARGS, e.g. EDGE_ARGS="-fips 100 -kill-rounds 1 -cut-rounds 0".
run_edge() {
	local built out cmd="./bench/run.sh edge"
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/edge
	out=$(results_file edge)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${EDGE_ARGS:-}" ] && cmd="EDGE_ARGS=\"$EDGE_ARGS\" $cmd"
	# shellcheck disable=SC2086
	"$TMP/edge" -wyvern "$TMP/wyvern" -wyvern-agent "$TMP/wyvern-agent" -built "$built" -out "$out" \
		-command "$cmd" ${EDGE_ARGS:-}
	echo "bench: edge results in $out"
}

# faults: the fault-injection tests (test/faults, needs root) with their
# report: faults injected with counts, requests during faults, packets lost
# per fault and times to recover. Not in the default set: it is a test run
# (about 2 minutes) that writes a page, not a benchmark.
run_faults() {
	local out
	out=$(results_file faults)
	FAULTS_REPORT="$PWD/$out" "$GO" test -count=1 -v -timeout 10m ./test/faults 2>&1 | tee "$TMP/faults.log" |
		grep -E '^(=== RUN|--- |\s+--- |PASS|FAIL|ok)' || true
	[ -e "$out" ] || { echo "bench: faults wrote no report (see $TMP/faults.log)" >&2; return 1; }
	echo "bench: faults results in $out (full log in $TMP/faults.log)"
}

# scale: N simulated chassis (the real agent, an in-memory switch) in one
# process against one etcd and a real `wyvern server`: cold start,
# propagation p50/p99 of port, rule and router changes to every interested
# chassis, events and bytes per chassis against reach (and, with -full,
# against full replication), etcd load, a burst elsewhere and a restart.
# SCALE_ARGS go to the program, e.g. SCALE_ARGS="-chassis 100,300 -full";
# SCALE_ETCD=/usr/bin/etcd runs an external etcd (Debian etcd-server);
# SCALE_PROXY=/usr/bin/etcd puts the agents behind `etcd grpc-proxy`.
run_scale() {
	local built out cmd="./bench/run.sh scale"
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/scale
	out=$(results_file scale)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${SCALE_ARGS:-}" ] && cmd="SCALE_ARGS=\"$SCALE_ARGS\" $cmd"
	[ -n "${SCALE_ETCD:-}" ] && cmd="SCALE_ETCD=$SCALE_ETCD $cmd"
	[ -n "${SCALE_PROXY:-}" ] && cmd="SCALE_PROXY=$SCALE_PROXY $cmd"
	local etcd=()
	[ -n "${SCALE_ETCD:-}" ] && etcd=(-etcd "$SCALE_ETCD")
	[ -n "${SCALE_PROXY:-}" ] && etcd+=(-proxy "$SCALE_PROXY")
	# shellcheck disable=SC2086
	"$TMP/scale" -wyvern "$TMP/wyvern" -tmp "$TMP" -out "$out" -command "$cmd" -built "$built" "${etcd[@]}" ${SCALE_ARGS:-}
	echo "bench: scale results in $out"
}

# vs-ovn: the bring-up workload of bringup on OVN (Debian ovn-central and
# ovn-host, installed here with apt-get if missing; bench only, never the
# tests) and on Wyvern, interleaved round by round on the same kind of bed:
# every figure as a ratio Wyvern ÷ OVN measured in the same round (needs
# root). Extra arguments in VSOVN_ARGS, e.g. VSOVN_ARGS="-rounds 1 -ports 20
# -extra-nets 2 -extra-ports 20 -more 10" for a quick look.
run_vs-ovn() {
	local built out cmd="./bench/run.sh vs-ovn"
	if ! command -v ovn-northd >/dev/null || ! command -v ovn-controller >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y ovn-central ovn-host
	fi
	built=$(build_wyvern)
	"$GO" build -o "$TMP/" ./bench/bringup ./bench/vsovn
	out=$(results_file vs-ovn)
	[ -n "${WYVERN_REV:-}" ] && cmd="WYVERN_REV=$WYVERN_REV $cmd"
	[ -n "${VSOVN_ARGS:-}" ] && cmd="VSOVN_ARGS=\"$VSOVN_ARGS\" $cmd"
	local agent="$TMP/wyvern-agent"
	[ -x "$agent" ] || agent=none
	# shellcheck disable=SC2086
	"$TMP/vsovn" -bringup "$TMP/bringup" -wyvern "$TMP/wyvern" -wyvern-agent "$agent" -tmp "$TMP" -built "$built" \
		-out "$out" -command "$cmd" -logs "$TMP/vsovn-logs-$(date +%H%M%S)" ${VSOVN_ARGS:-}
	echo "bench: vs-ovn results in $out"
}

# faults is left out of ALL: it is a test run (needs root) whose page records
# what was injected; run it by name.
ALL=(api bringup dataplane edge ipv6svc metadata qos scale vs-ovn)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL[@]}")
for t in "${targets[@]}"; do
	if ! declare -F "run_$t" >/dev/null; then
		echo "bench: unknown benchmark '$t' (have: ${ALL[*]} faults)" >&2
		exit 2
	fi
done
for t in "${targets[@]}"; do
	"run_$t"
done
