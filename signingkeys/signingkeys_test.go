package signingkeys_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tokenflow/signingkeys"
	"tokenflow/store"
	"tokenflow/store/sqlite"
	"tokenflow/tokens"
)

const (
	kek          = "0123456789abcdef0123456789abcdef-test"
	rotation     = 720 * time.Hour
	publishAhead = 10 * time.Minute
	keepPrevious = 5*time.Minute + 7*time.Second
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	now   time.Time
	store *sqlite.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "tokenflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, now: t0, store: st}
	st.Now = e.clock
	return e
}

func (e *env) clock() time.Time { return e.now }

// instance is one server (or the keys command) on the shared store.
func (e *env) instance(alg, key string) *signingkeys.Manager {
	e.t.Helper()
	m, err := signingkeys.New(e.store, signingkeys.Config{
		Alg: alg, KeyEncryptionKey: key, Rotation: rotation, PublishAhead: publishAhead, KeepPrevious: keepPrevious, Now: e.clock,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) started(alg string) (*signingkeys.Manager, *tokens.Manager) {
	e.t.Helper()
	m := e.instance(alg, kek)
	if err := m.Refresh(context.Background()); err != nil {
		e.t.Fatalf("Refresh: %v", err)
	}
	tm, err := tokens.NewManager(tokens.Config{Keys: m.Keyring(), Issuer: "iss", Audience: "aud", TTL: 5 * time.Minute, Now: e.clock})
	if err != nil {
		e.t.Fatal(err)
	}
	return m, tm
}

func (e *env) states() map[string]string {
	e.t.Helper()
	keys, err := e.store.SigningKeys(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		out[k.Kid] = k.State
	}
	return out
}

func (e *env) kidIn(state string) string {
	e.t.Helper()
	for kid, s := range e.states() {
		if s == state {
			return kid
		}
	}
	e.t.Fatalf("no %s key in %v", state, e.states())
	return ""
}

func issue(t *testing.T, tm *tokens.Manager) (token, kid string) {
	t.Helper()
	token, _, err := tm.Issue("user-1", "alice", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := tokens.Decode(token)
	if err != nil {
		t.Fatal(err)
	}
	return token, parts.Header["kid"].(string)
}

func published(m *signingkeys.Manager) []string {
	var kids []string
	for _, k := range m.Keyring().Load().Verification().JWKS().Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func TestFirstStartMakesACurrentAndANextKey(t *testing.T) {
	for _, alg := range []string{tokens.AlgES256, tokens.AlgEdDSA, tokens.AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t)
			m, tm := e.started(alg)
			current, next := e.kidIn(store.KeyCurrent), e.kidIn(store.KeyNext)
			token, kid := issue(t, tm)
			if kid != current {
				t.Fatalf("signed with %s, want the current key %s", kid, current)
			}
			if _, err := tm.Verify(token); err != nil {
				t.Fatal(err)
			}
			if got := published(m); !slices.Contains(got, current) || !slices.Contains(got, next) || len(got) != 2 {
				t.Fatalf("published %v, want current %s and next %s", got, current, next)
			}
			// A second instance on the same store signs with the same key.
			_, tm2 := e.started(alg)
			if _, kid2 := issue(t, tm2); kid2 != current {
				t.Fatalf("second instance signs with %s, want %s", kid2, current)
			}
			if len(e.states()) != 2 {
				t.Fatalf("two instances made %v", e.states())
			}
		})
	}
}

func TestPrivateKeysAreSealed(t *testing.T) {
	e := newEnv(t)
	e.started(tokens.AlgES256)
	keys, _ := e.store.SigningKeys(context.Background())
	for _, k := range keys {
		// A PKCS#8 DER key starts with a SEQUENCE and the ecPublicKey OID;
		// sealed bytes carry neither.
		if bytes.Contains(k.SealedPrivateKey, []byte{0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}) {
			t.Fatalf("key %s is stored in the clear", k.Kid)
		}
	}
	// Another KEY_ENCRYPTION_KEY cannot open them, so refuses to start.
	other := e.instance(tokens.AlgES256, "another-key-encryption-key-of-32+chars")
	if err := other.Refresh(context.Background()); !errors.Is(err, signingkeys.ErrUnsealable) {
		t.Fatalf("Refresh with another KEK = %v, want ErrUnsealable", err)
	}
	// A sealed key moved to another row does not open there.
	err := e.store.ChangeSigningKeys(context.Background(), func(ks []store.SigningKey) (store.SigningKeyChanges, error) {
		a, b := ks[0], ks[1]
		a.SealedPrivateKey, b.SealedPrivateKey = b.SealedPrivateKey, a.SealedPrivateKey
		return store.SigningKeyChanges{Delete: []string{a.Kid, b.Kid}, Insert: []store.SigningKey{a, b}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.instance(tokens.AlgES256, kek).Refresh(context.Background()); !errors.Is(err, signingkeys.ErrUnsealable) {
		t.Fatalf("Refresh after swapping sealed keys = %v, want ErrUnsealable", err)
	}
}

// Someone who can write to the database but lacks the KEY_ENCRYPTION_KEY
// adds a published key of their own: no instance trusts it.
func TestAKeyNotSealedByUsIsNotTrusted(t *testing.T) {
	e := newEnv(t)
	m, tm := e.started(tokens.AlgES256)
	mine, err := tokens.GenerateKey(tokens.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	public, _ := mine.MarshalPublicKey()
	err = e.store.ChangeSigningKeys(context.Background(), func([]store.SigningKey) (store.SigningKeyChanges, error) {
		return store.SigningKeyChanges{Insert: []store.SigningKey{{
			Kid: mine.Kid(), Alg: mine.Alg(), State: store.KeyPrevious, PublicKey: public,
			SealedPrivateKey: []byte("not sealed"), CreatedAt: e.now, ActivatesAt: e.now, ExpiresAt: e.now.Add(time.Hour),
		}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(context.Background()); !errors.Is(err, signingkeys.ErrUnsealable) {
		t.Fatalf("Refresh = %v, want ErrUnsealable", err)
	}
	if slices.Contains(published(m), mine.Kid()) {
		t.Fatal("the planted key is published")
	}
	forged, err := tokens.NewKeySet(mine)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := tokens.NewIssuer(forged, tokens.IssuerConfig{Issuer: "iss", Audience: "aud", TTL: time.Minute, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := forger.Issue("admin", "admin", "sid")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Verify(token); err == nil {
		t.Fatal("a token of the planted key verified")
	}
}

func TestRotationFollowsTheSchedule(t *testing.T) {
	e := newEnv(t)
	m, tm := e.started(tokens.AlgES256)
	ctx := context.Background()
	first, second := e.kidIn(store.KeyCurrent), e.kidIn(store.KeyNext)

	e.now = t0.Add(rotation - time.Second)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	oldToken, kid := issue(t, tm)
	if kid != first {
		t.Fatalf("rotated early: signs with %s", kid)
	}

	e.now = t0.Add(rotation)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, kid := issue(t, tm); kid != second {
		t.Fatalf("after the rotation period signs with %s, want the next key %s", kid, second)
	}
	if got := e.states(); got[first] != store.KeyPrevious || len(got) != 3 {
		t.Fatalf("states after rotation: %v", got)
	}
	// The old key's tokens still verify while it is previous.
	if _, err := tm.Verify(oldToken); err != nil && !tokens.Expired(err) {
		t.Fatalf("a token of the previous key: %v", err)
	}
	if !slices.Contains(published(m), first) {
		t.Fatal("the previous key left the JWKS before its tokens expired")
	}

	e.now = t0.Add(rotation + keepPrevious - time.Second)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(published(m), first) {
		t.Fatal("the previous key left the JWKS before its last token expired")
	}

	e.now = t0.Add(rotation + keepPrevious)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.states()[first]; ok || slices.Contains(published(m), first) {
		t.Fatalf("the previous key outlived its tokens: %v", e.states())
	}
}

// A next key made late (here: the old next was revoked just before the
// rotation) waits until it has been published PublishAhead.
func TestANewNextKeyIsPublishedBeforeItSigns(t *testing.T) {
	e := newEnv(t)
	m, tm := e.started(tokens.AlgES256)
	ctx := context.Background()
	first := e.kidIn(store.KeyCurrent)
	e.now = t0.Add(rotation - time.Minute)
	if err := m.Revoke(ctx, e.kidIn(store.KeyNext)); err != nil {
		t.Fatal(err)
	}
	late := e.kidIn(store.KeyNext)
	for _, at := range []time.Duration{rotation, rotation - time.Minute + publishAhead - time.Second} {
		e.now = t0.Add(at)
		if err := m.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if _, kid := issue(t, tm); kid != first {
			t.Fatalf("at +%v signs with %s, published only %v ago", at, kid, e.now.Sub(t0.Add(rotation-time.Minute)))
		}
	}
	e.now = t0.Add(rotation - time.Minute + publishAhead)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, kid := issue(t, tm); kid != late {
		t.Fatalf("signs with %s, want %s once published long enough", kid, late)
	}
}

func TestRevokeRemovesAKeyAtOnce(t *testing.T) {
	e := newEnv(t)
	server, serverTokens := e.started(tokens.AlgES256)
	command := e.instance(tokens.AlgES256, kek)
	ctx := context.Background()
	token, kid := issue(t, serverTokens)

	if err := command.Revoke(ctx, kid); err != nil {
		t.Fatal(err)
	}
	// What the server's poll does.
	if err := server.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := serverTokens.Verify(token); !errors.Is(err, tokens.ErrInvalidToken) || tokens.Expired(err) {
		t.Fatalf("a token of the revoked key: %v, want refused", err)
	}
	if slices.Contains(published(server), kid) {
		t.Fatal("the revoked key is still published")
	}
	if _, newKid := issue(t, serverTokens); newKid == kid {
		t.Fatal("still signing with the revoked key")
	}
	if got := e.states(); len(got) != 2 || got[kid] != "" {
		t.Fatalf("after revoking the current key: %v, want a current and a next key", got)
	}
	if err := command.Revoke(ctx, "no-such-kid"); !errors.Is(err, signingkeys.ErrUnknownKid) {
		t.Fatalf("Revoke(unknown) = %v, want ErrUnknownKid", err)
	}
}

func TestRotateNow(t *testing.T) {
	e := newEnv(t)
	server, serverTokens := e.started(tokens.AlgEdDSA)
	ctx := context.Background()
	first, second := e.kidIn(store.KeyCurrent), e.kidIn(store.KeyNext)
	if err := e.instance(tokens.AlgEdDSA, kek).Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := server.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, kid := issue(t, serverTokens); kid != second {
		t.Fatalf("after rotate signs with %s, want %s", kid, second)
	}
	got := e.states()
	if got[first] != store.KeyPrevious || got[second] != store.KeyCurrent || len(got) != 3 {
		t.Fatalf("after rotate: %v", got)
	}
}

// changeLog records what an Observer hears: the changes made, and the
// changes the keyring took in.
type changeLog struct {
	made []signingkeys.KeyChange
	seen []signingkeys.KeyringChange
}

func (l *changeLog) SigningKeyChanged(c signingkeys.KeyChange)  { l.made = append(l.made, c) }
func (l *changeLog) KeyringChanged(c signingkeys.KeyringChange) { l.seen = append(l.seen, c) }

// The observer hears a scheduled promotion, a Rotate and a Revoke, once
// each, and nothing for a first start, an early poll or a deleted
// previous key.
func TestObserverHearsRotationsAndRevocations(t *testing.T) {
	e := newEnv(t)
	m, _ := e.started(tokens.AlgES256)
	var heard changeLog
	m.SetObserver(&heard)
	ctx := context.Background()

	e.now = t0.Add(rotation - time.Second)
	must(t, m.Refresh(ctx))
	e.now = t0.Add(rotation)
	must(t, m.Refresh(ctx))
	must(t, m.Refresh(ctx))
	must(t, m.Rotate(ctx))
	must(t, m.Revoke(ctx, e.kidIn(store.KeyNext)))
	if err := m.Revoke(ctx, "no-such-kid"); !errors.Is(err, signingkeys.ErrUnknownKid) {
		t.Fatalf("Revoke(unknown) = %v", err)
	}
	want := []signingkeys.KeyChange{signingkeys.KeyRotatedScheduled, signingkeys.KeyRotatedCommand, signingkeys.KeyRevoked}
	if !slices.Equal(heard.made, want) {
		t.Fatalf("heard %v, want %v", heard.made, want)
	}
	// Its own changes reached its keyring too: two promotions, and the
	// next key revoked (nothing for the early poll).
	wantSeen := []signingkeys.KeyringChange{signingkeys.KeyringRotated, signingkeys.KeyringRotated, signingkeys.KeyringRevoked}
	if !slices.Equal(heard.seen, wantSeen) {
		t.Fatalf("keyring took in %v, want %v", heard.seen, wantSeen)
	}
}

// A server's keyring takes in what another process did to the keys (the
// keys command, another instance) at its next poll, and tells the
// observer: a rotation, a revocation; and neither a previous key deleted
// on schedule nor a poll that finds nothing new counts. None of them were
// this Manager's own changes.
func TestObserverHearsChangesMadeElsewhere(t *testing.T) {
	e := newEnv(t)
	server, _ := e.started(tokens.AlgES256)
	var heard changeLog
	server.SetObserver(&heard)
	command := e.instance(tokens.AlgES256, kek)
	ctx := context.Background()

	must(t, command.Rotate(ctx))
	must(t, server.Refresh(ctx))
	must(t, server.Refresh(ctx)) // nothing new
	must(t, command.Revoke(ctx, e.kidIn(store.KeyPrevious)))
	must(t, server.Refresh(ctx))
	must(t, command.Rotate(ctx)) // a second previous key, to expire
	must(t, server.Refresh(ctx))
	e.now = e.now.Add(keepPrevious)
	must(t, command.Refresh(ctx)) // deletes it on schedule
	must(t, server.Refresh(ctx))

	if len(heard.made) != 0 {
		t.Errorf("the server counted %v as its own changes", heard.made)
	}
	want := []signingkeys.KeyringChange{signingkeys.KeyringRotated, signingkeys.KeyringRevoked, signingkeys.KeyringRotated}
	if !slices.Equal(heard.seen, want) {
		t.Fatalf("keyring took in %v, want %v", heard.seen, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
