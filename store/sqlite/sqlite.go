package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tokenflow/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// defaultDeleteBatch is used by DeleteExpired when it is given no batch size.
const defaultDeleteBatch = 500

// Store is the store on one SQLite file. It is safe for concurrent use,
// also by several processes on the same file: every write runs in a
// BEGIN IMMEDIATE transaction, so SQLite itself serialises writers.
type Store struct {
	// Now is the store's clock. Optional. Default value time.Now. Tests
	// replace it to move time without sleeping.
	Now func() time.Time

	db *sql.DB
	// batch queues this process's InTx transactions and commits them in
	// groups (group.go).
	batch batcher
	// stmts are InTx's prepared statements (stmts.go).
	stmts stmtCache
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path, creating
// its parent directory with mode 0700, and applies pending migrations. The
// file and its -wal and -shm companions are readable by the owner only
// (0600), whatever the folder's mode and the umask.
func Open(path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create database directory: %w", err)
		}
	}
	if err := makePrivate(path); err != nil {
		return nil, err
	}
	// _txlock=immediate makes every read-write transaction take the write
	// lock at BEGIN. A deferred transaction that reads and then writes can
	// fail with SQLITE_BUSY at the write, which busy_timeout cannot retry;
	// an immediate one waits at BEGIN instead, so concurrent rotations of
	// one token queue up and each sees the previous one's result.
	dsn := path + "?_txlock=immediate" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{Now: time.Now, db: db}
	if err := s.migrate(context.Background(), path); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// makePrivate creates the database file 0600 if it does not exist, and takes
// group and other permissions off it and off any -wal and -shm file left
// from an earlier run. It holds password hashes and sessions; a folder that
// others may enter (an existing 0755 DATA_DIR) must not expose them.
//
// SQLite itself creates new files 0644, except that a -wal or -shm file
// takes the mode of its database file (os_unix.c, findCreateFileMode and
// unixOpenSharedMemory, and fchmod past the umask): so a 0600 database
// makes every file SQLite creates beside it 0600 too.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	f.Close()
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(name, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("store: make %s private: %w", name, err)
			}
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer func() { err = unavailable(err) }()
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// CreateUser adds a user. Usernames are unique regardless of case.
// Returns ErrUsernameTaken when another user has the same username in any case.
func (s *Store) CreateUser(ctx context.Context, username, passwordHash string) (_ store.User, err error) {
	defer func() { err = unavailable(err) }()
	u := store.User{
		ID:           newID(),
		Username:     username,
		PasswordHash: passwordHash,
		CreatedAt:    s.now(),
	}
	// The UNIQUE index decides, not a SELECT beforehand: two registrations
	// racing for one name must not both pass a check.
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Username, usernameKey(username), u.PasswordHash, toMillis(u.CreatedAt))
	if isUniqueViolation(err, "users.username_key") {
		return store.User{}, store.ErrUsernameTaken
	}
	if err != nil {
		return store.User{}, fmt.Errorf("store: create user: %w", err)
	}
	return u, nil
}

// UserByUsername finds a user by username, ignoring case.
// Returns ErrNotFound when there is none.
func (s *Store) UserByUsername(ctx context.Context, username string) (_ store.User, err error) {
	defer func() { err = unavailable(err) }()
	return s.user(ctx, `username_key = ?`, usernameKey(username))
}

// UserByID finds a user by ID. Returns ErrNotFound when there is none.
func (s *Store) UserByID(ctx context.Context, id string) (_ store.User, err error) {
	defer func() { err = unavailable(err) }()
	return s.user(ctx, `id = ?`, id)
}

func (s *Store) user(ctx context.Context, where string, arg any) (store.User, error) {
	var (
		u       store.User
		created int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, username, password_hash, created_at FROM users WHERE `+where, arg).
		Scan(&u.ID, &u.Username, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, fmt.Errorf("store: find user: %w", err)
	}
	u.CreatedAt = fromMillis(created)
	return u, nil
}

// CreateSession starts a session for a logged-in user in a transaction of
// its own (see store.Tx.CreateSession); the cap on live sessions is auth's
// policy, run on Tx. Returns ErrNotFound when the user does not exist.
func (s *Store) CreateSession(ctx context.Context, ns store.NewSession) (_ store.Session, err error) {
	defer func() { err = unavailable(err) }()
	var sess store.Session
	err = s.InTx(ctx, func(t store.Tx) error {
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
func (s *Store) SessionByRefreshHash(ctx context.Context, hash string) (_ store.Session, err error) {
	defer func() { err = unavailable(err) }()
	row := s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+`
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.token_hash = ? AND t.used_at IS NULL`, hash)
	sess, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrRefreshUnknown
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("store: session by refresh token: %w", err)
	}
	return sess, nil
}

// Session finds a session by ID, whatever its state. Returns ErrNotFound
// when there is none.
func (s *Store) Session(ctx context.Context, id string) (_ store.Session, err error) {
	defer func() { err = unavailable(err) }()
	row := s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`, id)
	sess, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("store: session: %w", err)
	}
	return sess, nil
}

// ActiveSessions lists the user's sessions that are neither revoked nor
// expired, most recently used first. It returns no sentinel errors.
func (s *Store) ActiveSessions(ctx context.Context, userID string) (_ []store.Session, err error) {
	defer func() { err = unavailable(err) }()
	now := toMillis(s.now())
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = ? AND s.revoked_at IS NULL
		  AND s.idle_expires_at > ? AND s.absolute_expires_at > ?
		ORDER BY s.last_used_at DESC, s.created_at DESC, s.id`, userID, now, now)
	if err != nil {
		return nil, fmt.Errorf("store: active sessions: %w", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: active sessions: %w", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: active sessions: %w", err)
	}
	return out, nil
}

// RevokeSession ends one of the user's sessions and records an event of
// kind, which must be EventLogout or EventRevoked. Revoking a session that
// is already revoked does nothing and is not an error. Returns ErrNotFound
// when the session does not exist or belongs to another user.
func (s *Store) RevokeSession(ctx context.Context, userID, sessionID, kind string, client store.Client) (err error) {
	defer func() { err = unavailable(err) }()
	if kind != store.EventLogout && kind != store.EventRevoked {
		return fmt.Errorf("store: revoke session: kind %q is not %q or %q", kind, store.EventLogout, store.EventRevoked)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	defer tx.Rollback()
	now := s.now()

	row := tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`, sessionID)
	sess, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sess.UserID != userID) {
		// Someone else's session looks exactly like a missing one.
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	if sess.Revoked() {
		return nil
	}
	if err := revoke(ctx, tx, sess, kind, now, client, ""); err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: revoke session: commit: %w", err)
	}
	return nil
}

// RevokeUserSessions revokes every live (not revoked, not expired) session
// of the user except exceptSessionID ("" revokes them all), recording
// EventRevoked for each, and returns how many it revoked. It returns no
// sentinel errors.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, exceptSessionID string, client store.Client) (_ int, err error) {
	defer func() { err = unavailable(err) }()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: revoke user sessions: %w", err)
	}
	defer tx.Rollback()
	now := s.now()

	rows, err := tx.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = ? AND s.id != ? AND s.revoked_at IS NULL
		  AND s.idle_expires_at > ? AND s.absolute_expires_at > ?`,
		userID, exceptSessionID, toMillis(now), toMillis(now))
	if err != nil {
		return 0, fmt.Errorf("store: revoke user sessions: %w", err)
	}
	var live []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: revoke user sessions: %w", err)
		}
		live = append(live, sess)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: revoke user sessions: %w", err)
	}

	detail := ""
	if exceptSessionID != "" {
		detail = "revoked from session " + exceptSessionID
	}
	for _, sess := range live {
		if err := revoke(ctx, tx, sess, store.EventRevoked, now, client, detail); err != nil {
			return 0, fmt.Errorf("store: revoke user sessions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: revoke user sessions: commit: %w", err)
	}
	return len(live), nil
}

func revoke(ctx context.Context, tx *sql.Tx, sess store.Session, kind string, now time.Time, c store.Client, detail string) error {
	if _, err := tx.ExecContext(ctx,
		`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ?`,
		toMillis(now), kind, sess.ID); err != nil {
		return err
	}
	return insertEvent(ctx, tx, sess, kind, now, c, detail)
}

// SessionEvents returns up to limit events of a session, newest first; a
// limit of zero or less means all of them. It returns no sentinel errors: an
// unknown session simply has no events.
func (s *Store) SessionEvents(ctx context.Context, sessionID string, limit int) (_ []store.Event, err error) {
	defer func() { err = unavailable(err) }()
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, session_id, user_id, kind, at, ip, user_agent, detail
		FROM session_events WHERE session_id = ?
		ORDER BY at DESC, id DESC LIMIT ?`, sessionID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: session events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			e  store.Event
			at int64
		)
		if err := rows.Scan(&e.ID, &e.SessionID, &e.UserID, &e.Kind, &at, &e.IP, &e.UserAgent, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: session events: %w", err)
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: session events: %w", err)
	}
	return out, nil
}

// DeleteExpired deletes at most batch sessions (a batch of zero or less
// means 500) that have expired, or that were revoked more than 24 hours ago,
// together with their refresh tokens and events. It returns how many
// sessions it deleted; callers repeat while that equals batch. Used tokens of
// live sessions are kept: reuse detection needs them. It returns no sentinel
// errors.
func (s *Store) DeleteExpired(ctx context.Context, batch int) (_ int, err error) {
	defer func() { err = unavailable(err) }()
	if batch <= 0 {
		batch = defaultDeleteBatch
	}
	now := s.now()
	// Tokens and events go with their session through ON DELETE CASCADE.
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions
		WHERE idle_expires_at < ? OR absolute_expires_at < ? OR revoked_at < ?
		LIMIT ?)`,
		toMillis(now), toMillis(now), toMillis(now.Add(-store.RevokedRetention)), batch)
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return int(n), nil
}

// sessionColumns are the sessions columns in scanSession's order; queries
// alias sessions as s.
const sessionColumns = `s.id, s.user_id, s.created_at, s.last_used_at, s.idle_expires_at,
	s.absolute_expires_at, s.user_agent, s.ip, s.revoked_at, s.revoke_reason`

type scanner interface{ Scan(dest ...any) error }

// scanSession scans sessionColumns, after any leading destinations.
func scanSession(row scanner, leading ...any) (store.Session, error) {
	var (
		sess                              store.Session
		created, lastUsed, idle, absolute int64
		revoked                           sql.NullInt64
	)
	dest := append(leading,
		&sess.ID, &sess.UserID, &created, &lastUsed, &idle,
		&absolute, &sess.UserAgent, &sess.IP, &revoked, &sess.RevokeReason)
	if err := row.Scan(dest...); err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt = fromMillis(created)
	sess.LastUsedAt = fromMillis(lastUsed)
	sess.IdleExpiresAt = fromMillis(idle)
	sess.AbsoluteExpiresAt = fromMillis(absolute)
	if revoked.Valid {
		sess.RevokedAt = fromMillis(revoked.Int64)
	}
	return sess, nil
}

// insertToken adds a live token with a recorded grace deadline, or NULL.
func insertToken(ctx context.Context, tx execer, sessionID, hash string, now time.Time, graceUntil sql.NullInt64) (int64, error) {
	if hash == "" {
		return 0, errors.New("empty refresh token hash")
	}
	res, err := tx.ExecContext(ctx,
		`INSERT INTO refresh_tokens (session_id, token_hash, created_at, grace_until) VALUES (?, ?, ?, ?)`,
		sessionID, hash, toMillis(now), graceUntil)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// trimEventsSQL deletes a session's events beyond the newest ones, sparing
// its login event: the only record of where and how the session began (the
// session row keeps only the latest address and browser). The subquery walks
// session_events_session_at newest first, so a trim reads about
// store.MaxEventsPerSession entries of one session, whatever the table's size.
// Arguments: session id, EventLogin, how many non-login events to keep.
const trimEventsSQL = `DELETE FROM session_events WHERE id IN (
	SELECT id FROM session_events
	WHERE session_id = ? AND kind <> ?
	ORDER BY at DESC, id DESC
	LIMIT -1 OFFSET ?)`

// insertEvent records an event, and drops the session's oldest ones beyond
// store.MaxEventsPerSession in the same transaction.
func insertEvent(ctx context.Context, tx execer, sess store.Session, kind string, at time.Time, c store.Client, detail string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO session_events
		(session_id, user_id, kind, at, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.UserID, kind, toMillis(at), c.IP, c.UserAgent, detail); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, trimEventsSQL, sess.ID, store.EventLogin, store.MaxEventsPerSession-1)
	return err
}

// now reads the clock at the precision the database keeps, so a time that
// goes in comes back out equal.
func (s *Store) now() time.Time {
	clock := s.Now
	if clock == nil {
		clock = time.Now
	}
	return clock().UTC().Truncate(time.Millisecond)
}

func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func usernameKey(username string) string { return strings.ToLower(username) }

// newID returns 128 random bits, base64url without padding.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails: crypto/rand crashes the program instead (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate in
// the UNIQUE column named like "table.column".
func isUniqueViolation(err error, column string) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	// The driver reports the extended code (SQLITE_CONSTRAINT_UNIQUE) when
	// extended result codes are on and the primary one otherwise.
	if e.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE && e.Code()&0xff != sqlite3.SQLITE_CONSTRAINT {
		return false
	}
	return strings.Contains(e.Error(), "UNIQUE constraint failed: "+column)
}

// SigningKeys returns every signing key, oldest first. It returns no
// sentinel errors.
func (s *Store) SigningKeys(ctx context.Context) (_ []store.SigningKey, err error) {
	defer func() { err = unavailable(err) }()
	return signingKeys(ctx, s.db)
}

// queryer is what signingKeys needs of a database or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func signingKeys(ctx context.Context, q queryer) ([]store.SigningKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT kid, alg, state, public_key, sealed_private_key, created_at, activates_at, expires_at
		FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("store: signing keys: %w", err)
	}
	defer rows.Close()
	var keys []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var created, activates int64
		var expires sql.NullInt64
		if err := rows.Scan(&k.Kid, &k.Alg, &k.State, &k.PublicKey, &k.SealedPrivateKey, &created, &activates, &expires); err != nil {
			return nil, fmt.Errorf("store: signing keys: %w", err)
		}
		k.CreatedAt, k.ActivatesAt = fromMillis(created), fromMillis(activates)
		if expires.Valid {
			k.ExpiresAt = fromMillis(expires.Int64)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: signing keys: %w", err)
	}
	return keys, nil
}

// ChangeSigningKeys reads the keys, asks plan what to change, and applies
// it, all in one write transaction, so rotations by several instances
// (and the keys command) never interleave. Deletes go first, then updates
// that leave the current state, then the rest, then inserts: a promotion
// that demotes the old current key in the same plan never sees two.
// Returns ErrNotFound when an update or delete names no key,
// ErrKeyConflict for a duplicate kid or a second current key, or plan's
// error, wrapped; nothing is changed on any error.
func (s *Store) ChangeSigningKeys(ctx context.Context, plan store.SigningKeyPlan) (err error) {
	defer func() { err = unavailable(err) }()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: change signing keys: %w", err)
	}
	defer tx.Rollback()
	keys, err := signingKeys(ctx, tx)
	if err != nil {
		return err
	}
	changes, err := plan(keys)
	if err != nil {
		return fmt.Errorf("store: change signing keys: %w", err)
	}
	for _, kid := range changes.Delete {
		res, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid)
		if err := expectOneRow(res, err, "delete signing key"); err != nil {
			return err
		}
	}
	updates := slices.Clone(changes.Update)
	slices.SortStableFunc(updates, func(a, b store.SigningKey) int {
		return cmpBool(a.State == store.KeyCurrent, b.State == store.KeyCurrent)
	})
	for _, k := range updates {
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET state = ?, activates_at = ?, expires_at = ? WHERE kid = ?`,
			k.State, toMillis(k.ActivatesAt), nullMillis(k.ExpiresAt), k.Kid)
		if err := expectOneRow(res, err, "update signing key"); err != nil {
			return err
		}
	}
	for _, k := range changes.Insert {
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys
			(kid, alg, state, public_key, sealed_private_key, created_at, activates_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.Kid, k.Alg, k.State, k.PublicKey, k.SealedPrivateKey, toMillis(k.CreatedAt), toMillis(k.ActivatesAt), nullMillis(k.ExpiresAt)); err != nil {
			return signingKeyError("insert signing key", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: change signing keys: commit: %w", err)
	}
	return nil
}

func expectOneRow(res sql.Result, err error, what string) error {
	if err != nil {
		return signingKeyError(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: %w", what, store.ErrNotFound)
	}
	return nil
}

func signingKeyError(what string, err error) error {
	if isUniqueViolation(err, "signing_keys.kid") || isUniqueViolation(err, "signing_keys.state") {
		return fmt.Errorf("store: %s: %w", what, store.ErrKeyConflict)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toMillis(t), Valid: true}
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
