package tokens_test

import (
	"fmt"
	"time"

	"tokenflow/tokens"
)

func ExampleManager() {
	issuedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := issuedAt
	m, err := tokens.NewManager(tokens.Config{
		Secret:   []byte("example-secret-of-at-least-32-bytes"),
		Issuer:   "tokenflow",
		Audience: "tokenflow",
		TTL:      5 * time.Minute,
		Now:      func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	token, _, err := m.Issue("42", "ada", "session-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	claims, err := m.Verify(token)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.Username, claims.Subject, claims.SessionID)
	fmt.Println("expires after", claims.ExpiresAt.Sub(claims.IssuedAt.Time))

	now = issuedAt.Add(6 * time.Minute)
	_, err = m.Verify(token)
	fmt.Println("six minutes later, expired:", tokens.Expired(err))
	// Output:
	// ada 42 session-1
	// expires after 5m0s
	// six minutes later, expired: true
}
