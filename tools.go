//go:build tools

// Package tools pins the module versions of the libraries Wyvern is built on
// until each is imported by real code.
package tools

import (
	_ "github.com/contiv/libOpenflow/openflow13"
	_ "github.com/contiv/libOpenflow/util"
	_ "github.com/gopacket/gopacket/layers"
	_ "github.com/gophercloud/gophercloud/v2"
	_ "github.com/insomniacslk/dhcp/dhcpv4"
	_ "github.com/ovn-org/libovsdb/client"
	_ "github.com/ovn-org/libovsdb/model"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "golang.org/x/crypto/bcrypt"
)
