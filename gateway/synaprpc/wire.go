package synaprpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// The wire (the HiveLLM family's RPC wire, version 1): every frame is a u32
// little-endian length of the body, then the body in MessagePack. A request
// is [id, command, [args...]] (a map {id, command, args} is accepted too, as
// older SDKs send it), a reply [id, {"Ok": value}] or [id, {"Err": text}].
// A value is externally tagged: the bare string "Null", or a one-key map
// {"Bool"|"Int"|"Float"|"Str"|"Bytes"|"Array"|"Map": ...}, where a Map is a
// list of [key, value] pairs. A reply with id pushID is a push frame.
//
// In Go a value is nil, bool, int64, float64, string, []byte, []any or Map.

// pushID is the id of the frames the server sends unasked.
const pushID = math.MaxUint32

// maxDepth bounds the nesting of a decoded value, so that a small frame
// cannot make the decoder recurse without end.
const maxDepth = 64

// Map is the wire's Map: ordered pairs, keys of any type.
type Map []Pair

// Pair is one entry of a Map.
type Pair struct{ K, V any }

// request is one decoded request frame.
type request struct {
	id   uint32
	cmd  string
	args []any
}

var errMalformed = errors.New("malformed frame")

// decodeRequest decodes a request frame's body.
func decodeRequest(body []byte) (request, error) {
	d := msgpack.NewDecoder(bytes.NewReader(body))
	var r request
	c, err := d.PeekCode()
	if err != nil {
		return r, err
	}
	switch {
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil || n != 3 {
			return r, fmt.Errorf("%w: a request is [id, command, args]", errMalformed)
		}
		if r.id, err = d.DecodeUint32(); err != nil {
			return r, err
		}
		if r.cmd, err = d.DecodeString(); err != nil {
			return r, err
		}
		r.args, err = decodeArgs(d)
		return r, err
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return r, err
		}
		for range n {
			k, err := d.DecodeString()
			if err != nil {
				return r, err
			}
			switch k {
			case "id":
				r.id, err = d.DecodeUint32()
			case "command":
				r.cmd, err = d.DecodeString()
			case "args":
				r.args, err = decodeArgs(d)
			default:
				err = d.Skip()
			}
			if err != nil {
				return r, err
			}
		}
		return r, nil
	}
	return r, fmt.Errorf("%w: a request is an array or a map", errMalformed)
}

func decodeArgs(d *msgpack.Decoder) ([]any, error) {
	n, err := d.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, nil
	}
	args := make([]any, 0, min(n, 1024))
	for range n {
		v, err := decodeValue(d, 0)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	return args, nil
}

// decodeValue decodes one tagged value.
func decodeValue(d *msgpack.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: values nested deeper than %d", errMalformed, maxDepth)
	}
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	if msgpcode.IsString(c) {
		s, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		if s != "Null" {
			return nil, fmt.Errorf("%w: unknown unit variant %q", errMalformed, s)
		}
		return nil, nil
	}
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: a value is a map of one variant", errMalformed)
	}
	tag, err := d.DecodeString()
	if err != nil {
		return nil, err
	}
	switch tag {
	case "Bool":
		return d.DecodeBool()
	case "Int":
		return d.DecodeInt64()
	case "Float":
		return d.DecodeFloat64()
	case "Str":
		return d.DecodeString()
	case "Bytes":
		return decodeBytes(d)
	case "Array":
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		vs := make([]any, 0, min(max(n, 0), 1024))
		for range n {
			v, err := decodeValue(d, depth+1)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
		return vs, nil
	case "Map":
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		m := make(Map, 0, min(max(n, 0), 1024))
		for range n {
			if l, err := d.DecodeArrayLen(); err != nil || l != 2 {
				return nil, fmt.Errorf("%w: a map entry is [key, value]", errMalformed)
			}
			k, err := decodeValue(d, depth+1)
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(d, depth+1)
			if err != nil {
				return nil, err
			}
			m = append(m, Pair{k, v})
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: unknown variant %q", errMalformed, tag)
}

// decodeBytes decodes Bytes: MessagePack bin, or (as older SDKs send it)
// an array of integers 0-255.
func decodeBytes(d *msgpack.Decoder) ([]byte, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
		b, err := d.DecodeBytes()
		if b == nil && err == nil {
			b = []byte{}
		}
		return b, err
	}
	n, err := d.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, min(max(n, 0), 1<<16))
	for range n {
		v, err := d.DecodeUint64()
		if err != nil || v > 255 {
			return nil, fmt.Errorf("%w: a byte array holds integers 0-255", errMalformed)
		}
		b = append(b, byte(v))
	}
	return b, nil
}

// frameWriter encodes reply and push frames into one buffer.
type frameWriter struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

func newFrameWriter() *frameWriter {
	f := &frameWriter{}
	f.enc = msgpack.NewEncoder(&f.buf)
	f.enc.UseCompactInts(true)
	return f
}

// reply returns one reply frame: ok when err is "", else the error text.
// The frame is a fresh slice the caller owns.
func (f *frameWriter) reply(id uint32, v any, errText string) []byte {
	f.buf.Reset()
	f.buf.Write([]byte{0, 0, 0, 0})
	e := f.enc
	_ = e.EncodeArrayLen(2)
	_ = e.EncodeUint(uint64(id))
	_ = e.EncodeMapLen(1)
	if errText != "" {
		_ = e.EncodeString("Err")
		_ = e.EncodeString(errText)
	} else {
		_ = e.EncodeString("Ok")
		encodeValue(e, v)
	}
	b := bytes.Clone(f.buf.Bytes())
	binary.LittleEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// encodeValue writes v tagged. Writing to a bytes.Buffer cannot fail.
func encodeValue(e *msgpack.Encoder, v any) {
	tag := func(t string) {
		_ = e.EncodeMapLen(1)
		_ = e.EncodeString(t)
	}
	switch v := v.(type) {
	case nil:
		_ = e.EncodeString("Null")
	case bool:
		tag("Bool")
		_ = e.EncodeBool(v)
	case int64:
		tag("Int")
		_ = e.EncodeInt(v)
	case int:
		tag("Int")
		_ = e.EncodeInt(int64(v))
	case float64:
		tag("Float")
		_ = e.EncodeFloat64(v)
	case string:
		tag("Str")
		_ = e.EncodeString(v)
	case []byte:
		tag("Bytes")
		_ = e.EncodeBytes(v)
	case []any:
		tag("Array")
		_ = e.EncodeArrayLen(len(v))
		for _, x := range v {
			encodeValue(e, x)
		}
	case Map:
		tag("Map")
		_ = e.EncodeArrayLen(len(v))
		for _, p := range v {
			_ = e.EncodeArrayLen(2)
			encodeValue(e, p.K)
			encodeValue(e, p.V)
		}
	default:
		// Every value the door builds is one of the above; a bug is
		// answered as text rather than a broken frame.
		tag("Str")
		_ = e.EncodeString(fmt.Sprint(v))
	}
}

// errFrameTooLarge is a frame whose length is past the door's bound.
var errFrameTooLarge = errors.New("frame larger than the limit")

// readFrame reads one frame's body into buf (grown as needed) and returns
// it; a zero-length frame (a keep-alive) returns an empty body. A length
// past limit is refused before anything is allocated for it.
func readFrame(r io.Reader, buf []byte, limit int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if uint64(n) > uint64(limit) {
		return buf, fmt.Errorf("%w: %d bytes, the limit is %d (--max-body)", errFrameTooLarge, n, limit)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// The client's side of the wire, for the tests and tools that speak it.

// EncodeRequest returns the frame of a request.
func EncodeRequest(id uint32, cmd string, args []any) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{0, 0, 0, 0})
	e := msgpack.NewEncoder(&buf)
	e.UseCompactInts(true)
	_ = e.EncodeArrayLen(3)
	_ = e.EncodeUint(uint64(id))
	_ = e.EncodeString(cmd)
	_ = e.EncodeArrayLen(len(args))
	for _, a := range args {
		encodeValue(e, a)
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// DecodeReply decodes a reply frame's body: its id, and its value or its
// error text.
func DecodeReply(body []byte) (id uint32, v any, errText string, err error) {
	d := msgpack.NewDecoder(bytes.NewReader(body))
	if n, err := d.DecodeArrayLen(); err != nil || n != 2 {
		return 0, nil, "", fmt.Errorf("%w: a reply is [id, result]", errMalformed)
	}
	if id, err = d.DecodeUint32(); err != nil {
		return 0, nil, "", err
	}
	if n, err := d.DecodeMapLen(); err != nil || n != 1 {
		return 0, nil, "", fmt.Errorf("%w: a result is {Ok: value} or {Err: text}", errMalformed)
	}
	tag, err := d.DecodeString()
	if err != nil {
		return 0, nil, "", err
	}
	switch tag {
	case "Ok":
		v, err = decodeValue(d, 0)
		return id, v, "", err
	case "Err":
		errText, err = d.DecodeString()
		return id, nil, errText, err
	}
	return 0, nil, "", fmt.Errorf("%w: unknown result %q", errMalformed, tag)
}

// ReadFrame reads one frame's body, of at most limit bytes.
func ReadFrame(r io.Reader, limit int) ([]byte, error) { return readFrame(r, nil, limit) }
