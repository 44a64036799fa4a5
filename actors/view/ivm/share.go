package ivm

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// ParamsKey returns the parameters that the view's query reads, with
// their values, as a string: two views compiled from the same query whose
// ParamsKeys are equal have the same result after every change, so one
// View can serve both. Parameters the query does not read are left out.
func (v *View) ParamsKey() string { return v.plan.paramsKey }

// paramsKey encodes the values of the parameters sel reads, by name,
// types included: 1 and 1.0 differ, as do an absent parameter and NONE.
func paramsKey(sel *surql.Select, params map[string]any) string {
	var names []string
	paramsRead(sel, &names)
	slices.Sort(names)
	names = slices.Compact(names)
	var b []byte
	for _, name := range names {
		b = strconv.AppendQuote(b, name)
		if v, ok := params[name]; ok {
			b = append(b, '=')
			b = appendValueKey(b, v)
		}
		b = append(b, ';')
	}
	return string(b)
}

// paramsRead appends the names of the parameters sel reads, $parent
// aside.
func paramsRead(sel *surql.Select, names *[]string) {
	for _, f := range sel.Fields {
		exprParams(f.Expr, names)
	}
	if sel.Where != nil {
		exprParams(sel.Where, names)
	}
}

func exprParams(e surql.Expr, names *[]string) {
	switch e := e.(type) {
	case *surql.Param:
		if e.Name != "parent" {
			*names = append(*names, e.Name)
		}
	case *surql.Array:
		for _, x := range e.Elems {
			exprParams(x, names)
		}
	case *surql.Object:
		for _, en := range e.Entries {
			exprParams(en.Value, names)
		}
	case *surql.Unary:
		exprParams(e.X, names)
	case *surql.Binary:
		exprParams(e.X, names)
		exprParams(e.Y, names)
	case *surql.Subquery:
		paramsRead(e.Select, names)
	case *surql.Index:
		exprParams(e.X, names)
	case *surql.Call:
		for _, x := range e.Args {
			exprParams(x, names)
		}
	}
}

// appendValueKey appends an encoding of a Value that tells every two
// different Values apart, types included.
func appendValueKey(b []byte, v surql.Value) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if v {
			return append(b, 't')
		}
		return append(b, 'f')
	case int64:
		return strconv.AppendInt(append(b, 'i'), v, 10)
	case float64:
		return strconv.AppendUint(append(b, 'd'), math.Float64bits(v), 16)
	case string:
		return strconv.AppendQuote(append(b, 's'), v)
	case surql.RecordID:
		if v.Num {
			b = append(b, 'R')
		} else {
			b = append(b, 'r')
		}
		b = strconv.AppendQuote(b, v.Table)
		return strconv.AppendQuote(b, v.Key)
	case []any:
		b = append(b, '[')
		for _, e := range v {
			b = append(appendValueKey(b, e), ',')
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for _, k := range keys {
			b = strconv.AppendQuote(b, k)
			b = append(appendValueKey(append(b, ':'), v[k]), ',')
		}
		return append(b, '}')
	}
	if v == surql.None {
		return append(b, 'N')
	}
	return fmt.Appendf(b, "?%T%#v", v, v) // Values hold no other type
}
