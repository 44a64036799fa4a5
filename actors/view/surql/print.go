package surql

import (
	"strconv"
	"strings"
)

// Operator precedence, loosest first. The printer adds parentheses where a
// child binds more loosely than its place requires, so that the printed
// query parses back to the same tree.
const (
	precOr = iota + 1
	precAnd
	precCompare
	precUnary
)

func precedence(e Expr) int {
	if b, ok := e.(*Binary); ok {
		switch b.Op {
		case OpOr:
			return precOr
		case OpAnd:
			return precAnd
		}
		return precCompare
	}
	return precUnary
}

// String prints the statement canonically: keywords in capitals, * first,
// explicit ORDER BY directions only for DESC, minimal parentheses.
// Parsing the result gives back an equal tree.
func (s *Select) String() string {
	var b strings.Builder
	s.write(&b)
	return b.String()
}

func (s *Select) write(b *strings.Builder) {
	b.WriteString("SELECT ")
	if s.All {
		b.WriteString("*")
	}
	for i, f := range s.Fields {
		if i > 0 || s.All {
			b.WriteString(", ")
		}
		b.WriteString(f.String())
	}
	b.WriteString(" FROM ")
	b.WriteString(quoteIdent(s.From))
	if s.Where != nil {
		b.WriteString(" WHERE ")
		writeExpr(b, s.Where, precOr)
	}
	if s.GroupAll {
		b.WriteString(" GROUP ALL")
	}
	for i, p := range s.GroupBy {
		if i == 0 {
			b.WriteString(" GROUP BY ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	for i, o := range s.OrderBy {
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(o.Path.String())
		if o.Desc {
			b.WriteString(" DESC")
		}
	}
	if s.Limit != nil {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.FormatInt(*s.Limit, 10))
	}
	if s.Start != nil {
		b.WriteString(" START ")
		b.WriteString(strconv.FormatInt(*s.Start, 10))
	}
}

func (f Field) String() string {
	if f.Alias == "" {
		return f.Expr.String()
	}
	return f.Expr.String() + " AS " + quoteIdent(f.Alias)
}

func writeExpr(b *strings.Builder, e Expr, min int) {
	if precedence(e) < min {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch e := e.(type) {
	case *Binary:
		p := precedence(e)
		writeExpr(b, e.X, p)
		b.WriteByte(' ')
		b.WriteString(e.Op.String())
		b.WriteByte(' ')
		writeExpr(b, e.Y, p+1) // operators associate to the left
	case *Unary:
		b.WriteString(e.Op.String())
		writeExpr(b, e.X, precUnary)
	default:
		b.WriteString(e.String())
	}
}

func exprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e, precOr)
	return b.String()
}

func (e *Binary) String() string { return exprString(e) }
func (e *Unary) String() string  { return exprString(e) }

func (e *Literal) String() string { return Format(e.Value) }

func (e *Array) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range e.Elems {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(&b, x, precOr)
	}
	b.WriteByte(']')
	return b.String()
}

func (e *Object) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, en := range e.Entries {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(objectKey(en.Key))
		b.WriteString(": ")
		writeExpr(&b, en.Value, precOr)
	}
	b.WriteByte('}')
	return b.String()
}

func (e *Path) String() string { return pathString(e.Parts) }

func (e *Param) String() string {
	if len(e.Path) == 0 {
		return "$" + e.Name
	}
	return "$" + e.Name + "." + pathString(e.Path)
}

func (e *Subquery) String() string { return "(" + e.Select.String() + ")" }

func (e *Index) String() string {
	return e.X.String() + "[" + strconv.FormatInt(e.Index, 10) + "]"
}

func (e *Call) String() string {
	var b strings.Builder
	b.WriteString(e.Name)
	b.WriteByte('(')
	for i, a := range e.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(&b, a, precOr)
	}
	b.WriteByte(')')
	return b.String()
}

func pathString(parts []string) string {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = quoteIdent(p)
	}
	return strings.Join(quoted, ".")
}

// quoteIdent writes a name plainly when it reads back as the same name,
// and in backticks otherwise: names that are not plain, and keywords.
func quoteIdent(s string) string {
	if isPlainIdent(s) && !keywords[strings.ToUpper(s)] {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`")
	return "`" + r.Replace(s) + "`"
}

// objectKey writes an object key: a plain name, or a string literal.
func objectKey(k string) string {
	if isPlainIdent(k) {
		return k
	}
	return quoteString(k)
}
