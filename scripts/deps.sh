#!/usr/bin/env bash
# Installs what Wyvern's tests and demo need on a fresh Debian machine:
# Open vSwitch (userspace datapath), namespace tools, DHCP clients, the
# openstack CLI, BGP peers for the edge tests (frr, bird2), Graphviz for
# topology pictures, headless Chromium for the console test, etcd-server
# for the etcd cluster of the fault tests (test/faults), and Keystone for
# test/compat's real-Keystone test: python3-keystone is Debian's keystone
# (keystone-manage, keystone-wsgi-public) without the `keystone` package's
# system service, which would start a machine-wide Keystone on port 5000;
# the test runs its own in a temp dir. cloud-init's OpenStack datasource
# reads the metadata service in test/e2e; it is installed disabled (the
# machine is no VM to configure at boot). Idempotent: installs only what is
# missing.
set -euo pipefail
pkgs=(openvswitch-switch iproute2 iputils-ping ethtool tcpdump iperf3 isc-dhcp-client busybox python3-openstackclient procps frr bird2 graphviz chromium etcd-server python3-keystone cloud-init)
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
if [ -d /etc/cloud ] && [ ! -e /etc/cloud/cloud-init.disabled ]; then
	touch /etc/cloud/cloud-init.disabled
fi
