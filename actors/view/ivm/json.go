package ivm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// DecodeRecord decodes an ingested record, a JSON object, straight into
// Values: it gives what decoding with json.Decoder.UseNumber and then
// surql.Normalize gives, in one pass and without reflection. Integers
// that fit are int64, other numbers float64; a number beyond float64 is an
// error. Empty input and null are no record (nil). The result may be
// handed to Tables.Apply as a Normalized change.
func DecodeRecord(raw []byte) (map[string]any, error) {
	return decodeWith(decoder{buf: raw})
}

// A Decoder decodes records as DecodeRecord does, and shares the strings
// of field names between the records it decodes: records of a table repeat
// the same names. It is not safe for concurrent use.
type Decoder struct {
	names map[string]string
}

// maxNames bounds the names a Decoder keeps; longer names are not kept.
const (
	maxNames   = 4096
	maxNameLen = 64
)

// Decode decodes a record as DecodeRecord does.
func (dec *Decoder) Decode(raw []byte) (map[string]any, error) {
	if dec.names == nil {
		dec.names = make(map[string]string)
	}
	return decodeWith(decoder{buf: raw, names: dec.names})
}

func decodeWith(d decoder) (map[string]any, error) {
	d.space()
	if d.i == len(d.buf) {
		return nil, nil
	}
	if d.buf[d.i] != '{' {
		v, err := d.value(0)
		switch {
		case err != nil:
			return nil, err
		case v == nil:
			if err := d.end(); err != nil {
				return nil, err
			}
			return nil, nil
		}
		return nil, fmt.Errorf("a record is a JSON object, not %s", jsonKind(v))
	}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// maxDepth bounds the nesting of arrays and objects, as encoding/json does.
const maxDepth = 10000

type decoder struct {
	buf   []byte
	i     int
	names map[string]string // see Decoder; nil for none
}

func (d *decoder) space() {
	for d.i < len(d.buf) {
		switch d.buf[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// end checks that only white space follows the value.
func (d *decoder) end() error {
	d.space()
	if d.i < len(d.buf) {
		return d.errorf("unexpected %q after the record", d.buf[d.i])
	}
	return nil
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", d.i, fmt.Sprintf(format, args...))
}

func (d *decoder) unexpected(what string) error {
	if d.i >= len(d.buf) {
		return d.errorf("unexpected end, expected %s", what)
	}
	return d.errorf("unexpected %q, expected %s", d.buf[d.i], what)
}

// value decodes the value at d.i, white space skipped.
func (d *decoder) value(depth int) (any, error) {
	if d.i >= len(d.buf) {
		return nil, d.unexpected("a value")
	}
	switch c := d.buf[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.string()
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.unexpected("a value")
}

func (d *decoder) literal(word string) error {
	if len(d.buf)-d.i < len(word) || string(d.buf[d.i:d.i+len(word)]) != word {
		return d.unexpected(word)
	}
	d.i += len(word)
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	d.i++ // {
	out := make(map[string]any)
	d.space()
	if d.i < len(d.buf) && d.buf[d.i] == '}' {
		d.i++
		return out, nil
	}
	for {
		if d.i >= len(d.buf) || d.buf[d.i] != '"' {
			return nil, d.unexpected("a string key")
		}
		key, err := d.name()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.buf) || d.buf[d.i] != ':' {
			return nil, d.unexpected("':'")
		}
		d.i++
		d.space()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		if rng, ok := v.(rangeError); ok {
			return nil, fmt.Errorf("%s: number %s is out of range", key, string(rng))
		}
		out[key] = v
		d.space()
		if d.i < len(d.buf) {
			switch d.buf[d.i] {
			case ',':
				d.i++
				d.space()
				continue
			case '}':
				d.i++
				return out, nil
			}
		}
		return nil, d.unexpected("',' or '}'")
	}
}

func (d *decoder) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	d.i++ // [
	out := []any{}
	d.space()
	if d.i < len(d.buf) && d.buf[d.i] == ']' {
		d.i++
		return out, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		if rng, ok := v.(rangeError); ok {
			return nil, fmt.Errorf("number %s is out of range", string(rng))
		}
		out = append(out, v)
		d.space()
		if d.i < len(d.buf) {
			switch d.buf[d.i] {
			case ',':
				d.i++
				d.space()
				continue
			case ']':
				d.i++
				return out, nil
			}
		}
		return nil, d.unexpected("',' or ']'")
	}
}

// string decodes the string at d.i. Strings without escapes are copied
// as they are when they are valid UTF-8; others are left to encoding/json,
// which replaces invalid UTF-8 as it always has.
func (d *decoder) string() (string, error) {
	start := d.i
	d.i++ // "
	plain, ascii := true, true
	for d.i < len(d.buf) {
		switch c := d.buf[d.i]; {
		case c == '"':
			d.i++
			if s := d.buf[start+1 : d.i-1]; plain && (ascii || utf8.Valid(s)) {
				return string(s), nil
			}
			var s string
			if err := json.Unmarshal(d.buf[start:d.i], &s); err != nil {
				return "", fmt.Errorf("invalid JSON string at offset %d: %w", start, err)
			}
			return s, nil
		case c == '\\':
			plain = false
			d.i += 2
		case c < 0x20:
			return "", d.errorf("control character in a string")
		default:
			if c >= 0x80 {
				ascii = false
			}
			d.i++
		}
	}
	d.i = len(d.buf)
	return "", d.unexpected("the end of the string")
}

// name decodes the field name at d.i, sharing it when it is known.
func (d *decoder) name() (string, error) {
	if d.names == nil {
		return d.string()
	}
	start := d.i + 1
	for end := start; end < len(d.buf) && end-start <= maxNameLen; end++ {
		switch c := d.buf[end]; {
		case c == '"':
			raw := d.buf[start:end]
			if name, ok := d.names[string(raw)]; ok {
				d.i = end + 1
				return name, nil
			}
			name, err := d.string()
			if err == nil && len(d.names) < maxNames {
				d.names[string(raw)] = name
			}
			return name, err
		case c == '\\' || c < 0x20 || c >= 0x80:
			return d.string()
		}
	}
	return d.string()
}

// A rangeError is a number beyond float64, which the caller reports.
type rangeError string

// number decodes the number at d.i, checking JSON's grammar: int64 when it
// is an integer that fits, float64 otherwise.
func (d *decoder) number() (any, error) {
	start := d.i
	integer := true
	if d.buf[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.buf) && d.buf[d.i] == '0':
		d.i++
	case d.i < len(d.buf) && '1' <= d.buf[d.i] && d.buf[d.i] <= '9':
		d.digits()
	default:
		return nil, d.unexpected("a digit")
	}
	if d.i < len(d.buf) && d.buf[d.i] == '.' {
		integer = false
		d.i++
		if !d.digits() {
			return nil, d.unexpected("a digit")
		}
	}
	if d.i < len(d.buf) && (d.buf[d.i] == 'e' || d.buf[d.i] == 'E') {
		integer = false
		d.i++
		if d.i < len(d.buf) && (d.buf[d.i] == '+' || d.buf[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return nil, d.unexpected("a digit")
		}
	}
	tok := d.buf[start:d.i]
	if integer {
		if n, ok := parseInt(tok); ok {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return rangeError(tok), nil
	}
	return f, nil
}

// digits skips a run of digits and reports whether there was one.
func (d *decoder) digits() bool {
	start := d.i
	for d.i < len(d.buf) && '0' <= d.buf[d.i] && d.buf[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// parseInt parses an optionally negative run of digits into an int64,
// reporting false when it does not fit.
func parseInt(tok []byte) (int64, bool) {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	if len(tok) > 18 { // might overflow: let strconv decide
		s := string(tok)
		if neg {
			s = "-" + s
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range tok {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
