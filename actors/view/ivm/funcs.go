package ivm

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// A function of a condition. SurrealDB fails the whole query when a
// function gets an argument of the wrong type; a view cannot fail on one
// record, so here such a call is NONE, which no comparison with a value
// matches.
type function func(args []surql.Value) surql.Value

var functions = map[string]function{
	"string::lowercase":   stringFn(func(s string) surql.Value { return strings.ToLower(s) }),
	"string::uppercase":   stringFn(func(s string) surql.Value { return strings.ToUpper(s) }),
	"string::trim":        stringFn(func(s string) surql.Value { return strings.TrimSpace(s) }),
	"string::len":         stringFn(func(s string) surql.Value { return int64(utf8.RuneCountInString(s)) }),
	"string::starts_with": string2Fn(strings.HasPrefix),
	"string::ends_with":   string2Fn(strings.HasSuffix),
	"string::contains":    string2Fn(strings.Contains),
	"array::len": func(args []surql.Value) surql.Value {
		if a, ok := args[0].([]any); ok {
			return int64(len(a))
		}
		return surql.None
	},
	"math::abs": func(args []surql.Value) surql.Value {
		switch x := args[0].(type) {
		case int64:
			if x == math.MinInt64 {
				return surql.None
			}
			if x < 0 {
				return -x
			}
			return x
		case float64:
			return math.Abs(x)
		}
		return surql.None
	},
}

func init() {
	is := map[string]func(v surql.Value) bool{
		"array":  func(v surql.Value) bool { _, ok := v.([]any); return ok },
		"bool":   func(v surql.Value) bool { _, ok := v.(bool); return ok },
		"float":  func(v surql.Value) bool { _, ok := v.(float64); return ok },
		"int":    func(v surql.Value) bool { _, ok := v.(int64); return ok },
		"none":   func(v surql.Value) bool { return v == surql.None },
		"null":   func(v surql.Value) bool { return v == nil },
		"number": func(v surql.Value) bool { _, i := v.(int64); _, f := v.(float64); return i || f },
		"object": func(v surql.Value) bool { _, ok := v.(map[string]any); return ok },
		"string": func(v surql.Value) bool { _, ok := v.(string); return ok },
		"record": func(v surql.Value) bool { _, ok := v.(surql.RecordID); return ok },
	}
	for name, f := range is {
		fn := func(args []surql.Value) surql.Value { return f(args[0]) }
		// SurrealDB 3 spells them type::is_string; earlier versions
		// type::is::string. Both are taken.
		functions["type::is::"+name] = fn
		functions["type::is_"+name] = fn
	}
}

func stringFn(f func(string) surql.Value) function {
	return func(args []surql.Value) surql.Value {
		if s, ok := args[0].(string); ok {
			return f(s)
		}
		return surql.None
	}
}

func string2Fn(f func(a, b string) bool) function {
	return func(args []surql.Value) surql.Value {
		a, ok1 := args[0].(string)
		b, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return surql.None
		}
		return f(a, b)
	}
}

// call compiles a function call of a condition.
func (s *scope) call(c *surql.Call) (evalFn, error) {
	fn, ok := functions[c.Name]
	if !ok {
		return nil, fmt.Errorf("function %s is not supported in conditions", c.Name)
	}
	args, err := s.compileAll(c.Args)
	if err != nil {
		return nil, err
	}
	return func(rec, parent map[string]any) surql.Value {
		vals := make([]surql.Value, len(args))
		for i, a := range args {
			vals[i] = a(rec, parent)
		}
		return fn(vals)
	}, nil
}
