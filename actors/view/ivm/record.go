package ivm

import (
	"maps"
	"math"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// lookup returns the value at path in v, or None when a part is missing.
// As in SurrealDB, a path that goes through an array applies its rest to
// every element: tags.name is the array of the tags' names.
func lookup(v surql.Value, path []string) surql.Value {
	for i, part := range path {
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[part]
			if !ok {
				return surql.None
			}
			v = e
		case []any:
			out := make([]any, len(x))
			for j, e := range x {
				out[j] = lookup(e, path[i:])
			}
			return out
		default:
			return surql.None
		}
	}
	return v
}

// setPath sets the value at path in out, creating objects along the path;
// None removes the field. Objects along the path are copied, never
// modified, since out may share them with a stored record.
func setPath(out map[string]any, path []string, v surql.Value) {
	if len(path) == 1 {
		if v == surql.None {
			delete(out, path[0])
		} else {
			out[path[0]] = v
		}
		return
	}
	child, _ := out[path[0]].(map[string]any)
	if child == nil && v == surql.None {
		return
	}
	child = maps.Clone(child)
	if child == nil {
		child = make(map[string]any)
	}
	setPath(child, path[1:], v)
	out[path[0]] = child
}

// projectPath sets the value at path in out as a projection does: as in
// SurrealDB, a missing value leaves its field out but the objects along
// its path in (SELECT meta.score on a record without meta gives
// {meta: {}}).
func projectPath(out map[string]any, path []string, v surql.Value) {
	if v != surql.None || len(path) == 1 {
		setPath(out, path, v)
		return
	}
	child, _ := out[path[0]].(map[string]any)
	child = maps.Clone(child)
	if child == nil {
		child = make(map[string]any)
	}
	projectPath(child, path[1:], v)
	out[path[0]] = child
}

// identical reports whether two Values are the same value of the same type:
// unlike surql.Equal, 1 and 1.0 differ. It decides whether a row changed.
func identical(a, b surql.Value) bool {
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !identical(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !identical(av, bv) {
				return false
			}
		}
		return true
	}
	return a == b
}

// canonical returns the representative of v's class under surql.Equal, so
// that equal values group together: a float with an integer value becomes
// that integer.
func canonical(v surql.Value) surql.Value {
	switch v := v.(type) {
	case float64:
		if v == math.Trunc(v) && v >= math.MinInt64 && v < math.MaxInt64 {
			return int64(v)
		}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = canonical(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = canonical(e)
		}
		return out
	}
	return v
}

// valueKey returns a map key that two Values without record ids share if
// and only if they are equal (surql.Equal). A scalar is its own key, so
// that finding one allocates nothing.
func valueKey(v surql.Value) any {
	switch v := canonical(v).(type) {
	case []any, map[string]any:
		return formatted(surql.Format(v))
	default:
		return v
	}
}

// formatted is the key of an array or object: its canonical SurrealQL,
// typed apart from strings.
type formatted string
