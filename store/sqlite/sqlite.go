package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is the store on one SQLite file. It is safe for concurrent use,
// also by several processes on the same file: every write runs in a
// BEGIN IMMEDIATE transaction, so SQLite itself serialises writers.
type Store struct {
	// Now is the store's clock. Optional. Default value time.Now. Tests
	// replace it to move time without sleeping.
	Now func() time.Time

	// The store.Store methods both dialects say alike (their contracts
	// are written there), on this database; DeleteExpired's bounded child
	// statements (ChildRowsPerStatement) are this backend's.
	sqltables.Queries
	db *sql.DB
	// batch queues this process's InTx transactions and commits them in
	// groups (group.go).
	batch batcher
	// stmts are the prepared statements of InTx and of the reads
	// (stmts.go).
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
	s := storeOn(db)
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

// storeOn is the Store on db (migrated or not).
func storeOn(db *sql.DB) *Store {
	s := &Store{Now: time.Now, db: db}
	s.Queries = sqltables.Queries{
		DB:                    queuedDB{sqltables.SQLDB{DB: poolStmts{s}}, s},
		NoRows:                sql.ErrNoRows,
		Now:                   s.now,
		Unavailable:           unavailable,
		UsernameTaken:         func(err error) bool { return isUniqueViolation(err, "users.username_key") },
		InTx:                  s.InTx,
		NoLimit:               -1,
		ChildRowsPerStatement: cleanupChildRows,
	}
	return s
}

// cleanupChildRows is sqltables.Queries.ChildRowsPerStatement here: 5,000
// token rows take about 45 ms of the write lock.
const cleanupChildRows = 5000

// trimEventsSQL (sqltables.Tx.TrimEvents) deletes a session's events
// beyond the newest ones, sparing its login event: the only record of where
// and how the session began (the session row keeps only the latest address
// and browser). The subquery walks
// session_events_session_at newest first, so a trim reads about
// store.MaxEventsPerSession entries of one session, whatever the table's size.
// Arguments: session id, EventLogin, how many non-login events to keep.
const trimEventsSQL = `DELETE FROM session_events WHERE id IN (
	SELECT id FROM session_events
	WHERE session_id = ? AND kind <> ?
	ORDER BY at DESC, id DESC
	LIMIT -1 OFFSET ?)`

// now reads the clock at the precision the database keeps, so a time that
// goes in comes back out equal.
func (s *Store) now() time.Time { return sqltables.Now(s.Now) }

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

// ChangeSigningKeys applies plan (sqltables.ApplySigningKeyPlan) in one
// write transaction, so rotations by several instances (and the keys
// command) never interleave. Nothing is changed on any error.
func (s *Store) ChangeSigningKeys(ctx context.Context, plan store.SigningKeyPlan) error {
	conflict := func(err error) bool {
		return isUniqueViolation(err, "signing_keys.kid") || isUniqueViolation(err, "signing_keys.state")
	}
	return s.write(ctx, func(db sqltables.DB) error {
		return sqltables.ApplySigningKeyPlan(ctx, db, plan, conflict)
	})
}

// write runs fn on a transaction of InTx's queue (group.go), so the
// writes of this process outside InTx wait their turn in Go, in order,
// and share its group commit instead of sleeping in SQLite's busy handler
// behind back-to-back batches.
func (s *Store) write(ctx context.Context, fn func(sqltables.DB) error) error {
	return s.InTx(ctx, func(t store.Tx) error {
		return fn(sqltables.SQLDB{DB: t.(*tx).tx})
	})
}

// queuedDB is the database for sqltables.Queries: reads go to the pool
// as prepared statements (poolStmts),
// and each Exec (CreateUser, DeleteExpired) is a transaction of its own
// on InTx's queue (Store.write).
type queuedDB struct {
	sqltables.SQLDB // reads
	s               *Store
}

func (q queuedDB) Exec(ctx context.Context, query string, args ...any) (n int64, err error) {
	err = q.s.write(ctx, func(db sqltables.DB) error {
		n, err = db.Exec(ctx, query, args...)
		return err
	})
	return n, err
}
