package resp

import (
	"strconv"
	"strings"
)

// flags of a command, as COMMAND reports some of them.
const (
	fWrite    = 1 << iota // changes the keyspace
	fReadonly             // reads only
	fNoAuth               // runs before AUTH (AUTH, HELLO, QUIT)
	fPubSub               // allowed in RESP2 subscribed mode
	fNoMulti              // runs at once even inside MULTI (EXEC, DISCARD ...)
	fBlocking             // may block (BLPOP ...)
	fNoScript             // not allowed inside MULTI (WATCH, SUBSCRIBE ...)
	fFast
)

// cmdSpec is one command: its arity as Redis gives it (n exact, -n at
// least n, the name included), its keys (first, last, step; last -1 is
// the last argument, -2 the one before), and its handler.
type cmdSpec struct {
	name             string
	arity            int
	flags            int
	first, last, ste int
	run              func(c *conn, args [][]byte)
	// async, when set, lets a pipeline run the command beside others.
	async asyncFn
}

// keysOf returns the keys a command names, by its key positions. Commands
// whose keys cannot be found that way (ZUNIONSTORE's numkeys) say so in
// their own keys function.
func (cs *cmdSpec) keysOf(args [][]byte) []string {
	if fn, ok := keyFuncs[cs.name]; ok {
		return fn(args)
	}
	if cs.first == 0 {
		return nil
	}
	last := cs.last
	if last < 0 {
		last = len(args) + last
	}
	step := max(cs.ste, 1)
	var keys []string
	for i := cs.first; i <= last && i < len(args); i += step {
		keys = append(keys, string(args[i]))
	}
	return keys
}

var commands = map[string]*cmdSpec{}

func register(specs ...*cmdSpec) {
	for _, s := range specs {
		commands[s.name] = s
	}
}

// lower returns name in lower case, in buf when it fits (no allocation).
func lower(name []byte, buf []byte) []byte {
	if len(name) > len(buf) {
		return []byte(strings.ToLower(string(name)))
	}
	out := buf[:len(name)]
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// unknownCommand is Redis 7's text: the name and the first arguments
// quoted, up to 128 bytes of them.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		room := 128 - b.Len()
		s := string(a)
		if len(s) > room {
			s = s[:room]
		}
		b.WriteString("'" + s + "' ")
	}
	name := string(args[0])
	if len(name) > 128 {
		name = name[:128]
	}
	return "ERR unknown command '" + name + "', with args beginning with: " + b.String()
}

func wrongArity(name string) string {
	return "ERR wrong number of arguments for '" + name + "' command"
}

// dispatch runs (or queues, inside MULTI) one command.
func (c *conn) dispatch(args [][]byte) {
	var buf [24]byte
	name := lower(args[0], buf[:])
	cs := commands[string(name)]
	if cs != nil && cs.async != nil && c.authed && !c.multi && c.sub == nil && c.txn == 0 &&
		((cs.arity > 0 && len(args) == cs.arity) || (cs.arity < 0 && len(args) >= -cs.arity)) {
		c.lastCmd = cs.name
		if c.runAsync(cs.async, args) {
			return
		}
	}
	// Whatever comes next answers after the commands in flight.
	c.drain()
	if cs == nil {
		c.refuse(unknownCommand(args))
		return
	}
	c.lastCmd = cs.name
	if !c.authed && cs.flags&fNoAuth == 0 {
		c.refuse(noAuth)
		return
	}
	if (cs.arity > 0 && len(args) != cs.arity) || (cs.arity < 0 && len(args) < -cs.arity) {
		c.refuse(wrongArity(cs.name))
		return
	}
	if c.subscribed() && !c.w.resp3 && cs.flags&fPubSub == 0 {
		c.w.err("ERR Can't execute '" + cs.name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return
	}
	if c.multi && cs.flags&fNoMulti == 0 {
		if cs.flags&fNoScript != 0 {
			c.refuse("ERR Command not allowed inside a transaction")
			return
		}
		if len(c.queued) >= c.s.cfg.MaxBatch {
			c.refuse("ERR MULTI holds at most " + strconv.Itoa(c.s.cfg.MaxBatch) + " commands (--max-batch)")
			return
		}
		cp := make([][]byte, len(args))
		for i, a := range args {
			cp[i] = append([]byte(nil), a...)
		}
		c.queued = append(c.queued, cp)
		c.w.simple("QUEUED")
		return
	}
	cs.run(c, args)
}

// refuse answers a command that cannot run; inside MULTI it also dooms the
// EXEC, as Redis does.
func (c *conn) refuse(msg string) {
	if c.multi {
		c.multiBad = true
	}
	c.w.err(msg)
}

// Argument helpers.

func eq(a []byte, s string) bool { return strings.EqualFold(string(a), s) }

func argInt(b []byte) (int64, bool) { return parseInt(b) }

// argFloat reads a float as Redis's getDoubleFromObject: strtod, no
// spaces, no NaN; "inf" and "-inf" accepted.
func argFloat(b []byte) (float64, bool) {
	s := string(b)
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return 0, false
	}
	switch strings.ToLower(s) {
	case "inf", "+inf", "infinity", "+infinity":
		return posInf, true
	case "-inf", "-infinity":
		return negInf, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, false
		}
		return 0, false
	}
	if f != f {
		return 0, false
	}
	return f, true
}

func strs(args [][]byte) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}
