package surql

import (
	"fmt"
	"strconv"
	"strings"
)

// keywords are the words the parser gives a meaning to. The printer quotes
// names that collide with them; the parser takes a quoted name as a name.
var keywords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`SELECT FROM WHERE GROUP BY ALL ORDER ASC DESC
		LIMIT START AT AS AND OR NOT IS IN INSIDE NOTINSIDE ALLINSIDE ANYINSIDE
		NONEINSIDE CONTAINS CONTAINSNOT CONTAINSALL CONTAINSANY CONTAINSNONE
		TRUE FALSE NULL NONE VALUE OMIT ONLY WITH SPLIT FETCH TIMEOUT PARALLEL
		TEMPFILES EXPLAIN COLLATE NUMERIC RAND`) {
		keywords[w] = true
	}
}

// statements are the statement keywords other than SELECT; a view is one
// SELECT, so each of them is reported by name.
var statements = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`LET CREATE UPDATE UPSERT DELETE INSERT RELATE
		RETURN DEFINE REMOVE INFO USE BEGIN COMMIT CANCEL LIVE KILL SHOW SLEEP
		THROW IF FOR BREAK CONTINUE OPTION REBUILD ALTER ACCESS`) {
		statements[w] = true
	}
}

// clauses lists the clauses that may follow FROM, in the order SurrealQL
// requires them. The unsupported ones are listed so they can be named.
var clauses = []struct {
	word      string
	name      string
	supported bool
}{
	{"WITH", "WITH", false},
	{"WHERE", "WHERE", true},
	{"SPLIT", "SPLIT", false},
	{"GROUP", "GROUP BY", true},
	{"ORDER", "ORDER BY", true},
	{"LIMIT", "LIMIT", true},
	{"START", "START", true},
	{"FETCH", "FETCH", false},
	{"TIMEOUT", "TIMEOUT", false},
	{"PARALLEL", "PARALLEL", false},
	{"TEMPFILES", "TEMPFILES", false},
	{"EXPLAIN", "EXPLAIN", false},
}

// compareOps maps the operator tokens and words to binary operators.
var compareOps = map[string]Op{
	"=": OpEq, "==": OpEq, "!=": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe,
	"CONTAINS": OpContains, "CONTAINSNOT": OpContainsNot, "CONTAINSALL": OpContainsAll,
	"CONTAINSANY": OpContainsAny, "CONTAINSNONE": OpContainsNone,
	"INSIDE": OpInside, "IN": OpInside, "NOTINSIDE": OpNotInside,
	"ALLINSIDE": OpAllInside, "ANYINSIDE": OpAnyInside, "NONEINSIDE": OpNoneInside,
}

// unsupportedOps are SurrealQL operators this subset does not evaluate.
var unsupportedOps = map[string]bool{
	"+": true, "-": true, "*": true, "/": true, "%": true, "**": true, "?=": true,
	"*=": true, "~": true, "!~": true, "?~": true, "*~": true, "@@": true, "??": true,
	"?:": true, "->": true, "<-": true, "<->": true, "..": true, "+=": true, "-=": true,
	"?": true, "@": true, "|": true, "&": true, "^": true,
	"OUTSIDE": true, "INTERSECTS": true, "MATCHES": true, "LIKE": true,
}

// maxDepth bounds the nesting of expressions and subqueries, so that no
// input can exhaust the stack.
const maxDepth = 100

// Parse parses one SELECT statement of the supported subset. Anything else,
// including trailing text, is an *Error that says what was expected and what
// was found, or names the construct that is not supported.
func Parse(src string) (sel *Select, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			sel, err = nil, e
		}
	}()
	if i := firstInvalidUTF8(src); i >= 0 {
		return nil, &Error{Pos: position(src, i), Msg: "query is not valid UTF-8"}
	}
	p := &parser{lex: lexer{src: src}}
	p.next()
	return p.statement(), nil
}

type parser struct {
	lex   lexer
	tok   token // the current token
	depth int
}

func (p *parser) next() { p.tok = p.lex.next() }

// peek returns the token after the current one without consuming it.
func (p *parser) peek() token {
	l := p.lex
	return l.next()
}

func (p *parser) errorf(offset int, format string, args ...any) {
	p.lex.errorf(offset, format, args...)
}

// found describes the current token for an error message.
func (p *parser) found() string {
	if p.tok.kind == tokEOF {
		return "end of query"
	}
	text := p.lex.src[p.tok.pos:p.tok.end]
	if len(text) > 40 {
		text = text[:37] + "..."
	}
	return strconv.Quote(text)
}

func (p *parser) expected(what string) {
	p.errorf(p.tok.pos, "expected %s, found %s", what, p.found())
}

// isWord reports whether the current token is the unquoted keyword w.
func (p *parser) isWord(w string) bool {
	return p.tok.kind == tokIdent && !p.tok.quoted && strings.EqualFold(p.tok.text, w)
}

func (p *parser) isOp(op string) bool { return p.tok.kind == tokOp && p.tok.text == op }

func (p *parser) expectWord(w string) {
	if !p.isWord(w) {
		p.expected(w)
	}
	p.next()
}

func (p *parser) expectOp(op string) {
	if !p.isOp(op) {
		p.expected(strconv.Quote(op))
	}
	p.next()
}

func (p *parser) unsupported(offset int, what string) {
	p.errorf(offset, "%s is not supported", what)
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.errorf(p.tok.pos, "query is nested too deeply")
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) statement() *Select {
	if !p.isWord("SELECT") {
		if w := strings.ToUpper(p.tok.text); p.tok.kind == tokIdent && !p.tok.quoted && statements[w] {
			p.errorf(p.tok.pos, "%s statements are not supported: a view is one SELECT", w)
		}
		p.expected("SELECT")
	}
	sel, next := p.selectStmt()
	if p.isOp(";") {
		p.next()
		if p.tok.kind != tokEOF {
			p.errorf(p.tok.pos, "multiple statements are not supported: a view is one SELECT")
		}
	}
	if p.tok.kind != tokEOF {
		p.expectedClause(next, "end of query")
	}
	return sel
}

// selectStmt parses a SELECT from its keyword through its last clause. It
// returns the index in clauses of the first clause that may still follow.
func (p *parser) selectStmt() (*Select, int) {
	p.next() // SELECT
	sel := &Select{}
	if p.isWord("VALUE") {
		p.unsupported(p.tok.pos, "SELECT VALUE")
	}
	p.fields(sel)
	if p.isWord("OMIT") {
		p.unsupported(p.tok.pos, "OMIT")
	}
	p.expectWord("FROM")
	if p.isWord("ONLY") {
		p.unsupported(p.tok.pos, "FROM ONLY")
	}
	sel.From = p.table()
	if p.isOp(",") {
		p.unsupported(p.tok.pos, "selecting from more than one table")
	}
	return sel, p.clauses(sel)
}

func (p *parser) table() string {
	switch {
	case p.tok.kind == tokParam:
		p.unsupported(p.tok.pos, "selecting from a parameter")
	case p.isOp("("):
		p.unsupported(p.tok.pos, "selecting from a subquery")
	case p.tok.kind != tokIdent:
		p.expected("a table name")
	case p.atRecordID():
		p.unsupported(p.tok.pos, "selecting from a record id")
	}
	name := p.tok.text
	p.next()
	return name
}

// clauses parses the clauses after FROM and returns the index of the first
// clause that may still follow.
func (p *parser) clauses(sel *Select) int {
	next := 0
	for {
		i := p.clauseIndex()
		if i < 0 {
			return next
		}
		c := clauses[i]
		switch {
		case !c.supported:
			p.unsupported(p.tok.pos, c.name)
		case i < next:
			p.errorf(p.tok.pos, "%s is out of place: the clauses are WHERE, GROUP BY, ORDER BY, LIMIT, START, in that order, each at most once", c.name)
		}
		p.next()
		switch c.word {
		case "WHERE":
			sel.Where = p.expr()
		case "GROUP":
			p.groupBy(sel)
		case "ORDER":
			p.orderBy(sel)
		case "LIMIT":
			if p.isWord("BY") {
				p.next()
			}
			sel.Limit = p.count("LIMIT")
		case "START":
			if p.isWord("AT") {
				p.next()
			}
			sel.Start = p.count("START")
		}
		next = i + 1
	}
}

func (p *parser) clauseIndex() int {
	for i, c := range clauses {
		if p.isWord(c.word) {
			return i
		}
	}
	return -1
}

// expectedClause reports the current token where a clause or the end of
// the statement (end) was expected.
func (p *parser) expectedClause(next int, end string) {
	var names []string
	for _, c := range clauses[next:] {
		if c.supported {
			names = append(names, c.name)
		}
	}
	names = append(names, end)
	what := names[len(names)-1]
	if len(names) > 1 {
		what = strings.Join(names[:len(names)-1], ", ") + " or " + what
	}
	p.expected(what)
}

func (p *parser) groupBy(sel *Select) {
	if p.isWord("ALL") {
		p.next()
		sel.GroupAll = true
		return
	}
	if p.isWord("BY") {
		p.next()
	}
	for {
		sel.GroupBy = append(sel.GroupBy, p.path("a field after GROUP BY"))
		if !p.isOp(",") {
			return
		}
		p.next()
	}
}

func (p *parser) orderBy(sel *Select) {
	if p.isWord("BY") {
		p.next()
	}
	for {
		if p.isWord("RAND") {
			p.unsupported(p.tok.pos, "ORDER BY RAND()")
		}
		o := Order{Path: p.path("a field after ORDER BY")}
		for _, w := range []string{"COLLATE", "NUMERIC"} {
			if p.isWord(w) {
				p.unsupported(p.tok.pos, "ORDER BY ... "+w)
			}
		}
		switch {
		case p.isWord("ASC"):
			p.next()
		case p.isWord("DESC"):
			o.Desc = true
			p.next()
		}
		sel.OrderBy = append(sel.OrderBy, o)
		if !p.isOp(",") {
			return
		}
		p.next()
	}
}

// count parses the non-negative integer of LIMIT or START.
func (p *parser) count(clause string) *int64 {
	if p.tok.kind == tokParam {
		p.unsupported(p.tok.pos, clause+" with a parameter")
	}
	if p.tok.kind != tokInt || strings.HasPrefix(p.tok.text, "-") {
		p.expected("a non-negative integer after " + clause)
	}
	n, _ := strconv.ParseInt(p.tok.text, 10, 64) // the lexer checked the range
	p.next()
	return &n
}

func (p *parser) fields(sel *Select) {
	for {
		if p.isOp("*") {
			if sel.All {
				p.errorf(p.tok.pos, "* appears twice")
			}
			sel.All = true
			p.next()
			if p.isWord("AS") {
				p.errorf(p.tok.pos, "* cannot have an alias")
			}
		} else {
			sel.Fields = append(sel.Fields, p.field())
		}
		if !p.isOp(",") {
			return
		}
		p.next()
	}
}

func (p *parser) field() Field {
	var f Field
	switch {
	case p.isOp("("):
		if next := p.peek(); next.kind != tokIdent || next.quoted || !strings.EqualFold(next.text, "SELECT") {
			p.errorf(p.tok.pos, "expressions in the projection are not supported: expected a field, *, subquery or function")
		}
		f.Expr = p.paren()
	case p.tok.kind == tokIdent && !p.isWord("FROM"):
		if next := p.peek(); next.kind == tokOp && (next.text == "(" || next.text == "::") {
			f.Expr = p.call()
		} else {
			f.Expr = p.path("a field")
		}
	default:
		p.expected("a field, *, subquery or function")
	}
	if p.isWord("AS") {
		p.next()
		if p.tok.kind != tokIdent {
			p.expected("an alias after AS")
		}
		f.Alias = p.tok.text
		p.next()
		if p.isOp(".") {
			p.errorf(p.tok.pos, "an alias is a single name")
		}
	}
	return f
}

// call parses an aggregate call of the projection.
func (p *parser) call() *Call {
	pos := p.tok.pos
	name := p.tok.text
	p.next()
	for p.isOp("::") {
		p.next()
		if p.tok.kind != tokIdent {
			p.expected("a function name after ::")
		}
		name += "::" + p.tok.text
		p.next()
	}
	call := &Call{Name: strings.ToLower(name)}
	p.expectOp("(")
	switch call.Name {
	case "count":
		if !p.isOp(")") {
			p.unsupported(p.tok.pos, "count with an argument")
		}
	case "math::sum":
		call.Args = []Expr{p.path("a field in math::sum(...)")}
	default:
		p.errorf(pos, "function %s is not supported: the projection supports count() and math::sum(field)", name)
	}
	p.expectOp(")")
	return call
}

// path parses a field path: name(.name)*.
func (p *parser) path(what string) *Path {
	if p.tok.kind != tokIdent {
		p.expected(what)
	}
	path := &Path{Parts: []string{p.tok.text}}
	p.next()
	path.Parts = p.pathRest(path.Parts)
	return path
}

// pathRest parses the .name parts that follow a path's or a parameter's
// start, appending them to parts.
func (p *parser) pathRest(parts []string) []string {
	for p.isOp(".") {
		p.next()
		switch {
		case p.isOp("*"):
			p.unsupported(p.tok.pos, "the .* path part")
		case p.tok.kind != tokIdent:
			p.expected("a field name after .")
		}
		parts = append(parts, p.tok.text)
		p.next()
	}
	if p.isOp("[") {
		p.unsupported(p.tok.pos, "indexing or filtering a field path with [...]")
	}
	return parts
}

// expr parses a condition. Precedence, loosest first: OR (||), AND (&&),
// NOT, the comparison and containment operators (left-associative), and
// ! and the operands.
func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	x := p.and()
	for p.isWord("OR") || p.isOp("||") {
		p.next()
		x = &Binary{Op: OpOr, X: x, Y: p.and()}
	}
	return x
}

func (p *parser) and() Expr {
	x := p.not()
	for p.isWord("AND") || p.isOp("&&") {
		p.next()
		x = &Binary{Op: OpAnd, X: x, Y: p.not()}
	}
	return x
}

// not refuses the NOT keyword, as SurrealDB 3 does: negation is !.
func (p *parser) not() Expr {
	if p.isWord("NOT") {
		p.errorf(p.tok.pos, "NOT is not a SurrealQL operator: negate with ! and parentheses, as in !(a = 1)")
	}
	return p.compare()
}

func (p *parser) compare() Expr {
	x := p.unary()
	for {
		op, ok := p.compareOp()
		if !ok {
			return x
		}
		x = &Binary{Op: op, X: x, Y: p.unary()}
	}
}

// compareOp consumes a comparison or containment operator if one is next.
func (p *parser) compareOp() (Op, bool) {
	if p.tok.kind == tokIdent && p.tok.quoted || p.tok.kind != tokIdent && p.tok.kind != tokOp {
		return 0, false
	}
	word := p.tok.text
	if p.tok.kind == tokIdent {
		word = strings.ToUpper(word)
	}
	pos := p.tok.pos
	switch word {
	case "IS":
		p.next()
		if p.isWord("NOT") {
			p.next()
			return OpNe, true
		}
		return OpEq, true
	case "NOT":
		p.errorf(pos, "NOT is not a SurrealQL operator: use NOTINSIDE, or negate with !")
	}
	if op, ok := compareOps[word]; ok {
		p.next()
		return op, true
	}
	if unsupportedOps[word] {
		p.errorf(pos, "operator %s is not supported", word)
	}
	return 0, false
}

func (p *parser) unary() Expr {
	if p.isWord("NOT") {
		p.not()
	}
	if p.isOp("!") {
		p.enter()
		defer p.leave()
		p.next()
		return &Unary{Op: OpNot, X: p.unary()}
	}
	return p.operand()
}

func (p *parser) operand() Expr {
	switch p.tok.kind {
	case tokInt:
		n, _ := strconv.ParseInt(p.tok.text, 10, 64) // the lexer checked the range
		p.next()
		return &Literal{Value: n}
	case tokFloat:
		f, _ := strconv.ParseFloat(p.tok.text, 64)
		p.next()
		return &Literal{Value: f}
	case tokString:
		s := p.tok.text
		p.next()
		return &Literal{Value: s}
	case tokRecord:
		id, ok := Link(p.tok.text)
		if !ok {
			p.errorf(p.tok.pos, "r%q is not a record id", p.tok.text)
		}
		p.next()
		return &Literal{Value: id}
	case tokParam:
		param := &Param{Name: p.tok.text}
		p.next()
		param.Path = p.pathRest(nil)
		return param
	case tokOp:
		switch p.tok.text {
		case "(":
			return p.paren()
		case "[":
			return p.array()
		case "{":
			return p.object()
		}
		if unsupportedOps[p.tok.text] {
			p.errorf(p.tok.pos, "operator %s is not supported", p.tok.text)
		}
	case tokIdent:
		return p.name()
	}
	p.expected("an expression")
	panic("unreachable")
}

// name parses an operand that starts with a name: a record id, a keyword
// literal or a field path.
func (p *parser) name() Expr {
	if p.atRecordID() {
		table := p.tok.text
		quoted := strings.HasPrefix(p.lex.src[p.tok.end+1:], "⟨") || strings.HasPrefix(p.lex.src[p.tok.end+1:], "`")
		key := p.lex.recordKey(table)
		p.next()
		if quoted {
			return &Literal{Value: RecordID{Table: table, Key: key}}
		}
		return &Literal{Value: NewRecordID(table, key)}
	}
	if v, ok := p.keywordLiteral(); ok {
		p.next()
		return &Literal{Value: v}
	}
	if next := p.peek(); next.kind == tokOp && (next.text == "(" || next.text == "::") {
		return p.function()
	}
	return p.path("a field")
}

// conditionFuncs are the functions a condition may call, by their
// number of arguments.
var conditionFuncs = map[string]int{
	"string::lowercase": 1, "string::uppercase": 1, "string::len": 1, "string::trim": 1,
	"string::starts_with": 2, "string::ends_with": 2, "string::contains": 2,
	"array::len": 1, "math::abs": 1,
	"type::is::array": 1, "type::is::bool": 1, "type::is::float": 1, "type::is::int": 1,
	"type::is::none": 1, "type::is::null": 1, "type::is::number": 1, "type::is::object": 1,
	"type::is::string": 1, "type::is::record": 1,
}

func init() {
	// SurrealDB 3 spells the type checks type::is_string.
	for name, n := range conditionFuncs {
		if rest, ok := strings.CutPrefix(name, "type::is::"); ok {
			conditionFuncs["type::is_"+rest] = n
		}
	}
}

// function parses a function call in a condition.
func (p *parser) function() Expr {
	p.enter()
	defer p.leave()
	pos, name := p.tok.pos, p.tok.text
	for p.next(); p.tok.kind == tokOp && p.tok.text == "::"; p.next() {
		p.next()
		if p.tok.kind != tokIdent {
			p.expected("a function name after ::")
		}
		name += "::" + p.tok.text
	}
	lower := strings.ToLower(name)
	n, ok := conditionFuncs[lower]
	if !ok {
		if lower == "time::now" {
			p.errorf(pos, "function time::now is not supported: a view's result cannot depend on the clock")
		}
		p.errorf(pos, "function %s is not supported in conditions (supported: string::lowercase, uppercase, len, trim, starts_with, ends_with, contains; array::len; math::abs; type::is::*)", name)
	}
	call := &Call{Name: lower}
	p.expectOp("(")
	for !p.isOp(")") {
		call.Args = append(call.Args, p.expr())
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	p.expectOp(")")
	if len(call.Args) != n {
		p.errorf(pos, "function %s takes %d argument(s), not %d", name, n, len(call.Args))
	}
	return call
}

// ParseValue parses a SurrealQL value as SurrealDB renders one, such as a
// view's params: { auth: { id: user:abc }, name: 'bob', n: 1.5f,
// at: d'2024-01-01T00:00:00Z', tags: ['a'], x: NONE }. Datetimes and uuids
// are kept as their text.
func ParseValue(src string) (v Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			v, err = nil, e
		}
	}()
	if i := firstInvalidUTF8(src); i >= 0 {
		return nil, &Error{Pos: position(src, i), Msg: "value is not valid UTF-8"}
	}
	p := &parser{lex: lexer{src: src}}
	p.next()
	x := p.expr()
	if p.tok.kind != tokEOF {
		p.expected("end of value")
	}
	return p.constant(x), nil
}

// constant evaluates a constant expression: literals, arrays and objects.
func (p *parser) constant(x Expr) Value {
	switch x := x.(type) {
	case *Literal:
		return x.Value
	case *Array:
		out := make([]any, len(x.Elems))
		for i, e := range x.Elems {
			out[i] = p.constant(e)
		}
		return out
	case *Object:
		out := make(map[string]any, len(x.Entries))
		for _, en := range x.Entries {
			if v := p.constant(en.Value); v != None {
				out[en.Key] = v
			}
		}
		return out
	}
	p.errorf(0, "%s is not a value", x)
	panic("unreachable")
}

// keywordLiteral returns the value of the current token if it is TRUE,
// FALSE, NULL or NONE.
func (p *parser) keywordLiteral() (Value, bool) {
	if p.tok.quoted {
		return nil, false
	}
	switch strings.ToUpper(p.tok.text) {
	case "TRUE":
		return true, true
	case "FALSE":
		return false, true
	case "NULL":
		return nil, true
	case "NONE":
		return None, true
	}
	return nil, false
}

// atRecordID reports whether the current name is a record id's table: a
// name followed at once by a single ':'.
func (p *parser) atRecordID() bool {
	src, end := p.lex.src, p.tok.end
	return p.tok.kind == tokIdent && end < len(src) && src[end] == ':' &&
		(end+1 == len(src) || src[end+1] != ':')
}

// paren parses a parenthesized condition, or a subquery and its optional
// [index].
func (p *parser) paren() Expr {
	p.enter()
	defer p.leave()
	p.next() // (
	if !p.isWord("SELECT") {
		x := p.expr()
		p.expectOp(")")
		if p.isOp("[") {
			p.unsupported(p.tok.pos, "indexing anything but a subquery")
		}
		return x
	}
	sel, next := p.selectStmt()
	if !p.isOp(")") {
		p.expectedClause(next, `")"`)
	}
	p.next()
	var x Expr = &Subquery{Select: sel}
	if p.isOp("[") {
		p.next()
		if p.tok.kind != tokInt {
			p.expected("an integer index")
		}
		n, _ := strconv.ParseInt(p.tok.text, 10, 64)
		p.next()
		p.expectOp("]")
		x = &Index{X: x, Index: n}
	}
	return x
}

func (p *parser) array() Expr {
	p.enter()
	defer p.leave()
	p.next() // [
	arr := &Array{}
	for !p.isOp("]") {
		arr.Elems = append(arr.Elems, p.expr())
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	p.expectOp("]")
	return arr
}

func (p *parser) object() Expr {
	p.enter()
	defer p.leave()
	p.next() // {
	obj := &Object{}
	for !p.isOp("}") {
		var key string
		switch p.tok.kind {
		case tokIdent, tokString:
			key = p.tok.text
		default:
			p.expected("an object key")
		}
		p.next()
		p.expectOp(":")
		obj.Entries = append(obj.Entries, Entry{Key: key, Value: p.expr()})
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	p.expectOp("}")
	return obj
}

// MustParse is like Parse but panics on an error. It is meant for queries
// that are constants of a program or test.
func MustParse(src string) *Select {
	sel, err := Parse(src)
	if err != nil {
		panic(fmt.Sprintf("surql: MustParse(%q): %v", src, err))
	}
	return sel
}
