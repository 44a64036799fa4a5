package resp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// The keyspace holds JSON values (the data door's model); Redis holds byte
// strings. A Redis string is stored as a JSON string, so that the data
// door reads it as the text it is; bytes that are not UTF-8, which a JSON
// string cannot carry, are stored as {"$base64":"..."}. Read back, a JSON
// string is its contents, that object its bytes, and any other JSON value
// (a number, an object the data door stored) its JSON text, as the
// original Synap server's Redis-minded SDKs see it.

const base64Prefix = `{"$base64":"`

// encode returns the JSON value that stores the Redis string v.
func encode(v []byte) []byte {
	plain := true
	for _, c := range v {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain {
		out := make([]byte, 0, len(v)+2)
		out = append(out, '"')
		out = append(out, v...)
		return append(out, '"')
	}
	if !utf8.Valid(v) {
		out := make([]byte, 0, len(base64Prefix)+base64.StdEncoding.EncodedLen(len(v))+2)
		out = append(out, base64Prefix...)
		out = base64.StdEncoding.AppendEncode(out, v)
		return append(out, '"', '}')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(v)) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

func encodeString(s string) []byte { return encode([]byte(s)) }

// decode returns the Redis string a stored JSON value reads as.
func decode(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' {
		inner := v[1 : len(v)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return inner
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return []byte(s)
		}
		return v
	}
	if bytes.HasPrefix(v, []byte(base64Prefix)) && bytes.HasSuffix(v, []byte(`"}`)) {
		raw := v[len(base64Prefix) : len(v)-2]
		if out, err := base64.StdEncoding.AppendDecode(nil, raw); err == nil {
			return out
		}
	}
	return v
}
