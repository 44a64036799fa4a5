package surql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokIdent            // a name: plain, or quoted with `...` or ⟨...⟩
	tokInt              // an integer literal, possibly negative
	tokFloat            // a float literal, possibly negative
	tokString           // a string literal; text holds the decoded value
	tokParam            // $name; text holds the name
	tokRecord           // r'table:key'; text holds the string
	tokOp               // an operator or punctuation; text holds it
)

type token struct {
	kind   tokenKind
	text   string
	pos    int  // offset of the first byte
	end    int  // offset after the last byte
	quoted bool // a quoted identifier, never a keyword
}

// operators lists the operator and punctuation tokens, longest first so that
// a scan takes the longest match. Many are not supported by the parser; they
// are tokens so that an error can name them.
var operators = []string{
	"<->",
	"==", "!=", "<=", ">=", "&&", "||", "::", "**", "?=", "*=", "!~", "?~", "*~",
	"@@", "??", "?:", "->", "<-", "..", "+=", "-=",
	"=", "<", ">", "!", "(", ")", "[", "]", "{", "}", ",", ".", ":", ";", "*",
	"+", "-", "/", "%", "~", "?", "@", "|", "&", "^",
}

// A lexer splits a query into tokens on demand. It reports an error by
// panicking with *Error; Parse recovers it.
type lexer struct {
	src string
	off int
}

func (l *lexer) errorf(offset int, format string, args ...any) {
	panic(&Error{Pos: position(l.src, offset), Msg: fmt.Sprintf(format, args...)})
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentByte(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isPlainIdent reports whether s can be written as an unquoted identifier.
func isPlainIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

func (l *lexer) peekByte(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

// skipSpace skips white space and the comment forms of SurrealQL:
// -- and // and # to the end of the line, /* to */.
func (l *lexer) skipSpace() {
	for l.off < len(l.src) {
		switch c := l.src[l.off]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.off++
		case c == '#' || c == '-' && l.peekByte(1) == '-' || c == '/' && l.peekByte(1) == '/':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.off++
			}
		case c == '/' && l.peekByte(1) == '*':
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				l.errorf(l.off, "unterminated comment")
			}
			l.off += 2 + end + 2
		default:
			return
		}
	}
}

// next scans the next token.
func (l *lexer) next() token {
	l.skipSpace()
	start := l.off
	if l.off >= len(l.src) {
		return token{kind: tokEOF, pos: start, end: start}
	}
	c := l.src[l.off]
	switch {
	case isIdentStart(c):
		for l.off < len(l.src) && isIdentByte(l.src[l.off]) {
			l.off++
		}
		if q := l.peekByte(0); (q == '\'' || q == '"') && l.off-start == 1 {
			// SurrealDB's typed strings, as it renders values (params):
			// d'...' a datetime and u'...' a uuid, kept as their text (JSON
			// carries them so); s'...' a string; r'...' a record id.
			switch prefix := l.src[start]; prefix {
			case 'd', 'u', 's':
				return token{kind: tokString, text: l.string(), pos: start, end: l.off}
			case 'r':
				return token{kind: tokRecord, text: l.string(), pos: start, end: l.off}
			}
			l.errorf(start, "prefixed string literals (%s%c...%c) are not supported", l.src[start:l.off], q, q)
		}
		return token{kind: tokIdent, text: l.src[start:l.off], pos: start, end: l.off}
	case c == '`' || strings.HasPrefix(l.src[l.off:], "⟨"):
		return token{kind: tokIdent, text: l.quoted(), pos: start, end: l.off, quoted: true}
	case isDigit(c) || c == '-' && isDigit(l.peekByte(1)):
		return l.number()
	case c == '\'' || c == '"':
		return token{kind: tokString, text: l.string(), pos: start, end: l.off}
	case c == '$':
		l.off++
		for l.off < len(l.src) && isIdentByte(l.src[l.off]) {
			l.off++
		}
		if l.off == start+1 {
			l.errorf(start, "expected a parameter name after $")
		}
		return token{kind: tokParam, text: l.src[start+1 : l.off], pos: start, end: l.off}
	}
	for _, op := range operators {
		if strings.HasPrefix(l.src[l.off:], op) {
			l.off += len(op)
			return token{kind: tokOp, text: op, pos: start, end: l.off}
		}
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.off:])
	l.errorf(start, "unexpected character %q", r)
	panic("unreachable")
}

// number scans an integer or float literal. A letter right after the digits
// is an error: it would be a duration (10s), a typed number (1.5f, 3dec) or
// a malformed name, none of which is supported.
func (l *lexer) number() token {
	start := l.off
	if l.src[l.off] == '-' {
		l.off++
	}
	l.digits()
	kind := tokInt
	if l.peekByte(0) == '.' && isDigit(l.peekByte(1)) {
		l.off++
		l.digits()
		kind = tokFloat
	}
	if e := l.peekByte(0); e == 'e' || e == 'E' {
		i := 1
		if s := l.peekByte(1); s == '+' || s == '-' {
			i = 2
		}
		if isDigit(l.peekByte(i)) {
			l.off += i
			l.digits()
			kind = tokFloat
		}
	}
	text := l.src[start:l.off]
	if isIdentByte(l.peekByte(0)) {
		end := l.off
		for end < len(l.src) && isIdentByte(l.src[end]) {
			end++
		}
		// The suffixes of SurrealDB's typed numbers: 1.5f is a float,
		// 2dec a decimal (taken as a float).
		switch suffix := l.src[l.off:end]; suffix {
		case "f", "dec":
			if _, err := strconv.ParseFloat(text, 64); err != nil {
				l.errorf(start, "number %s is out of range", text)
			}
			l.off = end
			return token{kind: tokFloat, text: text, pos: start, end: l.off}
		}
		l.errorf(start, "unsupported literal %q: only integers and floats (1, 1.5, 1.5f, 2dec) are supported", l.src[start:end])
	}
	if kind == tokInt {
		if _, err := strconv.ParseInt(text, 10, 64); err != nil {
			l.errorf(start, "integer %s is out of range", text)
		}
	} else if _, err := strconv.ParseFloat(text, 64); err != nil {
		l.errorf(start, "number %s is out of range", text)
	}
	return token{kind: kind, text: text, pos: start, end: l.off}
}

func (l *lexer) digits() {
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		l.off++
	}
}

// string scans a string literal in single or double quotes and returns its
// decoded value.
func (l *lexer) string() string {
	start := l.off
	quote := l.src[l.off]
	l.off++
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			l.errorf(start, "unterminated string")
		}
		c := l.src[l.off]
		switch {
		case c == quote:
			l.off++
			return b.String()
		case c == '\\':
			l.escape(&b)
		default:
			b.WriteByte(c)
			l.off++
		}
	}
}

// escape decodes one backslash escape of a string literal into b.
func (l *lexer) escape(b *strings.Builder) {
	start := l.off
	l.off++ // the backslash
	if l.off >= len(l.src) {
		l.errorf(start, "unterminated string")
	}
	c := l.src[l.off]
	l.off++
	switch c {
	case '\\', '\'', '"', '/', '`':
		b.WriteByte(c)
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case '0':
		b.WriteByte(0)
	case 'u':
		var hex string
		if l.peekByte(0) == '{' {
			end := strings.IndexByte(l.src[l.off:], '}')
			if end < 0 {
				l.errorf(start, "unterminated \\u{...} escape")
			}
			hex = l.src[l.off+1 : l.off+end]
			l.off += end + 1
		} else {
			if l.off+4 > len(l.src) {
				l.errorf(start, "\\u needs four hex digits")
			}
			hex = l.src[l.off : l.off+4]
			l.off += 4
		}
		n, err := strconv.ParseUint(hex, 16, 32)
		if err != nil || hex == "" || hex[0] == '+' || !utf8.ValidRune(rune(n)) {
			l.errorf(start, "invalid unicode escape %q", l.src[start:l.off])
		}
		b.WriteRune(rune(n))
	default:
		r, _ := utf8.DecodeRuneInString(l.src[l.off-1:])
		l.errorf(start, "invalid escape \\%c in string", r)
	}
}

// quoted scans a name quoted with backticks or with ⟨ and ⟩. Inside, a
// backslash escapes the closing quote and itself.
func (l *lexer) quoted() string {
	start := l.off
	open, closing := "`", "`"
	if !strings.HasPrefix(l.src[l.off:], "`") {
		open, closing = "⟨", "⟩"
	}
	l.off += len(open)
	var b strings.Builder
	for {
		rest := l.src[l.off:]
		switch {
		case rest == "":
			l.errorf(start, "unterminated %s...%s name", open, closing)
		case strings.HasPrefix(rest, closing):
			l.off += len(closing)
			if b.Len() == 0 {
				l.errorf(start, "empty name %s%s", open, closing)
			}
			return b.String()
		case strings.HasPrefix(rest, `\`+closing):
			b.WriteString(closing)
			l.off += 1 + len(closing)
		case strings.HasPrefix(rest, `\\`):
			b.WriteByte('\\')
			l.off += 2
		default:
			b.WriteByte(rest[0])
			l.off++
		}
	}
}

// recordKey scans the key of a record id, at the ':' that follows its
// table name: a run of letters, digits and underscores, or a quoted name.
func (l *lexer) recordKey(table string) string {
	start := l.off
	l.off++ // ':'
	if c := l.peekByte(0); c == '`' || strings.HasPrefix(l.src[l.off:], "⟨") {
		return l.quoted()
	}
	keyStart := l.off
	for l.off < len(l.src) && isIdentByte(l.src[l.off]) {
		l.off++
	}
	if l.off == keyStart {
		if c := l.peekByte(0); c == '[' || c == '{' || c == '(' || c == '-' || c == '.' {
			l.errorf(start, "record ids with array, object, range or computed keys are not supported")
		}
		l.errorf(start, "expected a record id key after %s:", table)
	}
	return l.src[keyStart:l.off]
}
