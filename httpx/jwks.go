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

	// UnknownKidWait is how long a token naming a kid the cache does not
	// hold waits, at most, for the fetch that may bring it (less when the
	// request ends first); then it is refused as unknown and the fetch
	// goes on for the requests after it. It bounds what a flood of
	// made-up kids can hold while the auth server is slow.
	// Optional. Default value 1 second.
	UnknownKidWait time.Duration

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

	started atomic.Uint64 // fetches begun so far; the running one's seq

	mu          sync.Mutex
	running     *fetchRun // the fetch running (one at a time), or nil
	ended       *fetchRun // the last fetch that ended, or nil
	staleAt     time.Time // when the keys held are due for a refetch
	nextRetry   time.Time // after a failure: no stale refetch before this
	lastUnknown time.Time // the last fetch caused by an unknown kid
}

// fetchRun is one fetch: seq is its place among the fetches begun; err
// is its outcome, written before done closes.
type fetchRun struct {
	seq  uint64
	done chan struct{}
	err  error
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
	if cfg.UnknownKidWait <= 0 {
		cfg.UnknownKidWait = time.Second
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
	if j.running != nil {
		j.mu.Unlock()
		return errFetchInFlight
	}
	run := j.beginFetch()
	j.mu.Unlock()
	return j.fetch(ctx, run)
}

// beginFetch marks a fetch as running; j.mu is held. fetch ends it.
func (j *JWKS) beginFetch() *fetchRun {
	j.running = &fetchRun{seq: j.started.Add(1), done: make(chan struct{})}
	return j.running
}

// Keys returns the keys held. When they are stale it starts one
// background refetch and still returns them: a slow or absent auth server
// never holds up a request that a held key can verify.
func (j *JWKS) Keys() *tokens.VerificationKeys {
	now := j.cfg.Now()
	j.mu.Lock()
	var run *fetchRun
	if j.running == nil && !now.Before(j.staleAt) && !now.Before(j.nextRetry) {
		run = j.beginFetch()
	}
	j.mu.Unlock()
	if run != nil {
		j.cfg.Go(func() { _ = j.fetch(context.Background(), run) })
	}
	return j.keys.Load()
}

// fetchForUnknownKid is the fetch a token naming a kid the cache does
// not hold, arrived when arrived fetches had begun, may wait for: the one
// running (often the stale refetch that the same token's lookup has just
// started); else the last one to end, when it began after the token
// arrived (its outcome settles the token); else an early refetch started
// in the background, unless the last fetch failed less than RetryInterval
// ago or a fetch for an unknown kid began within UnknownKidInterval; nil
// then. The early refetch runs with its own context and timeout, so it goes
// on for the requests after one that stops waiting.
func (j *JWKS) fetchForUnknownKid(arrived uint64) *fetchRun {
	now := j.cfg.Now()
	j.mu.Lock()
	if run := j.running; run != nil {
		j.mu.Unlock()
		return run
	}
	if run := j.ended; run != nil && run.seq > arrived {
		j.mu.Unlock()
		return run
	}
	if now.Before(j.nextRetry) || !j.lastUnknown.IsZero() && now.Sub(j.lastUnknown) < j.cfg.UnknownKidInterval {
		j.mu.Unlock()
		return nil
	}
	run := j.beginFetch()
	j.lastUnknown = now
	j.mu.Unlock()
	j.cfg.Go(func() { _ = j.fetch(context.Background(), run) })
	return run
}

// errFetchAborted is the outcome of a fetch that ended without one (it
// panicked).
var errFetchAborted = errors.New("httpx: the JWKS fetch ended without an answer")

// fetch gets and parses the document, then replaces the keys held: a kid
// that left the document is dropped. The caller has begun run. The fetch
// ends in a deferred call set before the request, so even a panic (in a
// custom Client's transport, say) ends it: a fetch left running forever
// would keep every later refetch from starting, and a key that left the
// JWKS would keep verifying.
func (j *JWKS) fetch(ctx context.Context, run *fetchRun) error {
	var (
		keys   *tokens.VerificationKeys
		maxAge time.Duration
		err    = errFetchAborted
	)
	defer func() { j.endFetch(run, keys, maxAge, err) }()
	keys, maxAge, err = j.get(ctx)
	return err
}

// endFetch records how run ended and wakes whoever waits for it.
func (j *JWKS) endFetch(run *fetchRun, keys *tokens.VerificationKeys, maxAge time.Duration, err error) {
	now := j.cfg.Now()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.running, j.ended = nil, run
	run.err = err
	close(run.done)
	if err != nil {
		j.nextRetry = now.Add(j.cfg.RetryInterval)
		j.cfg.Logger.Warn("JWKS fetch failed; keeping the keys held", "url", j.cfg.URL, "error", err.Error())
		return
	}
	j.keys.Store(keys)
	j.staleAt = now.Add(maxAge)
	j.nextRetry = time.Time{}
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
// token naming a kid the cache does not hold waits, at most UnknownKidWait
// and never past its request's end, for a fetch: the one running, else an
// early refetch (at most one per UnknownKidInterval, none within
// RetryInterval of a failure); then it is tried once more. When the
// awaited fetch had begun before the token arrived (its document asked for
// before the key was published, perhaps) and lacks the kid, the early
// refetch follows within the same wait; a failed fetch, or one begun after
// the token arrived, settles it.
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

var _ ContextVerifier = (*JWKSVerifier)(nil)

// Verify checks token; see JWKS.Verifier. Errors are tokens.Verifier's.
func (v *JWKSVerifier) Verify(token string) (*tokens.Claims, error) {
	return v.VerifyContext(context.Background(), token)
}

// VerifyContext is Verify whose wait for a JWKS fetch also ends with ctx
// (the request's: a client that went away stops waiting).
func (v *JWKSVerifier) VerifyContext(ctx context.Context, token string) (*tokens.Claims, error) {
	arrived := v.jwks.started.Load() // fetches with a greater seq were asked for after the token arrived
	claims, err := v.verifier.Verify(token)
	if !errors.Is(err, tokens.ErrUnknownKid) {
		return claims, err
	}
	wait := time.NewTimer(v.jwks.cfg.UnknownKidWait)
	defer wait.Stop()
	// Twice at most, within one wait: only a fetch begun before the token
	// arrived is followed by another, and any fetch after it began later.
	for range 2 {
		run := v.jwks.fetchForUnknownKid(arrived)
		if run == nil {
			return claims, err
		}
		select {
		case <-run.done:
		case <-wait.C:
			return claims, err
		case <-ctx.Done():
			return claims, err
		}
		if run.err != nil {
			return claims, err
		}
		claims, err = v.verifier.Verify(token)
		if !errors.Is(err, tokens.ErrUnknownKid) || run.seq > arrived {
			return claims, err
		}
	}
	return claims, err
}
