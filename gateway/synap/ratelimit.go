package synap

import (
	"hash/maphash"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Buckets are spread over shards, so that concurrent requests seldom wait
// on one lock; a shard keeps at most its share of --rate-clients.
const limiterShards = 16

// rateLimiter is a token bucket per client (an API key, or an IP address
// when no key is configured): a bucket holds up to burst tokens, refills at
// rate tokens a second, and each request takes one.
//
// Memory is bounded without a sweeper: a bucket that has refilled to burst
// answers exactly as a missing one would, so a full shard first forgets its
// full buckets. Only when that frees less than an eighth of the shard (more
// clients active at once than it holds) does it forget arbitrary others,
// which then start again from a full bucket: the limiter errs towards
// letting requests through, never towards refusing them.
type rateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time
	seed  maphash.Seed
	// perShard bounds a shard's buckets: the limiter's memory.
	perShard int
	shards   [limiterShards]limiterShard
}

type limiterShard struct {
	mu      sync.Mutex
	buckets map[string]bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// newRateLimiter returns a limiter of rate requests a second with bursts of
// burst (one second's worth when 0) that keeps the buckets of about
// clients clients, or nil when rate is 0: no limit.
func newRateLimiter(rate float64, burst, clients int, now func() time.Time) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	b := float64(burst)
	if burst <= 0 {
		b = math.Max(1, math.Ceil(rate))
	}
	l := &rateLimiter{rate: rate, burst: b, now: now, seed: maphash.MakeSeed(), perShard: max(clients/limiterShards, 8)}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]bucket)
	}
	return l
}

// rateVerdict is the limiter's answer to one request.
type rateVerdict struct {
	ok         bool
	limit      int64 // the bucket's size
	remaining  int64 // whole tokens left
	reset      int64 // unix seconds when the bucket is full again
	retryAfter int64 // seconds until the next token, when !ok
}

// take takes a token from the client's bucket.
func (l *rateLimiter) take(client string) rateVerdict {
	now := l.now()
	sh := &l.shards[maphash.String(l.seed, client)%limiterShards]
	sh.mu.Lock()
	b, ok := sh.buckets[client]
	if ok {
		b.tokens = l.refill(b, now)
	} else {
		if len(sh.buckets) >= l.perShard {
			l.makeRoom(sh, now)
		}
		b.tokens = l.burst
	}
	b.at = now
	v := rateVerdict{limit: int64(l.burst)}
	if b.tokens >= 1 {
		b.tokens--
		v.ok = true
	} else {
		v.retryAfter = int64(math.Ceil((1 - b.tokens) / l.rate))
	}
	sh.buckets[client] = b
	sh.mu.Unlock()

	v.remaining = int64(b.tokens)
	full := now.Add(time.Duration((l.burst - b.tokens) / l.rate * float64(time.Second)))
	v.reset = full.Unix()
	if full.Nanosecond() > 0 {
		v.reset++
	}
	return v
}

// refill returns b's tokens at now.
func (l *rateLimiter) refill(b bucket, now time.Time) float64 {
	return math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
}

// makeRoom frees at least an eighth of a full shard.
func (l *rateLimiter) makeRoom(sh *limiterShard, now time.Time) {
	for k, b := range sh.buckets {
		if l.refill(b, now) >= l.burst {
			delete(sh.buckets, k)
		}
	}
	for k := range sh.buckets {
		if len(sh.buckets) <= l.perShard*7/8 {
			break
		}
		delete(sh.buckets, k)
	}
}

// setHeaders reports the verdict in a response's headers.
func (v rateVerdict) setHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.FormatInt(v.limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(v.remaining, 10))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(v.reset, 10))
	if !v.ok {
		h.Set("Retry-After", strconv.FormatInt(v.retryAfter, 10))
	}
}

// err is the answer to a request refused: 429, worded as in the spec.
func (v rateVerdict) err() *apiError {
	ae := errorf(http.StatusTooManyRequests, codeRateLimited, "Rate limit exceeded. Try again in %d seconds.", v.retryAfter)
	ae.details = []detail{{"retry_after_secs", v.retryAfter}}
	return ae
}
