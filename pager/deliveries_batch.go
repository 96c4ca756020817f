package pager

import "fmt"

// DeliveryAdder is implemented by transactions that add many deliveries at
// once (in one statement rather than a database round trip each). The
// Pager adds the deliveries of a batch of changes this way.
type DeliveryAdder interface {
	// AddDeliveries is AddDelivery of each of ds in order: added[i]
	// reports whether ds[i] was inserted (false when a delivery with its
	// key exists, or an earlier one of ds has it).
	AddDeliveries(ds []Delivery) (added []bool, err error)
}

// addDeliveries adds ds in tx (through DeliveryAdder when tx has it) and
// appends the ones inserted to added.
func addDeliveries(tx Tx, ds []Delivery, added []Delivery) ([]Delivery, error) {
	if a, ok := tx.(DeliveryAdder); ok && len(ds) > 1 {
		ins, err := a.AddDeliveries(ds)
		if err != nil {
			return added, err
		}
		for i, d := range ds {
			if ins[i] {
				added = append(added, d)
			}
		}
		return added, nil
	}
	for _, d := range ds {
		ok, err := tx.AddDelivery(d)
		if err != nil {
			return added, err
		}
		if ok {
			added = append(added, d)
		}
	}
	return added, nil
}

// DeliveryUpdater is implemented by transactions that replace many
// deliveries at once. The Pager records a batch of delivery results this
// way.
type DeliveryUpdater interface {
	// UpdateDeliveries is UpdateDelivery of each of ds: when a key has
	// no delivery, the error wraps ErrNotFound and names it, and the
	// caller must not commit.
	UpdateDeliveries(ds []Delivery) error
}

// updateDeliveries replaces ds in tx (through DeliveryUpdater when tx has
// it).
func updateDeliveries(tx Tx, ds []Delivery) error {
	if u, ok := tx.(DeliveryUpdater); ok && len(ds) > 1 {
		return u.UpdateDeliveries(ds)
	}
	for _, d := range ds {
		if err := tx.UpdateDelivery(d); err != nil {
			return fmt.Errorf("delivery %s: %w", d.Key, err)
		}
	}
	return nil
}
