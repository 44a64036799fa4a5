package synap

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Decoding the common frames without reflection.
//
// A queue command frame was decoded twice by encoding/json: the envelope,
// then its payload into msgArgs, each validated, then decoded through
// reflection; with their allocations, a sixth of the server's time per
// queue message over the WebSocket. The frames clients send most
// ({"command", "payload", "request_id"?, "type"?}, and a queue command's
// payload of a few plain fields) are decoded here instead, in one pass
// over a document json.Valid has checked. Anything else (another field, a
// key spelt in another case, a field given twice, a string with an escape
// or invalid UTF-8, a null where a string goes) is left to encoding/json,
// so that what each decodes, and every error, stays encoding/json's.

// decodeEnvelopeFast decodes body into env if it is a plain command
// envelope; false, with env untouched, if encoding/json is to decode it.
func decodeEnvelopeFast(body []byte, env *envelope) bool {
	if !json.Valid(body) {
		return false
	}
	var e envelope
	var seen uint8
	ok := objectMembers(body, func(key, val []byte) bool {
		var bit uint8
		var ok bool
		switch string(key) {
		case "command":
			bit = 1
			e.Command, ok = plainString(val)
		case "type":
			bit = 2
			e.Type, ok = plainString(val)
		case "request_id":
			bit, ok = 4, true
			e.RequestID = val
		case "payload":
			bit, ok = 8, true
			e.Payload = val
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	if ok {
		*env = e
	}
	return ok
}

// decodeFast decodes payload into a, which is zero, if it is an object of
// the fields the queue's commands mostly take; false, with a untouched, if
// encoding/json is to decode it. Raw values are copied, as json.RawMessage
// copies them: the payload may be a pooled request body.
func (a *msgArgs) decodeFast(payload []byte) bool {
	if !json.Valid(payload) {
		return false
	}
	var m msgArgs
	var seen uint8
	ok := objectMembers(payload, func(key, val []byte) bool {
		var bit uint8
		ok := true
		switch string(key) {
		case "queue":
			bit = 1
			m.Queue, ok = plainString(val)
		case "message":
			bit = 2
			m.Message = bytes.Clone(val)
		case "message_id":
			bit = 4
			m.MessageID, ok = plainString(val)
		case "priority":
			bit = 8
			m.Priority = bytes.Clone(val)
		case "headers":
			bit = 16
			m.Headers = bytes.Clone(val)
		case "consumer_id":
			bit = 32
			m.ConsumerID, ok = plainString(val)
		case "requeue":
			bit = 64
			switch string(val) {
			case "true":
				m.Requeue = new(true)
			case "false":
				m.Requeue = new(false)
			default:
				ok = false
			}
		default:
			ok = false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	if ok {
		*a = m
	}
	return ok
}

// objectMembers calls fn with the key (without its quotes) and the value
// of each member of the object data, which json.Valid has checked. It
// returns false, having stopped, when data is not an object, a key has an
// escape, or fn returns false.
func objectMembers(data []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(data, i)
		if data[i] == '}' {
			return true
		}
		end := stringEnd(data, i)
		key := data[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		vend := valueEnd(data, i)
		if !fn(key, data[i:vend]) {
			return false
		}
		i = skipSpace(data, vend)
		if data[i] == ',' {
			i++
		}
	}
}

// plainString returns the JSON string val as a Go string when it has no
// escape and is valid UTF-8, so that it reads as it is written.
func plainString(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' {
		return "", false
	}
	s := val[1 : len(val)-1]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		return "", false
	}
	return string(s), true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index after the string that starts at data[i].
func stringEnd(data []byte, i int) int {
	for j := i + 1; ; j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// valueEnd returns the index after the value that starts at data[i].
func valueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch data[j] {
			case '"':
				j = stringEnd(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
	}
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
		j++
	}
	return j
}
