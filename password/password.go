// Package password hashes and verifies passwords with argon2id, storing them
// as PHC strings: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>; and Check
// decides which new passwords may be chosen at all.
//
// Every argon2 call takes m KiB of memory, so a Hasher bounds how many run at
// once: a flood of logins queues instead of exhausting memory. A call waits
// for a slot until its context ends, so callers bound the wait with a
// deadline (the handlers give it a few seconds, then answer 503): a context
// without one would let the queue grow without limit.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// MaxPasswordBytes is the longest password Hash and Verify accept. The
// length rules for people are Check's (MinLength, MaxLength); this only
// stops abuse, and a longer password is refused rather than silently
// truncated.
const MaxPasswordBytes = 4096

// Bounds on parameters, whether configured or read from a stored hash, so a
// corrupted or planted hash cannot make one Verify take gigabytes or minutes,
// and a zero-length key cannot match every password.
const (
	minSaltLength = 8
	maxSaltLength = 1024
	minKeyLength  = 16
	maxKeyLength  = 1024
	maxMemory     = 1 << 20 // KiB, 1 GiB
	maxIterations = 64
)

var (
	// ErrTooLong is returned for passwords longer than MaxPasswordBytes.
	ErrTooLong = errors.New("password: too long")
	// ErrMalformedHash is returned by Verify when the encoded hash is not an
	// argon2id PHC string with sane parameters.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrInvalidParams is returned by Hash when the Hasher's Params are out
	// of range.
	ErrInvalidParams = errors.New("password: invalid argon2id parameters")
)

// b64 is the PHC string encoding: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

// Params are argon2id parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32 // bytes
	KeyLength   uint32 // bytes
}

// DefaultParams returns OWASP's minimum recommendation for argon2id:
// 19 MiB, 2 iterations, 1 lane, 16-byte salt, 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

func (p Params) validate() error {
	switch {
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("iterations %d not in [1, %d]", p.Iterations, maxIterations)
	case p.Parallelism < 1:
		return errors.New("parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB not in [8*parallelism, %d]", p.Memory, maxMemory)
	case p.SaltLength < minSaltLength || p.SaltLength > maxSaltLength:
		return fmt.Errorf("salt length %d not in [%d, %d]", p.SaltLength, minSaltLength, maxSaltLength)
	case p.KeyLength < minKeyLength || p.KeyLength > maxKeyLength:
		return fmt.Errorf("key length %d not in [%d, %d]", p.KeyLength, minKeyLength, maxKeyLength)
	}
	return nil
}

// Hasher hashes and verifies passwords, running at most a fixed number of
// argon2 computations at a time. It is safe for concurrent use.
type Hasher struct {
	params   Params
	sem      chan struct{}
	inFlight atomic.Int64
	waiting  atomic.Int64 // calls queued for a slot
	// maxInFlight is the highest inFlight seen, for tests.
	maxInFlight atomic.Int64

	dummyOnce sync.Once
	dummy     string
}

// DefaultWorkers is how many argon2 computations run at once unless
// PASSWORD_HASH_WORKERS says otherwise: one fewer than the cores, at least
// one. A login flood then saturates all but one core, and pages (a
// signature check or a cache hit each) keep that one; the rest of the
// flood waits in the Hasher's queue, bounded by the caller's deadline.
func DefaultWorkers() int { return defaultWorkers(runtime.NumCPU()) }

func defaultWorkers(cores int) int { return max(1, cores-1) }

// NewHasher returns a Hasher that hashes new passwords with p and runs at
// most maxConcurrent argon2 computations at once (DefaultWorkers() when
// maxConcurrent <= 0). Out-of-range Params make Hash fail with
// ErrInvalidParams.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultWorkers()
	}
	return &Hasher{params: p, sem: make(chan struct{}, maxConcurrent)}
}

// InFlight returns how many argon2 computations are running now.
func (h *Hasher) InFlight() int { return int(h.inFlight.Load()) }

// Waiting returns how many calls are queued for a slot now (metrics: a
// queue that stays long means logins are about to answer busy).
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// Slots returns how many argon2 computations may run at once.
func (h *Hasher) Slots() int { return cap(h.sem) }

// Hash returns the PHC string of password with a new random salt. It returns
// ErrTooLong, ErrInvalidParams, or ctx's error if ctx ends while waiting for
// a free slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrTooLong
	}
	if err := h.params.validate(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidParams, err)
	}
	salt := make([]byte, h.params.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, a PHC string made by Hash
// with any parameters (so hashes made before a parameter change still
// verify). It returns ErrMalformedHash for an unparsable encoded, ErrTooLong,
// or ctx's error if ctx ends while waiting for a free slot.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	if len(password) > MaxPasswordBytes {
		return false, ErrTooLong
	}
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy does the work of a failed Verify against a hash with the
// Hasher's parameters. Call it when the username is unknown, so the response
// time does not tell whether the account exists.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	h.dummyOnce.Do(func() {
		// Random salt and key: nothing hashes to it, and no argon2 run is
		// needed to make it.
		p := h.params
		if p.validate() != nil {
			p = DefaultParams()
		}
		salt := make([]byte, p.SaltLength)
		key := make([]byte, p.KeyLength)
		_, _ = rand.Read(salt)
		_, _ = rand.Read(key)
		h.dummy = encode(p, salt, key)
	})
	_, _ = h.Verify(ctx, password, h.dummy)
}

// derive runs argon2id once a slot is free.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.waiting.Add(1)
	select {
	case h.sem <- struct{}{}:
		h.waiting.Add(-1)
	case <-ctx.Done():
		h.waiting.Add(-1)
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	n := h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	for {
		old := h.maxInFlight.Load()
		if n <= old || h.maxInFlight.CompareAndSwap(old, n) {
			break
		}
	}
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength), nil
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses a PHC string strictly: exactly the form encode writes.
func decode(encoded string) (Params, []byte, []byte, error) {
	fail := func(format string, args ...any) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return fail("want $argon2id$v=…$m=…,t=…,p=…$salt$hash")
	}
	if fields[1] != "argon2id" {
		return fail("algorithm %q, want argon2id", fields[1])
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("version %q, want v=%d", fields[2], argon2.Version)
	}
	settings := strings.Split(fields[3], ",")
	if len(settings) != 3 {
		return fail("parameters %q, want m=…,t=…,p=…", fields[3])
	}
	var values [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		digits, ok := strings.CutPrefix(settings[i], name+"=")
		// ParseUint accepts no sign or spaces; refuse leading zeros too, so
		// each hash has one spelling.
		if !ok || digits == "" || len(digits) > 1 && digits[0] == '0' {
			return fail("parameter %q, want %s=<number>", settings[i], name)
		}
		v, err := strconv.ParseUint(digits, 10, 32)
		if err != nil {
			return fail("parameter %q: %v", settings[i], err)
		}
		values[i] = v
	}
	if values[2] > 255 {
		return fail("parallelism %d over 255", values[2])
	}
	salt, err := b64.DecodeString(fields[4])
	if err != nil {
		return fail("salt: %v", err)
	}
	key, err := b64.DecodeString(fields[5])
	if err != nil {
		return fail("hash: %v", err)
	}
	p := Params{
		Memory:      uint32(values[0]),
		Iterations:  uint32(values[1]),
		Parallelism: uint8(values[2]),
		SaltLength:  uint32(len(salt)),
		KeyLength:   uint32(len(key)),
	}
	if err := p.validate(); err != nil {
		return fail("%v", err)
	}
	return p, salt, key, nil
}
