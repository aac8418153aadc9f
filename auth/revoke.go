package auth

import (
	"context"
	"errors"

	"tokenflow/store"
)

// The revocation rules, written once above every backend on store.Tx
// primitives that decide nothing: whose session may be ended, what an
// already ended one means, which event is written, and which sessions
// "every other one" are.

// RevokeSession ends one of the user's sessions from another (the sessions
// page). Errors: ErrNoSuchSession when it is not one of the user's.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string, client store.Client) error {
	err := s.revokeSession(ctx, userID, sessionID, store.EventRevoked, client)
	s.observeRevoked(err, store.EventRevoked, 1)
	return err
}

// revokeSession ends the user's session sessionID as reason (EventLogout
// or EventRevoked) and records the event, in one transaction holding the
// session's lock, so it never lands in the middle of a rotation. A session
// that has ended already is left as it is (no second event) and is no
// error. ErrNoSuchSession when there is no such session or it is another
// user's: the two look exactly alike.
func (s *Service) revokeSession(ctx context.Context, userID, sessionID, reason string, client store.Client) error {
	return s.store.InTx(ctx, func(tx store.Tx) error {
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
		return endSession(ctx, tx, sess, reason, client, "")
	})
}

// revokeUserSessions ends every live session of the user but
// exceptSessionID ("": all of them) as EventRevoked, in one transaction
// holding the user's lock, so a login racing with it either comes first
// (and is ended) or after. It returns how many it ended.
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
// session was not the caller's) revoked nothing.
func (s *Service) observeRevoked(err error, reason string, n int) {
	if err == nil && n > 0 {
		s.observer.SessionsRevoked(reason, n)
	}
}
