package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tokenflow/store"
	"tokenflow/tokens"
)

// The refresh-token rotation policy, written once on the store's
// transaction primitives (store.Tx), so every backend runs the same rules:
//
//   - The session's current token rotates: it is marked used and may be
//     forgiven until now+RefreshReuseGrace (two tabs refreshing at once, a
//     lost response); every other live token of the session (grace
//     siblings) is retired with it, so one branch goes on.
//   - A used token presented before its deadline is forgiven: it gets a
//     sibling and forks the session. The deadline is anchored at the fork
//     and never extended: the sibling and every other live token carry the
//     presented token's deadline and keep it when a later rotation retires
//     them, so neither a replayer nor an owner whose token a thief's
//     rotations retire can chain fresh windows.
//   - A used token presented at or after its deadline is reuse, taken as
//     theft: the session is revoked, all its tokens die, the event is
//     recorded, and that is committed even though the refresh fails.
//   - A revoked or expired session refreshes nothing; the idle expiry
//     slides on each refresh, never past the absolute one.
//   - Past RefreshRateLimit refreshes in RefreshRateLimitWindow the session
//     writes nothing and is told when to come back (after reuse
//     detection: theft is theft whatever the rate).
//   - The access token is signed inside the transaction, last: if signing
//     fails nothing is kept, and a client never loses its old refresh
//     token without receiving the new pair.

// RefreshRateLimitWindow is the window of Config.RefreshRateLimit.
const RefreshRateLimitWindow = time.Minute

// refreshKinds are the events the rate limit counts.
var refreshKinds = []string{store.EventRefresh, store.EventRefreshGrace}

// verdict is what presenting a refresh token means.
type verdict int

const (
	verdictRotate  verdict = iota // the session's current token
	verdictForgive                // a used token before its deadline: a sibling
	verdictReuse                  // a used token at or after its deadline: theft
	verdictRevoked                // the session was ended on purpose
	verdictExpired                // the session's idle or absolute lifetime is over
)

// judge is the one reuse rule, for refresh and for logout alike.
func judge(tok store.RefreshToken, sess store.Session, now time.Time) verdict {
	switch {
	case sess.Revoked():
		return verdictRevoked
	case !now.Before(sess.ExpiresAt()):
		return verdictExpired
	case !tok.Used():
		return verdictRotate
	case now.Before(reuseDeadline(tok)):
		return verdictForgive
	default:
		return verdictReuse
	}
}

// reuseDeadline is when a used token stops being forgiven: the deadline
// recorded on it, or its use when none was (no forgiveness).
func reuseDeadline(tok store.RefreshToken) time.Time {
	if !tok.GraceUntil.IsZero() {
		return tok.GraceUntil
	}
	return tok.UsedAt
}

// rotated is a successful rotation: the session as it now is, and the
// access token signed for it.
type rotated struct {
	session store.Session
	access  string
	claims  tokens.Claims
	grace   bool // the presented token was forgiven (verdictForgive)
}

// rotate applies the policy to the token whose hash the client presented,
// replacing it with freshHash. Errors: store.ErrRefreshUnknown,
// ErrSessionExpired, *SessionRevokedError, *RefreshReusedError (the
// revocation is committed), *RateLimitedError (nothing written), or a
// store or signing error (nothing written).
func (s *Service) rotate(ctx context.Context, presentedHash, freshHash string, client store.Client) (rotated, error) {
	grace := s.cfg.RefreshReuseGrace
	if grace < 0 {
		return rotated{}, errors.New("auth: negative refresh reuse grace")
	}
	var (
		out    rotated
		reused error // set when the transaction commits a revocation
	)
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		tok, sess, user, err := tx.TokenForUpdate(ctx, presentedHash)
		if err != nil {
			return err
		}
		now := tx.Now()
		kind, detail := store.EventRefresh, ""
		// forkDeadline is set when the presented token was already used:
		// the end of the window that may still forgive it.
		var forkDeadline time.Time
		v := judge(tok, sess, now)
		switch v {
		case verdictRevoked:
			return &SessionRevokedError{SessionID: sess.ID, Reason: sess.RevokeReason}
		case verdictExpired:
			return ErrSessionExpired
		case verdictReuse:
			reused = &RefreshReusedError{SessionID: sess.ID}
			return revokeForReuse(ctx, tx, sess, now, client,
				fmt.Sprintf("refresh token presented again %s after it was used; its grace window ended at %s",
					now.Sub(tok.UsedAt), reuseDeadline(tok).Format(time.RFC3339Nano)))
		case verdictForgive:
			forkDeadline = reuseDeadline(tok)
			kind = store.EventRefreshGrace
			detail = fmt.Sprintf("refresh token presented again %s after it was used, inside the grace window ending at %s",
				now.Sub(tok.UsedAt), forkDeadline.Format(time.RFC3339Nano))
		}
		// Before any write: a limited refresh changes nothing, so the
		// session goes on unharmed.
		if wait, err := s.refreshWait(ctx, tx, sess.ID, now); err != nil {
			return err
		} else if wait > 0 {
			return &RateLimitedError{RetryAfter: wait, SessionID: sess.ID}
		}

		freshID, err := tx.InsertRefreshToken(ctx, sess.ID, freshHash, forkDeadline)
		if err != nil {
			return err
		}
		if !forkDeadline.IsZero() {
			// A fork: the presented token keeps its use and its deadline,
			// and every live branch now ends its forgiveness at the fork's
			// deadline at the latest (an earlier fork's stays).
			if err := tx.CapLiveTokenGrace(ctx, sess.ID, forkDeadline); err != nil {
				return err
			}
		} else {
			if err := tx.MarkRefreshTokenUsed(ctx, tok.ID, freshID, now, now.Add(grace)); err != nil {
				return err
			}
			// A browser keeps one refresh cookie, so only one branch is
			// still in use; without this, whoever replayed a token inside
			// the grace window would keep a second, undetected chain. A
			// retired token keeps the deadline of the fork it belongs to,
			// never now+grace (a token that never saw a fork has none, and
			// gets no forgiveness).
			if err := tx.RetireLiveTokens(ctx, sess.ID, freshID, now); err != nil {
				return err
			}
		}

		sess.LastUsedAt = now
		sess.IdleExpiresAt = earliest(now.Add(s.cfg.RefreshTokenTTL), sess.AbsoluteExpiresAt)
		sess.IP, sess.UserAgent = client.IP, client.UserAgent
		if err := tx.SetSessionUse(ctx, sess); err != nil {
			return err
		}
		if err := tx.InsertEvent(ctx, event(sess, kind, now, client, detail)); err != nil {
			return err
		}
		// Last, while the rotation can still be undone.
		access, claims, err := s.issuer.Issue(user.ID, user.Username, sess.ID)
		if err != nil {
			return fmt.Errorf("auth: sign access token: %w", err)
		}
		out = rotated{session: sess, access: access, claims: claims, grace: v == verdictForgive}
		return nil
	})
	if err != nil {
		return rotated{}, err
	}
	if reused != nil {
		return rotated{}, reused
	}
	return out, nil
}

// refreshWait is how long the session must wait before one more refresh
// (zero: it may refresh now): once it made RefreshRateLimit refreshes in
// the window ending at now, until the oldest of the last
// RefreshRateLimit leaves it. Counted from the session's events inside the
// transaction, so it holds for every process sharing the database.
func (s *Service) refreshWait(ctx context.Context, tx store.Tx, sessionID string, now time.Time) (time.Duration, error) {
	limit := s.cfg.RefreshRateLimit
	if limit <= 0 {
		return 0, nil
	}
	times, err := tx.EventTimesSince(ctx, sessionID, refreshKinds, now.Add(-RefreshRateLimitWindow), limit)
	if err != nil || len(times) < limit {
		return 0, err
	}
	return times[limit-1].Add(RefreshRateLimitWindow).Sub(now), nil
}

// detectReuse applies judge to a token presented where it is not rotated
// (logout): reuse revokes its session as at refresh and comes back as a
// *RefreshReusedError; anything else changes nothing and returns nil.
func (s *Service) detectReuse(ctx context.Context, presentedHash string, client store.Client) error {
	var reused error
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		tok, sess, _, err := tx.TokenForUpdate(ctx, presentedHash)
		if errors.Is(err, store.ErrRefreshUnknown) {
			return nil
		}
		if err != nil {
			return err
		}
		now := tx.Now()
		if judge(tok, sess, now) != verdictReuse {
			return nil
		}
		reused = &RefreshReusedError{SessionID: sess.ID}
		return revokeForReuse(ctx, tx, sess, now, client,
			fmt.Sprintf("refresh token presented again outside a refresh %s after it was used; its grace window ended at %s",
				now.Sub(tok.UsedAt), reuseDeadline(tok).Format(time.RFC3339Nano)))
	})
	if err != nil {
		return err
	}
	return reused
}

// revokeForReuse ends a session whose rotated refresh token came back: it
// is revoked and every token of it is marked used, so neither the thief's
// nor the owner's newest token works any more.
func revokeForReuse(ctx context.Context, tx store.Tx, sess store.Session, now time.Time, client store.Client, detail string) error {
	if err := tx.RevokeSessionAndTokens(ctx, sess.ID, store.EventReuseDetected, now); err != nil {
		return err
	}
	return tx.InsertEvent(ctx, event(sess, store.EventReuseDetected, now, client, detail))
}

func event(sess store.Session, kind string, at time.Time, client store.Client, detail string) store.Event {
	return store.Event{
		SessionID: sess.ID, UserID: sess.UserID, Kind: kind, At: at,
		IP: client.IP, UserAgent: client.UserAgent, Detail: detail,
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
