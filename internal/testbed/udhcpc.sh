#!/bin/sh
# udhcpc event script written by internal/testbed: it applies a lease the
# way a distribution's default script does, and records the variables
# udhcpc passed in @ENV@ for the test to read.
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set dev "$interface" up
	;;
bound|renew)
	[ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
	if [ -n "$staticroutes" ]; then
		# RFC 3442: with classless routes, the router option is ignored.
		set -- $staticroutes
		while [ $# -ge 2 ]; do
			if [ "$2" = "0.0.0.0" ]; then
				ip route replace "$1" dev "$interface"
			else
				ip route replace "$1" via "$2" dev "$interface"
			fi
			shift 2
		done
	elif [ -n "$router" ]; then
		for r in $router; do
			ip route replace default via "$r" dev "$interface" && break
		done
	fi
	: > "@DIR@/resolv.conf"
	[ -n "$domain" ] && echo "search $domain" >> "@DIR@/resolv.conf"
	for d in $dns; do echo "nameserver $d" >> "@DIR@/resolv.conf"; done
	env > "@ENV@.tmp" && mv "@ENV@.tmp" "@ENV@"
	;;
leasefail|nak)
	echo "udhcpc: $1 ${message:-}" >&2
	;;
esac
exit 0
