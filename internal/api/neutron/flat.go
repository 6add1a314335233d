package neutron

import (
	"context"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Flat collections (address scopes, address groups, subnet pools) keep one
// JSON object per key, <store.Prefix><kind>/<id>, with the same encoding
// in etcd as in the API. These helpers give their resource the list, load
// and save functions.

// flatKey is the key of one object of a flat collection.
func flatKey(kind, id string) string { return store.ObjectKey(kind, id) }

// flatList lists every object of kind.
func flatList[T any, PT interface {
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

// flatGet reads one object of kind inside tx; nil, nil when absent.
func flatGet[T any](tx *store.Tx, kind, id string) (*T, error) {
	var v T
	ok, err := tx.Get(flatKey(kind, id), &v)
	if err != nil || !ok {
		return nil, err
	}
	return &v, nil
}

// flatLoad is the resource load function of kind.
func flatLoad[T any, PT interface {
	*T
	model.Object
}](kind string) func(tx *store.Tx, id string) (model.Object, error) {
	return func(tx *store.Tx, id string) (model.Object, error) {
		v, err := flatGet[T](tx, kind, id)
		if v == nil || err != nil {
			return nil, err
		}
		return PT(v), nil
	}
}

// flatSave is the resource save function of kind.
func flatSave(kind string) func(tx *store.Tx, o model.Object) error {
	return func(tx *store.Tx, o model.Object) error { return tx.Put(flatKey(kind, o.Std().ID), o) }
}
