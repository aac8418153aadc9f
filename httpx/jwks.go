package httpx

// The JWKS cache of a gateway or service: the auth server's public keys,
// fetched over HTTP, kept while the auth server is down, refetched once the
// document's Cache-Control max-age has passed, and refetched early (at a
// bounded rate) when a token names a kid the cache does not hold, which is
// what a freshly rotated key looks like. It is written here rather than
// taken from keyfunc so that each key stays pinned to its own algorithm by
// the tokens package (one policy), and so that the clock and the
// background work are injected and the rules are tested without sleeping.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tokenflow/tokens"
)

// Bounds on how long a fetched JWKS is used before it is refetched,
// whatever its Cache-Control says: at least MinJWKSMaxAge, so a
// "max-age=0" document does not turn every request into a fetch; at most
// MaxJWKSMaxAge, so a revoked key cannot outlive an hour at a verifier.
const (
	MinJWKSMaxAge = time.Second
	MaxJWKSMaxAge = time.Hour
)

// maxJWKSBytes bounds a JWKS response body; ours is well under 2 KiB.
const maxJWKSBytes = 1 << 20

// JWKSConfig configures a JWKS cache.
type JWKSConfig struct {
	// URL is the JWKS document, e.g. AUTH_URL + "/.well-known/jwks.json".
	// Required.
	URL string

	// Client fetches the document.
	// Optional. Default value: an http.Client with a 3 s timeout.
	Client *http.Client

	// DefaultMaxAge is how long a document without a Cache-Control
	// max-age is used, within [MinJWKSMaxAge, MaxJWKSMaxAge].
	// Optional. Default value 5 minutes.
	DefaultMaxAge time.Duration

	// UnknownKidInterval is the least time between two fetches caused by
	// tokens naming a kid the cache does not hold. Between them, such
	// tokens are refused without a fetch of their own (at most after
	// waiting for a fetch already running): a flood of made-up kids costs
	// the auth server one request per interval.
	// Optional. Default value 10 seconds.
	UnknownKidInterval time.Duration

	// RetryInterval is how long a failed fetch keeps the cache from trying
	// again when its document is stale; the keys it holds keep verifying.
	// Optional. Default value 5 seconds.
	RetryInterval time.Duration

	// Now is the clock. Optional. Default value time.Now.
	Now func() time.Time

	// Go runs a background refetch. Optional. Default value: a goroutine.
	// Tests pass a function that runs it at once.
	Go func(func())

	// Logger receives a line per failed fetch (the URL and the cause).
	// Optional. Default value: discard.
	Logger *slog.Logger
}

// JWKS is a cache of published verification keys. It is safe for
// concurrent use.
type JWKS struct {
	cfg  JWKSConfig
	keys atomic.Pointer[tokens.VerificationKeys]

	mu          sync.Mutex
	fetching    bool          // one fetch at a time
	fetched     chan struct{} // closed when the fetch running ends
	staleAt     time.Time     // when the keys held are due for a refetch
	nextRetry   time.Time     // after a failure: no stale refetch before this
	lastUnknown time.Time     // the last fetch caused by an unknown kid
}

// NewJWKS checks cfg and returns an empty cache; the first Keys or Refresh
// fetches the document.
func NewJWKS(cfg JWKSConfig) (*JWKS, error) {
	if cfg.URL == "" {
		return nil, errors.New("httpx: JWKSConfig.URL is required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 3 * time.Second}
	}
	if cfg.DefaultMaxAge == 0 {
		cfg.DefaultMaxAge = 5 * time.Minute
	}
	cfg.DefaultMaxAge = clampMaxAge(cfg.DefaultMaxAge)
	if cfg.UnknownKidInterval <= 0 {
		cfg.UnknownKidInterval = 10 * time.Second
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Go == nil {
		cfg.Go = func(f func()) { go f() }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	j := &JWKS{cfg: cfg}
	j.keys.Store(tokens.NoVerificationKeys())
	return j, nil
}

// errFetchInFlight: another fetch is running; its result will do.
var errFetchInFlight = errors.New("httpx: a JWKS fetch is already running")

// Refresh fetches the document now (at start-up, say). On failure the keys
// held are kept and the error returned.
func (j *JWKS) Refresh(ctx context.Context) error {
	j.mu.Lock()
	if j.fetching {
		j.mu.Unlock()
		return errFetchInFlight
	}
	j.beginFetch()
	j.mu.Unlock()
	return j.fetch(ctx)
}

// beginFetch marks a fetch as running; j.mu is held. fetch ends it.
func (j *JWKS) beginFetch() {
	j.fetching = true
	j.fetched = make(chan struct{})
}

// Keys returns the keys held. When they are stale it starts one
// background refetch and still returns them: a slow or absent auth server
// never holds up a request that a held key can verify.
func (j *JWKS) Keys() *tokens.VerificationKeys {
	now := j.cfg.Now()
	j.mu.Lock()
	start := !j.fetching && !now.Before(j.staleAt) && !now.Before(j.nextRetry)
	if start {
		j.beginFetch()
	}
	j.mu.Unlock()
	if start {
		j.cfg.Go(func() { _ = j.fetch(context.Background()) })
	}
	return j.keys.Load()
}

// refetchForUnknownKid is what a token naming a kid the cache does not
// hold gets: when a fetch is running (often the stale refetch that the
// same token's lookup has just started) it waits for that one; otherwise
// it fetches the document now, unless a fetch for an unknown kid ran
// within UnknownKidInterval. It reports whether a fetch ended, so the
// caller tries the token once more. The wait is bounded by the fetch's
// own timeout and costs the auth server nothing.
func (j *JWKS) refetchForUnknownKid(ctx context.Context) bool {
	now := j.cfg.Now()
	j.mu.Lock()
	if j.fetching {
		fetched := j.fetched
		j.mu.Unlock()
		select {
		case <-fetched:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !j.lastUnknown.IsZero() && now.Sub(j.lastUnknown) < j.cfg.UnknownKidInterval {
		j.mu.Unlock()
		return false
	}
	j.beginFetch()
	j.lastUnknown = now
	j.mu.Unlock()
	return j.fetch(ctx) == nil
}

// fetch gets and parses the document, then replaces the keys held: a kid
// that left the document is dropped. The caller has set j.fetching.
func (j *JWKS) fetch(ctx context.Context) error {
	keys, maxAge, err := j.get(ctx)
	now := j.cfg.Now()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.fetching = false
	close(j.fetched)
	if err != nil {
		j.nextRetry = now.Add(j.cfg.RetryInterval)
		j.cfg.Logger.Warn("JWKS fetch failed; keeping the keys held", "url", j.cfg.URL, "error", err.Error())
		return err
	}
	j.keys.Store(keys)
	j.staleAt = now.Add(maxAge)
	j.nextRetry = time.Time{}
	return nil
}

func (j *JWKS) get(ctx context.Context) (*tokens.VerificationKeys, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.cfg.URL, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("JWKS answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("JWKS is larger than %d bytes", maxJWKSBytes)
	}
	keys, err := tokens.ParseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, j.maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge reads max-age from a Cache-Control value, bounded by
// [MinJWKSMaxAge, MaxJWKSMaxAge]; DefaultMaxAge when there is none.
// no-store and no-cache mean "ask again soon": MinJWKSMaxAge.
func (j *JWKS) maxAge(cacheControl string) time.Duration {
	age := j.cfg.DefaultMaxAge
	for _, directive := range strings.Split(cacheControl, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return MinJWKSMaxAge
		case "max-age":
			seconds, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
			if err != nil || seconds < 0 {
				continue
			}
			age = time.Duration(min(seconds, int64(MaxJWKSMaxAge/time.Second))) * time.Second
		}
	}
	return clampMaxAge(age)
}

func clampMaxAge(d time.Duration) time.Duration {
	return min(max(d, MinJWKSMaxAge), MaxJWKSMaxAge)
}

// Verifier returns a Verifier checking tokens against the cache's keys
// with the tokens package's rules (tokens.NewPublishedKeyVerifier). A
// token naming a kid the cache does not hold causes one early refetch
// (bounded by UnknownKidInterval) and one more try; a refetch already
// running when it arrives is waited for first, and when that one's
// document (asked for before the key was published, perhaps) lacks the
// kid too, the early refetch follows.
func (j *JWKS) Verifier(cfg tokens.VerifierConfig) (*JWKSVerifier, error) {
	v, err := tokens.NewPublishedKeyVerifier(j.Keys, cfg)
	if err != nil {
		return nil, err
	}
	return &JWKSVerifier{jwks: j, verifier: v}, nil
}

// JWKSVerifier is a Verifier over a JWKS cache.
type JWKSVerifier struct {
	jwks     *JWKS
	verifier *tokens.Verifier
}

var _ Verifier = (*JWKSVerifier)(nil)

// Verify checks token; see JWKS.Verifier. Errors are tokens.Verifier's.
func (v *JWKSVerifier) Verify(token string) (*tokens.Claims, error) {
	claims, err := v.verifier.Verify(token)
	// Twice at most: the first may only wait for a fetch in flight; the
	// second is then the early refetch (or, within UnknownKidInterval,
	// nothing).
	for range 2 {
		if !errors.Is(err, tokens.ErrUnknownKid) || !v.jwks.refetchForUnknownKid(context.Background()) {
			break
		}
		claims, err = v.verifier.Verify(token)
	}
	return claims, err
}
