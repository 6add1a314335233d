package ctl

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/pki"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// etcdAdmin is how `wyvernctl chassis` reaches etcd: as an admin (a user
// with etcd's root role), by a client certificate or a password.
type etcdAdmin struct {
	endpoints string
	tls       pki.Files
	user      string
	password  string
}

func (e *etcdAdmin) flags(cmd *cobra.Command, getenv func(string) string) {
	f := cmd.PersistentFlags()
	f.StringVar(&e.endpoints, "etcd-endpoints", "http://127.0.0.1:2379", "comma-separated etcd endpoints")
	f.StringVar(&e.tls.CertFile, "etcd-cert", "", "admin's client certificate (PEM) presented to etcd (its common name holds etcd's root role)")
	f.StringVar(&e.tls.KeyFile, "etcd-key", "", "key of --etcd-cert")
	f.StringVar(&e.tls.CAFile, "etcd-cacert", "", "CA certificate (PEM) that signed etcd's certificate; implies TLS")
	f.StringVar(&e.user, "etcd-user", "", "etcd user with the root role, instead of a certificate (e.g. root)")
	f.StringVar(&e.password, "etcd-password", getenv("WYVERN_ETCD_PASSWORD"), "password of --etcd-user (or WYVERN_ETCD_PASSWORD)")
}

func (e *etcdAdmin) dial(ctx context.Context) (*store.Store, error) {
	eps := strings.Split(e.endpoints, ",")
	tlsCfg, err := e.tls.ClientFor(eps)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return store.DialAuth(dctx, eps, tlsCfg, e.user, e.password)
}

// chassisCommand is `wyvernctl chassis`: enrolling the chassis and
// gateways of an etcd with authentication (`wyvern server --etcd-auth`).
func (a *app) chassisCommand(getenv func(string) string) *cobra.Command {
	var adm etcdAdmin
	cmd := &cobra.Command{
		Use:   "chassis",
		Short: "Enroll chassis and gateways in etcd's users and roles (admin; talks to etcd)",
		Long: `With etcd's authentication on (wyvern server --etcd-auth, or an external
cluster with etcdctl auth enable), each chassis is an etcd user named as its
client certificate's common name, whose role reads the model and writes only
chassis/NAME, alive/NAME, stats/NAME, metering/NAME and bindings/NAME/. A gateway's role
writes only its registration and the pools' steering.

  wyvern certs --dir pki --clients hv1,gw1,admin ...
  wyvernctl chassis add hv1 --etcd-endpoints https://192.0.2.1:2379 \
      --etcd-cacert pki/ca.pem --etcd-cert pki/server.pem --etcd-key pki/server-key.pem
  wyvernctl chassis add gw1 --gateway ...`,
	}
	adm.flags(cmd, getenv)
	var gateway bool
	var password string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create (or update) the etcd user and role of a chassis or gateway",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := adm.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			role := store.RoleChassis
			if gateway {
				role = store.RoleGateway
			}
			if err := st.Enroll(cmd.Context(), args[0], role, password); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "enrolled %s as etcd user %s with role %s\n", args[0], args[0], store.RoleName(role, args[0]))
			return nil
		},
	}
	add.Flags().BoolVar(&gateway, "gateway", false, "enroll an edge gateway (wyvern gateway) rather than a chassis")
	add.Flags().StringVar(&password, "password", "", "the user's etcd password, for a process without a client certificate (default: certificate only)")
	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Delete the etcd user and roles of a chassis or gateway",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := adm.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Unenroll(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "removed etcd user %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, remove)
	return cmd
}
