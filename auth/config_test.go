package auth

import (
	"testing"
	"time"
)

func TestCheckRefreshReuseGrace(t *testing.T) {
	for d, ok := range map[time.Duration]bool{
		0: true, 10 * time.Second: true, MaxRefreshReuseGrace: true,
		-time.Second: false, MaxRefreshReuseGrace + time.Nanosecond: false, 168 * time.Hour: false,
	} {
		if err := CheckRefreshReuseGrace(d); (err == nil) != ok {
			t.Errorf("CheckRefreshReuseGrace(%v) = %v, want ok %v", d, err, ok)
		}
	}
}

func TestCheckRefreshRateLimit(t *testing.T) {
	for n, ok := range map[int]bool{1: true, 20: true, MaxRefreshRateLimit: true, 0: false, -1: false, MaxRefreshRateLimit + 1: false} {
		if err := CheckRefreshRateLimit(n); (err == nil) != ok {
			t.Errorf("CheckRefreshRateLimit(%d) = %v, want ok %v", n, err, ok)
		}
	}
}
