package synaprpc

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// Lua scripts, as the original's: EVAL script numkeys key... arg... runs
// the script with KEYS and ARGV (strings, from 1) and redis.call(cmd,
// ...) / redis.pcall, which run this door's own native commands (so each
// is the data door's command, with its checks, journal and durability);
// the answer is the JSON text of what the script returns (a table with
// only 1..n is an array, another an object; nil is null), as the original
// answers. EVALSHA sha numkeys ... runs a script loaded before (EVAL and
// SCRIPT.LOAD load it; NOSCRIPT otherwise); SCRIPT.EXISTS sha... ->
// [bool...], SCRIPT.FLUSH -> how many were dropped, SCRIPT.KILL stops the
// scripts running (true when one was). As in the original, a script is
// not atomic: another client's commands may run between its calls.
//
// Bounds: a script runs under --request-timeout (it is stopped past it)
// with only the base, table, string and math libraries (no files, no
// loading of code, no output); string.rep makes at most scriptMaxString
// bytes; the loaded scripts are at most scriptCacheMax (the oldest are
// forgotten) and each at most --max-body, the frame bound.

const (
	scriptCacheMax  = 1000
	scriptMaxString = 1 << 20
	// scriptMaxDepth bounds the nesting of a script's answer.
	scriptMaxDepth = 64
)

// scripts are the loaded scripts and those running, server-wide.
type scripts struct {
	mu      sync.Mutex
	bySHA   map[string]string
	order   []string // SHAs in the order loaded, oldest first
	running map[*lua.LState]context.CancelFunc
}

func (s *scripts) load(src string) string {
	sum := sha1.Sum([]byte(src))
	sha := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bySHA == nil {
		s.bySHA = map[string]string{}
	}
	if _, ok := s.bySHA[sha]; !ok {
		if len(s.order) >= scriptCacheMax {
			delete(s.bySHA, s.order[0])
			s.order = s.order[1:]
		}
		s.bySHA[sha] = src
		s.order = append(s.order, sha)
	}
	return sha
}

func (s *scripts) get(sha string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, ok := s.bySHA[strings.ToLower(sha)]
	return src, ok
}

func (s *scripts) flush() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.bySHA)
	s.bySHA, s.order = nil, nil
	return n
}

func (s *scripts) start(L *lua.LState, cancel context.CancelFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		s.running = map[*lua.LState]context.CancelFunc{}
	}
	s.running[L] = cancel
}

func (s *scripts) end(L *lua.LState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, L)
}

func (s *scripts) kill() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.running {
		cancel()
	}
	return len(s.running) > 0
}

var scriptNatives = map[string]nativeFunc{
	"EVAL": func(c *conn, ctx context.Context, a argv) (any, string) {
		src, e := a.str(0)
		if e != "" {
			return nil, e
		}
		return c.eval(ctx, c.s.scripts.load(src), src, a)
	},
	"EVALSHA": func(c *conn, ctx context.Context, a argv) (any, string) {
		sha, e := a.str(0)
		if e != "" {
			return nil, e
		}
		src, ok := c.s.scripts.get(sha)
		if !ok {
			return nil, "NOSCRIPT No matching script. Please use EVAL or SCRIPT.LOAD."
		}
		return c.eval(ctx, sha, src, a)
	},
	"SCRIPT.LOAD": func(c *conn, _ context.Context, a argv) (any, string) {
		src, e := a.str(0)
		if e != "" {
			return nil, e
		}
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		if _, err := L.LoadString(src); err != nil {
			return nil, "ERR Error compiling script: " + err.Error()
		}
		return c.s.scripts.load(src), ""
	},
	"SCRIPT.EXISTS": func(c *conn, _ context.Context, a argv) (any, string) {
		shas, e := a.strs(0)
		if e != "" {
			return nil, e
		}
		out := make([]any, len(shas))
		for i, sha := range shas {
			_, out[i] = c.s.scripts.get(sha)
		}
		return out, ""
	},
	"SCRIPT.FLUSH": func(c *conn, _ context.Context, _ argv) (any, string) {
		return int64(c.s.scripts.flush()), ""
	},
	"SCRIPT.KILL": func(c *conn, _ context.Context, _ argv) (any, string) {
		return c.s.scripts.kill(), ""
	},
}

// notInScripts are the commands redis.call refuses: those that wait, make
// the connection a subscriber, or run scripts.
var notInScripts = map[string]bool{
	"BLPOP": true, "BRPOP": true, "BRPOPLPUSH": true, "BZPOPMIN": true, "BZPOPMAX": true,
	"SUBSCRIBE": true, "UNSUBSCRIBE": true, "KV.WATCH": true, "KV.UNWATCH": true,
	"EVAL": true, "EVALSHA": true, "SCRIPT.LOAD": true, "SCRIPT.FLUSH": true, "SCRIPT.KILL": true, "SCRIPT.EXISTS": true,
}

// eval runs a script: a = script-or-sha numkeys key... arg....
func (c *conn) eval(ctx context.Context, sha, src string, a argv) (any, string) {
	numkeys, e := a.int(1)
	if e != "" {
		return nil, e
	}
	if numkeys < 0 || numkeys > int64(len(a)-2) {
		return nil, "ERR Number of keys can't be greater than number of args"
	}
	keys, e := a[2 : 2+numkeys].strs(0)
	if e != "" {
		return nil, e
	}
	args, e := a[2+numkeys:].strs(0)
	if e != "" {
		return nil, e
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	L := newSandbox()
	defer L.Close()
	L.SetContext(ctx)
	c.s.scripts.start(L, cancel)
	defer c.s.scripts.end(L)

	L.SetGlobal("KEYS", stringTable(L, keys))
	L.SetGlobal("ARGV", stringTable(L, args))
	redis := L.NewTable()
	L.SetField(redis, "call", L.NewFunction(c.redisCall(ctx, false)))
	L.SetField(redis, "pcall", L.NewFunction(c.redisCall(ctx, true)))
	L.SetGlobal("redis", redis)

	fn, err := L.LoadString(src)
	if err != nil {
		return nil, "ERR Error compiling script (user_script " + sha + "): " + err.Error()
	}
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		if ctx.Err() != nil {
			return nil, "ERR the script was stopped: it ran past --request-timeout or SCRIPT.KILL"
		}
		return nil, "ERR Error running script (user_script " + sha + "): " + err.Error()
	}
	v, ok := fromLua(L.Get(-1), 0)
	if !ok {
		return nil, "ERR the script's answer nests deeper than " + strconv.Itoa(scriptMaxDepth) + " tables"
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, "ERR the script's answer is not JSON: " + err.Error()
	}
	return string(out), ""
}

// redisCall is redis.call (errors raised in the script) or redis.pcall
// (errors returned as {err = text}).
func (c *conn) redisCall(ctx context.Context, protected bool) lua.LGFunction {
	return func(L *lua.LState) int {
		name := upper(L.CheckString(1))
		args := make(argv, 0, L.GetTop()-1)
		for i := 2; i <= L.GetTop(); i++ {
			switch v := L.Get(i).(type) {
			case lua.LString:
				args = append(args, string(v))
			case lua.LNumber:
				if f := float64(v); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
					args = append(args, int64(f))
				} else {
					args = append(args, f)
				}
			case lua.LBool:
				args = append(args, bool(v))
			default:
				L.RaiseError("redis.call: argument %d must be a string or a number, not %s", i-1, v.Type().String())
				return 0
			}
		}
		var v any
		var e string
		if notInScripts[name] {
			e = "ERR " + name + " is not allowed in scripts"
		} else {
			v, e = c.run(ctx, name, args)
		}
		if e != "" {
			if !protected {
				L.RaiseError("%s", e)
				return 0
			}
			t := L.NewTable()
			L.SetField(t, "err", lua.LString(e))
			L.Push(t)
			return 1
		}
		L.Push(toLua(L, v))
		return 1
	}
}

// newSandbox is a Lua state with the base, table, string and math
// libraries, less what reaches files, loads code or writes output.
func newSandbox() *lua.LState {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: 200, RegistryMaxSize: 1 << 20})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "print", "collectgarbage", "module", "require"} {
		L.SetGlobal(name, lua.LNil)
	}
	str := L.GetGlobal("string").(*lua.LTable)
	L.SetField(str, "dump", lua.LNil)
	rep := L.GetField(str, "rep")
	L.SetField(str, "rep", L.NewFunction(func(L *lua.LState) int {
		s, n := L.CheckString(1), L.CheckInt(2)
		if n > 0 && len(s) > 0 && n > scriptMaxString/len(s) {
			L.RaiseError("string.rep: the result would be over %d bytes", scriptMaxString)
			return 0
		}
		L.Push(rep)
		L.Push(lua.LString(s))
		L.Push(lua.LNumber(n))
		L.Call(2, 1)
		return 1
	}))
	return L
}

func stringTable(L *lua.LState, ss []string) *lua.LTable {
	t := L.CreateTable(len(ss), 0)
	for _, s := range ss {
		t.Append(lua.LString(s))
	}
	return t
}

// toLua converts a native reply into a Lua value: Null as nil (false
// inside an array, which a Lua sequence cannot hold nil in), a Map as a
// table of its fields.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case string:
		return lua.LString(v)
	case []byte:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, x := range v {
			if x == nil {
				t.Append(lua.LFalse)
			} else {
				t.Append(toLua(L, x))
			}
		}
		return t
	case Map:
		t := L.CreateTable(0, len(v))
		for _, p := range v {
			t.RawSet(toLua(L, p.K), toLua(L, p.V))
		}
		return t
	}
	return lua.LNil
}

// fromLua converts a script's answer into a JSON value; false past
// scriptMaxDepth.
func fromLua(v lua.LValue, depth int) (any, bool) {
	if depth > scriptMaxDepth {
		return nil, false
	}
	switch v := v.(type) {
	case lua.LBool:
		return bool(v), true
	case lua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, true
		}
		return f, true
	case lua.LString:
		return string(v), true
	case *lua.LTable:
		n := v.MaxN()
		count := 0
		v.ForEach(func(lua.LValue, lua.LValue) { count++ })
		if count == 0 {
			return []any{}, true
		}
		if count == n {
			out := make([]any, n)
			for i := 1; i <= n; i++ {
				x, ok := fromLua(v.RawGetInt(i), depth+1)
				if !ok {
					return nil, false
				}
				out[i-1] = x
			}
			return out, true
		}
		out := map[string]any{}
		ok := true
		v.ForEach(func(k, x lua.LValue) {
			if !ok {
				return
			}
			var val any
			val, ok = fromLua(x, depth+1)
			out[k.String()] = val
		})
		if !ok {
			return nil, false
		}
		return out, true
	}
	return nil, true
}
