package sqltables

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tokenflow/store"
)

// Tx are the store.Tx primitives whose statements both dialects say
// alike, written once: each reads or writes one thing and decides
// nothing. A backend's transaction embeds or calls them on its own DB;
// where a primitive locks, the backend passes its locking clause.
type Tx struct {
	DB DB
	// Now is the transaction's clock (store.Tx.Now).
	Now func() time.Time
	// TrimEvents deletes a session's events beyond the newest ones,
	// sparing its login event (the dialects differ in how they say "no
	// limit"). Arguments: session id, EventLogin, how many non-login
	// events to keep.
	TrimEvents string
}

func (w Tx) exec(ctx context.Context, what, query string, args ...any) error {
	if _, err := w.DB.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// SessionLocked reads the session with the ID, whatever its state, with
// the locking clause locking (store.Tx.SessionForUpdate). ErrNotFound
// when there is no such session; noRows is the driver's error for it.
func (w Tx) SessionLocked(ctx context.Context, sessionID, locking string, noRows error) (store.Session, error) {
	sess, err := ScanSession(w.DB.QueryRow(ctx, `SELECT `+SessionColumns+` FROM sessions s WHERE s.id = ? `+locking, sessionID))
	if errors.Is(err, noRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("store: session for update: %w", err)
	}
	return sess, nil
}

// LiveSessions is store.Tx.LiveSessions, through the index
// sessions_user_last_used.
func (w Tx) LiveSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return w.LiveSessionsLocked(ctx, userID, "")
}

// LiveSessionsLocked is LiveSessions with a locking clause.
func (w Tx) LiveSessionsLocked(ctx context.Context, userID, locking string) ([]store.Session, error) {
	now := ToMillis(w.Now())
	rows, err := w.DB.Query(ctx, `SELECT `+SessionColumns+` FROM sessions s
		WHERE s.user_id = ? AND s.revoked_at IS NULL
		  AND s.idle_expires_at > ? AND s.absolute_expires_at > ?
		ORDER BY s.last_used_at DESC, s.created_at DESC, s.id DESC `+locking,
		userID, now, now)
	out, err := All(rows, err, ScanSession)
	if err != nil {
		return nil, fmt.Errorf("store: live sessions: %w", err)
	}
	return out, nil
}

// InsertRefreshToken is store.Tx.InsertRefreshToken.
func (w Tx) InsertRefreshToken(ctx context.Context, sessionID, hash string, graceUntil time.Time) (int64, error) {
	if hash == "" {
		return 0, errors.New("store: insert refresh token: empty refresh token hash")
	}
	var id int64
	if err := w.DB.QueryRow(ctx,
		`INSERT INTO refresh_tokens (session_id, token_hash, created_at, grace_until) VALUES (?, ?, ?, ?) RETURNING id`,
		sessionID, hash, ToMillis(w.Now()), ToNullMillis(graceUntil)).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: insert refresh token: %w", err)
	}
	return id, nil
}

// MarkRefreshTokenUsed is store.Tx.MarkRefreshTokenUsed.
func (w Tx) MarkRefreshTokenUsed(ctx context.Context, id, replacedBy int64, usedAt, graceUntil time.Time) error {
	return w.exec(ctx, "mark refresh token used",
		`UPDATE refresh_tokens SET used_at = ?, replaced_by = ?, grace_until = ? WHERE id = ?`,
		ToMillis(usedAt), replacedBy, ToNullMillis(graceUntil), id)
}

// RetireLiveTokens is store.Tx.RetireLiveTokens.
func (w Tx) RetireLiveTokens(ctx context.Context, sessionID string, keepID int64, usedAt time.Time) error {
	return w.exec(ctx, "retire live tokens", `UPDATE refresh_tokens SET used_at = ?
		WHERE session_id = ? AND used_at IS NULL AND id <> ?`,
		ToMillis(usedAt), sessionID, keepID)
}

// CapLiveTokenGrace is store.Tx.CapLiveTokenGrace: a current token's
// deadline becomes the earlier of its own (none: the cap) and the cap.
func (w Tx) CapLiveTokenGrace(ctx context.Context, sessionID string, deadline time.Time) error {
	return w.exec(ctx, "cap live token grace", `UPDATE refresh_tokens
		SET grace_until = CASE WHEN grace_until IS NOT NULL AND grace_until < ? THEN grace_until ELSE ? END
		WHERE session_id = ? AND used_at IS NULL`,
		ToMillis(deadline), ToMillis(deadline), sessionID)
}

// SetSessionUse is store.Tx.SetSessionUse.
func (w Tx) SetSessionUse(ctx context.Context, sess store.Session) error {
	return w.exec(ctx, "set session use", `UPDATE sessions
		SET last_used_at = ?, idle_expires_at = ?, ip = ?, user_agent = ?
		WHERE id = ?`,
		ToMillis(sess.LastUsedAt), ToMillis(sess.IdleExpiresAt), sess.IP, sess.UserAgent, sess.ID)
}

// RevokeSession is store.Tx.RevokeSession.
func (w Tx) RevokeSession(ctx context.Context, sessionID, reason string, revokedAt time.Time) error {
	return w.exec(ctx, "revoke session",
		`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ?`,
		ToMillis(revokedAt), reason, sessionID)
}

// RevokeSessionAndTokens is store.Tx.RevokeSessionAndTokens.
func (w Tx) RevokeSessionAndTokens(ctx context.Context, sessionID, reason string, revokedAt time.Time) error {
	if err := w.RevokeSession(ctx, sessionID, reason, revokedAt); err != nil {
		return err
	}
	return w.exec(ctx, "revoke session tokens",
		`UPDATE refresh_tokens SET used_at = ? WHERE session_id = ? AND used_at IS NULL`,
		ToMillis(revokedAt), sessionID)
}

// InsertEvent is store.Tx.InsertEvent: the event, then the trim, in the
// same transaction.
func (w Tx) InsertEvent(ctx context.Context, e store.Event) error {
	if err := w.exec(ctx, "insert event", `INSERT INTO session_events
		(session_id, user_id, kind, at, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.SessionID, e.UserID, e.Kind, ToMillis(e.At), e.IP, e.UserAgent, e.Detail); err != nil {
		return err
	}
	return w.exec(ctx, "insert event", w.TrimEvents, e.SessionID, store.EventLogin, store.MaxEventsPerSession-1)
}

// EventTimesSince is store.Tx.EventTimesSince. It reads
// session_events_session_at newest first, so it touches at most max rows
// of this session.
func (w Tx) EventTimesSince(ctx context.Context, sessionID string, kinds []string, since time.Time, max int) ([]time.Time, error) {
	if len(kinds) == 0 || max <= 0 {
		return nil, nil
	}
	args := []any{sessionID}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, ToMillis(since), max)
	rows, err := w.DB.Query(ctx, `SELECT at FROM session_events
		WHERE session_id = ? AND kind IN (?`+strings.Repeat(", ?", len(kinds)-1)+`) AND at > ?
		ORDER BY at DESC, id DESC LIMIT ?`, args...)
	out, err := All(rows, err, ScanMillis)
	if err != nil {
		return nil, fmt.Errorf("store: event times: %w", err)
	}
	return out, nil
}

// CheckNewSession is the refusal of a NewSession that lacks what
// CreateSession needs.
func CheckNewSession(ns store.NewSession) error {
	if ns.RefreshHash == "" || ns.IdleTTL <= 0 || ns.MaxAge <= 0 {
		return errors.New("store: create session: refresh hash, idle TTL and max age are required")
	}
	return nil
}

// StartSession writes the session ns starts at now (NewSession): the
// session row, its first refresh token and the login event. The backend
// has checked ns (CheckNewSession) and holds the user.
func (w Tx) StartSession(ctx context.Context, ns store.NewSession, now time.Time) (store.Session, error) {
	sess := NewSession(ns, now)
	if err := w.exec(ctx, "create session", `INSERT INTO sessions
		(id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, user_agent, ip)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.UserID, ToMillis(now), ToMillis(now), ToMillis(sess.IdleExpiresAt),
		ToMillis(sess.AbsoluteExpiresAt), sess.UserAgent, sess.IP); err != nil {
		return store.Session{}, err
	}
	if err := w.exec(ctx, "create session",
		`INSERT INTO refresh_tokens (session_id, token_hash, created_at) VALUES (?, ?, ?)`,
		sess.ID, ns.RefreshHash, ToMillis(now)); err != nil {
		return store.Session{}, err
	}
	login := store.Event{SessionID: sess.ID, UserID: sess.UserID, Kind: store.EventLogin, At: now, IP: ns.Client.IP, UserAgent: ns.Client.UserAgent}
	if err := w.InsertEvent(ctx, login); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	return sess, nil
}

// Dollar rewrites the ? placeholders of a statement as PostgreSQL's $1,
// $2, …, in order. A ? that is no placeholder is left as it is: inside a
// string ('…', where a doubled quote stands for itself, and in E'…' a
// backslash escapes too), a quoted name ("…"), a comment (-- to the end
// of the line, nested /* */) or a dollar-quoted body ($$…$$,
// $tag$…$tag$); and in PostgreSQL's operators spelt with one: ?| and ?&
// (so a placeholder before | or & takes a space: "? || ?"), and @?. ??
// stands for the ? operator itself (jsonb: is the key there). So a ?
// written for the database never shifts the arguments after it onto the
// wrong placeholder.
func Dollar(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	// The delimiters are ASCII, and no byte of a multibyte UTF-8 character
	// is, so the statement is walked byte by byte.
	for i := 0; i < len(query); {
		c := query[i]
		next := byte(0)
		if i+1 < len(query) {
			next = query[i+1]
		}
		end := i + 1 // what is copied as it is, by default c alone
		switch {
		case c == '\'':
			end = quotedEnd(query, i, '\'', escapeString(query, i))
		case c == '"':
			end = quotedEnd(query, i, '"', false)
		case c == '-' && next == '-':
			end = lineCommentEnd(query, i)
		case c == '/' && next == '*':
			end = blockCommentEnd(query, i)
		case c == '$':
			end = dollarQuotedEnd(query, i)
		case c == '?' && next == '?':
			b.WriteByte('?')
			i += 2
			continue
		case c == '?' && next != '|' && next != '&' && (i == 0 || query[i-1] != '@'):
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i++
			continue
		}
		b.WriteString(query[i:end])
		i = end
	}
	return b.String()
}

// quotedEnd is the index just past the quote that closes the quoted text
// opening at start (query[start] == quote; a doubled quote stands for
// itself, and with backslashes a backslash escapes the next byte), or
// len(query) when nothing closes it (the server reports the error).
func quotedEnd(query string, start int, quote byte, backslashes bool) int {
	for i := start + 1; i < len(query); i++ {
		switch query[i] {
		case '\\':
			if backslashes {
				i++
			}
		case quote:
			if i+1 < len(query) && query[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(query)
}

// escapeString reports whether the string opening at query[start] is an
// escape string (E'…'): its prefix E stands alone, not at the end of a name.
func escapeString(query string, start int) bool {
	if start == 0 || (query[start-1] != 'E' && query[start-1] != 'e') {
		return false
	}
	return start == 1 || !nameByte(query[start-2])
}

// lineCommentEnd is the index just past the line comment at start.
func lineCommentEnd(query string, start int) int {
	if j := strings.IndexByte(query[start:], '\n'); j >= 0 {
		return start + j + 1
	}
	return len(query)
}

// blockCommentEnd is the index just past the block comment at start;
// PostgreSQL's block comments nest.
func blockCommentEnd(query string, start int) int {
	depth := 0
	for i := start; i+1 < len(query); i++ {
		switch {
		case query[i] == '/' && query[i+1] == '*':
			depth++
			i++
		case query[i] == '*' && query[i+1] == '/':
			depth--
			i++
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(query)
}

// dollarQuotedEnd is the index just past the dollar-quoted string that
// opens at query[start] == '$' ($$…$$ or $tag$…$tag$, the tag a name
// without $), or start+1 when the $ opens none: a positional parameter
// ($1), or a $ inside a name (a$b).
func dollarQuotedEnd(query string, start int) int {
	if start > 0 && nameByte(query[start-1]) {
		return start + 1
	}
	j := start + 1
	for j < len(query) && nameByte(query[j]) && query[j] != '$' {
		if j == start+1 && query[j] >= '0' && query[j] <= '9' {
			return start + 1 // $1
		}
		j++
	}
	if j >= len(query) || query[j] != '$' {
		return start + 1
	}
	tag := query[start : j+1]
	if k := strings.Index(query[j+1:], tag); k >= 0 {
		return j + 1 + k + len(tag)
	}
	return len(query)
}

// nameByte reports whether b may be part of an unquoted name: a letter, a
// digit, _, $ or a byte of a multibyte character.
func nameByte(b byte) bool {
	return b == '_' || b == '$' || b >= 0x80 || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}
