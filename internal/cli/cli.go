// Package cli holds the command-line pieces Wyvern's binaries share: the
// agent command (run by both the all-in-one `wyvern agent` and the
// hypervisor's own `wyvern-agent`, which links no server code), the log
// level flag, and list parsing.
package cli

import (
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wyvern-sdn/wyvern/internal/pki"
)

// LogLevelFlag adds --log-level to cmd's persistent flags and returns the
// function building the logger it selects (call it after parsing).
func LogLevelFlag(cmd *cobra.Command) func() *slog.Logger {
	var level string
	cmd.PersistentFlags().StringVar(&level, "log-level", "info", "log level: debug, info, warn, error")
	return func() *slog.Logger {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			lvl = slog.LevelInfo
		}
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	}
}

// SplitList splits a comma-separated flag value, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// EtcdTLSFlags adds the flags of a process' TLS connection to etcd, named as
// etcdctl names them: --etcd-cert and --etcd-key (this process' client
// certificate, whose common name is its identity to etcd) and --etcd-cacert
// (the authority that signed etcd's certificate).
func EtcdTLSFlags(f *pflag.FlagSet, files *pki.Files) {
	f.StringVar(&files.CertFile, "etcd-cert", "", "client certificate (PEM) presented to etcd")
	f.StringVar(&files.KeyFile, "etcd-key", "", "key of --etcd-cert")
	f.StringVar(&files.CAFile, "etcd-cacert", "", "CA certificate (PEM) that signed etcd's certificate; implies TLS")
}
