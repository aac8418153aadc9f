package sqlite

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tokenflow/store"
)

// unavailable classifies err once for the whole backend: a full disk, a
// read-only file, an I/O error, a file that cannot be opened, or a lock
// held past busy_timeout mean the database is out of service, not that the
// request or the code is wrong. Those wrap store.ErrUnavailable; anything
// else is returned as it is.
func unavailable(err error) error {
	var se *sqlite.Error
	if err == nil || errors.Is(err, store.ErrUnavailable) || !errors.As(err, &se) {
		return err
	}
	// Code is the extended result code; its low byte is the primary one.
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
