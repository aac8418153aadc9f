package testkit

import (
	"sync/atomic"
	"time"
)

// Clock is a clock the test moves: a fixed start (NewClock) or the wall
// clock (WallClock), plus what Advance added. It is safe for concurrent
// use, so a server's goroutines may read it while the test moves it.
type Clock struct {
	start  time.Time // zero: the wall clock
	offset atomic.Int64
}

// NewClock stands at start until Advance moves it.
func NewClock(start time.Time) *Clock { return &Clock{start: start} }

// WallClock runs with the wall clock, ahead of it by what Advance added:
// a server's time jumps while the test's timeouts keep real time.
func WallClock() *Clock { return &Clock{} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	base := c.start
	if base.IsZero() {
		base = time.Now()
	}
	return base.Add(time.Duration(c.offset.Load()))
}

// Advance moves the clock by d (back, when d is negative).
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
