package sqlite

import (
	"errors"
	"strings"
)

// CheckPath says whether path can be passed to Open: a plain file name.
// Open appends its own DSN options (?_txlock=…&_pragma=…), so options in
// the path are refused rather than half applied.
func CheckPath(path string) error {
	switch {
	case strings.TrimSpace(path) == "":
		return errors.New("names no file")
	case strings.Contains(path, "?"):
		return errors.New("the path must not contain '?' (SQLite options are not accepted; the store sets its own)")
	}
	return nil
}
