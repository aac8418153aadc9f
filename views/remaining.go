package views

import (
	"strconv"
	"time"
)

// Remaining says how long until an instant, the way people say it: "in 7
// days", "in 2 hours 30 minutes", "in 4 minutes 10 seconds", or "expired".
// Seconds round up, as a countdown's do. Each unit comes only with the next
// smaller one, to which the rest is rounded: a fresh 168h session reads "in
// 7 days", not "in 167h 59m 59s".
//
// static/app.js (remainingText) follows the same rule for its countdowns;
// testdata/remaining.json holds the cases both are tested against.
func Remaining(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second) // round up
	if d <= 0 || secs <= 0 {
		return "expired"
	}
	const minute, hour, day = 60, 3600, 86400
	switch {
	case secs < minute:
		return "in " + units(secs, "second")
	case secs < hour:
		return "in " + units(secs/minute, "minute") + optionalUnits(secs%minute, "second")
	}
	if mins := (secs + minute/2) / minute; mins < day/minute {
		return "in " + units(mins/60, "hour") + optionalUnits(mins%60, "minute")
	}
	hours := (secs + hour/2) / hour
	return "in " + units(hours/24, "day") + optionalUnits(hours%24, "hour")
}

// RemainingAt is Remaining from now until at; "" for an unknown instant.
func RemainingAt(now, at time.Time) string {
	if at.IsZero() {
		return ""
	}
	return Remaining(at.Sub(now))
}

func units(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}

func optionalUnits(n int64, unit string) string {
	if n == 0 {
		return ""
	}
	return " " + units(n, unit)
}
