package keystone

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
)

// TestGophercloud authenticates with gophercloud and finds the network
// endpoint in the catalog.
func TestGophercloud(t *testing.T) {
	st := startEtcd(t)
	s := newService(t, st, nil)
	mux := http.NewServeMux()
	s.Register(mux)
	neutronStandIn(mux, s)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	provider, err := openstack.AuthenticatedClient(t.Context(), gophercloud.AuthOptions{
		IdentityEndpoint: srv.URL + "/v3",
		Username:         "bob",
		Password:         "bob-password",
		DomainName:       "Default",
		TenantName:       "ops",
	})
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	tok, err := s.Validate(t.Context(), provider.Token())
	if err != nil || tok.Project == nil || tok.Project.Name != "ops" {
		t.Fatalf("gophercloud's token: %v %+v", err, tok)
	}
	net, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{Region: "RegionOne"})
	if err != nil {
		t.Fatalf("network endpoint: %v", err)
	}
	if want := srv.URL + "/v2.0/"; net.ResourceBaseURL() != want {
		t.Errorf("network endpoint %s, want %s", net.ResourceBaseURL(), want)
	}
	pages, err := networks.List(net, nil).AllPages(t.Context())
	if err != nil {
		t.Fatalf("list networks: %v", err)
	}
	nets, err := networks.ExtractNetworks(pages)
	if err != nil || len(nets) != 1 || nets[0].Name != "net-of-ops" {
		t.Errorf("networks = %+v, %v", nets, err)
	}

	// Token validation through gophercloud's identity client.
	id, err := openstack.NewIdentityV3(provider, gophercloud.EndpointOpts{Region: "RegionOne"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := tokens.Validate(t.Context(), id, provider.Token()); err != nil || !ok {
		t.Errorf("validate: %v %v", ok, err)
	}
	if _, err := tokens.Get(t.Context(), id, provider.Token()).ExtractToken(); err != nil {
		t.Errorf("get token: %v", err)
	}
	if err := tokens.Revoke(t.Context(), id, provider.Token()).Err; err != nil {
		t.Errorf("revoke: %v", err)
	}
	if _, err := s.Validate(t.Context(), provider.Token()); err == nil {
		t.Error("revoked token still valid")
	}
}
