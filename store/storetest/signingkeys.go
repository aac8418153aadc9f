package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"tokenflow/store"
)

func signingKey(kid, state string, created time.Time) store.SigningKey {
	return store.SigningKey{
		Kid:              kid,
		Alg:              "ES256",
		State:            state,
		PublicKey:        []byte("public-" + kid),
		SealedPrivateKey: []byte("sealed-" + kid),
		CreatedAt:        created,
		ActivatesAt:      created.Add(10 * time.Minute),
	}
}

func insertKeys(keys ...store.SigningKey) store.SigningKeyPlan {
	return func([]store.SigningKey) (store.SigningKeyChanges, error) {
		return store.SigningKeyChanges{Insert: keys}, nil
	}
}

func mustKeys(t *testing.T, s store.Store) map[string]store.SigningKey {
	t.Helper()
	keys, err := s.SigningKeys(context.Background())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	byKid := map[string]store.SigningKey{}
	for _, k := range keys {
		byKid[k.Kid] = k
	}
	return byKid
}

// Keys go in, come back field for field, change state (a promotion that
// demotes the old current key in the same plan), and are deleted.
func (c contract) signingKeysLifecycle(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	ctx := context.Background()
	if keys := mustKeys(t, s); len(keys) != 0 {
		t.Fatalf("a new store has keys: %v", keys)
	}
	cur, next := signingKey("k1", store.KeyCurrent, T0), signingKey("k2", store.KeyNext, T0.Add(time.Second))
	if err := s.ChangeSigningKeys(ctx, insertKeys(cur, next)); err != nil {
		t.Fatal(err)
	}
	got := mustKeys(t, s)
	if g := got["k1"]; g.Alg != "ES256" || g.State != store.KeyCurrent || string(g.PublicKey) != "public-k1" ||
		string(g.SealedPrivateKey) != "sealed-k1" || !g.CreatedAt.Equal(T0) || !g.ActivatesAt.Equal(cur.ActivatesAt) || !g.ExpiresAt.IsZero() {
		t.Fatalf("k1 came back as %+v", g)
	}
	list, _ := s.SigningKeys(ctx)
	if len(list) != 2 || list[0].Kid != "k1" {
		t.Fatalf("SigningKeys = %v, want k1 then k2 (oldest first)", list)
	}

	// Promote: the new current is listed before the demotion on purpose.
	expires := T0.Add(time.Hour)
	err := s.ChangeSigningKeys(ctx, func(keys []store.SigningKey) (store.SigningKeyChanges, error) {
		if len(keys) != 2 {
			return store.SigningKeyChanges{}, fmt.Errorf("plan saw %d keys", len(keys))
		}
		promoted, demoted := next, cur
		promoted.State, promoted.ActivatesAt = store.KeyCurrent, now
		demoted.State, demoted.ExpiresAt = store.KeyPrevious, expires
		return store.SigningKeyChanges{Update: []store.SigningKey{promoted, demoted}, Insert: []store.SigningKey{signingKey("k3", store.KeyNext, now)}}, nil
	})
	if err != nil {
		t.Fatalf("promotion: %v", err)
	}
	got = mustKeys(t, s)
	if got["k1"].State != store.KeyPrevious || !got["k1"].ExpiresAt.Equal(expires) || got["k2"].State != store.KeyCurrent || got["k3"].State != store.KeyNext {
		t.Fatalf("after promotion: %+v", got)
	}

	if err := s.ChangeSigningKeys(ctx, func([]store.SigningKey) (store.SigningKeyChanges, error) {
		return store.SigningKeyChanges{Delete: []string{"k1"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustKeys(t, s)["k1"]; ok {
		t.Fatal("k1 was not deleted")
	}
}

// A plan that fails, names a missing key or breaks a rule changes nothing.
func (c contract) signingKeysRefusals(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	ctx := context.Background()
	if err := s.ChangeSigningKeys(ctx, insertKeys(signingKey("k1", store.KeyCurrent, T0))); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("plan failed")
	cases := []struct {
		name    string
		plan    store.SigningKeyPlan
		wantErr error
	}{
		{"nok, plan error", func([]store.SigningKey) (store.SigningKeyChanges, error) {
			return store.SigningKeyChanges{Insert: []store.SigningKey{signingKey("k9", store.KeyNext, T0)}}, boom
		}, boom},
		{"nok, second current key", insertKeys(signingKey("k2", store.KeyNext, T0), signingKey("k3", store.KeyCurrent, T0)), store.ErrKeyConflict},
		{"nok, duplicate kid", insertKeys(signingKey("k4", store.KeyNext, T0), signingKey("k1", store.KeyNext, T0)), store.ErrKeyConflict},
		{"nok, update of a missing key", func([]store.SigningKey) (store.SigningKeyChanges, error) {
			return store.SigningKeyChanges{Insert: []store.SigningKey{signingKey("k5", store.KeyNext, T0)}, Update: []store.SigningKey{signingKey("nope", store.KeyPrevious, T0)}}, nil
		}, store.ErrNotFound},
		{"nok, delete of a missing key", func([]store.SigningKey) (store.SigningKeyChanges, error) {
			return store.SigningKeyChanges{Delete: []string{"k1", "nope"}}, nil
		}, store.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.ChangeSigningKeys(ctx, tc.plan); !errors.Is(err, tc.wantErr) {
				t.Fatalf("ChangeSigningKeys = %v, want %v", err, tc.wantErr)
			}
			got := mustKeys(t, s)
			if len(got) != 1 || got["k1"].State != store.KeyCurrent {
				t.Fatalf("a refused change left %v", got)
			}
		})
	}
}

// Instances starting at once each plan "no current key: make one"; the
// plans run one after the other, so exactly one key is made.
func (c contract) signingKeysPlansAreSerialised(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	const instances = 8
	var wg sync.WaitGroup
	errs := make(chan error, instances)
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.ChangeSigningKeys(context.Background(), func(keys []store.SigningKey) (store.SigningKeyChanges, error) {
				for _, k := range keys {
					if k.State == store.KeyCurrent {
						return store.SigningKeyChanges{}, nil
					}
				}
				return store.SigningKeyChanges{Insert: []store.SigningKey{signingKey(fmt.Sprintf("k%d", i), store.KeyCurrent, T0)}}, nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("ChangeSigningKeys: %v", err)
		}
	}
	if got := mustKeys(t, s); len(got) != 1 {
		t.Fatalf("%d instances made %d keys, want 1", instances, len(got))
	}
}
