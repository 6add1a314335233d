#!/usr/bin/env bash
# Installs what Wyvern's tests and demo need on a fresh Debian machine:
# Open vSwitch (userspace datapath), namespace tools, DHCP clients, the
# openstack CLI, BGP peers for the edge tests (frr, bird2), Graphviz for
# topology pictures, headless Chromium for the console test and etcd-server
# for the etcd cluster of the fault tests (test/faults). Idempotent:
# installs only what is missing.
set -euo pipefail
pkgs=(openvswitch-switch iproute2 iputils-ping ethtool tcpdump iperf3 isc-dhcp-client busybox python3-openstackclient procps frr bird2 graphviz chromium etcd-server)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
