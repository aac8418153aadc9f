package sqltables

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"tokenflow/store"
)

// Queries are the store.Store methods both dialects say alike, written
// once on a backend's database. Every error they return has been through
// Unavailable.
type Queries struct {
	DB DB
	// NoRows is the driver's error for a QueryRow that found nothing.
	NoRows error
	// Now is the backend's clock, read at the tables' precision.
	Now func() time.Time
	// Unavailable is the backend's classification of its errors
	// (store.ErrUnavailable).
	Unavailable func(error) error
	// UsernameTaken reports whether err is the UNIQUE index on
	// users.username_key refusing a duplicate.
	UsernameTaken func(err error) bool
	// InTx is the backend's store.Store.InTx.
	InTx func(ctx context.Context, fn func(store.Tx) error) error
	// NoLimit is what LIMIT ? takes for "no limit" (SQLite -1,
	// PostgreSQL NULL).
	NoLimit any
	// DeleteLocking ends the subquery that picks expired sessions to
	// delete (PostgreSQL: FOR UPDATE SKIP LOCKED; "" where the write lock
	// covers the whole database).
	DeleteLocking string
	// ChildRowsPerStatement bounds the tokens or events one statement of
	// DeleteExpired deletes, so that no statement holds a database-wide
	// write lock for a long-lived session's whole history (SQLite). Zero:
	// the sessions' DELETE cascades to them in one statement (PostgreSQL,
	// which locks rows, not the database).
	ChildRowsPerStatement int
}

// DeleteBatch is the batch DeleteExpired works in when it is given none
// (zero or less).
func DeleteBatch(batch int) int {
	if batch <= 0 {
		return 500
	}
	return batch
}

// Ping reports whether the database answers a query.
func (q Queries) Ping(ctx context.Context) error {
	var one int
	if err := q.DB.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return q.Unavailable(fmt.Errorf("store: ping: %w", err))
	}
	return nil
}

// CreateUser adds a user. Usernames are unique regardless of case: the
// UNIQUE index decides, not a SELECT beforehand, so two registrations
// racing for one name cannot both pass a check. Returns ErrUsernameTaken
// when another user has the same username in any case.
func (q Queries) CreateUser(ctx context.Context, username, passwordHash string) (store.User, error) {
	u := store.User{ID: NewID(), Username: username, PasswordHash: passwordHash, CreatedAt: q.Now()}
	_, err := q.DB.Exec(ctx, `INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Username, UsernameKey(username), u.PasswordHash, ToMillis(u.CreatedAt))
	if q.UsernameTaken(err) {
		return store.User{}, store.ErrUsernameTaken
	}
	if err != nil {
		return store.User{}, q.Unavailable(fmt.Errorf("store: create user: %w", err))
	}
	return u, nil
}

// UserByUsername finds a user by username, ignoring case. Returns
// ErrNotFound when there is none.
func (q Queries) UserByUsername(ctx context.Context, username string) (store.User, error) {
	return q.user(ctx, `u.username_key = ?`, UsernameKey(username))
}

// UserByID finds a user by ID. Returns ErrNotFound when there is none.
func (q Queries) UserByID(ctx context.Context, id string) (store.User, error) {
	return q.user(ctx, `u.id = ?`, id)
}

func (q Queries) user(ctx context.Context, where string, arg any) (store.User, error) {
	return one(q, "find user", store.ErrNotFound, ScanUser,
		q.DB.QueryRow(ctx, `SELECT `+UserColumns+` FROM users u WHERE `+where, arg))
}

// CreateSession starts a session for a logged-in user in a transaction of
// its own (see store.Tx.CreateSession); the cap on live sessions is auth's
// policy, run on Tx. Returns ErrNotFound when the user does not exist.
func (q Queries) CreateSession(ctx context.Context, ns store.NewSession) (store.Session, error) {
	var sess store.Session
	err := q.InTx(ctx, func(t store.Tx) error {
		var err error
		sess, err = t.CreateSession(ctx, ns)
		return err
	})
	return sess, err
}

// SessionByRefreshHash finds the session of a refresh token that has not
// been rotated yet, whatever the session's state (callers check Active). A
// rotated token identifies nobody: its holder may be a thief. Returns
// ErrRefreshUnknown when no unused token has that hash.
func (q Queries) SessionByRefreshHash(ctx context.Context, hash string) (store.Session, error) {
	return one(q, "session by refresh token", store.ErrRefreshUnknown, ScanSession,
		q.DB.QueryRow(ctx, `SELECT `+SessionColumns+`
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.token_hash = ? AND t.used_at IS NULL`, hash))
}

// Session finds a session by ID, whatever its state. Returns ErrNotFound
// when there is none.
func (q Queries) Session(ctx context.Context, id string) (store.Session, error) {
	return one(q, "session", store.ErrNotFound, ScanSession,
		q.DB.QueryRow(ctx, `SELECT `+SessionColumns+` FROM sessions s WHERE s.id = ?`, id))
}

// ActiveSessions lists the user's sessions that are neither revoked nor
// expired, most recently used first. It returns no sentinel errors.
func (q Queries) ActiveSessions(ctx context.Context, userID string) ([]store.Session, error) {
	now := ToMillis(q.Now())
	rows, err := q.DB.Query(ctx, `SELECT `+SessionColumns+` FROM sessions s
		WHERE s.user_id = ? AND s.revoked_at IS NULL
		  AND s.idle_expires_at > ? AND s.absolute_expires_at > ?
		ORDER BY s.last_used_at DESC, s.created_at DESC, s.id`, userID, now, now)
	out, err := All(rows, err, ScanSession)
	if err != nil {
		return nil, q.Unavailable(fmt.Errorf("store: active sessions: %w", err))
	}
	return out, nil
}

// SessionEvents returns up to limit events of a session, newest first; a
// limit of zero or less means all of them. It returns no sentinel errors:
// an unknown session simply has no events.
func (q Queries) SessionEvents(ctx context.Context, sessionID string, limit int) ([]store.Event, error) {
	var max any = limit
	if limit <= 0 {
		max = q.NoLimit
	}
	rows, err := q.DB.Query(ctx, `SELECT `+EventColumns+`
		FROM session_events WHERE session_id = ?
		ORDER BY at DESC, id DESC LIMIT ?`, sessionID, max)
	out, err := All(rows, err, ScanEvent)
	if err != nil {
		return nil, q.Unavailable(fmt.Errorf("store: session events: %w", err))
	}
	return out, nil
}

// DeleteExpired deletes at most batch sessions (DeleteBatch) that have
// been dead for DeadMargin at least: expired, or revoked more than
// store.RevokedRetention ago. Their refresh tokens and events go with them.
// It returns how many sessions it deleted; callers repeat while that
// equals batch. Used tokens of live sessions are kept: reuse detection
// needs them. It returns no sentinel errors.
//
// A session in use for weeks has thousands of used tokens. On SQLite a
// statement holds the one write lock until it ends, and deleting 50 such
// sessions through ON DELETE CASCADE took 3.6 s, in which no login or
// refresh could commit. With ChildRowsPerStatement set, the batch's tokens
// and then its events go first, in statements of at most that many rows,
// each its own write; each statement picks its batch with the same
// subquery (on SQLite: the same plan, the same sessions), and the
// sessions' DELETE then finds little or nothing to cascade.
func (q Queries) DeleteExpired(ctx context.Context, batch int) (int, error) {
	deadBy := q.Now().Add(-DeadMargin)
	batch = DeleteBatch(batch)
	dead := []any{ToMillis(deadBy), ToMillis(deadBy), ToMillis(deadBy.Add(-store.RevokedRetention)), batch}
	const expired = `SELECT id FROM sessions
		WHERE idle_expires_at < ? OR absolute_expires_at < ? OR revoked_at < ?
		LIMIT ? `
	if rows := q.ChildRowsPerStatement; rows > 0 {
		childArgs := append(slices.Clone(dead), rows)
		for _, child := range []string{"refresh_tokens", "session_events"} {
			for {
				n, err := q.DB.Exec(ctx, `DELETE FROM `+child+` WHERE id IN (
					SELECT c.id FROM (`+expired+`) d JOIN `+child+` c ON c.session_id = d.id
					LIMIT ? `+q.DeleteLocking+`)`, childArgs...)
				if err != nil {
					return 0, q.Unavailable(fmt.Errorf("store: delete expired sessions' %s: %w", child, err))
				}
				if n < int64(rows) {
					break
				}
			}
		}
	}
	n, err := q.DB.Exec(ctx, `DELETE FROM sessions WHERE id IN (`+expired+q.DeleteLocking+`)`, dead...)
	if err != nil {
		return 0, q.Unavailable(fmt.Errorf("store: delete expired sessions: %w", err))
	}
	return int(n), nil
}

// DeadMargin is how long a session stays dead before DeleteExpired takes
// it. A session deleted over several statements (ChildRowsPerStatement)
// loses its oldest tokens first; were a clock to step back past its
// expiry in between, a rotation could make it live again without them,
// and a stolen old token would then be unknown instead of reuse. A clock
// would have to step back by more than this margin.
const DeadMargin = 10 * time.Minute

// SigningKeys returns every signing key, oldest first. It returns no
// sentinel errors.
func (q Queries) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := SigningKeys(ctx, q.DB)
	return keys, q.Unavailable(err)
}

// one scans the row a QueryRow found with scan; no row is notFound.
func one[T any](q Queries, what string, notFound error, scan func(Scanner) (T, error), row Scanner) (T, error) {
	v, err := scan(row)
	if errors.Is(err, q.NoRows) {
		var zero T
		return zero, notFound
	}
	if err != nil {
		var zero T
		return zero, q.Unavailable(fmt.Errorf("store: %s: %w", what, err))
	}
	return v, nil
}
