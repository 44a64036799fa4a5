package surql

import (
	"fmt"
	"unicode/utf8"
)

// Pos is a position in a query's source text.
type Pos struct {
	Offset int // byte offset, from 0
	Line   int // line number, from 1
	Col    int // column in characters, from 1
}

// position converts a byte offset in src to a Pos.
func position(src string, offset int) Pos {
	pos := Pos{Offset: offset, Line: 1, Col: 1}
	for _, r := range src[:offset] {
		if r == '\n' {
			pos.Line++
			pos.Col = 1
		} else {
			pos.Col++
		}
	}
	return pos
}

// An Error reports why a query could not be parsed: what was expected and
// what was found, or which construct is not supported.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}

// firstInvalidUTF8 returns the offset of the first byte of src that is not
// valid UTF-8, or -1.
func firstInvalidUTF8(src string) int {
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
