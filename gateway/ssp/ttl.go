package ssp

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ttlUnits are the units a view's ttl may use: SurrealQL's duration units
// (the sp00ky clients store the ttl as a SurrealQL duration), Go's, and the
// spellings of Rust's humantime, which the original parses it with.
var ttlUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "nsec": time.Nanosecond,
	"us": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond, "usec": time.Microsecond,
	"ms": time.Millisecond, "msec": time.Millisecond, "millis": time.Millisecond,
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"y": 365 * 24 * time.Hour, "year": 365 * 24 * time.Hour, "years": 365 * 24 * time.Hour,
}

var errTTL = errors.New(`a duration such as "30s", "5m", "1h30m" or "2d" is required`)

// parseTTL parses a view's ttl: one or more numbers, each with its unit
// ("1h30m", "1.5h", "2 days 3h"). It must be more than zero.
func parseTTL(s string) (time.Duration, error) {
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, errTTL
	}
	var total float64
	for rest != "" {
		n := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if n <= 0 {
			return 0, errTTL
		}
		v, err := strconv.ParseFloat(rest[:n], 64)
		if err != nil {
			return 0, errTTL
		}
		rest = strings.TrimLeft(rest[n:], " ")
		u := strings.IndexFunc(rest, func(r rune) bool { return r == ' ' || r == '.' || r >= '0' && r <= '9' })
		if u < 0 {
			u = len(rest)
		}
		unit, ok := ttlUnits[rest[:u]]
		if !ok {
			return 0, errTTL
		}
		total += v * float64(unit)
		rest = strings.TrimLeft(rest[u:], " ")
	}
	if total >= math.MaxInt64 {
		return 0, errors.New("the duration is too long")
	}
	if total < float64(time.Millisecond) {
		return 0, errors.New("the duration must be at least 1ms")
	}
	return time.Duration(total), nil
}
