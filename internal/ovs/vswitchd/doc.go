// Package vswitchd is the libovsdb model of the Open_vSwitch database,
// generated from Debian's vswitch.ovsschema (OVS 3.1) by:
//
//	go run github.com/ovn-org/libovsdb/cmd/modelgen -p vswitchd -o internal/ovs/vswitchd /usr/share/openvswitch/vswitch.ovsschema
//
// Do not edit the generated files; regenerate them instead.
package vswitchd
