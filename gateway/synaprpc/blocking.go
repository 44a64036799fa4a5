package synaprpc

import (
	"context"
	"errors"
	"os"
	"time"
)

// The blocking pops, as the original's: BLPOP and BRPOP key [key ...]
// timeout -> [key, value], BRPOPLPUSH source destination timeout -> the
// value, BZPOPMIN and BZPOPMAX key [key ...] timeout -> [key, member,
// score]; Null when timeout (seconds, 0: no end) passes with nothing to pop.
// Each look is the data door's own pop (list.lpop, list.rpoplpush,
// sortedset.zpopmin ...), so type checks, the journal and durability are
// the HTTP door's. Between looks the command sleeps until the keyspace says
// a write may have given one of its keys something (the same waiters the
// Redis door's blocking pops use), the client goes away, or the server
// closes. The connection's later commands wait meanwhile: its commands run
// one at a time, in order, as on the original.

var blockingNatives = map[string]nativeFunc{
	"BLPOP":    blockingPop("list.lpop", false),
	"BRPOP":    blockingPop("list.rpop", false),
	"BZPOPMIN": blockingPop("sortedset.zpopmin", true),
	"BZPOPMAX": blockingPop("sortedset.zpopmax", true),
	"BRPOPLPUSH": func(c *conn, _ context.Context, a argv) (any, string) {
		if len(a) != 3 {
			return nil, "ERR wrong number of arguments for 'BRPOPLPUSH'"
		}
		src, e := a.str(0)
		if e != "" {
			return nil, e
		}
		dst, e := a.str(1)
		if e != "" {
			return nil, e
		}
		timeout, e := blockTimeout(a, 2)
		if e != "" {
			return nil, e
		}
		return c.block(timeout, []string{src}, func(ctx context.Context) (any, bool, string) {
			rep, e := c.exec(ctx, "list.rpoplpush", obj{"source": src, "destination": dst})
			if e != "" || rep["value"] == nil {
				return nil, false, e
			}
			return text(rep["value"]), true, ""
		})
	},
}

// blockingPop is BLPOP, BRPOP (zset false) or BZPOPMIN, BZPOPMAX: the keys
// are looked at in the order given, the first with something answers.
func blockingPop(cmd string, zset bool) nativeFunc {
	return func(c *conn, _ context.Context, a argv) (any, string) {
		if len(a) < 2 {
			return nil, "ERR wrong number of arguments for blocking pop"
		}
		keys, e := a[:len(a)-1].strs(0)
		if e != "" {
			return nil, e
		}
		timeout, e := blockTimeout(a, len(a)-1)
		if e != "" {
			return nil, e
		}
		return c.block(timeout, keys, func(ctx context.Context) (any, bool, string) {
			for _, k := range keys {
				rep, e := c.exec(ctx, cmd, obj{"key": k, "count": 1})
				if e != "" {
					return nil, false, e
				}
				if zset {
					if ms := scored(rep["members"], true); len(ms) == 2 {
						return []any{k, ms[0], ms[1]}, true, ""
					}
				} else if vs := texts(rep["values"]); len(vs) > 0 {
					return []any{k, vs[0]}, true, ""
				}
			}
			return nil, false, ""
		})
	}
}

// blockTimeout reads a blocking pop's timeout in seconds (a fraction is
// taken too, as Redis does); 0 is no end.
func blockTimeout(a argv, i int) (time.Duration, string) {
	f, e := a.float(i)
	switch {
	case e != "":
		return 0, "ERR timeout is not a float or out of range"
	case f < 0:
		return 0, "ERR timeout is negative"
	case f > 1e9:
		return 0, "ERR timeout is out of range"
	}
	return time.Duration(f * float64(time.Second)), ""
}

// block runs try until it finds something, sleeping between tries until
// a write may have given one of keys something, timeout passes (0: none),
// the client goes away or the connection closes; then Null. Each try runs
// under --request-timeout; the wait itself may be longer. Registered
// before the first look, so that a push between a look and the sleep is
// not missed.
func (c *conn) block(timeout time.Duration, keys []string, try func(ctx context.Context) (any, bool, string)) (any, string) {
	attempt := func() (any, bool, string) {
		ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
		defer cancel()
		return try(ctx)
	}
	if c.s.b.Waits == nil {
		v, _, e := attempt()
		return v, e
	}
	wt := c.s.b.Waits.WaitWrite(keys)
	defer wt.Stop()
	var v any
	var e string
	answered := func() bool {
		var found bool
		v, found, e = attempt()
		return found || e != ""
	}
	if answered() {
		return v, e
	}
	gone, stop := c.watchPeer()
	defer stop()
	// A try that finds nothing leaves v nil and e empty: Null.
	wt.Until(c.ctx, timeout, gone, answered)
	return v, e
}

// watchPeer watches the socket of a blocked client, whose reader is
// blocked in the command: gone is closed when the client goes away. What
// the client sends meanwhile stays in the reader's buffer for after the
// command (a client that sends something is there; the watch ends).
// stop ends the watch, and waits for it.
func (c *conn) watchPeer() (gone <-chan struct{}, stop func()) {
	ch, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_, err := c.rd.Peek(1)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			close(ch)
		}
	}()
	return ch, func() {
		// A read deadline in the past ends the Peek; the reader then goes
		// on without one (bufio.Reader hands a read's error out once).
		_ = c.nc.SetReadDeadline(time.Now())
		<-done
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}
