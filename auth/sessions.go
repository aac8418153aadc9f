package auth

import (
	"context"
	"fmt"

	"tokenflow/store"
)

// createCappedSession is the session cap policy (MAX_SESSIONS_PER_USER),
// written once above every backend: in the transaction that creates the
// session, which holds the user's lock (Tx.CreateSession), the user's live
// sessions beyond the max most recently used, counting the new one, end as
// EventEvicted. Racing logins queue at the lock, so none can leave more
// than max alive; a failed login rolls back its evictions with it. max 0:
// no cap. evicted is how many sessions it ended, to be counted once the
// transaction commits.
//
// Least recently used, not oldest: a login kept in daily use on one device
// must outlive a spree of new logins elsewhere; the one that goes is the one
// nobody has refreshed for longest.
func createCappedSession(ctx context.Context, tx store.Tx, ns store.NewSession, max int) (sess store.Session, evicted int, err error) {
	sess, err = tx.CreateSession(ctx, ns)
	if err != nil || max <= 0 {
		return sess, 0, err
	}
	live, err := tx.LiveSessions(ctx, ns.UserID)
	if err != nil {
		return store.Session{}, 0, err
	}
	kept := 1 // the new session
	detail := fmt.Sprintf("ended by a newer login (session %s): at most %d live sessions per account", sess.ID, max)
	for _, old := range live {
		if old.ID == sess.ID {
			continue
		}
		if kept < max {
			kept++
			continue
		}
		now := tx.Now()
		if err := tx.RevokeSessionAndTokens(ctx, old.ID, store.EventEvicted, now); err != nil {
			return store.Session{}, 0, err
		}
		if err := tx.InsertEvent(ctx, store.Event{
			SessionID: old.ID, UserID: old.UserID, Kind: store.EventEvicted, At: now,
			IP: ns.Client.IP, UserAgent: ns.Client.UserAgent, Detail: detail,
		}); err != nil {
			return store.Session{}, 0, err
		}
		evicted++
	}
	return sess, evicted, nil
}
