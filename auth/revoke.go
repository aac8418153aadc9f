package auth

import (
	"context"
	"errors"

	"tokenflow/store"
)

// The revocation rules, written once above every backend on store.Tx
// primitives that decide nothing: whose session may be ended, and from
// which, what an already ended one means, which event is written, and
// which sessions "every other one" are.
//
// A session that has ended ends no other. The checks callers make first
// (CurrentSession, the handlers' live-session check) run outside the
// transaction and can be overtaken, so the rule is checked again inside
// it, under the user's lock: the transactions that end sessions of a user
// from one of them take the user's lock, then the sessions', the order
// the session cap takes them in, so two of them never wait for each other.

// RevokeSession ends the user's session sessionID from the user's session
// actingSessionID (the sessions page), which must still be live unless it
// is the one being ended. Errors: ErrNoSuchSession when sessionID is not
// one of the user's, or actingSessionID no longer live.
func (s *Service) RevokeSession(ctx context.Context, userID, actingSessionID, sessionID string, client store.Client) error {
	n, err := s.revokeSession(ctx, userID, actingSessionID, sessionID, store.EventRevoked, client)
	s.observeRevoked(err, store.EventRevoked, n)
	return err
}

// revokeSession ends the user's session sessionID as reason (EventLogout
// or EventRevoked) and records the event, in one transaction holding the
// session's lock, so it never lands in the middle of a rotation; from
// another session (actingSessionID != sessionID), the transaction first
// takes the user's lock and checks that the acting session is live. A
// session that has ended already is left as it is (no second event) and
// is no error. It returns how many sessions it ended: 1, or 0 when the
// session had ended already. ErrNoSuchSession when there is no such
// session, it is another user's (the two look exactly alike), or the
// acting session is not live.
func (s *Service) revokeSession(ctx context.Context, userID, actingSessionID, sessionID, reason string, client store.Client) (int, error) {
	if !store.WellFormedID(sessionID) {
		return 0, ErrNoSuchSession // no store holds it; PostgreSQL would not even compare some
	}
	var n int
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		n = 0
		if actingSessionID != sessionID {
			live, err := tx.LiveSessionsForUpdate(ctx, userID)
			if err != nil {
				return err
			}
			if !hasSession(live, actingSessionID) {
				return ErrNoSuchSession
			}
		}
		sess, err := tx.SessionForUpdate(ctx, sessionID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && sess.UserID != userID) {
			return ErrNoSuchSession
		}
		if err != nil {
			return err
		}
		if sess.Revoked() {
			return nil
		}
		if err := endSession(ctx, tx, sess, reason, client, ""); err != nil {
			return err
		}
		n = 1
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// revokeUserSessions ends every live session of the user but
// exceptSessionID ("": all of them) as EventRevoked, in one transaction
// holding the user's lock, so a login racing with it either comes first
// (and is ended) or after. It returns how many it ended. A session that
// has ended ends no other: ErrNoSuchSession, and nothing ended, when
// exceptSessionID (the caller's) is not among the live ones.
func (s *Service) revokeUserSessions(ctx context.Context, userID, exceptSessionID string, client store.Client) (int, error) {
	detail := ""
	if exceptSessionID != "" {
		detail = "revoked from session " + exceptSessionID
	}
	var n int
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		n = 0
		live, err := tx.LiveSessionsForUpdate(ctx, userID)
		if err != nil {
			return err
		}
		if exceptSessionID != "" && !hasSession(live, exceptSessionID) {
			return ErrNoSuchSession
		}
		for _, sess := range live {
			if sess.ID == exceptSessionID {
				continue
			}
			if err := endSession(ctx, tx, sess, store.EventRevoked, client, detail); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// hasSession reports whether the session id is among sessions.
func hasSession(sessions []store.Session, id string) bool {
	for _, sess := range sessions {
		if sess.ID == id {
			return true
		}
	}
	return false
}

// endSession revokes sess as reason at the transaction's time and records
// the event. Its tokens stay as they are: a refresh with the current one
// then reads as a revoked session, not as reuse.
func endSession(ctx context.Context, tx store.Tx, sess store.Session, reason string, client store.Client, detail string) error {
	now := tx.Now()
	if err := tx.RevokeSession(ctx, sess.ID, reason, now); err != nil {
		return err
	}
	return tx.InsertEvent(ctx, event(sess, reason, now, client, detail))
}

// observeRevoked tells the Observer about n sessions revoked for reason,
// when the call that ended them (err) succeeded. ErrNoSuchSession (the
// session was not the caller's) revoked nothing, and neither did ending a
// session that had ended already (n 0).
func (s *Service) observeRevoked(err error, reason string, n int) {
	if err == nil && n > 0 {
		s.observer.SessionsRevoked(reason, n)
	}
}
