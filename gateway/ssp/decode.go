package ssp

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
)

// decodeObject decodes what (a request's body, a WebSocket frame), a JSON
// object, into v, a struct. Unknown fields are ignored, as serde does: the
// original's clients send some (an ingest's "hash"). Its error names the
// field of the wrong type.
func decodeObject(what string, data []byte, v any) *apiError {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("%s is empty: a JSON object is required", what)
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return badRequest("%s must be a JSON object, not %s", what, te.Value)
		}
		return badRequest("'%s' must be %s, not %s", te.Field, kind(te.Type), te.Value)
	}
	return badRequest("%s is not valid JSON: %v", what, err)
}

// kind names the JSON kind a Go type decodes from.
func kind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a " + t.String()
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// isObject reports whether a raw JSON value, as encoding/json hands it (no
// surrounding space), is an object.
func isObject(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '{'
}
