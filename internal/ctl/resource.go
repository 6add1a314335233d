package ctl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/spf13/cobra"
)

// listFilter narrows a list to one parent resource (already resolved ids).
type listFilter struct {
	networkID       string
	securityGroupID string
	deviceID        string
}

// kind describes one Neutron resource type for the generic list, show,
// delete and name-resolution code. The functions call gophercloud's
// networking packages and return the API's objects as decoded JSON.
type kind struct {
	name       string // command and display name: "security-group"
	path       string // URL collection: "security-groups"
	collection string // list key: "security_groups"
	key        string // object key: "security_group"
	// nameField is the attribute a reference may use instead of the id
	// ("name"; "floating_ip_address" for floating IPs; "" for none).
	nameField string
	columns   []column

	list func(ctx context.Context, c *gophercloud.ServiceClient, f listFilter) (pagination.Page, error)
}

// get reads one resource: GET <path>/<id>, as every gophercloud Get does.
func (k *kind) get(ctx context.Context, c *gophercloud.ServiceClient, id string) gophercloud.Result {
	var r gophercloud.Result
	resp, err := c.Get(ctx, c.ServiceURL(k.path, id), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return r
}

// del deletes one resource: DELETE <path>/<id>.
func (k *kind) del(ctx context.Context, c *gophercloud.ServiceClient, id string) error {
	resp, err := c.Delete(ctx, c.ServiceURL(k.path, id), nil)
	_, _, err = gophercloud.ParseResponse(resp, err)
	return err
}

// errNotFound is wrapped by resolve when no resource matches a reference.
var errNotFound = errors.New("not found")

// object extracts the resource object from a get/create/update result.
func (k *kind) object(r gophercloud.Result) (map[string]any, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	return bodyObject(r.Body, k.key)
}

func bodyObject(body any, key string) (map[string]any, error) {
	m, ok := body.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("unexpected response body %T", body)
	}
	obj, ok := m[key].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("response has no %q object", key)
	}
	return obj, nil
}

// items extracts the list of objects from a (concatenated) list page.
func (k *kind) items(p pagination.Page, err error) ([]map[string]any, error) {
	if err != nil {
		return nil, err
	}
	// One page decodes to map[string]any; AllPages concatenates several
	// into a map[string][]any.
	var raw []any
	switch m := p.GetBody().(type) {
	case map[string]any:
		raw, _ = m[k.collection].([]any)
	case map[string][]any:
		raw = m[k.collection]
	default:
		return nil, fmt.Errorf("unexpected list body %T", p.GetBody())
	}
	out := make([]map[string]any, 0, len(raw))
	for _, e := range raw {
		if obj, ok := e.(map[string]any); ok {
			out = append(out, obj)
		}
	}
	return out, nil
}

// resolve turns a reference (an id, or a name where unambiguous) into an
// id.
func (a *app) resolve(ctx context.Context, k *kind, ref string) (string, error) {
	c, err := a.networkClient(ctx)
	if err != nil {
		return "", err
	}
	if ref == "" {
		return "", fmt.Errorf("empty %s reference", k.name)
	}
	r := k.get(ctx, c, ref)
	if r.Err == nil {
		return ref, nil
	}
	if !gophercloud.ResponseCodeIs(r.Err, http.StatusNotFound) {
		return "", fmt.Errorf("%s %s: %w", k.name, ref, r.Err)
	}
	if k.nameField == "" {
		return "", fmt.Errorf("no %s with id %s: %w", k.name, ref, errNotFound)
	}
	var body map[string]any
	u := c.ServiceURL(k.path) + "?" + url.Values{k.nameField: {ref}}.Encode()
	if _, err := c.Get(ctx, u, &body, nil); err != nil {
		return "", fmt.Errorf("find %s %s: %w", k.name, ref, err)
	}
	raw, _ := body[k.collection].([]any)
	var ids []string
	for _, e := range raw {
		if obj, ok := e.(map[string]any); ok && obj[k.nameField] == ref {
			if id, ok := obj["id"].(string); ok {
				ids = append(ids, id)
			}
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("no %s with name or id %s: %w", k.name, ref, errNotFound)
	case 1:
		return ids[0], nil
	default:
		return "", fmt.Errorf("%d %ss are named %s (%s): use an id", len(ids), k.name, ref, strings.Join(ids, ", "))
	}
}

// resourceCommand returns `wyvernctl <kind>` with list, show and delete;
// the caller adds create and the kind's other verbs.
func (a *app) resourceCommand(k *kind, short string, filters func(cmd *cobra.Command) func(ctx context.Context) (listFilter, error)) *cobra.Command {
	cmd := &cobra.Command{Use: k.name, Short: short}

	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List " + k.name + "s",
		Args:    cobra.NoArgs,
	}
	var filterOf func(ctx context.Context) (listFilter, error)
	if filters != nil {
		filterOf = filters(list)
	}
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		c, err := a.networkClient(ctx)
		if err != nil {
			return err
		}
		var f listFilter
		if filterOf != nil {
			if f, err = filterOf(ctx); err != nil {
				return err
			}
		}
		items, err := k.items(k.list(ctx, c, f))
		if err != nil {
			return fmt.Errorf("list %ss: %w", k.name, err)
		}
		return a.printList(k.columns, items)
	}

	show := &cobra.Command{
		Use:   "show " + strings.ToUpper(k.name),
		Short: "Show one " + k.name,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := a.resolve(ctx, k, args[0])
			if err != nil {
				return err
			}
			obj, err := k.object(k.get(ctx, a.client, id))
			if err != nil {
				return fmt.Errorf("show %s %s: %w", k.name, id, err)
			}
			return a.printObject(obj)
		},
	}

	del := &cobra.Command{
		Use:     "delete " + strings.ToUpper(k.name) + "...",
		Aliases: []string{"rm"},
		Short:   "Delete " + k.name + "s",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var errs []error
			for _, ref := range args {
				id, err := a.resolve(ctx, k, ref)
				if err == nil {
					if err = k.del(ctx, a.client, id); err != nil {
						err = fmt.Errorf("delete %s %s: %w", k.name, ref, err)
					}
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.AddCommand(list, show, del)
	return cmd
}

// printResult prints the object of a create/update result.
func (a *app) printResult(k *kind, r gophercloud.Result) error {
	obj, err := k.object(r)
	if err != nil {
		return err
	}
	return a.printObject(obj)
}
