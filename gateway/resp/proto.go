package resp

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
)

// errProtocol is a request that is not RESP: Redis answers it with the
// reason and closes the connection, and so does the door.
type errProtocol struct{ msg string }

func (e *errProtocol) Error() string { return "Protocol error: " + e.msg }

// errTooBig is a request past the door's bound on one command.
var errTooBig = errors.New("request too large")

// reader parses commands from a connection. It keeps one buffer and hands
// out arguments that point into it: they stay valid until fill moves the
// buffer, which happens only when no complete command is left in it, so a
// pipeline's commands parsed in one go can be run together without copying.
type reader struct {
	src  io.Reader
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	max  int // largest command (bytes), and so largest buffer
	args [][]byte
}

func newReader(src io.Reader, max int) *reader {
	return &reader{src: src, buf: make([]byte, 16<<10), max: max}
}

// buffered is how many bytes were read and not parsed yet.
func (rd *reader) buffered() int { return rd.w - rd.r }

// fill reads more bytes, compacting or growing the buffer first. It
// invalidates every argument handed out.
func (rd *reader) fill() error {
	if rd.r > 0 {
		copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.w -= rd.r
		rd.r = 0
	}
	if rd.w == len(rd.buf) {
		if len(rd.buf) >= rd.max {
			return errTooBig
		}
		nb := make([]byte, min(2*len(rd.buf), rd.max+64))
		copy(nb, rd.buf[:rd.w])
		rd.buf = nb
	}
	n, err := rd.src.Read(rd.buf[rd.w:])
	rd.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// next returns the next complete command in the buffer, nil when the
// buffer holds none (call fill). An empty inline line is skipped, as
// Redis does. The returned slice is reused by the following call.
func (rd *reader) next() ([][]byte, error) {
	for rd.r < rd.w {
		b := rd.buf[rd.r:rd.w]
		var n int
		var err error
		if b[0] == '*' {
			n, err = rd.parseMulti(b)
		} else {
			n, err = rd.parseInline(b)
		}
		if err != nil || n == 0 {
			return nil, err
		}
		rd.r += n
		if len(rd.args) > 0 {
			return rd.args, nil
		}
	}
	return nil, nil
}

// line returns the length of the line starting b (without CRLF) and the
// bytes it takes with its CRLF, or -1 when the line is incomplete.
func line(b []byte) (int, int) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return -1, 0
	}
	if i > 0 && b[i-1] == '\r' {
		return i - 1, i + 1
	}
	return i, i + 1
}

// parseInt reads a decimal integer as Redis's string2ll does.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// parseMulti parses "*N\r\n" followed by N bulk strings. It returns the
// bytes consumed, 0 when the command is not complete yet.
func (rd *reader) parseMulti(b []byte) (int, error) {
	ln, adv := line(b)
	if ln < 0 {
		if len(b) > 64<<10 {
			return 0, &errProtocol{"too big mbulk count string"}
		}
		return 0, nil
	}
	count, ok := parseInt(b[1:ln])
	if !ok || count > 1024*1024 {
		return 0, &errProtocol{"invalid multibulk length"}
	}
	rd.args = rd.args[:0]
	pos := adv
	for i := int64(0); i < count; i++ {
		if pos >= len(b) {
			return 0, nil
		}
		if b[pos] != '$' {
			return 0, &errProtocol{"expected '$', got '" + string(b[pos]) + "'"}
		}
		ln, adv := line(b[pos:])
		if ln < 0 {
			if len(b)-pos > 64<<10 {
				return 0, &errProtocol{"too big bulk count string"}
			}
			return 0, nil
		}
		size, ok := parseInt(b[pos+1 : pos+ln])
		if !ok || size < 0 || size > int64(rd.max) {
			return 0, &errProtocol{"invalid bulk length"}
		}
		pos += adv
		end := pos + int(size)
		if end+2 > len(b) {
			return 0, nil
		}
		rd.args = append(rd.args, b[pos:end:end])
		pos = end + 2
	}
	return pos, nil
}

// parseInline parses a line of space-separated arguments, with Redis's
// quoting ("..." with escapes, '...').
func (rd *reader) parseInline(b []byte) (int, error) {
	ln, adv := line(b)
	if ln < 0 {
		if len(b) > 64<<10 {
			return 0, &errProtocol{"too big inline request"}
		}
		return 0, nil
	}
	args, ok := splitArgs(b[:ln], rd.args[:0])
	if !ok {
		return 0, &errProtocol{"unbalanced quotes in request"}
	}
	rd.args = args
	return adv, nil
}

// splitArgs is Redis's sdssplitargs: arguments separated by spaces, each
// bare, "double quoted" (with \n \r \t \b \a \xHH escapes) or 'single
// quoted'. A quoted argument must be followed by a space or the end.
func splitArgs(b []byte, out [][]byte) ([][]byte, bool) {
	i := 0
	for {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			return out, true
		}
		var cur []byte
		switch b[i] {
		case '"':
			i++
			for {
				if i >= len(b) {
					return nil, false
				}
				c := b[i]
				if c == '\\' && i+3 < len(b) && b[i+1] == 'x' && isHex(b[i+2]) && isHex(b[i+3]) {
					cur = append(cur, unhex(b[i+2])<<4|unhex(b[i+3]))
					i += 4
					continue
				}
				if c == '\\' && i+1 < len(b) {
					i++
					switch b[i] {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					default:
						c = b[i]
					}
					cur = append(cur, c)
					i++
					continue
				}
				if c == '"' {
					i++
					if i < len(b) && !isSpace(b[i]) {
						return nil, false
					}
					break
				}
				cur = append(cur, c)
				i++
			}
			if cur == nil {
				cur = []byte{}
			}
		case '\'':
			i++
			for {
				if i >= len(b) {
					return nil, false
				}
				if b[i] == '\\' && i+1 < len(b) && b[i+1] == '\'' {
					cur = append(cur, '\'')
					i += 2
					continue
				}
				if b[i] == '\'' {
					i++
					if i < len(b) && !isSpace(b[i]) {
						return nil, false
					}
					break
				}
				cur = append(cur, b[i])
				i++
			}
			if cur == nil {
				cur = []byte{}
			}
		default:
			start := i
			for i < len(b) && !isSpace(b[i]) {
				i++
			}
			cur = b[start:i:i]
		}
		out = append(out, cur)
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// writer encodes replies into a byte slice, in RESP2 or RESP3: the
// connection's protocol decides how nulls, maps, sets, doubles and
// booleans go out.
type writer struct {
	b     []byte
	resp3 bool
}

func (w *writer) simple(s string) {
	w.b = append(w.b, '+')
	w.b = append(w.b, s...)
	w.b = append(w.b, '\r', '\n')
}

func (w *writer) ok() { w.b = append(w.b, "+OK\r\n"...) }

// err writes an error; msg starts with its code (ERR, WRONGTYPE ...).
// Line breaks would end the reply early: Redis turns them into spaces.
func (w *writer) err(msg string) {
	w.b = append(w.b, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.b = append(w.b, c)
	}
	w.b = append(w.b, '\r', '\n')
}

func (w *writer) int(n int64) {
	w.b = append(w.b, ':')
	w.b = strconv.AppendInt(w.b, n, 10)
	w.b = append(w.b, '\r', '\n')
}

func (w *writer) bulk(v []byte) {
	w.b = append(w.b, '$')
	w.b = strconv.AppendInt(w.b, int64(len(v)), 10)
	w.b = append(w.b, '\r', '\n')
	w.b = append(w.b, v...)
	w.b = append(w.b, '\r', '\n')
}

func (w *writer) bulkString(v string) {
	w.b = append(w.b, '$')
	w.b = strconv.AppendInt(w.b, int64(len(v)), 10)
	w.b = append(w.b, '\r', '\n')
	w.b = append(w.b, v...)
	w.b = append(w.b, '\r', '\n')
}

// verbatim is a RESP3 verbatim string (INFO's reply), a bulk one in RESP2.
func (w *writer) verbatim(s string) {
	if !w.resp3 {
		w.bulkString(s)
		return
	}
	w.b = append(w.b, '=')
	w.b = strconv.AppendInt(w.b, int64(len(s)+4), 10)
	w.b = append(w.b, "\r\ntxt:"...)
	w.b = append(w.b, s...)
	w.b = append(w.b, '\r', '\n')
}

// null is a missing bulk string.
func (w *writer) null() {
	if w.resp3 {
		w.b = append(w.b, "_\r\n"...)
	} else {
		w.b = append(w.b, "$-1\r\n"...)
	}
}

// nullArray is a missing array (a blocking pop that timed out, an aborted
// EXEC).
func (w *writer) nullArray() {
	if w.resp3 {
		w.b = append(w.b, "_\r\n"...)
	} else {
		w.b = append(w.b, "*-1\r\n"...)
	}
}

func (w *writer) header(c byte, n int) {
	w.b = append(w.b, c)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
	w.b = append(w.b, '\r', '\n')
}

func (w *writer) array(n int) { w.header('*', n) }

// mapOf starts a map of n pairs: a flat array of 2n in RESP2.
func (w *writer) mapOf(n int) {
	if w.resp3 {
		w.header('%', n)
	} else {
		w.header('*', 2*n)
	}
}

// setOf starts a set of n members (an array in RESP2).
func (w *writer) setOf(n int) {
	if w.resp3 {
		w.header('~', n)
	} else {
		w.header('*', n)
	}
}

// push starts an out-of-band message (pub/sub): RESP3's push type, an
// array in RESP2.
func (w *writer) push(n int) {
	if w.resp3 {
		w.header('>', n)
	} else {
		w.header('*', n)
	}
}

// double writes a score as Redis 7.0 does: a bulk string of %.17g in
// RESP2, RESP3's double type otherwise.
func (w *writer) double(f float64) {
	s := formatDouble(f)
	if w.resp3 {
		w.b = append(w.b, ',')
		w.b = append(w.b, s...)
		w.b = append(w.b, '\r', '\n')
		return
	}
	w.bulkString(s)
}

// formatDouble is Redis 7.0's addReplyDouble text: "inf", "-inf", else
// %.17g.
func formatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return cG17(f)
}

// cG17 is C's printf("%.17g").
func cG17(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	s := strconv.FormatFloat(f, 'g', 17, 64)
	// Go trims nothing with an explicit precision, C's %g trims trailing
	// zeros of the fraction.
	mant, exp, hasExp := s, "", false
	if i := bytes.IndexByte([]byte(s), 'e'); i >= 0 {
		mant, exp, hasExp = s[:i], s[i:], true
	}
	if bytes.IndexByte([]byte(mant), '.') >= 0 {
		j := len(mant)
		for j > 0 && mant[j-1] == '0' {
			j--
		}
		if j > 0 && mant[j-1] == '.' {
			j--
		}
		mant = mant[:j]
	}
	if hasExp {
		return mant + exp
	}
	return mant
}

func (w *writer) strings(items []string) {
	w.array(len(items))
	for _, s := range items {
		w.bulkString(s)
	}
}
