package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"tokenflow/config"
	"tokenflow/signingkeys"
	"tokenflow/store"
	"tokenflow/tokens"
)

// keyEncryptionKeyFile is where development keeps its generated
// KEY_ENCRYPTION_KEY, beside the database (0600), like jwt-secret.
const keyEncryptionKeyFile = "/key-encryption-key"

// newSigningKeys returns the manager of the store's signing keys, with
// KEY_ENCRYPTION_KEY or, in development without one, the key generated
// and kept in the data folder. Production refuses to start without one
// (config), so no key is ever generated there.
func newSigningKeys(cfg config.Config, st signingkeys.Store) (*signingkeys.Manager, error) {
	kek := cfg.KeyEncryptionKey
	if kek == "" {
		if cfg.Production() {
			return nil, errors.New("KEY_ENCRYPTION_KEY: required when APP_ENV=production")
		}
		raw, err := tokens.LoadOrCreateSecret(cfg.DataDir + keyEncryptionKeyFile)
		if err != nil {
			return nil, fmt.Errorf("KEY_ENCRYPTION_KEY: generating a development key: %w", err)
		}
		kek = base64.StdEncoding.EncodeToString(raw)
	}
	return signingkeys.New(st, signingkeys.Config{
		Alg:              cfg.JWTAlg,
		KeyEncryptionKey: kek,
		Rotation:         cfg.JWTKeyRotation,
		PublishAhead:     2 * cfg.JWKSMaxAge,
		// A key that stopped signing verifies until the last token it
		// signed has expired: a TTL, the leeway, and one poll (an instance
		// signs with it until its poll sees the rotation).
		KeepPrevious: cfg.AccessTokenTTL + cfg.AccessTokenLeeway + signingkeys.DefaultPollInterval,
	})
}

// startSigningKeys loads (on first start: makes) the keys, and keeps them
// current by polling the store until the returned stop is called.
func startSigningKeys(ctx context.Context, cfg config.Config, st signingkeys.Store, log *slog.Logger) (*signingkeys.Manager, func(), error) {
	m, err := newSigningKeys(cfg, st)
	if err != nil {
		return nil, nil, err
	}
	if err := m.Refresh(ctx); err != nil {
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	stop := startEvery(signingkeys.DefaultPollInterval, func(ctx context.Context) {
		// A failed refresh keeps the keys it has: a store that blinks
		// must not stop logins.
		if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
			log.Error("signing keys: refresh failed", "error", err.Error())
		}
	})
	return m, stop, nil
}

// Keys runs `tokenflow keys list|rotate|revoke KID` against the store the
// server uses (same settings). A running server follows a rotation or a
// revocation within signingkeys.DefaultPollInterval.
func Keys(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const usage = "usage: tokenflow keys list | rotate | revoke KID"
	if len(args) == 0 {
		return errors.New(usage)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if !cfg.Asymmetric() {
		return errors.New("JWT_ALG=HS256: there are no signing keys in the store (the key is JWT_SECRET)")
	}
	st, err := openStore(ctx, cfg, time.Now)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := newSigningKeys(cfg, st)
	if err != nil {
		return err
	}
	switch {
	case args[0] == "list" && len(args) == 1:
		// Refresh first: a store without keys gets its first ones, and a
		// KEY_ENCRYPTION_KEY that does not open them says so here.
		if err := m.Refresh(ctx); err != nil {
			return err
		}
		keys, err := m.List(ctx)
		if err != nil {
			return err
		}
		printKeys(stdout, keys, cfg.JWTKeyRotation)
		return nil
	case args[0] == "rotate" && len(args) == 1:
		if err := m.Rotate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "rotated: the next key signs now; running servers follow within seconds")
		return nil
	case args[0] == "revoke" && len(args) == 2:
		if err := m.Revoke(ctx, args[1]); err != nil {
			return err
		}
		// Gateways and services verify with a cached JWKS and learn of a
		// revocation only when it expires: say so, so nobody treats a
		// leaked key as dead everywhere once auth servers refuse it.
		fmt.Fprintf(stdout, "revoked: the key is deleted; auth servers refuse its tokens within seconds, "+
			"gateways and services once their cached JWKS expires (JWKS_MAX_AGE, %v; at most 1h)\n", cfg.JWKSMaxAge)
		return nil
	}
	return errors.New(usage)
}

func printKeys(w io.Writer, keys []store.SigningKey, rotation time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tWHEN")
	for _, k := range keys {
		var when string
		switch k.State {
		case store.KeyNext:
			when = "signs from " + stamp(k.ActivatesAt) + " at the earliest"
		case store.KeyCurrent:
			when = "signing since " + stamp(k.ActivatesAt) + ", rotates at " + stamp(k.ActivatesAt.Add(rotation))
		case store.KeyPrevious:
			when = "verifies until " + stamp(k.ExpiresAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Kid, k.Alg, k.State, stamp(k.CreatedAt), when)
	}
	tw.Flush()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
