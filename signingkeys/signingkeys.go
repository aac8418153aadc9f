// Package signingkeys keeps the asymmetric signing keys of tokenflow in the
// store, shared by every instance: it seals their private halves, rotates
// them on schedule (one instance at a time, inside a store transaction),
// revokes them on request, and keeps a tokens.Keyring up to date from the
// store (Refresh, which a server calls every DefaultPollInterval), so a
// rotation or revocation made anywhere (by the keys command too) reaches
// every running server within seconds.
//
// A key goes next (published, not signing) → current (signs) → previous
// (published until its last token has expired) → deleted. A next key is
// published at least PublishAhead before it signs, so every JWKS cache
// holds it by then.
package signingkeys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"tokenflow/store"
	"tokenflow/tokens"
)

// DefaultPollInterval is how often a running server reads the key table.
// One SELECT of a handful of rows: cheap, and it bounds how long a
// revoked key keeps verifying here.
const DefaultPollInterval = 2 * time.Second

// ErrUnknownKid is a revocation of a kid that is not in the store.
var ErrUnknownKid = errors.New("signingkeys: no key has that kid")

// KeyChange is what an Observer hears: a key promoted on schedule, by the
// keys command (Rotate), or a key revoked.
type KeyChange string

// The changes counted, a bounded set (metric label values).
const (
	KeyRotatedScheduled KeyChange = "scheduled"
	KeyRotatedCommand   KeyChange = "command"
	KeyRevoked          KeyChange = "revocation"
)

// KeyChanges lists every KeyChange, so a counter can start them at zero.
var KeyChanges = []KeyChange{KeyRotatedScheduled, KeyRotatedCommand, KeyRevoked}

// KeyringChange is a change the keyring took in when it was rebuilt from
// the store, whoever made it: this Manager, another instance, or the keys
// command (another process, seen on the next poll).
type KeyringChange string

// The changes seen, a bounded set (metric label values). Revoking the
// current key is both: it leaves early, and the next key signs.
const (
	KeyringRotated KeyringChange = "rotation"   // another key signs now
	KeyringRevoked KeyringChange = "revocation" // a key left before its time
)

// KeyringChanges lists every KeyringChange, so a counter can start them at zero.
var KeyringChanges = []KeyringChange{KeyringRotated, KeyringRevoked}

// Observer hears of key changes (metrics.Metrics), so this package counts
// them without knowing Prometheus: SigningKeyChanged those this Manager
// made, KeyringChanged those its keyring took in, its own included.
type Observer interface {
	SigningKeyChanged(change KeyChange)
	KeyringChanged(change KeyringChange)
}

// Store is the part of the store this package uses.
type Store interface {
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	ChangeSigningKeys(ctx context.Context, plan store.SigningKeyPlan) error
}

var _ Store = (store.Store)(nil)

// Config configures a Manager.
type Config struct {
	// Alg is the algorithm of the keys it makes: tokens.AlgES256,
	// AlgEdDSA or AlgRS256. Required.
	Alg string
	// KeyEncryptionKey seals the private keys (KEY_ENCRYPTION_KEY).
	// Required; at least MinKeyEncryptionKeyLength characters.
	KeyEncryptionKey string
	// Rotation is how long a key signs before the next one takes over
	// (JWT_KEY_ROTATION). Required, > 0.
	Rotation time.Duration
	// PublishAhead is how long a next key is published before it may
	// sign: twice JWKS_MAX_AGE. Required, > 0.
	PublishAhead time.Duration
	// KeepPrevious is how long a key stays published and verifying after
	// it stopped signing: the access-token lifetime, plus leeway, plus a
	// poll interval (an instance may sign with it until it has seen the
	// rotation). Required, > 0.
	KeepPrevious time.Duration
	// Now is the clock. Optional. Default time.Now.
	Now func() time.Time
}

// Manager keeps the store's keys and a Keyring built from them. It is
// safe for concurrent use.
type Manager struct {
	cfg    Config
	store  Store
	sealer *sealer
	now    func() time.Time

	mu       sync.Mutex
	observer Observer
	ring     *tokens.Keyring
	rows     []store.SigningKey           // the rows the ring was built from
	private  map[string]tokens.SigningKey // opened keys, by kid+sealed bytes
}

// New checks cfg and returns a Manager. Call Refresh before using Keyring.
func New(st Store, cfg Config) (*Manager, error) {
	switch {
	case st == nil:
		return nil, errors.New("signingkeys: no store")
	case !tokens.IsAsymmetric(cfg.Alg):
		return nil, fmt.Errorf("signingkeys: %q is not an asymmetric algorithm", cfg.Alg)
	case cfg.Rotation <= 0 || cfg.PublishAhead <= 0 || cfg.KeepPrevious <= 0:
		return nil, errors.New("signingkeys: Rotation, PublishAhead and KeepPrevious must be positive")
	}
	s, err := newSealer(cfg.KeyEncryptionKey)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Manager{cfg: cfg, store: st, sealer: s, now: now, private: map[string]tokens.SigningKey{}}, nil
}

// Keyring is the ring the Manager keeps current; nil before the first
// successful Refresh.
func (m *Manager) Keyring() *tokens.Keyring {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ring
}

// SetObserver makes o hear of the key changes made from now on; nil
// stops it. The server's metrics are built after its keys are loaded.
func (m *Manager) SetObserver(o Observer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.observer = o
}

func (m *Manager) observe(change KeyChange) {
	if o := m.currentObserver(); o != nil {
		o.SigningKeyChanged(change)
	}
}

func (m *Manager) currentObserver() Observer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.observer
}

// List returns the keys in the store, oldest first.
func (m *Manager) List(ctx context.Context) ([]store.SigningKey, error) {
	return m.store.SigningKeys(ctx)
}

// Refresh reads the keys; makes the first ones, rotates, or deletes
// expired ones when due (in one transaction, so only one instance does);
// and rebuilds the keyring if the keys changed.
func (m *Manager) Refresh(ctx context.Context) error {
	keys, err := m.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if m.due(keys, m.now()) {
		// Only a promotion of a key that was published is a rotation; a
		// first key, a new next key or a deleted previous one is not.
		rotated := false
		if err := m.change(ctx, func(keys []store.SigningKey, fresh func() (store.SigningKey, error)) (store.SigningKeyChanges, error) {
			ch, err := m.schedule(keys, m.now(), fresh)
			rotated = slices.ContainsFunc(ch.Update, func(k store.SigningKey) bool { return k.State == store.KeyCurrent })
			return ch, err
		}); err != nil {
			return err
		}
		if rotated {
			m.observe(KeyRotatedScheduled)
		}
		if keys, err = m.store.SigningKeys(ctx); err != nil {
			return err
		}
	}
	return m.load(keys)
}

// Rotate promotes the next key to current now, demotes the current one
// to previous, and publishes a new next key. Tokens of the old key keep
// verifying until they expire. A running server follows on its next poll.
func (m *Manager) Rotate(ctx context.Context) error {
	err := m.change(ctx, func(keys []store.SigningKey, fresh func() (store.SigningKey, error)) (store.SigningKeyChanges, error) {
		now := m.now()
		var ch store.SigningKeyChanges
		current, next := find(keys, store.KeyCurrent), find(keys, store.KeyNext)
		if current != nil {
			ch.Update = append(ch.Update, m.retired(*current, now))
		}
		if next != nil {
			ch.Update = append(ch.Update, promoted(*next, now))
		} else {
			k, err := fresh()
			if err != nil {
				return ch, err
			}
			k.State, k.ActivatesAt = store.KeyCurrent, now
			ch.Insert = append(ch.Insert, k)
		}
		k, err := fresh()
		if err != nil {
			return ch, err
		}
		ch.Insert = append(ch.Insert, k)
		return ch, nil
	})
	if err == nil {
		m.observe(KeyRotatedCommand)
	}
	return err
}

// Revoke deletes the key with kid at once: it leaves the JWKS and stops
// verifying (here at once, on running servers at their next poll), so
// every token it signed is refused. Revoking the current key promotes
// the next one now; a new next key is published in either case.
// Returns ErrUnknownKid.
func (m *Manager) Revoke(ctx context.Context, kid string) error {
	err := m.change(ctx, func(keys []store.SigningKey, fresh func() (store.SigningKey, error)) (store.SigningKeyChanges, error) {
		i := slices.IndexFunc(keys, func(k store.SigningKey) bool { return k.Kid == kid })
		if i < 0 {
			return store.SigningKeyChanges{}, ErrUnknownKid
		}
		remaining := slices.Delete(slices.Clone(keys), i, i+1)
		ch, err := m.schedule(remaining, m.now(), fresh)
		ch.Delete = append(ch.Delete, kid)
		return ch, err
	})
	if err == nil {
		m.observe(KeyRevoked)
	}
	return err
}

type changePlan func(keys []store.SigningKey, fresh func() (store.SigningKey, error)) (store.SigningKeyChanges, error)

// change runs plan in a store transaction. New keys are generated before
// the transaction (RSA takes a while, and the write lock is shared), two
// at most, which is all any plan needs.
func (m *Manager) change(ctx context.Context, plan changePlan) error {
	var pool []store.SigningKey
	for range 2 {
		k, err := m.generate()
		if err != nil {
			return err
		}
		pool = append(pool, k)
	}
	err := m.store.ChangeSigningKeys(ctx, func(keys []store.SigningKey) (store.SigningKeyChanges, error) {
		left := slices.Clone(pool)
		fresh := func() (store.SigningKey, error) {
			if len(left) == 0 {
				return store.SigningKey{}, errors.New("signingkeys: plan needs more than two new keys")
			}
			k := left[0]
			left = left[1:]
			return k, nil
		}
		return plan(keys, fresh)
	})
	if err != nil {
		return err
	}
	keys, err := m.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	return m.load(keys)
}

// generate makes a new next key, sealed, created now.
func (m *Manager) generate() (store.SigningKey, error) {
	key, err := tokens.GenerateKey(m.cfg.Alg)
	if err != nil {
		return store.SigningKey{}, err
	}
	public, err := key.MarshalPublicKey()
	if err != nil {
		return store.SigningKey{}, err
	}
	private, err := key.MarshalPrivateKey()
	if err != nil {
		return store.SigningKey{}, err
	}
	now := m.now()
	return store.SigningKey{
		Kid:              key.Kid(),
		Alg:              key.Alg(),
		State:            store.KeyNext,
		PublicKey:        public,
		SealedPrivateKey: m.sealer.seal(key.Kid(), key.Alg(), private),
		CreatedAt:        now,
		ActivatesAt:      now.Add(m.cfg.PublishAhead),
	}, nil
}

// due reports whether schedule has anything to do: no current or no next
// key, a rotation due, or a previous key past its time.
func (m *Manager) due(keys []store.SigningKey, now time.Time) bool {
	current, next := find(keys, store.KeyCurrent), find(keys, store.KeyNext)
	if current == nil || next == nil {
		return true
	}
	if m.rotationDue(*current, *next, now) {
		return true
	}
	return slices.ContainsFunc(keys, func(k store.SigningKey) bool { return expired(k, now) })
}

func (m *Manager) rotationDue(current, next store.SigningKey, now time.Time) bool {
	return !now.Before(current.ActivatesAt.Add(m.cfg.Rotation)) && !now.Before(next.ActivatesAt)
}

func expired(k store.SigningKey, now time.Time) bool {
	return k.State == store.KeyPrevious && !now.Before(k.ExpiresAt)
}

// schedule is the key policy, written once: delete previous keys whose
// tokens have all expired; with no current key, promote the next one (or,
// in an empty store, make one that signs at once: nobody has a cache to
// miss it yet); rotate when the current key has signed for Rotation and
// the next one has been published long enough; keep one next key.
func (m *Manager) schedule(keys []store.SigningKey, now time.Time, fresh func() (store.SigningKey, error)) (store.SigningKeyChanges, error) {
	var ch store.SigningKeyChanges
	for _, k := range keys {
		if expired(k, now) {
			ch.Delete = append(ch.Delete, k.Kid)
		}
	}
	current, next := find(keys, store.KeyCurrent), find(keys, store.KeyNext)
	switch {
	case current == nil && next != nil:
		ch.Update = append(ch.Update, promoted(*next, now))
		next = nil
	case current == nil:
		k, err := fresh()
		if err != nil {
			return ch, err
		}
		k.State, k.ActivatesAt = store.KeyCurrent, now
		ch.Insert = append(ch.Insert, k)
	case next != nil && m.rotationDue(*current, *next, now):
		ch.Update = append(ch.Update, m.retired(*current, now), promoted(*next, now))
		next = nil
	}
	if next == nil {
		k, err := fresh()
		if err != nil {
			return ch, err
		}
		ch.Insert = append(ch.Insert, k)
	}
	return ch, nil
}

func promoted(k store.SigningKey, now time.Time) store.SigningKey {
	k.State, k.ActivatesAt, k.ExpiresAt = store.KeyCurrent, now, time.Time{}
	return k
}

func (m *Manager) retired(k store.SigningKey, now time.Time) store.SigningKey {
	k.State, k.ExpiresAt = store.KeyPrevious, now.Add(m.cfg.KeepPrevious)
	return k
}

// find returns the newest key in state, or nil.
func find(keys []store.SigningKey, state string) *store.SigningKey {
	var found *store.SigningKey
	for i := range keys {
		if keys[i].State == state && (found == nil || !keys[i].CreatedAt.Before(found.CreatedAt)) {
			found = &keys[i]
		}
	}
	return found
}

// load rebuilds the keyring from rows, unless they are the ones it was
// built from, and tells the observer what changed (keyringChanges).
func (m *Manager) load(rows []store.SigningKey) error {
	seen, err := m.rebuild(rows)
	if o := m.currentObserver(); o != nil {
		for _, c := range seen {
			o.KeyringChanged(c)
		}
	}
	return err
}

// keyringChanges is what a rebuild from before to after took in: the
// signing key changed (rotation), and each key gone before its time
// (revocation; a previous key past its ExpiresAt leaves on schedule).
func keyringChanges(before, after []store.SigningKey, now time.Time) []KeyringChange {
	var seen []KeyringChange
	if was, is := find(before, store.KeyCurrent), find(after, store.KeyCurrent); was != nil && is != nil && was.Kid != is.Kid {
		seen = append(seen, KeyringRotated)
	}
	for _, k := range before {
		gone := !slices.ContainsFunc(after, func(a store.SigningKey) bool { return a.Kid == k.Kid })
		if gone && !expired(k, now) {
			seen = append(seen, KeyringRevoked)
		}
	}
	return seen
}

// rebuild builds the keyring from rows. Every row must open with our
// KEY_ENCRYPTION_KEY and match its kid, the published ones too: someone
// who can write to the database but does not hold the key cannot slip in
// a key of their own to verify. A first build sees no changes.
func (m *Manager) rebuild(rows []store.SigningKey) ([]KeyringChange, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ring != nil && fingerprint(rows) == fingerprint(m.rows) {
		return nil, nil
	}
	var current *tokens.SigningKey
	var others []tokens.VerificationKey
	opened := map[string]tokens.SigningKey{}
	for _, row := range rows {
		cacheKey := row.Kid + "\x00" + string(row.SealedPrivateKey)
		key, ok := m.private[cacheKey]
		if !ok {
			var err error
			if key, err = m.open(row); err != nil {
				return nil, err
			}
		}
		opened[cacheKey] = key
		if row.State == store.KeyCurrent {
			current = &key
		} else {
			others = append(others, key.VerificationKey)
		}
	}
	if current == nil {
		return nil, errors.New("signingkeys: the store has no current key")
	}
	set, err := tokens.NewKeySet(*current, others...)
	if err != nil {
		return nil, err
	}
	var seen []KeyringChange
	if m.ring == nil {
		if m.ring, err = tokens.NewKeyring(set); err != nil {
			return nil, err
		}
	} else {
		m.ring.Replace(set)
		seen = keyringChanges(m.rows, rows, m.now())
	}
	m.private, m.rows = opened, rows
	return seen, nil
}

// open unseals a row's private key and checks it is the row's key.
func (m *Manager) open(row store.SigningKey) (tokens.SigningKey, error) {
	der, err := m.sealer.open(row.Kid, row.Alg, row.SealedPrivateKey)
	if err != nil {
		return tokens.SigningKey{}, fmt.Errorf("key %s: %w", row.Kid, err)
	}
	key, err := tokens.ParsePrivateKey(row.Alg, der)
	if err != nil {
		return tokens.SigningKey{}, fmt.Errorf("key %s: %w", row.Kid, err)
	}
	if key.Kid() != row.Kid {
		return tokens.SigningKey{}, fmt.Errorf("key %s: the private key is another key's", row.Kid)
	}
	public, err := tokens.ParsePublicKey(row.Alg, row.PublicKey)
	if err != nil || public.Kid() != row.Kid {
		return tokens.SigningKey{}, fmt.Errorf("key %s: the public key is not the row's", row.Kid)
	}
	return key, nil
}

// fingerprint names what the keyring depends on: kids, states and sealed
// private keys.
func fingerprint(rows []store.SigningKey) string {
	var b []byte
	for _, r := range rows {
		b = append(b, r.Kid...)
		b = append(b, 0)
		b = append(b, r.State...)
		b = append(b, 0)
		b = append(b, r.SealedPrivateKey...)
		b = append(b, 1)
	}
	return string(b)
}
