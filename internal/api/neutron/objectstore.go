package neutron

import (
	"context"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Some collections (address scopes, address groups, subnet pools) are
// kept as their API objects: one JSON object per key,
// store.ObjectKey(kind, id), with no parent and no index, encoded in etcd
// as in the API. These helpers give their resource the list, load and
// save functions.

// listObjects lists every object of kind.
func listObjects[T any, PT interface {
	*T
	model.Object
}](s *Server, kind string) func(ctx context.Context) ([]model.Object, error) {
	return func(ctx context.Context) ([]model.Object, error) {
		objs, _, err := store.ListOf[T](ctx, s.store, store.KindPrefix(kind))
		if err != nil {
			return nil, err
		}
		out := make([]model.Object, len(objs))
		for i := range objs {
			out[i] = PT(&objs[i])
		}
		return out, nil
	}
}

// getObject reads one object of kind inside tx; nil, nil when absent.
func getObject[T any](tx *store.Tx, kind, id string) (*T, error) {
	var v T
	ok, err := tx.Get(store.ObjectKey(kind, id), &v)
	if err != nil || !ok {
		return nil, err
	}
	return &v, nil
}

// loadObject is the resource load function of kind.
func loadObject[T any, PT interface {
	*T
	model.Object
}](kind string) func(tx *store.Tx, id string) (model.Object, error) {
	return func(tx *store.Tx, id string) (model.Object, error) {
		v, err := getObject[T](tx, kind, id)
		if v == nil || err != nil {
			return nil, err
		}
		return PT(v), nil
	}
}

// saveObject is the resource save function of kind.
func saveObject(kind string) func(tx *store.Tx, o model.Object) error {
	return func(tx *store.Tx, o model.Object) error { return tx.Put(store.ObjectKey(kind, o.Std().ID), o) }
}
