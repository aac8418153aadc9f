package password

import (
	"context"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testParams keep most tests fast; TestDefaultParams runs the real ones.
var testParams = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newTestHasher(t *testing.T) *Hasher {
	t.Helper()
	return NewHasher(testParams, 2)
}

func mustHash(t *testing.T, h *Hasher, password string) string {
	t.Helper()
	encoded, err := h.Hash(context.Background(), password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return encoded
}

func TestHashVerify(t *testing.T) {
	h := newTestHasher(t)
	encoded := mustHash(t, h, "correct horse battery staple")
	other := NewHasher(Params{Memory: 8192, Iterations: 1, Parallelism: 2, SaltLength: 8, KeyLength: 16}, 1)
	otherEncoded := mustHash(t, other, "correct horse battery staple")

	tests := []struct {
		name     string
		password string
		encoded  string
		want     bool
	}{
		{"ok, right password", "correct horse battery staple", encoded, true},
		{"ok, hash made with other params (m=8192,t=1,p=2)", "correct horse battery staple", otherEncoded, true},
		{"ok, empty password hashed", "", mustHash(t, h, ""), true},
		{"ok, longest password", strings.Repeat("x", MaxPasswordBytes), mustHash(t, h, strings.Repeat("x", MaxPasswordBytes)), true},
		{"nok, wrong password", "Correct horse battery staple", encoded, false},
		{"nok, empty password", "", encoded, false},
		{"nok, prefix of the password", "correct horse", encoded, false},
		{"nok, wrong password against other params", "wrong", otherEncoded, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.Verify(context.Background(), tc.password, tc.encoded)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHashSalted(t *testing.T) {
	h := newTestHasher(t)
	a, b := mustHash(t, h, "same password"), mustHash(t, h, "same password")
	if a == b {
		t.Fatalf("two hashes of the same password are equal: %s", a)
	}
}

func TestHashPHCFormat(t *testing.T) {
	h := newTestHasher(t)
	encoded := mustHash(t, h, "pw")
	const prefix = "$argon2id$v=19$m=64,t=1,p=1$"
	if !strings.HasPrefix(encoded, prefix) {
		t.Fatalf("hash %q does not start with %q", encoded, prefix)
	}
	if strings.Contains(encoded, "=$") || strings.HasSuffix(encoded, "=") {
		t.Errorf("hash %q has base64 padding", encoded)
	}
	fields := strings.Split(strings.TrimPrefix(encoded, prefix), "$")
	if len(fields) != 2 {
		t.Fatalf("want salt$hash after the parameters, got %q", fields)
	}
	for i, want := range []int{int(testParams.SaltLength), int(testParams.KeyLength)} {
		b, err := base64.RawStdEncoding.Strict().DecodeString(fields[i])
		if err != nil || len(b) != want {
			t.Errorf("field %q: %d bytes, err %v; want %d bytes", fields[i], len(b), err, want)
		}
	}
	p, _, _, err := decode(encoded)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if p != testParams {
		t.Errorf("decoded params %+v, want %+v", p, testParams)
	}
}

func TestDefaultParams(t *testing.T) {
	if got, want := DefaultParams(), (Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}); got != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", got, want)
	}
	h := NewHasher(DefaultParams(), 0)
	encoded := mustHash(t, h, "hunter2")
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q", encoded)
	}
	if ok, err := h.Verify(context.Background(), "hunter2", encoded); err != nil || !ok {
		t.Errorf("Verify = %v, %v; want true", ok, err)
	}
	if ok, err := h.Verify(context.Background(), "hunter3", encoded); err != nil || ok {
		t.Errorf("Verify wrong password = %v, %v; want false", ok, err)
	}
	if n := cap(h.sem); n < 1 {
		t.Errorf("maxConcurrent 0 gave a semaphore of %d", n)
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newTestHasher(t)
	valid := mustHash(t, h, "pw")
	fields := strings.Split(valid, "$") // "", argon2id, v=19, m=…, salt, hash
	salt, key := fields[4], fields[5]
	with := func(params, s, k string) string { return "$argon2id$v=19$" + params + "$" + s + "$" + k }
	tests := []struct{ name, encoded string }{
		{"nok, empty", ""},
		{"nok, plain text", "pw"},
		{"nok, bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"nok, argon2i", strings.Replace(valid, "argon2id", "argon2i", 1)},
		{"nok, argon2d", strings.Replace(valid, "argon2id", "argon2d", 1)},
		{"nok, version 16", strings.Replace(valid, "v=19", "v=16", 1)},
		{"nok, version missing", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"nok, no leading dollar", strings.TrimPrefix(valid, "$")},
		{"nok, extra field", valid + "$x"},
		{"nok, params out of order", with("t=1,m=64,p=1", salt, key)},
		{"nok, param missing", with("m=64,t=1", salt, key)},
		{"nok, extra param", with("m=64,t=1,p=1,x=2", salt, key)},
		{"nok, param not a number", with("m=abc,t=1,p=1", salt, key)},
		{"nok, param signed", with("m=+64,t=1,p=1", salt, key)},
		{"nok, param negative", with("m=64,t=-1,p=1", salt, key)},
		{"nok, param with space", with("m=64, t=1,p=1", salt, key)},
		{"nok, param leading zero", with("m=064,t=1,p=1", salt, key)},
		{"nok, param empty", with("m=,t=1,p=1", salt, key)},
		{"nok, param over uint32", with("m=4294967296,t=1,p=1", salt, key)},
		{"nok, zero iterations", with("m=64,t=0,p=1", salt, key)},
		{"nok, zero parallelism", with("m=64,t=1,p=0", salt, key)},
		{"nok, parallelism over 255", with("m=4096,t=1,p=256", salt, key)},
		{"nok, memory below 8 per lane", with("m=15,t=1,p=2", salt, key)},
		{"nok, memory over 1 GiB", with("m=4194304,t=1,p=1", salt, key)},
		{"nok, iterations absurd", with("m=64,t=100000,p=1", salt, key)},
		{"nok, empty hash", with("m=64,t=1,p=1", salt, "")},
		{"nok, hash too short", with("m=64,t=1,p=1", salt, key[:10])},
		{"nok, empty salt", with("m=64,t=1,p=1", "", key)},
		{"nok, salt too short", with("m=64,t=1,p=1", salt[:8], key)},
		{"nok, padded salt", with("m=64,t=1,p=1", salt+"==", key)},
		{"nok, url alphabet in hash", with("m=64,t=1,p=1", salt, strings.NewReplacer("+", "-", "/", "_").Replace(key)+"-")},
		{"nok, invalid characters", with("m=64,t=1,p=1", salt, "!!!!"+key[4:])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), "pw", tc.encoded)
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify(%q) = %v, %v; want ErrMalformedHash", tc.encoded, ok, err)
			}
			if ok {
				t.Error("Verify returned true with an error")
			}
		})
	}
}

func TestTooLong(t *testing.T) {
	h := newTestHasher(t)
	long := strings.Repeat("x", MaxPasswordBytes+1)
	if _, err := h.Hash(context.Background(), long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash error = %v, want ErrTooLong", err)
	}
	if ok, err := h.Verify(context.Background(), long, mustHash(t, h, long[:MaxPasswordBytes])); !errors.Is(err, ErrTooLong) || ok {
		t.Errorf("Verify = %v, %v; want false, ErrTooLong (no truncation)", ok, err)
	}
}

func TestInvalidParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"nok, zero params", Params{}},
		{"nok, zero key length", Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16}},
		{"nok, short salt", Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 4, KeyLength: 32}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewHasher(tc.p, 1).Hash(context.Background(), "pw"); !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Hash error = %v, want ErrInvalidParams", err)
			}
		})
	}
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	h := NewHasher(testParams, 1)
	encoded := mustHash(t, h, "pw")
	h.sem <- struct{}{} // the only slot is taken
	defer func() { <-h.sem }()

	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() {
		_, err := h.Hash(ctx, "pw")
		errs <- err
	}()
	go func() {
		_, err := h.Verify(ctx, "pw", encoded)
		errs <- err
	}()
	cancel()
	wantCanceled(t, errs, 2)
	if n := h.InFlight(); n != 0 {
		t.Errorf("InFlight() = %d after cancelled calls", n)
	}
}

// wantCanceled reads n results of calls whose context was cancelled.
func wantCanceled(t *testing.T, errs <-chan error, n int) {
	t.Helper()
	for range n {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	}
}

func TestContextAlreadyDone(t *testing.T) {
	h := newTestHasher(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash error = %v, want context.DeadlineExceeded", err)
	}
}

func TestConcurrencyBounded(t *testing.T) {
	const limit, callers = 3, 20
	// Enough memory that calls overlap.
	h := NewHasher(Params{Memory: 2048, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, limit)
	encoded := mustHash(t, h, "pw")
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if i%2 == 0 {
				if _, err := h.Hash(context.Background(), "pw"); err != nil {
					t.Error(err)
				}
				return
			}
			if ok, err := h.Verify(context.Background(), "pw", encoded); err != nil || !ok {
				t.Errorf("Verify = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	t.Logf("most argon2 runs at once: %d (limit %d)", h.maxInFlight.Load(), limit)
	if got := h.maxInFlight.Load(); got < 1 || got > limit {
		t.Errorf("at most %d argon2 runs at once, want between 1 and %d", got, limit)
	}
	if n := h.InFlight(); n != 0 {
		t.Errorf("InFlight() = %d after all calls returned", n)
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newTestHasher(t)
	h.VerifyDummy(context.Background(), "anything")
	first := h.dummy
	p, _, _, err := decode(first)
	if err != nil {
		t.Fatalf("dummy hash %q: %v", first, err)
	}
	if p != testParams {
		t.Errorf("dummy hash params %+v, want the Hasher's %+v", p, testParams)
	}
	h.VerifyDummy(context.Background(), "anything else")
	if h.dummy != first {
		t.Error("dummy hash was made twice")
	}
	if h.maxInFlight.Load() == 0 {
		t.Error("VerifyDummy ran no argon2 computation")
	}
	// Must not block or panic with a cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.VerifyDummy(ctx, "x")
}

// The three benchmarks use DefaultParams; VerifyDummy should cost the same as
// Verify (compare their ns/op), which is its whole purpose.
func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams(), 0)
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(DefaultParams(), 0)
	encoded, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := h.Verify(context.Background(), "wrong password", encoded); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDummy(b *testing.B) {
	h := NewHasher(DefaultParams(), 0)
	h.VerifyDummy(context.Background(), "warm up")
	for b.Loop() {
		h.VerifyDummy(context.Background(), "wrong password")
	}
}

// Hashing keeps a core free for pages: fewer workers than cores, at least one.
func TestDefaultWorkersLeaveACoreFree(t *testing.T) {
	for _, tc := range []struct{ cores, want int }{{1, 1}, {2, 1}, {4, 3}, {16, 15}} {
		if got := defaultWorkers(tc.cores); got != tc.want {
			t.Errorf("defaultWorkers(%d) = %d, want %d", tc.cores, got, tc.want)
		}
	}
	if n := cap(NewHasher(DefaultParams(), 0).sem); n != DefaultWorkers() {
		t.Errorf("NewHasher(_, 0) runs %d at once, want DefaultWorkers() = %d", n, DefaultWorkers())
	}
}

// The queue the metrics show: calls waiting for a slot are counted while
// they wait and no longer once they give up (or get one).
func TestWaitingCountsTheQueue(t *testing.T) {
	h := NewHasher(testParams, 1)
	if h.Slots() != 1 {
		t.Fatalf("Slots() = %d", h.Slots())
	}
	mustHash(t, h, "pw") // a call that gets a slot at once is never counted
	if n := h.Waiting(); n != 0 {
		t.Fatalf("Waiting() = %d after a free slot", n)
	}
	h.sem <- struct{}{} // the only slot is taken
	defer func() { <-h.sem }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	for range 3 {
		go func() { _, err := h.Hash(ctx, "pw"); done <- err }()
	}
	for h.Waiting() != 3 { // the goroutines queue up; no timing asserted
		runtime.Gosched()
	}
	cancel()
	wantCanceled(t, done, 3)
	if n := h.Waiting(); n != 0 {
		t.Errorf("Waiting() = %d after they gave up, want 0", n)
	}
}
