package notes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"tokenflow/tokens"
)

// Note is one note of one user.
type Note struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// ErrNotFound: no note of that id belongs to the user, whether it is
// missing or another user's (the caller cannot tell which).
var ErrNotFound = errors.New("notes: not found")

// MaxNotesPerUser bounds one user's notes, so one account cannot fill the
// disk; a list of them is at most this long.
const MaxNotesPerUser = 500

// ErrTooManyNotes: the user has MaxNotesPerUser notes already.
var ErrTooManyNotes = errors.New("notes: too many notes")

// Store keeps notes in a SQLite file of the notes service's own: it shares
// nothing with the auth server's store.
type Store struct {
	db *sql.DB
	// list is List's statement, prepared once (database/sql prepares it
	// again on each new connection): parsing it on every request was
	// about a tenth of the notes service's CPU under load.
	list *sql.Stmt
}

const listQuery = `SELECT id, text, created_at FROM notes WHERE user_id = ? ORDER BY created_at, id LIMIT ?`

// OpenStore opens (creating it 0600 if needed) the notes database at path.
func OpenStore(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("notes: create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("notes: create %s: %w", path, err)
	}
	f.Close()
	db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("notes: open %s: %w", path, err)
	}
	const schema = `CREATE TABLE IF NOT EXISTS notes (
		id         TEXT PRIMARY KEY,
		user_id    TEXT NOT NULL,
		text       TEXT NOT NULL,
		created_at INTEGER NOT NULL -- Unix nanoseconds
	);
	CREATE INDEX IF NOT EXISTS notes_by_user ON notes (user_id, created_at);`
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("notes: migrate: %w", err)
	}
	list, err := db.Prepare(listQuery)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("notes: prepare list: %w", err)
	}
	return &Store{db: db, list: list}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.list.Close()
	return s.db.Close()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// List returns the user's notes, oldest first.
func (s *Store) List(ctx context.Context, userID string) ([]Note, error) {
	rows, err := s.list.QueryContext(ctx, userID, MaxNotesPerUser)
	if err != nil {
		return nil, fmt.Errorf("notes: list: %w", err)
	}
	defer rows.Close()
	list := []Note{}
	for rows.Next() {
		var n Note
		var created int64
		if err := rows.Scan(&n.ID, &n.Text, &created); err != nil {
			return nil, fmt.Errorf("notes: list: %w", err)
		}
		n.CreatedAt = time.Unix(0, created).UTC()
		list = append(list, n)
	}
	return list, rows.Err()
}

// Create stores a new note for the user, stamped at, with a random id. It
// returns ErrTooManyNotes when the user has MaxNotesPerUser already.
func (s *Store) Create(ctx context.Context, userID, text string, at time.Time) (Note, error) {
	n := Note{ID: tokens.RandomID(), Text: text, CreatedAt: at.UTC()}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Note{}, fmt.Errorf("notes: create: %w", err)
	}
	defer tx.Rollback()
	var count int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notes WHERE user_id = ?`, userID).Scan(&count); err != nil {
		return Note{}, fmt.Errorf("notes: create: %w", err)
	}
	if count >= MaxNotesPerUser {
		return Note{}, ErrTooManyNotes
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notes (id, user_id, text, created_at) VALUES (?, ?, ?, ?)`, n.ID, userID, n.Text, n.CreatedAt.UnixNano()); err != nil {
		return Note{}, fmt.Errorf("notes: create: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Note{}, fmt.Errorf("notes: create: %w", err)
	}
	return n, nil
}

// Delete removes the user's note id; ErrNotFound when the user has none of
// that id (another user's note is not found either).
func (s *Store) Delete(ctx context.Context, userID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM notes WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return fmt.Errorf("notes: delete: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("notes: delete: %w", err)
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}
