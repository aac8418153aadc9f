package auth

import (
	"fmt"
	"time"
)

// MaxRefreshReuseGrace bounds Config.RefreshReuseGrace: the window only has
// to cover two tabs refreshing at once or a lost response, and inside it a
// replayed token goes undetected.
const MaxRefreshReuseGrace = time.Minute

// MaxRefreshRateLimit bounds Config.RefreshRateLimit. A browser refreshes
// about once per access-token lifetime (a few more with several tabs); far
// more than that is a script minting tokens and rows.
const MaxRefreshRateLimit = 60

// CheckRefreshReuseGrace says whether d is a usable grace window: zero (no
// grace, the strict setting) up to MaxRefreshReuseGrace.
func CheckRefreshReuseGrace(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%v is negative (0s is the strict setting: no grace)", d)
	}
	if d > MaxRefreshReuseGrace {
		return fmt.Errorf("%v is too long (at most %v): inside the window a replayed refresh token is not detected", d, MaxRefreshReuseGrace)
	}
	return nil
}

// CheckRefreshRateLimit says whether n refreshes per session per minute is
// a usable limit: 1 to MaxRefreshRateLimit.
func CheckRefreshRateLimit(n int) error {
	if n <= 0 {
		return fmt.Errorf("%d is not a positive number of refreshes per session per minute", n)
	}
	if n > MaxRefreshRateLimit {
		return fmt.Errorf("%d is too high (at most %d refreshes per session per minute)", n, MaxRefreshRateLimit)
	}
	return nil
}
