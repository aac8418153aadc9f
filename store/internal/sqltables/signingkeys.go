package sqltables

import (
	"context"
	"fmt"
	"slices"

	"tokenflow/store"
)

// SigningKeys returns every signing key, oldest first.
func SigningKeys(ctx context.Context, db DB) ([]store.SigningKey, error) {
	rows, err := db.Query(ctx, `SELECT `+SigningKeyColumns+` FROM signing_keys ORDER BY created_at, kid`)
	keys, err := All(rows, err, ScanSigningKey)
	if err != nil {
		return nil, fmt.Errorf("store: signing keys: %w", err)
	}
	return keys, nil
}

// ApplySigningKeyPlan reads the keys in tx, the backend's transaction that
// holds what serialises key changes, asks plan what to change, and applies
// it: deletes first, then updates that leave the current state, then the
// rest, then inserts, so a promotion that demotes the old current key in
// the same plan never sees two. conflict reports whether err is a UNIQUE
// index of signing_keys refusing a duplicate kid or a second current key.
// Returns ErrNotFound when an update or delete names no key,
// ErrKeyConflict, or plan's error, wrapped; the caller rolls back on any.
func ApplySigningKeyPlan(ctx context.Context, tx DB, plan store.SigningKeyPlan, conflict func(error) bool) error {
	keys, err := SigningKeys(ctx, tx)
	if err != nil {
		return err
	}
	changes, err := plan(keys)
	if err != nil {
		return fmt.Errorf("store: change signing keys: %w", err)
	}
	one := func(what string, n int64, err error) error {
		switch {
		case err != nil && conflict(err):
			return fmt.Errorf("store: %s: %w", what, store.ErrKeyConflict)
		case err != nil:
			return fmt.Errorf("store: %s: %w", what, err)
		case n == 0:
			return fmt.Errorf("store: %s: %w", what, store.ErrNotFound)
		}
		return nil
	}
	for _, kid := range changes.Delete {
		n, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid)
		if err := one("delete signing key", n, err); err != nil {
			return err
		}
	}
	updates := slices.Clone(changes.Update)
	slices.SortStableFunc(updates, func(a, b store.SigningKey) int {
		return cmpBool(a.State == store.KeyCurrent, b.State == store.KeyCurrent)
	})
	for _, k := range updates {
		n, err := tx.Exec(ctx, `UPDATE signing_keys SET state = ?, activates_at = ?, expires_at = ? WHERE kid = ?`,
			k.State, ToMillis(k.ActivatesAt), ToNullMillis(k.ExpiresAt), k.Kid)
		if err := one("update signing key", n, err); err != nil {
			return err
		}
	}
	for _, k := range changes.Insert {
		n, err := tx.Exec(ctx, `INSERT INTO signing_keys
			(kid, alg, state, public_key, sealed_private_key, created_at, activates_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.Kid, k.Alg, k.State, k.PublicKey, k.SealedPrivateKey, ToMillis(k.CreatedAt), ToMillis(k.ActivatesAt), ToNullMillis(k.ExpiresAt))
		if err := one("insert signing key", n, err); err != nil {
			return err
		}
	}
	return nil
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
