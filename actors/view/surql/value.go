package surql

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A Value is a SurrealQL value at run time. It is one of:
//
//	None            NONE, the value of a missing field
//	nil             NULL
//	bool
//	int64
//	float64         always finite
//	string
//	[]any           an array of Values
//	map[string]any  an object of Values
//	RecordID        a record id literal, such as user:123
//
// Records arrive as JSON; Normalize turns decoded JSON into Values.
type Value = any

// None is the value of a missing field. It is distinct from NULL (nil), and
// encodes as JSON null.
var None = none{}

type none struct{}

func (none) String() string { return "NONE" }

func (none) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// A RecordID is a record id (a record link): table:key. Its key is a
// number (Num: Key holds its decimal digits) or a string.
//
// Records arrive as JSON, which has no record ids: a string that spells one
// in SurrealDB's text form (see Link) is taken as a link when a record or a
// view's params are stored. A RecordID never equals a string, as in
// SurrealDB: `author = 'user:1'` is false where `author = user:1` is true.
type RecordID struct {
	Table string
	Key   string
	Num   bool // the key is an integer
}

// NewRecordID returns table:key, with a numeric key when key is the
// decimal form of an int64 (no sign, no leading zero), as SurrealDB parses
// user:10.
func NewRecordID(table, key string) RecordID {
	return RecordID{Table: table, Key: key, Num: isIntKey(key)}
}

func isIntKey(key string) bool {
	if key == "" || len(key) > 19 || key[0] == '0' && len(key) > 1 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if !isDigit(key[i]) {
			return false
		}
	}
	_, err := strconv.ParseInt(key, 10, 64)
	return err == nil
}

// String formats id as SurrealDB does: user:123, user:abc, or user:⟨a b⟩
// when the key is a string that is not a run of letters, digits and
// underscores, or that a number would be read from (user:⟨10⟩).
func (id RecordID) String() string {
	return quoteIdent(id.Table) + ":" + id.keyText()
}

func (id RecordID) keyText() string {
	if id.Num {
		return id.Key
	}
	// A string key is quoted when it is not a run of letters, digits and
	// _, or when it would read back as a number; user:010 reads back as
	// the string key 010, so it stays as it was ingested.
	plain := id.Key != "" && !isIntKey(id.Key)
	for i := 0; i < len(id.Key); i++ {
		plain = plain && isIdentByte(id.Key[i])
	}
	if plain {
		return id.Key
	}
	r := strings.NewReplacer(`\`, `\\`, "⟩", `\⟩`)
	return "⟨" + r.Replace(id.Key) + "⟩"
}

// MarshalJSON writes a record id as SurrealDB's JSON does: its text form.
func (id RecordID) MarshalJSON() ([]byte, error) {
	return json.Marshal(id.String())
}

// ParseRecordID parses a record id written as a string, such as "user:123"
// or "user:⟨a b⟩". It reports false if s has no table or no key.
func ParseRecordID(s string) (RecordID, bool) {
	table, key, ok := strings.Cut(s, ":")
	if !ok || table == "" || key == "" {
		return RecordID{}, false
	}
	for _, q := range [][2]string{{"⟨", "⟩"}, {"`", "`"}} {
		if len(key) > len(q[0])+len(q[1]) && strings.HasPrefix(key, q[0]) && strings.HasSuffix(key, q[1]) {
			inner := key[len(q[0]) : len(key)-len(q[1])]
			key = strings.NewReplacer(`\`+q[1], q[1], `\\`, `\`).Replace(inner)
			return RecordID{Table: table, Key: key}, true
		}
	}
	return NewRecordID(table, key), true
}

// Link returns the record id that s spells in SurrealDB's text form, and
// true: a plain table name (a letter or _ then letters, digits and _), one
// ':', and a key that is a run of letters, digits and _ or is quoted in
// ⟨...⟩. This is the rule by which an ingested string (SurrealDB sends
// record links as such strings in JSON) is taken as a link.
func Link(s string) (RecordID, bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || i == len(s)-1 || !isPlainIdent(s[:i]) {
		return RecordID{}, false
	}
	key := s[i+1:]
	if strings.HasPrefix(key, "⟨") {
		if !strings.HasSuffix(key, "⟩") || len(key) <= len("⟨⟩") {
			return RecordID{}, false
		}
		return ParseRecordID(s)
	}
	for j := 0; j < len(key); j++ {
		if !isIdentByte(key[j]) {
			return RecordID{}, false
		}
	}
	return NewRecordID(s[:i], key), true
}

// Links replaces, in place, every string of v (a Value: in objects and
// arrays too) that spells a record id (see Link) by that RecordID, and
// returns v.
func Links(v Value) Value {
	switch x := v.(type) {
	case string:
		if strings.IndexByte(x, ':') > 0 {
			if id, ok := Link(x); ok {
				return id
			}
		}
	case []any:
		for i, e := range x {
			x[i] = Links(e)
		}
	case map[string]any:
		for k, e := range x {
			switch e.(type) {
			case string, []any, map[string]any:
				x[k] = Links(e)
			}
		}
	}
	return v
}

// Normalize converts a value decoded from JSON (with or without
// json.Decoder.UseNumber) into a Value: numbers become int64 when they are
// integers that fit, float64 otherwise. It fails on numbers beyond float64
// and on Go types JSON does not produce.
func Normalize(v any) (Value, error) {
	switch v := v.(type) {
	case nil, bool, string, RecordID, none:
		return v, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", v)
		}
		return f, nil
	case float64:
		return normalizeFloat(v)
	case float32:
		return normalizeFloat(float64(v))
	case int:
		return int64(v), nil
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case int64:
		return v, nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint:
		return normalizeUint(uint64(v))
	case uint64:
		return normalizeUint(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			n, err := Normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			n, err := Normalize(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// normalizeFloat rejects NaN and the infinities, which JSON cannot carry
// and which Compare and the aggregates do not order or add.
func normalizeFloat(f float64) (Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %v is not finite", f)
	}
	return f, nil
}

func normalizeUint(u uint64) (Value, error) {
	if u > math.MaxInt64 {
		return float64(u), nil
	}
	return int64(u), nil
}

// kind ranks the types of Values in SurrealDB's order, least first.
func kind(v Value) int {
	switch v.(type) {
	case none:
		return 0
	case nil:
		return 1
	case bool:
		return 2
	case int64, float64:
		return 3
	case string:
		return 4
	case []any:
		return 5
	case map[string]any:
		return 6
	case RecordID:
		return 7
	}
	return 8
}

// Compare orders two Values, returning -1, 0 or +1. It is the order of
// ORDER BY and of the operators <, <=, > and >=, and it is total over the
// values records hold:
//
//   - values of different types order by type, as in SurrealDB:
//     NONE < NULL < bool < number < string < array < object < record id;
//   - false < true; integers and floats compare as numbers, exactly;
//   - strings compare bytewise (lexically, by UTF-8 code points);
//   - arrays compare element by element, then by length;
//   - objects compare as their (key, value) pairs sorted by key, element by
//     element, then by length;
//   - record ids compare by table, then key (numbers before strings).
//
// Record ids compare by table, then key: a numeric key is a number, and
// numbers come before strings (user:9 < user:10 < user:u1).
func Compare(a, b Value) int {
	switch a := a.(type) {
	case bool:
		if b, ok := b.(bool); ok {
			return boolCompare(a, b)
		}
	case int64:
		switch b := b.(type) {
		case int64:
			return cmp.Compare(a, b)
		case float64:
			return intFloatCompare(a, b)
		}
	case float64:
		switch b := b.(type) {
		case int64:
			return -intFloatCompare(b, a)
		case float64:
			return cmp.Compare(a, b)
		}
	case string:
		switch b := b.(type) {
		case string:
			return strings.Compare(a, b)
		}
	case []any:
		if b, ok := b.([]any); ok {
			return slices.CompareFunc(a, b, Compare)
		}
	case map[string]any:
		if b, ok := b.(map[string]any); ok {
			return objectCompare(a, b)
		}
	case RecordID:
		switch b := b.(type) {
		case RecordID:
			return recordCompare(a, b)
		}
	}
	return cmp.Compare(kind(a), kind(b))
}

// Equal reports whether a and b are equal: values of different types never
// are (5 is not "5", user:1 is not 'user:1'), except that an integer equals
// a float of the same value.
func Equal(a, b Value) bool {
	// Conditions compare strings far more than anything else; == on two
	// strings is cheaper than ordering them.
	if a, ok := a.(string); ok {
		if b, ok := b.(string); ok {
			return a == b
		}
	}
	return Compare(a, b) == 0
}

// Truthy reports whether v counts as true in a condition: true, a non-zero
// number, a non-empty string, array or object, or a record id.
func Truthy(v Value) bool {
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		return v != 0
	case float64:
		return v != 0
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	case RecordID:
		return true
	}
	return false
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// intFloatCompare compares an integer with a float exactly: converting the
// integer to float64 would round integers beyond 2^53.
func intFloatCompare(i int64, f float64) int {
	switch {
	case f < math.MinInt64:
		return 1
	case f >= math.MaxInt64: // 2^63, the first float above every int64
		return -1
	}
	t := math.Trunc(f)
	if c := cmp.Compare(i, int64(t)); c != 0 {
		return c
	}
	return cmp.Compare(t, f) // i == t: f's fraction decides
}

func objectCompare(a, b map[string]any) int {
	ak, bk := sortedKeys(a), sortedKeys(b)
	for i := 0; i < len(ak) && i < len(bk); i++ {
		if c := strings.Compare(ak[i], bk[i]); c != 0 {
			return c
		}
		if c := Compare(a[ak[i]], b[bk[i]]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ak), len(bk))
}

func recordCompare(a, b RecordID) int {
	if c := strings.Compare(a.Table, b.Table); c != 0 {
		return c
	}
	switch {
	case a.Num && b.Num:
		if c := cmp.Compare(len(a.Key), len(b.Key)); c != 0 {
			return c // no leading zeros: the longer is the larger
		}
	case a.Num:
		return -1
	case b.Num:
		return 1
	}
	return strings.Compare(a.Key, b.Key)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Format writes v as a SurrealQL literal: NONE, NULL, true, 12, 1.5,
// 'text', [1, 2], {a: 1}, user:123. Object keys are sorted.
func Format(v Value) string {
	var b strings.Builder
	formatValue(&b, v)
	return b.String()
}

func formatValue(b *strings.Builder, v Value) {
	switch v := v.(type) {
	case none:
		b.WriteString("NONE")
	case nil:
		b.WriteString("NULL")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(formatFloat(v))
	case string:
		b.WriteString(quoteString(v))
	case RecordID:
		b.WriteString(v.String())
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(objectKey(k))
			b.WriteString(": ")
			formatValue(b, v[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "<%T>", v)
	}
}

// formatFloat writes f so that it reads back as a float, not an integer.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// quoteString writes s as a single-quoted string literal.
func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
