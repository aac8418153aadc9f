package main

// `loadtest seed` writes sessions straight into an SQLite file, with the
// store's own schema (store/sqlite.Open applies the migrations first), so
// a million sessions take a minute, not a million logins. Each is real: a
// user (the argon2id hash of -password), a session, its login event and
// a refresh token whose plaintext the load program can present; a random
// -sample of those plaintexts goes to -tokens-out for `-mode pages
// -refresh-tokens`. -dead adds sessions the cleanup job must delete (half
// idle-expired, half revoked past store.RevokedRetention), each an old
// session of one of the live users.
//
// `loadtest dbstat -db PATH` prints the rows, pages and bytes per live
// session; -cleanup first runs DeleteExpired in the app's batches until
// nothing is left to delete, -vacuum then VACUUMs. Run both with the
// server stopped. docs/PERFORMANCE.md section 4.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"tokenflow/password"
	"tokenflow/store"
	"tokenflow/store/sqlite"
	"tokenflow/tokens"
)

const maxSeed = 5_000_000

func runSeed(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loadtest seed", flag.ContinueOnError)
	path := fs.String("db", "", "SQLite file to seed (created with the store's schema if missing); the server must be stopped")
	n := fs.Int("n", 10_000, "live sessions to add, one user each")
	dead := fs.Int("dead", 0, "dead sessions to add besides: half idle-expired, half revoked past the retention")
	tokensOut := fs.String("tokens-out", "", "write the plaintext refresh tokens of -sample random live sessions here, one a line")
	sample := fs.Int("sample", 1000, "how many live sessions' tokens go to -tokens-out")
	pw := fs.String("password", "seeded password", "the seeded users' password (hashed once, with the default argon2id parameters)")
	databaseURL := fs.String("database-url", "", "seed this PostgreSQL database instead of -db (live sessions only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *path == "" && *databaseURL == "":
		return errors.New("-db or -database-url is required")
	case *databaseURL != "" && *dead > 0:
		return errors.New("-dead is for SQLite only")
	case *n < 0 || *dead < 0 || *n+*dead > maxSeed:
		return fmt.Errorf("-n %d -dead %d: want 0..%d sessions in all", *n, *dead, maxSeed)
	case *sample < 0 || *sample > *n:
		return fmt.Errorf("-sample %d: want 0..-n", *sample)
	}
	hash, err := password.NewHasher(password.DefaultParams(), 1).Hash(ctx, *pw)
	if err != nil {
		return err
	}
	if *databaseURL != "" {
		return seedPostgres(ctx, *databaseURL, *n, *sample, hash, *tokensOut, out)
	}
	st, err := sqlite.Open(*path) // the schema, by the store's own migrations
	if err != nil {
		return err
	}
	st.Close()
	// Straight to the file: one writer, no fsync until the end (a seed
	// that fails is thrown away), a 256 MiB page cache for the random
	// keys of the indexes, the connection's foreign keys on.
	db, err := sql.Open("sqlite", *path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=foreign_keys(1)&_pragma=cache_size(-262144)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	// Which live sessions' tokens are written out: a random sample.
	picked := map[int]bool{}
	for len(picked) < *sample {
		i, _ := rand.Int(rand.Reader, big.NewInt(int64(*n)))
		picked[int(i.Int64())] = true
	}
	var tokensFile *os.File
	if *tokensOut != "" {
		if tokensFile, err = os.OpenFile(*tokensOut, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		defer tokensFile.Close()
	}

	// Every seeded row shares one random prefix, so seeding twice into
	// one file adds rows instead of colliding.
	prefix := randomID()[:8]
	var liveUsers []string // with -dead: the users the dead sessions belong to
	start := time.Now()
	now := time.Now()
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	const batch = 20_000
	for lo := 0; lo < *n+*dead; lo += batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmts := make([]*sql.Stmt, 4)
		for i, q := range []string{
			`INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			`INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, user_agent, ip, revoked_at, revoke_reason)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			`INSERT INTO refresh_tokens (session_id, token_hash, created_at) VALUES (?, ?, ?)`,
			`INSERT INTO session_events (session_id, user_id, kind, at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)`,
		} {
			if stmts[i], err = tx.PrepareContext(ctx, q); err != nil {
				tx.Rollback()
				return err
			}
		}
		for i := lo; i < min(lo+batch, *n+*dead); i++ {
			created := now.Add(-time.Hour)
			idle, absolute := now.Add(7*24*time.Hour), created.Add(30*24*time.Hour)
			var revokedAt sql.NullInt64
			reason := ""
			switch {
			case i >= *n && (i-*n)%2 == 0: // idle-expired
				created = now.Add(-10 * 24 * time.Hour)
				idle, absolute = now.Add(-3*24*time.Hour), created.Add(30*24*time.Hour)
			case i >= *n: // revoked two days ago
				created = now.Add(-3 * 24 * time.Hour)
				revokedAt = sql.NullInt64{Int64: ms(now.Add(-store.RevokedRetention - 24*time.Hour)), Valid: true}
				reason = "logout"
			}
			userID, sessID := randomID(), randomID()
			if i >= *n && *n > 0 {
				// A dead session belongs to a live user, as an old
				// session of an account in use does: deleting it leaves
				// the account.
				userID = liveUsers[(i-*n)%*n]
			} else if *dead > 0 {
				liveUsers = append(liveUsers, userID)
			}
			username := fmt.Sprintf("seed-%s-%07d", prefix, i)
			token, tokenHash, err := tokens.NewRefreshToken()
			if err != nil {
				tx.Rollback()
				return err
			}
			ua, ip := seedUA, "127.0.0.1"
			rows := []struct {
				st   *sql.Stmt
				args []any
			}{
				{stmts[0], []any{userID, username, strings.ToLower(username), hash, ms(created)}},
				{stmts[1], []any{sessID, userID, ms(created), ms(created), ms(idle), ms(absolute), ua, ip, revokedAt, reason}},
				{stmts[2], []any{sessID, tokenHash, ms(created)}},
				{stmts[3], []any{sessID, userID, store.EventLogin, ms(created), ip, ua}},
			}
			if i >= *n && *n > 0 {
				rows = rows[1:] // the user exists
			}
			for _, e := range rows {
				if _, err := e.st.ExecContext(ctx, e.args...); err != nil {
					tx.Rollback()
					return fmt.Errorf("seed row %d: %w", i, err)
				}
			}
			if tokensFile != nil && i < *n && picked[i] {
				fmt.Fprintln(tokensFile, token)
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded %d live and %d dead sessions in %v\n", *n, *dead, time.Since(start).Round(time.Millisecond))
	return printDBStat(ctx, db, *path, out)
}

// randomID is shaped like the store's ids: 16 random bytes, base64url.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	s := sha256.Sum256(b) // spread, whatever the reader
	return base64.RawURLEncoding.EncodeToString(s[:16])
}

func runDBStat(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loadtest dbstat", flag.ContinueOnError)
	path := fs.String("db", "", "SQLite file (the server must be stopped)")
	cleanup := fs.Bool("cleanup", false, "first run the cleanup job's DeleteExpired, in its batches, until nothing is left")
	vacuum := fs.Bool("vacuum", false, "VACUUM before counting (after -cleanup)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("-db is required")
	}
	if _, err := os.Stat(*path); err != nil {
		return err
	}
	if *cleanup {
		st, err := sqlite.Open(*path)
		if err != nil {
			return err
		}
		start, total := time.Now(), 0
		for {
			n, err := st.DeleteExpired(ctx, 500) // app.cleanupBatch
			if err != nil {
				st.Close()
				return err
			}
			total += n
			if n < 500 {
				break
			}
		}
		st.Close()
		fmt.Fprintf(out, "cleanup: DeleteExpired removed %d sessions in %v\n", total, time.Since(start).Round(time.Millisecond))
	}
	db, err := sql.Open("sqlite", *path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	if *vacuum {
		if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
			return err
		}
		// VACUUM writes the new file through the WAL.
		if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return err
		}
	}
	return printDBStat(ctx, db, *path, out)
}

// printDBStat prints one table row: rows per table, pages, free pages, the
// file's size and the bytes per live session.
func printDBStat(ctx context.Context, db *sql.DB, path string, out io.Writer) error {
	count := func(q string, args ...any) (int64, error) {
		var n int64
		err := db.QueryRowContext(ctx, q, args...).Scan(&n)
		return n, err
	}
	now := time.Now().UnixMilli()
	var vals [7]int64
	var err error
	for i, q := range []string{
		`SELECT count(*) FROM sessions`,
		`SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND idle_expires_at > ?1 AND absolute_expires_at > ?1`,
		`SELECT count(*) FROM refresh_tokens`,
		`SELECT count(*) FROM session_events`,
		`SELECT count(*) FROM users`,
		`PRAGMA page_count`,
		`PRAGMA freelist_count`,
	} {
		args := []any{}
		if strings.Contains(q, "?1") {
			args = append(args, now)
		}
		if vals[i], err = count(q, args...); err != nil {
			return err
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	var wal int64
	if w, err := os.Stat(path + "-wal"); err == nil {
		wal = w.Size()
	}
	perSession := "-"
	if vals[1] > 0 {
		perSession = fmt.Sprintf("%.0f", float64(fi.Size())/float64(vals[1]))
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sessions\tlive\ttokens\tevents\tusers\tpages\tfree pages\tfile bytes\twal bytes\tbytes/live session\t")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], fi.Size(), wal, perSession)
	return tw.Flush()
}
