package neutron

import (
	"context"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// portSpec asks for a port made by the server itself (router interfaces and
// gateways, floating IP ports) rather than by a client's POST.
type portSpec struct {
	ProjectID   string
	NetworkID   string
	DeviceOwner string
	DeviceID    string
	// FixedIPs requests addresses: a subnet (any free address on it), an
	// address, or both. Empty means one address on the first IPv4 subnet.
	FixedIPs []model.FixedIP
	// NoSecurity creates the port without security groups and with port
	// security disabled, as Neutron does for router and floating IP ports.
	NoSecurity bool
}

// allocatePort creates a port inside tx, allocating its MAC and addresses.
// Owned by ports.go's author: TODO(ports) implement.
func (s *Server) allocatePort(ctx context.Context, tx *store.Tx, p auth.Principal, spec portSpec) (*model.Port, error) {
	return nil, BadRequest("port allocation not implemented yet")
}

// deletePortKeys deletes a port and frees its MAC and addresses inside tx.
// Owned by ports.go's author: TODO(ports) implement.
func deletePortKeys(tx *store.Tx, port *model.Port) error {
	tx.Delete(store.PortKey(port.NetworkID, port.ID))
	tx.Delete(store.IndexKey(store.KindPorts, port.ID))
	return nil
}
