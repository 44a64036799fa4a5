package reactive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"

	"github.com/troupe-run/troupe/actors/reactive/engine"
)

// errBudget interrupts user code that ran past its budget.
var errBudget = errors.New("user code ran past its time budget (--skip-call-budget)")

// jsError is an exception thrown by user code: the write that ran it is
// refused with its message.
type jsError struct {
	msg   string
	cause error // the goja exception or interrupt, rethrown as it is when a nested call fails
}

func (e *jsError) Error() string { return e.msg }

// runtime is one goja runtime with the service's program loaded: the
// JavaScript half of one actor. It is used by its actor's goroutine only.
type runtime struct {
	rt      *goja.Runtime
	eng     *engine.Engine
	log     *slog.Logger
	handles []*engine.Node
	budget  time.Duration
	// buildEnd is set while a build call runs (callBuild): the end of its
	// whole budget, restored after each nested call's own.
	buildEnd time.Time

	service  goja.Value
	control  int
	stream   int
	noCORS   bool // runService's no_cors
	failure  error
	hooks    *goja.Object
	fMap     goja.Callable
	fCompute goja.Callable
	fInitial goja.Callable
	fAdd     goja.Callable
	fRemove  goja.Callable
	fCall    goja.Callable
	fValue   goja.Callable
	empty    goja.Value // a frozen empty array

	// values caches the frozen JavaScript value of each JSON text that
	// getArray handed out: a mapper joining through getArray reads the
	// same values over and over, and a frozen value can be shared. At
	// most valueCap (--skip-value-cache) entries; full, it starts afresh.
	values   map[string]goja.Value
	valueCap int

	// external resources asked for by useExternalResource while building.
	externals []externalUse

	owner     owner
	customs   []customSub
	customSeq int
	timers    map[int64]*jsTimer
	nextTimer int64

	// watchdog: one timer for every call, armed only while user code runs.
	depth  int
	timer  *time.Timer
	mu     sync.Mutex
	active bool
}

// externalUse is a collection fed by an external service.
type externalUse struct {
	node       *engine.Node
	service    string
	identifier string
	params     string
	spec       *goja.Object // what __troupeSubscribe returned
	kind       string
}

// newRuntime runs prog in a fresh runtime whose engine is eng.
func newRuntime(prog *goja.Program, eng *engine.Engine, budget time.Duration, log *slog.Logger, own owner) (*runtime, error) {
	r := &runtime{rt: goja.New(), eng: eng, budget: budget, log: log, owner: own, timers: map[int64]*jsTimer{}}
	r.timer = time.AfterFunc(time.Hour, func() {
		r.mu.Lock()
		if r.active {
			r.rt.Interrupt(errBudget)
		}
		r.mu.Unlock()
	})
	r.timer.Stop()
	if err := r.install(); err != nil {
		return nil, err
	}
	var err error
	r.guard(func() { _, err = r.rt.RunProgram(prog) })
	if err != nil {
		return nil, r.wrap(err)
	}
	if r.failure != nil {
		return nil, r.failure
	}
	if r.service == nil {
		return nil, errors.New("the module never called runService(service, {control_port, streaming_port})")
	}
	if r.hooks == nil {
		return nil, errors.New("the module did not load @skipruntime/core")
	}
	return r, nil
}

// close stops the watchdog.
func (r *runtime) close() {
	r.timer.Stop()
	r.stopTimers()
	r.unsubscribeAll()
}

// guard runs user code under the time budget; nested calls share the
// outermost one's budget, but in a build (callBuild) each nested call has a
// budget of its own within the build's.
func (r *runtime) guard(f func()) { r.guardFor(r.budget, f) }

func (r *runtime) guardFor(budget time.Duration, f func()) {
	if r.depth > 0 {
		r.depth++
		if !r.buildEnd.IsZero() && r.depth == 2 {
			r.timer.Reset(min(r.budget, time.Until(r.buildEnd)))
			defer func() { r.timer.Reset(max(time.Until(r.buildEnd), 0)) }()
		}
		f()
		r.depth--
		return
	}
	r.depth = 1
	r.mu.Lock()
	r.active = true
	r.mu.Unlock()
	r.timer.Reset(budget)
	defer func() {
		r.timer.Stop()
		r.mu.Lock()
		r.active = false
		r.mu.Unlock()
		r.rt.ClearInterrupt()
		r.depth = 0
	}()
	f()
}

// wrap turns a goja error into a jsError with the user's message.
func (r *runtime) wrap(err error) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		return &jsError{msg: errBudget.Error(), cause: ie}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return &jsError{msg: exceptionMessage(ex), cause: ex}
	}
	var je *jsError
	if errors.As(err, &je) {
		return je
	}
	return err
}

func exceptionMessage(ex *goja.Exception) string {
	v := ex.Value()
	if o, ok := v.(*goja.Object); ok {
		name, msg := o.Get("name"), o.Get("message")
		if msg != nil && !goja.IsUndefined(msg) {
			n := "Error"
			if name != nil && !goja.IsUndefined(name) {
				n = name.String()
			}
			if m := msg.String(); m != "" {
				return n + ": " + m
			}
			if n == "TypeError" {
				return frozenElement
			}
			return n
		}
	}
	return ex.Error()
}

// frozenElement explains the bare TypeError goja throws, with no message,
// when code assigns to an element of a frozen array (sort, reverse, a[i] =
// x): in a service that is almost always a value, key or param Skip gave
// it, which are read-only.
const frozenElement = "TypeError (no message): an element of a frozen array was assigned (sort, reverse or a[i] = x on a value, key or param Skip passed in, which are read-only: copy it first, e.g. [...array].sort())"

// call runs a hook under the budget.
func (r *runtime) call(f goja.Callable, args ...goja.Value) (goja.Value, error) {
	var res goja.Value
	var err error
	r.guard(func() { res, err = f(goja.Undefined(), args...) })
	if err != nil {
		return nil, r.wrap(err)
	}
	return res, nil
}

// callBuild runs a hook that builds over all of a collection's data (a
// resource's instantiate maps every key while it runs): the whole of it
// may take up to total (--skip-build-timeout), each user call it makes
// the call budget.
func (r *runtime) callBuild(total time.Duration, f goja.Callable, args ...goja.Value) (goja.Value, error) {
	var res goja.Value
	var err error
	r.buildEnd = time.Now().Add(total)
	defer func() { r.buildEnd = time.Time{} }()
	r.guardFor(total, func() { res, err = f(goja.Undefined(), args...) })
	if err != nil {
		var ie *goja.InterruptedError
		if errors.As(err, &ie) && !time.Now().Before(r.buildEnd) {
			return nil, &jsError{msg: fmt.Sprintf("building the resource instance over its data took longer than --skip-build-timeout (%s)", total), cause: ie}
		}
		return nil, r.wrap(err)
	}
	return res, nil
}

func (r *runtime) throw(err error) {
	panic(r.rt.NewGoError(err))
}

func (r *runtime) node(h goja.Value) *engine.Node {
	i := int(h.ToInteger())
	if i < 0 || i >= len(r.handles) {
		r.throw(fmt.Errorf("unknown collection handle %d", i))
	}
	return r.handles[i]
}

func (r *runtime) handle(n *engine.Node) int {
	r.handles = append(r.handles, n)
	return len(r.handles) - 1
}

// value returns the frozen JavaScript value of a JSON text, parsed once.
func (r *runtime) value(text string) goja.Value {
	v, err := r.parsed(text)
	if err != nil {
		r.throw(err)
	}
	return v
}

func (r *runtime) parsed(text string) (goja.Value, error) {
	if v, ok := r.values[text]; ok {
		return v, nil
	}
	v, err := r.fValue(goja.Undefined(), r.rt.ToValue(text))
	if err != nil {
		return nil, err
	}
	if r.values == nil || len(r.values) >= max(r.valueCap, 1) {
		r.values = make(map[string]goja.Value, min(max(r.valueCap, 1), 1024))
	}
	r.values[text] = v
	return v, nil
}

// getArray reads key of n (recording the read) as a new array of the
// values' shared frozen JavaScript values.
func (r *runtime) getArray(n *engine.Node, key string) goja.Value {
	vals, err := r.eng.Get(n, key)
	if err != nil {
		r.throw(err)
	}
	if len(vals) == 0 {
		// Most reads of a join find nothing: one frozen empty array
		// serves them all (JavaScript freezes only the others).
		return r.empty
	}
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = r.value(v)
	}
	return r.rt.NewArray(out...)
}

// plainKey is the canonical JSON of a number or string key, written by Go
// as JSON.stringify and then engine.Canonical would have it.
func plainKey(v any) (string, error) {
	switch x := v.(type) {
	case int64:
		return engine.FormatNumber(float64(x)), nil
	case float64:
		return engine.FormatNumber(x), nil
	case string:
		if !strings.ContainsAny(x, "\"\\") && !hasControl(x) {
			return `"` + x + `"`, nil
		}
		q, err := json.Marshal(x)
		if err != nil {
			return "", err
		}
		return engine.Canonical(q)
	}
	return "", fmt.Errorf("getArray: a key of type %T is neither a number nor a string", v)
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}

// install defines globalThis.__troupe, the bridge the built-in modules call.
func (r *runtime) install() error {
	rt := r.rt
	t := rt.NewObject()
	set := func(name string, f func(goja.FunctionCall) goja.Value) {
		_ = t.Set(name, f)
	}
	set("register", func(c goja.FunctionCall) goja.Value {
		r.service = c.Argument(0)
		r.control = int(c.Argument(1).ToInteger())
		r.stream = int(c.Argument(2).ToInteger())
		r.noCORS = c.Argument(3).ToBoolean()
		return goja.Undefined()
	})
	set("fail", func(c goja.FunctionCall) goja.Value {
		v := c.Argument(0)
		msg := v.String()
		if o, ok := v.(*goja.Object); ok {
			if s := o.Get("stack"); s != nil && !goja.IsUndefined(s) {
				msg = s.String()
			}
		}
		r.failure = &jsError{msg: msg}
		return goja.Undefined()
	})
	set("hooks", func(c goja.FunctionCall) goja.Value {
		h := c.Argument(0).ToObject(rt)
		r.hooks = h
		fn := func(name string) goja.Callable {
			f, _ := goja.AssertFunction(h.Get(name))
			return f
		}
		r.fMap, r.fCompute, r.fInitial = fn("map"), fn("compute"), fn("initial")
		r.fAdd, r.fRemove, r.fCall, r.fValue = fn("add"), fn("remove"), fn("call"), fn("value")
		r.empty = h.Get("empty")
		return goja.Undefined()
	})
	set("getArray", func(c goja.FunctionCall) goja.Value {
		key, err := engine.Canonical([]byte(c.Argument(1).String()))
		if err != nil {
			r.throw(err)
		}
		return r.getArray(r.node(c.Argument(0)), key)
	})
	set("getArrayOf", func(c goja.FunctionCall) goja.Value {
		key, err := plainKey(c.Argument(1).Export())
		if err != nil {
			r.throw(err)
		}
		return r.getArray(r.node(c.Argument(0)), key)
	})
	set("size", func(c goja.FunctionCall) goja.Value {
		return rt.ToValue(r.eng.Size(r.node(c.Argument(0))))
	})
	set("map", func(c goja.FunctionCall) goja.Value {
		parent := r.node(c.Argument(0))
		n, err := r.eng.Map(parent, &jsMapper{r: r, obj: c.Argument(1)})
		if err != nil {
			r.throwUser(err)
		}
		n.Name = c.Argument(2).String()
		return rt.ToValue(r.handle(n))
	})
	set("reduce", func(c goja.FunctionCall) goja.Value {
		parent := r.node(c.Argument(0))
		var red engine.Reducer
		if native := c.Argument(2).String(); native != "" {
			red, _ = engine.Native(native)
		}
		if red == nil {
			red = &jsReducer{r: r, obj: c.Argument(1)}
		}
		n, err := r.eng.Reduce(parent, red)
		if err != nil {
			r.throwUser(err)
		}
		return rt.ToValue(r.handle(n))
	})
	set("merge", func(c goja.FunctionCall) goja.Value {
		parents := []*engine.Node{r.node(c.Argument(0))}
		for _, h := range c.Argument(1).Export().([]any) {
			parents = append(parents, r.node(rt.ToValue(h)))
		}
		return rt.ToValue(r.handle(r.eng.Merge(parents...)))
	})
	set("slice", func(c goja.FunctionCall) goja.Value {
		parent := r.node(c.Argument(0))
		var raw [][2]json.RawMessage
		if err := json.Unmarshal([]byte(c.Argument(1).String()), &raw); err != nil {
			r.throw(fmt.Errorf("slices: ranges must be [start, end] pairs: %v", err))
		}
		ranges := make([][2]string, len(raw))
		for i, p := range raw {
			lo, err1 := engine.Canonical(p[0])
			hi, err2 := engine.Canonical(p[1])
			if err := errors.Join(err1, err2); err != nil {
				r.throw(err)
			}
			ranges[i] = [2]string{lo, hi}
		}
		return rt.ToValue(r.handle(r.eng.Slice(parent, ranges)))
	})
	set("take", func(c goja.FunctionCall) goja.Value {
		parent := r.node(c.Argument(0))
		return rt.ToValue(r.handle(r.eng.Take(parent, int(c.Argument(1).ToInteger()))))
	})
	set("lazy", func(c goja.FunctionCall) goja.Value {
		lc := &jsCompute{r: r, obj: c.Argument(0)}
		n := r.eng.Lazy(lc)
		n.Name = c.Argument(1).String()
		h := r.handle(n)
		lc.self = rt.ToValue(h)
		return lc.self
	})
	set("external", func(c goja.FunctionCall) goja.Value {
		return rt.ToValue(r.useExternal(c.Argument(0).String(), c.Argument(1).String(), c.Argument(2).String()))
	})
	set("externalUpdate", func(c goja.FunctionCall) goja.Value {
		n := r.node(c.Argument(0))
		entries, err := parseEntries(c.Argument(1).String())
		if err != nil {
			r.throw(fmt.Errorf("external update: %w", err))
		}
		r.owner.post(&externalUpdate{node: n, entries: entries, init: c.Argument(2).ToBoolean()})
		return goja.Undefined()
	})
	set("parseURL", func(c goja.FunctionCall) goja.Value {
		u, err := parseURL(c.Argument(0).String(), c.Argument(1).String())
		if err != nil {
			return rt.ToValue(err.Error())
		}
		return rt.ToValue(u)
	})
	set("fetch", func(c goja.FunctionCall) goja.Value {
		var body *string
		if b := c.Argument(3); !goja.IsNull(b) && !goja.IsUndefined(b) {
			s := b.String()
			body = &s
		}
		status, text, headers, err := httpFetch(c.Argument(0).String(), c.Argument(1).String(), c.Argument(2).String(), body, time.Duration(c.Argument(4).ToInteger())*time.Millisecond)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		return rt.ToValue([]any{status, text, headers, errText})
	})
	if err := rt.Set("__troupe", t); err != nil {
		return err
	}
	if err := r.installTimers(); err != nil {
		return err
	}
	if _, err := rt.RunProgram(prelude); err != nil {
		return fmt.Errorf("prelude: %w", err)
	}
	// process.env: services read their configuration from it, as on Node.
	process, env := rt.NewObject(), rt.NewObject()
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			_ = env.Set(k, v)
		}
	}
	_ = process.Set("env", env)
	_ = process.Set("argv", rt.NewArray("troupe"))
	_ = process.Set("platform", "linux")
	// Signal handlers (services close their server on SIGTERM): Troupe
	// owns the process and its shutdown, so they are accepted and unused.
	noop := func(goja.FunctionCall) goja.Value { return process }
	for _, name := range []string{"on", "once", "off", "removeListener", "addListener"} {
		_ = process.Set(name, noop)
	}
	if err := rt.Set("process", process); err != nil {
		return err
	}
	console := rt.NewObject()
	logf := func(level slog.Level) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			parts := make([]string, len(c.Arguments))
			for i, a := range c.Arguments {
				parts[i] = a.String()
			}
			r.log.Log(context.Background(), level, strings.Join(parts, " "), "source", "service")
			return goja.Undefined()
		}
	}
	_ = console.Set("log", logf(slog.LevelInfo))
	_ = console.Set("info", logf(slog.LevelInfo))
	_ = console.Set("debug", logf(slog.LevelDebug))
	_ = console.Set("warn", logf(slog.LevelWarn))
	_ = console.Set("error", logf(slog.LevelError))
	return rt.Set("console", console)
}

// throwUser rethrows an error of user code met while building a node.
func (r *runtime) throwUser(err error) {
	var je *jsError
	if errors.As(err, &je) {
		if je.cause != nil {
			panic(je.cause)
		}
		panic(r.rt.NewTypeError(je.msg))
	}
	r.throw(err)
}

func jsonArray(vals []string) string {
	if len(vals) == 0 {
		return "[]"
	}
	n := 1 + len(vals)
	for _, v := range vals {
		n += len(v)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	b.WriteByte(']')
	return b.String()
}

type jsMapper struct {
	r   *runtime
	obj goja.Value
}

// cachedMin is the shortest value text a mapper receives through the
// value cache: a key mapped again (a join's group whose member changed)
// then skips parsing and freezing its large values, and a build, which
// maps each key once, pays a cache entry only where parsing costs more.
const cachedMin = 256

func (m *jsMapper) MapEntry(key string, values []string) ([]engine.Pair, error) {
	r := m.r
	var res goja.Value
	var err error
	if k, ok := r.plain(key); ok && len(values) <= 64 {
		vs := make([]any, len(values))
		for i, v := range values {
			if vs[i], ok = r.plain(v); ok {
				continue
			}
			if len(v) < cachedMin {
				break
			}
			if vs[i], err = r.parsed(v); err != nil {
				return nil, r.wrap(err)
			}
			ok = true
		}
		if ok {
			res, err = r.call(r.fMap, m.obj, k, r.rt.NewArray(vs...), r.rt.ToValue(true))
		}
	}
	if res == nil && err == nil {
		res, err = r.call(r.fMap, m.obj, r.rt.ToValue(key), r.rt.ToValue(jsonArray(values)), r.rt.ToValue(false))
	}
	if err != nil {
		return nil, err
	}
	text := res.String()
	if text == "" {
		return nil, nil
	}
	parts := strings.Split(text, "\n")
	out := make([]engine.Pair, len(parts)/2)
	for i := range out {
		out[i] = engine.Pair{Key: parts[2*i], Value: parts[2*i+1]}
	}
	return out, nil
}

// plain turns a JSON text that is a string without escapes, a number or
// a literal into a JavaScript value without the JSON parser.
func (r *runtime) plain(text string) (goja.Value, bool) {
	n := len(text)
	if n == 0 {
		return nil, false
	}
	switch c := text[0]; {
	case c == '"':
		if n < 2 || text[n-1] != '"' || strings.ContainsAny(text[1:n-1], "\\\"") {
			return nil, false
		}
		return r.rt.ToValue(text[1 : n-1]), true
	case c == '-' || (c >= '0' && c <= '9'):
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, false
		}
		return r.rt.ToValue(f), true
	case text == "true":
		return r.rt.ToValue(true), true
	case text == "false":
		return r.rt.ToValue(false), true
	case text == "null":
		return goja.Null(), true
	}
	return nil, false
}

type jsCompute struct {
	r    *runtime
	obj  goja.Value
	self goja.Value
}

func (c *jsCompute) Compute(key string) ([]string, error) {
	r := c.r
	res, err := r.call(r.fCompute, c.obj, c.self, r.rt.ToValue(key))
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(res.String()), &raw); err != nil {
		return nil, &jsError{msg: fmt.Sprintf("compute result: %v", err)}
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i] = string(v)
	}
	return out, nil
}

type jsReducer struct {
	r   *runtime
	obj goja.Value
}

func (j *jsReducer) Initial() (string, bool) {
	res, err := j.r.call(j.r.fInitial, j.obj)
	if err != nil || goja.IsNull(res) || goja.IsUndefined(res) {
		return "", false
	}
	return res.String(), true
}

func (j *jsReducer) Add(acc string, has bool, v string) (string, error) {
	a := goja.Null()
	if has {
		a = j.r.rt.ToValue(acc)
	}
	res, err := j.r.call(j.r.fAdd, j.obj, a, j.r.rt.ToValue(v))
	if err != nil {
		return "", err
	}
	return res.String(), nil
}

func (j *jsReducer) Remove(acc, v string) (string, bool, error) {
	res, err := j.r.call(j.r.fRemove, j.obj, j.r.rt.ToValue(acc), j.r.rt.ToValue(v))
	if err != nil {
		return "", false, err
	}
	if goja.IsNull(res) || goja.IsUndefined(res) {
		return "", false, nil
	}
	return res.String(), true, nil
}

// prelude defines the globals of js/prelude.js; compiled once.
var prelude = func() *goja.Program {
	src, err := builtins.ReadFile("js/prelude.js")
	if err != nil {
		panic(err)
	}
	return goja.MustCompile("prelude.js", string(src), false)
}()

// parseURL splits a URL as WHATWG's URL does, for the prelude's URL class.
func parseURL(raw, base string) (map[string]any, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if base != "" {
		b, err := url.Parse(base)
		if err != nil {
			return nil, err
		}
		u = b.ResolveReference(u)
	}
	if u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Scheme != "file") {
		return nil, fmt.Errorf("%s is not an absolute URL", raw)
	}
	path := u.EscapedPath()
	if path == "" && u.Host != "" {
		path = "/"
	}
	search, hash := "", ""
	if u.RawQuery != "" {
		search = "?" + u.RawQuery
	}
	if u.Fragment != "" {
		hash = "#" + u.EscapedFragment()
	}
	href := u.Scheme + "://" + u.Host + path + search + hash
	user, pass := "", ""
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	return map[string]any{
		"href": href, "protocol": u.Scheme + ":", "host": u.Host, "hostname": u.Hostname(), "port": u.Port(),
		"pathname": path, "search": search, "hash": hash, "username": user, "password": pass,
	}, nil
}

// httpFetch is fetchJSON's transport: a synchronous request with a
// deadline (10 s unless the caller gave one).
func httpFetch(url, method, headersJSON string, body *string, timeout time.Duration) (int, string, string, error) {
	return httpFetchCtx(context.Background(), url, method, headersJSON, body, timeout)
}

func httpFetchCtx(ctx context.Context, url, method, headersJSON string, body *string, timeout time.Duration) (int, string, string, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(*body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, "", "{}", err
	}
	var headers map[string]string
	_ = json.Unmarshal([]byte(headersJSON), &headers)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: timeout}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "{}", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, "", "{}", err
	}
	hs := map[string]string{}
	for k := range resp.Header {
		hs[strings.ToLower(k)] = resp.Header.Get(k)
	}
	hj, _ := json.Marshal(hs)
	return resp.StatusCode, string(data), string(hj), nil
}
