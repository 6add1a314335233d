package main

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/cli"
	"github.com/wyvern-sdn/wyvern/internal/pki"
)

// certsCmd is `wyvern certs`: a CA and the certificates of a test or demo
// deployment. Production brings its own PKI.
func certsCmd(out io.Writer) *cobra.Command {
	var (
		dir, hosts, clients string
		validity            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Make a CA and certificates for a test or demo deployment (API, etcd, chassis, gateways)",
		Long: `Makes, in --dir, a certificate authority (ca.pem, ca-key.pem), a server
certificate (server.pem, server-key.pem) for the API and the embedded etcd's
client and peer listeners, valid for --hosts, and one client certificate
(<name>.pem, <name>-key.pem) per --clients name, whose common name is the
name: etcd with --client-cert-auth takes it as the user.

  wyvern certs --dir /etc/wyvern/pki --hosts 192.0.2.1,controller --clients hv1,hv2,gw1
  wyvern server --cert-file server.pem --key-file server-key.pem \
      --etcd-client-url https://192.0.2.1:2379 --etcd-cert-file server.pem --etcd-key-file server-key.pem \
      --etcd-trusted-ca-file ca.pem --etcd-client-cert-auth ...
  wyvern-agent --etcd-endpoints https://192.0.2.1:2379 --etcd-cacert ca.pem --etcd-cert hv1.pem --etcd-key hv1-key.pem ...
  wyvernctl --os-cacert ca.pem ...`,
		RunE: func(cmd *cobra.Command, args []string) error {
			made, err := pki.Generate(dir, pki.Spec{Hosts: cli.SplitList(hosts), Clients: cli.SplitList(clients), Validity: validity})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "CA          %s\n", made.CA)
			fmt.Fprintf(out, "server      %s %s\n", made.Server.CertFile, made.Server.KeyFile)
			names := make([]string, 0, len(made.Clients))
			for n := range made.Clients {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(out, "client %-4s %s %s\n", n, made.Clients[n].CertFile, made.Clients[n].KeyFile)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory for the files (created; must not hold a CA already)")
	f.StringVar(&hosts, "hosts", "127.0.0.1,localhost", "DNS names and IP addresses of the server certificate")
	f.StringVar(&clients, "clients", "", "client certificate names, comma-separated (chassis names, gateways, operators)")
	f.DurationVar(&validity, "validity", 365*24*time.Hour, "validity of every certificate")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}
