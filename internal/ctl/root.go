// Package ctl is wyvernctl, Wyvern's operator CLI: cobra commands that manage
// networks, subnets, ports, routers, floating IPs and security groups
// through a wyvern server's Neutron v2.0 API, with gophercloud as the client.
//
// Credentials come from flags or the usual OS_* environment variables
// (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME,
// OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME); with
// --noauth the client talks to --url (or WYVERN_URL) without a token, for a
// server started with --noauth.
//
// Output is a human table by default and JSON with -o json: lists print an
// array of the API's objects, show/create print the object itself, exactly
// as the API returned it.
package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/pki"
)

// Main runs wyvernctl with args (without the program name), writing to
// stdout and stderr and reading the environment through getenv. It returns
// the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := NewRootCommand(stdout, stderr, getenv)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "Error: %s\n", describe(err))
		return 1
	}
	return 0
}

// app holds the global flags and the lazily built API client.
type app struct {
	stdout, stderr io.Writer

	authURL       string
	username      string
	password      string
	projectName   string
	userDomain    string
	projectDomain string
	region        string
	cacert        string
	noauth        bool
	url           string
	noauthProject string
	output        string
	timeout       time.Duration

	client *gophercloud.ServiceClient
}

// NewRootCommand returns the wyvernctl command tree.
func NewRootCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "wyvernctl",
		Short:         "Operate a Wyvern SDN control plane",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.fromEnv(getenv)
			switch a.output {
			case "table", "json":
				return nil
			}
			if cmd.Name() == "topology" {
				if slices.Contains(topologyFormats, a.output) {
					return nil
				}
				return fmt.Errorf("unknown output format %q (want svg, png or dot)", a.output)
			}
			return fmt.Errorf("unknown output format %q (want table or json)", a.output)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.PersistentFlags()
	// Defaults come from the environment at run time (fromEnv), not as flag
	// defaults, so that --help never prints a password.
	f.StringVar(&a.authURL, "os-auth-url", "", "Keystone v3 URL (env OS_AUTH_URL)")
	f.StringVar(&a.username, "os-username", "", "user name (env OS_USERNAME)")
	f.StringVar(&a.password, "os-password", "", "password (env OS_PASSWORD)")
	f.StringVar(&a.projectName, "os-project-name", "", "project name (env OS_PROJECT_NAME)")
	f.StringVar(&a.userDomain, "os-user-domain-name", "", "user's domain (env OS_USER_DOMAIN_NAME, else Default)")
	f.StringVar(&a.projectDomain, "os-project-domain-name", "", "project's domain (env OS_PROJECT_DOMAIN_NAME, else Default)")
	f.StringVar(&a.region, "os-region-name", "", "region (env OS_REGION_NAME)")
	f.StringVar(&a.cacert, "os-cacert", "", "CA certificate (PEM) that signed the API's certificate (env OS_CACERT)")
	f.BoolVar(&a.noauth, "noauth", false, "talk to --url without authenticating (server started with --noauth)")
	f.StringVar(&a.url, "url", "", "API base URL, e.g. http://127.0.0.1:9696 (env WYVERN_URL); overrides the catalog")
	f.StringVar(&a.noauthProject, "noauth-project", "", "with --noauth, act in this project id (X-Project-Id)")
	f.StringVarP(&a.output, "output", "o", "table", "output format: table or json (topology: svg, png or dot)")
	f.DurationVar(&a.timeout, "timeout", 30*time.Second, "timeout of each API request")

	root.AddCommand(
		a.networkCommand(),
		a.subnetCommand(),
		a.portCommand(),
		a.routerCommand(),
		a.floatingIPCommand(),
		a.securityGroupCommand(),
		a.securityGroupRuleCommand(),
		a.statusCommand(),
		a.meteringCommand(),
		a.traceCommand(),
		a.topologyCommand(),
		a.chassisCommand(getenv),
	)
	return root
}

// fromEnv fills the connection settings not given as flags from the
// environment.
func (a *app) fromEnv(getenv func(string) string) {
	for _, s := range []struct {
		v    *string
		keys []string
		def  string
	}{
		{&a.authURL, []string{"OS_AUTH_URL"}, ""},
		{&a.username, []string{"OS_USERNAME"}, ""},
		{&a.password, []string{"OS_PASSWORD"}, ""},
		{&a.projectName, []string{"OS_PROJECT_NAME", "OS_TENANT_NAME"}, ""},
		{&a.userDomain, []string{"OS_USER_DOMAIN_NAME"}, "Default"},
		{&a.projectDomain, []string{"OS_PROJECT_DOMAIN_NAME"}, "Default"},
		{&a.region, []string{"OS_REGION_NAME"}, ""},
		{&a.cacert, []string{"OS_CACERT"}, ""},
		{&a.url, []string{"WYVERN_URL"}, ""},
	} {
		for _, k := range s.keys {
			if *s.v == "" {
				*s.v = getenv(k)
			}
		}
		if *s.v == "" {
			*s.v = s.def
		}
	}
}

// networkClient returns the Neutron client, authenticating on first use.
func (a *app) networkClient(ctx context.Context) (*gophercloud.ServiceClient, error) {
	if a.client != nil {
		return a.client, nil
	}
	httpClient := http.Client{Timeout: a.timeout}
	if a.cacert != "" {
		tc, err := pki.Files{CAFile: a.cacert}.Client()
		if err != nil {
			return nil, fmt.Errorf("--os-cacert: %w", err)
		}
		httpClient.Transport = &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}
	}
	if a.noauth {
		if a.url == "" {
			return nil, errors.New("--noauth needs --url (or WYVERN_URL)")
		}
		base := strings.TrimSuffix(a.url, "/") + "/"
		sc := &gophercloud.ServiceClient{
			ProviderClient: &gophercloud.ProviderClient{HTTPClient: httpClient},
			Endpoint:       base,
			ResourceBase:   base + "v2.0/",
			Type:           "network",
		}
		if a.noauthProject != "" {
			sc.MoreHeaders = map[string]string{"X-Project-Id": a.noauthProject}
		}
		a.client = sc
		return sc, nil
	}
	var missing []string
	for _, p := range []struct{ v, name string }{
		{a.authURL, "--os-auth-url/OS_AUTH_URL"},
		{a.username, "--os-username/OS_USERNAME"},
		{a.password, "--os-password/OS_PASSWORD"},
	} {
		if p.v == "" {
			missing = append(missing, p.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing credentials: %s (or use --noauth --url)", strings.Join(missing, ", "))
	}
	opts := gophercloud.AuthOptions{
		IdentityEndpoint: a.authURL,
		Username:         a.username,
		Password:         a.password,
		DomainName:       a.userDomain,
		AllowReauth:      true,
	}
	if a.projectName != "" {
		opts.Scope = &gophercloud.AuthScope{ProjectName: a.projectName, DomainName: a.projectDomain}
	}
	pc, err := openstack.NewClient(a.authURL)
	if err != nil {
		return nil, fmt.Errorf("auth url: %w", err)
	}
	pc.HTTPClient = httpClient
	if err := openstack.Authenticate(ctx, pc, opts); err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	sc, err := openstack.NewNetworkV2(pc, gophercloud.EndpointOpts{Region: a.region})
	if err != nil {
		return nil, fmt.Errorf("network endpoint: %w", err)
	}
	if a.url != "" {
		base := strings.TrimSuffix(a.url, "/") + "/"
		sc.Endpoint, sc.ResourceBase = base, base+"v2.0/"
	}
	a.client = sc
	return sc, nil
}
