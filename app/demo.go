package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"tokenflow/password"
	"tokenflow/store"
)

// DemoUsername is the development account created on first start.
const DemoUsername = "demo"

// ensureDemoUser creates the demo account once, with a random password kept
// in DATA_DIR/demo-password (0600) so each start can print it again.
// Production never calls this.
func ensureDemoUser(ctx context.Context, st store.Store, h *password.Hasher, dataDir string, stdout io.Writer) error {
	path := filepath.Join(dataDir, "demo-password")
	_, err := st.UserByUsername(ctx, DemoUsername)
	switch {
	case err == nil:
		if b, rerr := os.ReadFile(path); rerr == nil {
			fmt.Fprintf(stdout, "demo account: username %q, password %q\n", DemoUsername, strings.TrimSpace(string(b)))
		}
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("looking up the demo account: %w", err)
	}
	pw, err := newDemoPassword(rand.Reader)
	if err != nil {
		return err
	}
	// On PostgreSQL nothing else creates the data folder; make it before
	// the account, so an account never exists without its saved password.
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("saving the demo password: %w", err)
	}
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		return err
	}
	if _, err := st.CreateUser(ctx, DemoUsername, hash); err != nil && !errors.Is(err, store.ErrUsernameTaken) {
		return fmt.Errorf("creating the demo account: %w", err)
	}
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("saving the demo password: %w", err)
	}
	fmt.Fprintf(stdout, "demo account created: username %q, password %q\n", DemoUsername, pw)
	return nil
}

// newDemoPassword draws 96 random bits as 16 base64url characters until
// they pass password.Check: the demo account obeys the policy the
// registration form enforces, even in the rare draw that spells "demo".
func newDemoPassword(random io.Reader) (string, error) {
	buf := make([]byte, 12)
	for range 10 {
		if _, err := io.ReadFull(random, buf); err != nil {
			return "", fmt.Errorf("demo password: %w", err)
		}
		pw := base64.RawURLEncoding.EncodeToString(buf)
		if password.Check(pw, DemoUsername) == nil {
			return pw, nil
		}
	}
	return "", errors.New("demo password: no random draw passed the password policy")
}
