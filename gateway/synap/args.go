package synap

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/troupe-run/troupe/messages"
)

// args is the union of the data commands' payload fields; each command reads
// the ones it needs. Numbers stay raw so that they keep their precision and so
// that a bad one is reported with its field's name. A null field is absent.
type args struct {
	Key     string            `json:"key"`
	Keys    []string          `json:"keys"`
	Value   json.RawMessage   `json:"value"`
	Values  []json.RawMessage `json:"values"`
	Pairs   json.RawMessage   `json:"pairs"`
	Field   string            `json:"field"`
	Fields  json.RawMessage   `json:"fields"`
	Member  string            `json:"member"`
	Members json.RawMessage   `json:"members"`
	Scores  json.RawMessage   `json:"scores"`
	Prefix  string            `json:"prefix"`
	Cursor  string            `json:"cursor"`

	TTL       json.RawMessage `json:"ttl"`
	Amount    json.RawMessage `json:"amount"`
	Increment json.RawMessage `json:"increment"`
	Count     json.RawMessage `json:"count"`
	Limit     json.RawMessage `json:"limit"`
	Start     json.RawMessage `json:"start"`
	Stop      json.RawMessage `json:"stop"`
	Index     json.RawMessage `json:"index"`
	Score     json.RawMessage `json:"score"`
	Min       json.RawMessage `json:"min"`
	Max       json.RawMessage `json:"max"`

	NX      bool `json:"nx"`
	XX      bool `json:"xx"`
	KeepTTL bool `json:"keepttl"`
	Incr    bool `json:"incr"`
	GT      bool `json:"gt"`
	LT      bool `json:"lt"`
}

// msgArgs is the union of the messaging commands' payload fields (queue.*,
// stream.*, pubsub.*), kept apart from args so that a data command, the hot
// path, does not allocate and clear room for every messaging field. Synap's
// SDKs name some fields differently from the spec (name for queue, payload
// for message, event for event_type); both are read.
type msgArgs struct {
	Queue        string          `json:"queue"`
	Name         string          `json:"name"`
	Config       *queueConfig    `json:"config"`
	queueConfig                  // the config's fields may come at the top level, as Synap's REST route and Python SDK send them
	Message      json.RawMessage `json:"message"`
	Payload      json.RawMessage `json:"payload"`
	Data         json.RawMessage `json:"data"`
	Priority     json.RawMessage `json:"priority"`
	Headers      json.RawMessage `json:"headers"`
	Metadata     json.RawMessage `json:"metadata"`
	Timeout      json.RawMessage `json:"timeout"`
	ConsumerID   string          `json:"consumer_id"`
	MessageID    string          `json:"message_id"`
	MessageIDs   []string        `json:"message_ids"`
	Requeue      *bool           `json:"requeue"`
	Offset       json.RawMessage `json:"offset"`
	Limit        json.RawMessage `json:"limit"`
	Room         string          `json:"room"`
	EventType    string          `json:"event_type"`
	Event        string          `json:"event"`
	FromOffset   json.RawMessage `json:"from_offset"`
	Replay       bool            `json:"replay"`
	Topic        string          `json:"topic"`
	Topics       json.RawMessage `json:"topics"`
	Pattern      string          `json:"pattern"`
	MaxEvents    json.RawMessage `json:"max_events"`
	SubscriberID string          `json:"subscriber_id"`
	Max          json.RawMessage `json:"max"`
}

// queueConfig is the config of queue.create. Times are in seconds; Synap's
// SDKs send ack_deadline_secs and default_max_retries.
type queueConfig struct {
	MaxDepth          json.RawMessage `json:"max_depth"`
	AckDeadline       json.RawMessage `json:"ack_deadline"`
	AckDeadlineSecs   json.RawMessage `json:"ack_deadline_secs"`
	MaxRetries        json.RawMessage `json:"max_retries"`
	DefaultMaxRetries json.RawMessage `json:"default_max_retries"`
	DeadLetter        *bool           `json:"dead_letter"`
}

// decodeArgs decodes a command's payload into args or msgArgs. An absent or
// null payload is an empty one.
func decodeArgs[T args | msgArgs](payload []byte) (*T, error) {
	a := new(T)
	if len(payload) == 0 {
		return a, nil
	}
	if m, ok := any(a).(*msgArgs); ok && m.decodeFast(payload) {
		return a, nil
	}
	if err := json.Unmarshal(payload, a); err != nil {
		return nil, jsonError(err, "payload")
	}
	return a, nil
}

// jsonError describes a decoding error of a document that is already known
// to be valid JSON: a value of the wrong type, named by its field.
func jsonError(err error, what string) *apiError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return invalid("%s must be a JSON object, not %s", what, te.Value)
		}
		return invalid("%s must be %s, not %s", te.Field, jsonKind(te.Field, te.Type.Kind()), te.Value)
	}
	return invalid("%s: %v", what, err)
}

// jsonKind names what a field expects, the way a JSON user would. The only
// typed fields are strings, booleans, objects and arrays (of strings for
// "keys" and "message_ids").
func jsonKind(field string, k reflect.Kind) string {
	switch {
	case field == "keys" || field == "message_ids":
		return "an array of strings"
	case k == reflect.Bool:
		return "a boolean"
	case k == reflect.String:
		return "a string"
	case k == reflect.Struct:
		return "an object"
	}
	return "an array"
}

// absent reports whether a raw field was left out or set to null.
func absent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func (a *args) key() (string, error) {
	if a.Key == "" {
		return "", invalid("key is required")
	}
	return a.Key, nil
}

// keyArgs decodes the arguments of a command on one key, and the key, which
// it requires.
func keyArgs(c *call) (*args, string, error) {
	a, err := c.args()
	if err != nil {
		return nil, "", err
	}
	key, err := a.key()
	if err != nil {
		return nil, "", err
	}
	return a, key, nil
}

func (a *args) field() (string, error) {
	if a.Field == "" {
		return "", invalid("field is required")
	}
	return a.Field, nil
}

func (a *args) member() (string, error) {
	if a.Member == "" {
		return "", invalid("member is required")
	}
	return a.Member, nil
}

// value returns the compact form of a required JSON value.
func (a *args) value() ([]byte, error) {
	if len(a.Value) == 0 {
		return nil, invalid("value is required")
	}
	return compact(a.Value), nil
}

// keyList gathers key and keys, for the commands that take either.
func (a *args) keyList() ([]string, error) {
	keys := a.Keys
	if a.Key != "" {
		keys = append(keys, a.Key)
	}
	if len(keys) == 0 {
		return nil, invalid("keys is required")
	}
	for i, k := range keys {
		if k == "" {
			return nil, invalid("keys[%d] must not be empty", i)
		}
	}
	return keys, nil
}

// compact returns v without insignificant white space. Values arrive compact
// nearly always, so they are only rewritten when they contain white space.
func compact(v []byte) []byte {
	if !bytes.ContainsAny(v, " \t\r\n") {
		return v
	}
	var buf bytes.Buffer
	buf.Grow(len(v))
	if json.Compact(&buf, v) != nil {
		return v // cannot happen: v was decoded as valid JSON
	}
	return buf.Bytes()
}

// intArg parses an integer field, or returns def when it is absent.
func intArg(name string, raw json.RawMessage, def int64) (int64, error) {
	if absent(raw) {
		return def, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, invalid("%s must be an integer, not %s", name, raw)
	}
	return n, nil
}

// countArg parses a count of at least 1, default def.
func countArg(name string, raw json.RawMessage, def int64) (int64, error) {
	n, err := intArg(name, raw, def)
	if err == nil && n < 1 {
		err = invalid("%s must be at least 1, not %d", name, n)
	}
	return n, err
}

// ttlArg parses a time-to-live in seconds into milliseconds; absent or 0 is
// no expiry.
func ttlArg(raw json.RawMessage) (int64, error) {
	s, err := intArg("ttl", raw, 0)
	if err != nil {
		return 0, err
	}
	if s < 0 || s > math.MaxInt64/1000 {
		return 0, invalid("ttl must be a number of seconds between 0 and %d, not %d", math.MaxInt64/1000, s)
	}
	return s * 1000, nil
}

// floatArg parses a finite number field.
func floatArg(name string, raw json.RawMessage) (float64, bool, error) {
	if absent(raw) {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, true, invalid("%s must be a finite number, not %s", name, raw)
	}
	return f, true, nil
}

// boundArg parses a score bound: a number, or "-inf" / "+inf" as in Redis
// (a number in a string is accepted too, since query strings carry them so).
func boundArg(name string, raw json.RawMessage, def float64) (float64, error) {
	if absent(raw) {
		return def, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, invalid("%s must be a number, \"-inf\" or \"+inf\"", name)
		}
	}
	switch strings.ToLower(s) {
	case "-inf":
		return math.Inf(-1), nil
	case "inf", "+inf":
		return math.Inf(1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, invalid("%s must be a number, \"-inf\" or \"+inf\", not %s", name, raw)
	}
	return f, nil
}

// stringList decodes a field holding an array of non-empty strings.
func stringList(name string, raw json.RawMessage) ([]string, error) {
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, invalid("%s must be an array of strings", name)
	}
	for i, s := range ss {
		if s == "" {
			return nil, invalid("%s[%d] must not be empty", name, i)
		}
	}
	return ss, nil
}

// members gathers member and members, for the commands that take either.
func (a *args) members() ([]string, error) {
	var ms []string
	if !absent(a.Members) {
		var err error
		if ms, err = stringList("members", a.Members); err != nil {
			return nil, err
		}
	}
	if a.Member != "" {
		ms = append(ms, a.Member)
	}
	if len(ms) == 0 {
		return nil, invalid("members is required")
	}
	return ms, nil
}

// entry is one item of an array of pairs: {"key": k, "value": v} (or
// "field" for hashes), or a [k, v] tuple.
type entry struct {
	Key   string          `json:"key"`
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// pairList decodes the pairs of kv.mset, kv.msetnx and hash.mset. It accepts
// every format Synap's clients send: an object {k: v, ...}, an array of
// objects naming the key by name ("key" or "field"), an array of [k, v]
// tuples, and a single [k, v] tuple. Object members keep their order.
func pairList(what, name string, raw json.RawMessage) ([]*messages.Pair, error) {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if absent(raw) {
		return nil, invalid("%s is required", what)
	}
	var pairs []*messages.Pair
	switch raw[0] {
	case '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.Token() // the opening brace, already checked
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, invalid("%s: %v", what, err)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, invalid("%s: %v", what, err)
			}
			k, _ := tok.(string)
			if k == "" {
				return nil, invalid("%s: %s must not be empty", what, name)
			}
			pairs = append(pairs, &messages.Pair{Key: k, Value: compact(v)})
		}
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, invalid("%s: %v", what, err)
		}
		if len(items) > 0 && len(items[0]) > 0 && items[0][0] == '"' {
			items = []json.RawMessage{raw} // a single [k, v] tuple
		}
		for i, item := range items {
			p, err := pairItem(item, name)
			if err != nil {
				return nil, invalid("%s[%d]: %v", what, i, err)
			}
			pairs = append(pairs, p)
		}
	default:
		return nil, invalid("%s must be an object or an array", what)
	}
	if len(pairs) == 0 {
		return nil, invalid("%s must not be empty", what)
	}
	return pairs, nil
}

func pairItem(item json.RawMessage, name string) (*messages.Pair, error) {
	var k string
	var v json.RawMessage
	switch {
	case len(item) > 0 && item[0] == '[':
		var tuple []json.RawMessage
		if err := json.Unmarshal(item, &tuple); err != nil || len(tuple) != 2 ||
			json.Unmarshal(tuple[0], &k) != nil {
			return nil, errors.New("a tuple must be [" + name + ", value] with a string " + name)
		}
		v = tuple[1]
	case len(item) > 0 && item[0] == '{':
		var e entry
		if err := json.Unmarshal(item, &e); err != nil {
			return nil, errors.New(jsonError(err, "item").msg)
		}
		k, v = e.Key, e.Value
		if name == "field" {
			k = e.Field
		}
		if len(v) == 0 {
			return nil, errors.New("value is required")
		}
	default:
		return nil, errors.New("must be an object or a [" + name + ", value] tuple")
	}
	if k == "" {
		return nil, errors.New(name + " is required")
	}
	return &messages.Pair{Key: k, Value: compact(v)}, nil
}

// scoredList decodes the members of a multi-member zadd: an array of
// {"member", "score"} objects, or an array of members beside an array of
// scores of the same length.
func (a *args) scoredList() ([]*messages.ScoredMember, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(a.Members, &items); err != nil {
		return nil, invalid("members must be an array")
	}
	if len(items) == 0 {
		return nil, invalid("members must not be empty")
	}
	if items[0][0] != '{' {
		names, err := stringList("members", a.Members)
		if err != nil {
			return nil, err
		}
		var scores []json.RawMessage
		if absent(a.Scores) || json.Unmarshal(a.Scores, &scores) != nil || len(scores) != len(names) {
			return nil, invalid("scores must be an array of as many numbers as members")
		}
		out := make([]*messages.ScoredMember, len(names))
		for i, m := range names {
			f, _, err := floatArg("scores["+strconv.Itoa(i)+"]", scores[i])
			if err != nil {
				return nil, err
			}
			out[i] = &messages.ScoredMember{Member: m, Score: f}
		}
		return out, nil
	}
	out := make([]*messages.ScoredMember, len(items))
	for i, item := range items {
		var sm struct {
			Member string          `json:"member"`
			Score  json.RawMessage `json:"score"`
		}
		if err := json.Unmarshal(item, &sm); err != nil {
			return nil, invalid("members[%d] must be {\"member\": string, \"score\": number}", i)
		}
		if sm.Member == "" {
			return nil, invalid("members[%d].member is required", i)
		}
		f, ok, err := floatArg("members["+strconv.Itoa(i)+"].score", sm.Score)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("members[%d].score is required", i)
		}
		out[i] = &messages.ScoredMember{Member: sm.Member, Score: f}
	}
	return out, nil
}

// set assigns a named field from a URL path segment or query parameter, for
// REST routes. Invalid UTF-8 is replaced, as encoding/json does in JSON
// strings. Numbers are kept raw: a bad one is reported by the command that
// reads it, like a bad number in a JSON payload.
func (a *args) set(name, v string) {
	v = strings.ToValidUTF8(v, "\uFFFD")
	switch name {
	case "key":
		a.Key = v
	case "field":
		a.Field = v
	case "member":
		a.Member = v
	case "prefix":
		a.Prefix = v
	case "cursor":
		a.Cursor = v
	case "ttl":
		a.TTL = json.RawMessage(v)
	case "count":
		a.Count = json.RawMessage(v)
	case "limit":
		a.Limit = json.RawMessage(v)
	case "start":
		a.Start = json.RawMessage(v)
	case "stop":
		a.Stop = json.RawMessage(v)
	case "index":
		a.Index = json.RawMessage(v)
	case "min":
		a.Min, _ = json.Marshal(v) // boundArg reads numbers in strings
	case "max":
		a.Max, _ = json.Marshal(v)
	}
}

// set assigns a named field from a URL path segment or query parameter, as
// args.set does.
func (a *msgArgs) set(name, v string) {
	v = strings.ToValidUTF8(v, "\uFFFD")
	switch name {
	case "queue":
		a.Queue = v
	case "room":
		a.Room = v
	case "topic":
		a.Topic = v
	case "pattern":
		a.Pattern = v
	case "consumer_id":
		a.ConsumerID = v
	case "message_id":
		a.MessageID = v
	case "timeout":
		a.Timeout = json.RawMessage(v)
	case "ack_deadline":
		a.AckDeadline = json.RawMessage(v)
	case "priority":
		a.Priority = json.RawMessage(v)
	case "offset":
		a.Offset = json.RawMessage(v)
	case "from_offset":
		a.FromOffset = json.RawMessage(v)
	case "limit":
		a.Limit = json.RawMessage(v)
	}
}
