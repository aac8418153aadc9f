// Package sqltables is what the SQL backends (store/sqlite, store/postgres)
// share below their dialects: the column lists and scanners of the domain
// types, the way times and IDs are kept, and the shape of a new session.
// The tables are the same in both (each backend's migrations), so a row
// reads the same way from either; only the SQL around it and the locks
// differ, and those stay in each backend.
package sqltables

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"tokenflow/store"
)

// Scanner is one row: *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner interface{ Scan(dest ...any) error }

// Rows is a result set of database/sql or pgx.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// DB runs statements written with ? placeholders on a backend's database
// or in one of its transactions. Exec returns how many rows the statement
// changed.
type DB interface {
	QueryRow(ctx context.Context, query string, args ...any) Scanner
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// SQLDB is DB on a database/sql database or transaction.
type SQLDB struct {
	DB interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	}
}

func (d SQLDB) QueryRow(ctx context.Context, query string, args ...any) Scanner {
	return d.DB.QueryRowContext(ctx, query, args...)
}

func (d SQLDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return d.DB.QueryContext(ctx, query, args...)
}

func (d SQLDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.DB.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// All scans every row of rows with scan and closes rows. rows and err are
// what the query returned: when err is not nil, it is returned and rows is
// not touched.
func All[T any](rows Rows, err error, scan func(Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer closeRows(rows)
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// closeRows closes a result set of database/sql or pgx.
func closeRows(rows Rows) {
	switch r := rows.(type) {
	case interface{ Close() error }: // database/sql
		r.Close()
	case interface{ Close() }: // pgx
		r.Close()
	}
}

// Millis is a scan destination for a time kept as Unix milliseconds
// (ToMillis); NULL reads as the zero time. database/sql and pgx both hand
// a sql.Scanner the column as an int64, or nil.
func Millis(t *time.Time) sql.Scanner { return millis{t} }

// ScanMillis scans one column of Unix milliseconds.
func ScanMillis(row Scanner) (time.Time, error) {
	var t time.Time
	return scanned(&t, row.Scan(Millis(&t)))
}

type millis struct{ t *time.Time }

func (m millis) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*m.t = FromMillis(v)
	case nil:
		*m.t = time.Time{}
	default:
		return fmt.Errorf("sqltables: a time in milliseconds cannot be %T", src)
	}
	return nil
}

// SessionColumns are the sessions columns in SessionDest's order; queries
// alias sessions as s.
const SessionColumns = `s.id, s.user_id, s.created_at, s.last_used_at, s.idle_expires_at,
	s.absolute_expires_at, s.user_agent, s.ip, s.revoked_at, s.revoke_reason`

// sessionColumnCount is how many columns SessionColumns names.
const sessionColumnCount = 10

// SessionDest are the destinations of SessionColumns in sess.
func SessionDest(sess *store.Session) []any {
	return AppendSessionDest(make([]any, 0, sessionColumnCount), sess)
}

// AppendSessionDest appends SessionDest(sess) to dest (no allocation when
// dest has room for sessionColumnCount more).
func AppendSessionDest(dest []any, sess *store.Session) []any {
	return append(dest, &sess.ID, &sess.UserID, Millis(&sess.CreatedAt), Millis(&sess.LastUsedAt), Millis(&sess.IdleExpiresAt),
		Millis(&sess.AbsoluteExpiresAt), &sess.UserAgent, &sess.IP, Millis(&sess.RevokedAt), &sess.RevokeReason)
}

// ScanSession scans SessionColumns.
func ScanSession(row Scanner) (store.Session, error) {
	var sess store.Session
	return scanned(&sess, row.Scan(SessionDest(&sess)...))
}

// UserColumns are the users columns in UserDest's order; queries alias
// users as u.
const UserColumns = `u.id, u.username, u.password_hash, u.created_at`

// UserDest are the destinations of UserColumns in u.
func UserDest(u *store.User) []any {
	return []any{&u.ID, &u.Username, &u.PasswordHash, Millis(&u.CreatedAt)}
}

// ScanUser scans UserColumns.
func ScanUser(row Scanner) (store.User, error) {
	var u store.User
	return scanned(&u, row.Scan(UserDest(&u)...))
}

// TokenColumns are the refresh_tokens columns in TokenDest's order;
// queries alias refresh_tokens as t.
const TokenColumns = `t.id, t.session_id, t.token_hash, t.created_at, t.used_at, t.grace_until`

// TokenDest are the destinations of TokenColumns in tok.
func TokenDest(tok *store.RefreshToken) []any {
	return []any{&tok.ID, &tok.SessionID, &tok.Hash, Millis(&tok.CreatedAt), Millis(&tok.UsedAt), Millis(&tok.GraceUntil)}
}

// EventColumns are the session_events columns in ScanEvent's order.
const EventColumns = `id, session_id, user_id, kind, at, ip, user_agent, detail`

// ScanEvent scans EventColumns.
func ScanEvent(row Scanner) (store.Event, error) {
	var e store.Event
	return scanned(&e, row.Scan(&e.ID, &e.SessionID, &e.UserID, &e.Kind, Millis(&e.At), &e.IP, &e.UserAgent, &e.Detail))
}

// SigningKeyColumns are the signing_keys columns in ScanSigningKey's order.
const SigningKeyColumns = `kid, alg, state, public_key, sealed_private_key, created_at, activates_at, expires_at`

// ScanSigningKey scans SigningKeyColumns.
func ScanSigningKey(row Scanner) (store.SigningKey, error) {
	var k store.SigningKey
	return scanned(&k, row.Scan(&k.Kid, &k.Alg, &k.State, &k.PublicKey, &k.SealedPrivateKey,
		Millis(&k.CreatedAt), Millis(&k.ActivatesAt), Millis(&k.ExpiresAt)))
}

// scanned is *v once its scan succeeded, else the zero value and err. It
// takes a pointer: Go does not order reading a variable argument against
// a call in the same argument list, so a value could be read before the
// scan filled it.
func scanned[T any](v *T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return *v, nil
}

// NewSession is the session ns starts at now, under a fresh ID: the idle
// expiry is now+IdleTTL, never later than the absolute expiry now+MaxAge.
func NewSession(ns store.NewSession, now time.Time) store.Session {
	absolute := now.Add(ns.MaxAge)
	return store.Session{
		ID:                NewID(),
		UserID:            ns.UserID,
		CreatedAt:         now,
		LastUsedAt:        now,
		IdleExpiresAt:     earliest(now.Add(ns.IdleTTL), absolute),
		AbsoluteExpiresAt: absolute,
		UserAgent:         ns.Client.UserAgent,
		IP:                ns.Client.IP,
	}
}

// Now reads clock (nil: time.Now) at the precision the tables keep,
// milliseconds, so a time that goes in comes back out equal.
func Now(clock func() time.Time) time.Time {
	if clock == nil {
		clock = time.Now
	}
	return clock().UTC().Truncate(time.Millisecond)
}

// ToMillis is how a time is kept: Unix milliseconds.
func ToMillis(t time.Time) int64 { return t.UnixMilli() }

// FromMillis reads a time kept by ToMillis, in UTC.
func FromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// ToNullMillis keeps the zero time as NULL (nil).
func ToNullMillis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := ToMillis(t)
	return &ms
}

// UsernameKey is what makes usernames unique regardless of case.
func UsernameKey(username string) string { return strings.ToLower(username) }

// NewID returns 128 random bits, base64url without padding: an ID of
// store.IDLength characters that store.WellFormedID accepts.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails: crypto/rand crashes the program instead (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
