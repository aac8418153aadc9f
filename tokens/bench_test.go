package tokens_test

import (
	"fmt"
	"runtime"
	"testing"
)

// go test -run '^$' -bench . -benchmem ./tokens/
// Figures and the machine: docs/PERFORMANCE.md.

func BenchmarkVerifyES256(b *testing.B) {
	for _, size := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("cache=%d", size), func(b *testing.B) {
			s := newCached(&testing.T{}, size, 0)
			token := s.issue(&testing.T{}, "sid-1")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.manager.Verify(token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifiedCacheMemory fills a cache with real tokens and reports
// the heap each entry takes (the token itself, held by the caller, not
// counted).
func BenchmarkVerifiedCacheMemory(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		s := newCached(&testing.T{}, n, 0)
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = s.issue(&testing.T{}, fmt.Sprintf("sid-%d", i))
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, token := range tokens {
			if _, err := s.manager.Verify(token); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/entry")
		runtime.KeepAlive(tokens)
		runtime.KeepAlive(s)
	}
}
