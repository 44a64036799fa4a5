package surql

import (
	"reflect"
	"strings"
	"testing"
)

// sampleQueries are the queries NOTES.md reports from real use.
var sampleQueries = []string{
	"SELECT * FROM user WHERE username = $username AND email = $email",
	"SELECT * FROM product ORDER BY price DESC LIMIT 2",
	"SELECT * FROM thread WHERE title = 'hel*'",
	"SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM thread ORDER BY created_at DESC LIMIT 10",
	"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread",
	"SELECT * FROM thread WHERE author = $auth.id",
}

func TestParseSampleQueries(t *testing.T) {
	for _, q := range sampleQueries {
		sel, err := Parse(q)
		if err != nil {
			t.Errorf("Parse(%q): %v", q, err)
			continue
		}
		if got := sel.String(); got != q {
			t.Errorf("Parse(%q).String() = %q, want the query unchanged", q, got)
		}
	}
}

func i64(n int64) *int64 { return &n }

func path(parts ...string) *Path { return &Path{Parts: parts} }

func lit(v Value) *Literal { return &Literal{Value: v} }

func TestParseTree(t *testing.T) {
	tests := []struct {
		src  string
		want *Select
	}{
		{"select * from user", &Select{All: true, From: "user"}},
		{"SELECT a.b, c AS d FROM t", &Select{
			Fields: []Field{{Expr: path("a", "b")}, {Expr: path("c"), Alias: "d"}},
			From:   "t",
		}},
		{"SELECT * FROM t WHERE n = 5 AND s = '5' OR f = -1.5", &Select{
			All: true, From: "t",
			Where: &Binary{Op: OpOr,
				X: &Binary{Op: OpAnd,
					X: &Binary{Op: OpEq, X: path("n"), Y: lit(int64(5))},
					Y: &Binary{Op: OpEq, X: path("s"), Y: lit("5")}},
				Y: &Binary{Op: OpEq, X: path("f"), Y: lit(-1.5)}},
		}},
		{"SELECT * FROM t WHERE a = NONE OR a = NULL OR a = true OR a = False", &Select{
			All: true, From: "t",
			Where: &Binary{Op: OpOr,
				X: &Binary{Op: OpOr,
					X: &Binary{Op: OpOr,
						X: &Binary{Op: OpEq, X: path("a"), Y: lit(None)},
						Y: &Binary{Op: OpEq, X: path("a"), Y: lit(nil)}},
					Y: &Binary{Op: OpEq, X: path("a"), Y: lit(true)}},
				Y: &Binary{Op: OpEq, X: path("a"), Y: lit(false)}},
		}},
		{"SELECT * FROM t WHERE author = user:123 OR author = user:⟨a b⟩ OR author = user:`c`", &Select{
			All: true, From: "t",
			Where: &Binary{Op: OpOr,
				X: &Binary{Op: OpOr,
					X: &Binary{Op: OpEq, X: path("author"), Y: lit(RecordID{Table: "user", Key: "123", Num: true})},
					Y: &Binary{Op: OpEq, X: path("author"), Y: lit(RecordID{Table: "user", Key: "a b"})}},
				Y: &Binary{Op: OpEq, X: path("author"), Y: lit(RecordID{Table: "user", Key: "c"})}},
		}},
		{`SELECT * FROM t WHERE s = 'it\'s' OR s = "say \"hi\"\n\u00e9\u{1F600}"`, &Select{
			All: true, From: "t",
			Where: &Binary{Op: OpOr,
				X: &Binary{Op: OpEq, X: path("s"), Y: lit("it's")},
				Y: &Binary{Op: OpEq, X: path("s"), Y: lit("say \"hi\"\né😀")}},
		}},
		{"SELECT * FROM t WHERE !(a = 1) AND !b", &Select{
			All: true, From: "t",
			Where: &Binary{Op: OpAnd,
				X: &Unary{Op: OpNot, X: &Binary{Op: OpEq, X: path("a"), Y: lit(int64(1))}},
				Y: &Unary{Op: OpNot, X: path("b")}},
		}},
		{"SELECT * FROM t WHERE a NOTINSIDE [1, $x] AND b IS NOT NONE AND c IN {k: 'v', 'x y': 2}", &Select{
			All: true, From: "t",
			Where: &Binary{Op: OpAnd,
				X: &Binary{Op: OpAnd,
					X: &Binary{Op: OpNotInside, X: path("a"), Y: &Array{Elems: []Expr{lit(int64(1)), &Param{Name: "x"}}}},
					Y: &Binary{Op: OpNe, X: path("b"), Y: lit(None)}},
				Y: &Binary{Op: OpInside, X: path("c"), Y: &Object{Entries: []Entry{
					{Key: "k", Value: lit("v")}, {Key: "x y", Value: lit(int64(2))}}}}},
		}},
		{"SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM thread", &Select{
			All: true, From: "thread",
			Fields: []Field{{Alias: "author", Expr: &Index{X: &Subquery{Select: &Select{
				All: true, From: "user", Limit: i64(1),
				Where: &Binary{Op: OpEq, X: path("id"), Y: &Param{Name: "parent", Path: []string{"author"}}},
			}}}}},
		}},
		{"SELECT team, count(), math::SUM(score) AS total FROM player GROUP BY team ORDER BY total DESC, team LIMIT BY 3 START AT 1", &Select{
			Fields: []Field{
				{Expr: path("team")},
				{Expr: &Call{Name: "count"}},
				{Expr: &Call{Name: "math::sum", Args: []Expr{path("score")}}, Alias: "total"},
			},
			From:    "player",
			GroupBy: []*Path{path("team")},
			OrderBy: []Order{{Path: path("total"), Desc: true}, {Path: path("team")}},
			Limit:   i64(3),
			Start:   i64(1),
		}},
		{"SELECT count() FROM t GROUP ALL;", &Select{
			Fields: []Field{{Expr: &Call{Name: "count"}}}, From: "t", GroupAll: true,
		}},
		{"SELECT `first name`, ⟨select⟩ FROM `my table` -- comment\n /* block */ # more", &Select{
			Fields: []Field{{Expr: path("first name")}, {Expr: path("select")}}, From: "my table",
		}},
	}
	for _, tc := range tests {
		got, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %s, want %s", tc.src, got, tc.want)
		}
	}
}

func TestPrint(t *testing.T) {
	tests := []struct{ src, want string }{
		{"select *,a from t where (a=1 or b=2) and c", "SELECT *, a FROM t WHERE (a = 1 OR b = 2) AND c"},
		{"SELECT a, * FROM t", "SELECT *, a FROM t"},
		{"SELECT * FROM t WHERE a = (b = c)", "SELECT * FROM t WHERE a = (b = c)"},
		{"SELECT * FROM t WHERE (a = b) = c", "SELECT * FROM t WHERE a = b = c"},
		{"SELECT * FROM t WHERE a OR (b OR c)", "SELECT * FROM t WHERE a OR (b OR c)"},
		{"SELECT * FROM t WHERE !!a", "SELECT * FROM t WHERE !!a"},
		{"SELECT * FROM t WHERE string::starts_with(string::lowercase(a), 'x') AND type::is::int(n)", "SELECT * FROM t WHERE string::starts_with(string::lowercase(a), 'x') AND type::is::int(n)"},
		{"SELECT * FROM t WHERE a = 1.5f OR a = 2dec OR id = r'user:9'", "SELECT * FROM t WHERE a = 1.5 OR a = 2.0 OR id = user:9"},
		{"SELECT * FROM t WHERE a == 1 && b || c", "SELECT * FROM t WHERE a = 1 AND b OR c"},
		{"SELECT * FROM t WHERE f = 1.0 OR f = 1e3 OR f = 2.5E-3", "SELECT * FROM t WHERE f = 1.0 OR f = 1000.0 OR f = 0.0025"},
		{"SELECT * FROM t WHERE `from` = 1 AND `a b`.c = `true`", "SELECT * FROM t WHERE `from` = 1 AND `a b`.c = `true`"},
		{"SELECT * FROM t WHERE id = user:⟨123⟩ OR id = user:⟨x\\⟩y⟩", "SELECT * FROM t WHERE id = user:⟨123⟩ OR id = user:⟨x\\⟩y⟩"},
		{"SELECT * FROM t ORDER BY a ASC", "SELECT * FROM t ORDER BY a"},
		{"SELECT * FROM t WHERE s = \"tab\\there\"", `SELECT * FROM t WHERE s = 'tab\u0009here'`},
	}
	for _, tc := range tests {
		sel, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		if got := sel.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.src, got, tc.want)
		}
	}
}

// parseErrorTests are queries the parser must reject, with the position and
// a part of the message.
var parseErrorTests = []struct {
	src      string
	line     int
	col      int
	contains string
}{
	// The original ignored unparsed trailing text; these must fail.
	{"SELECT * FROM t FETCH author", 1, 17, "FETCH is not supported"},
	{"SELECT * FROM t WHERE a = 1 nonsense", 1, 29, `expected GROUP BY, ORDER BY, LIMIT, START or end of query, found "nonsense"`},
	{"SELECT * FROM t LIMIT 5 extra", 1, 25, `expected START or end of query, found "extra"`},
	{"SELECT * FROM t LIMIT 5 WHERE a", 1, 25, "WHERE is out of place"},
	{"SELECT * FROM t ORDER BY a ORDER BY b", 1, 28, "ORDER BY is out of place"},
	{"SELECT * FROM t GROUP BY", 1, 25, "expected a field after GROUP BY, found end of query"},
	{"SELECT * FROM t SPLIT tags", 1, 17, "SPLIT is not supported"},
	{"SELECT * FROM t TIMEOUT 5s", 1, 17, "TIMEOUT is not supported"},
	{"SELECT * FROM t PARALLEL", 1, 17, "PARALLEL is not supported"},
	{"SELECT * FROM t EXPLAIN", 1, 17, "EXPLAIN is not supported"},
	{"SELECT * FROM t WITH INDEX i", 1, 17, "WITH is not supported"},
	{"SELECT * FROM t; SELECT * FROM u", 1, 18, "multiple statements are not supported"},
	{"LET $a = 1", 1, 1, "LET statements are not supported"},
	{"DELETE user", 1, 1, "DELETE statements are not supported"},
	{"", 1, 1, "expected SELECT, found end of query"},
	{"SELECT VALUE a FROM t", 1, 8, "SELECT VALUE is not supported"},
	{"SELECT * OMIT a FROM t", 1, 10, "OMIT is not supported"},
	{"SELECT * FROM ONLY t", 1, 15, "FROM ONLY is not supported"},
	{"SELECT * FROM a, b", 1, 16, "selecting from more than one table is not supported"},
	{"SELECT * FROM user:1", 1, 15, "selecting from a record id is not supported"},
	{"SELECT * FROM $t", 1, 15, "selecting from a parameter is not supported"},
	{"SELECT FROM t", 1, 8, `expected a field, *, subquery or function, found "FROM"`},
	{"SELECT * t", 1, 10, `expected FROM, found "t"`},
	{"SELECT *, * FROM t", 1, 11, "* appears twice"},
	{"SELECT math::max(a) FROM t", 1, 8, "function math::max is not supported"},
	{"SELECT count(a) FROM t", 1, 14, "count with an argument is not supported"},
	{"SELECT a + 1 AS b FROM t", 1, 10, `expected FROM, found "+"`},
	{"SELECT (a + 1) AS b FROM t", 1, 8, "expressions in the projection are not supported"},
	{"SELECT a AS b.c FROM t", 1, 14, "an alias is a single name"},
	{"SELECT * FROM t WHERE a + 1 = 2", 1, 25, "operator + is not supported"},
	{"SELECT * FROM t WHERE a ~ 'x'", 1, 25, "operator ~ is not supported"},
	{"SELECT * FROM t WHERE a OUTSIDE b", 1, 25, "operator OUTSIDE is not supported"},
	{"SELECT * FROM t WHERE ->likes", 1, 23, "operator -> is not supported"},
	{"SELECT * FROM t WHERE string::levenshtein(a, 'x') > 1", 1, 23, "function string::levenshtein is not supported in conditions"},
	{"SELECT * FROM t WHERE time::now() > a", 1, 23, "function time::now is not supported"},
	{"SELECT * FROM t WHERE array::len(a, b) > 1", 1, 23, "function array::len takes 1 argument(s), not 2"},
	{"SELECT * FROM t WHERE a NOT b", 1, 25, "NOT is not a SurrealQL operator"},
	{"SELECT * FROM t WHERE a NOT INSIDE [1]", 1, 25, "NOT is not a SurrealQL operator"},
	{"SELECT * FROM t WHERE NOT a = 5", 1, 23, "NOT is not a SurrealQL operator"},
	{"SELECT * FROM t WHERE a = ", 1, 27, "expected an expression, found end of query"},
	{"SELECT * FROM t WHERE a = 'open", 1, 27, "unterminated string"},
	{"SELECT * FROM t WHERE a = 'x\\q'", 1, 29, `invalid escape \q`},
	{"SELECT * FROM t WHERE a = \"\\u12\"", 1, 28, "\\u needs four hex digits"},
	{"SELECT * FROM t WHERE a = '\\u{110000}'", 1, 28, "invalid unicode escape"},
	{"SELECT * FROM t WHERE a = 10s", 1, 27, `unsupported literal "10s"`},
	{"SELECT * FROM t WHERE a = 1.5g", 1, 27, `unsupported literal "1.5g"`},
	{"SELECT * FROM t WHERE a = 99999999999999999999", 1, 27, "integer 99999999999999999999 is out of range"},
	{"SELECT * FROM t WHERE a = 1e400", 1, 27, "number 1e400 is out of range"},
	{"SELECT * FROM t WHERE a = x'user:1'", 1, 27, "prefixed string literals (x'...') are not supported"},
	{"SELECT * FROM t WHERE a = r'user'", 1, 27, "is not a record id"},
	{"SELECT * FROM t WHERE a = user:", 1, 31, "expected a record id key after user:"},
	{"SELECT * FROM t WHERE a = user:[1, 2]", 1, 31, "record ids with array, object, range or computed keys are not supported"},
	{"SELECT * FROM t WHERE a.* = 1", 1, 25, "the .* path part is not supported"},
	{"SELECT * FROM t WHERE tags[0] = 1", 1, 27, "indexing or filtering a field path"},
	{"SELECT * FROM t WHERE (a)[0] = 1", 1, 26, "indexing anything but a subquery is not supported"},
	{"SELECT * FROM t WHERE a = $", 1, 27, "expected a parameter name after $"},
	{"SELECT * FROM t ORDER BY RAND()", 1, 26, "ORDER BY RAND() is not supported"},
	{"SELECT * FROM t ORDER BY a COLLATE", 1, 28, "ORDER BY ... COLLATE is not supported"},
	{"SELECT * FROM t LIMIT -1", 1, 23, "expected a non-negative integer after LIMIT"},
	{"SELECT * FROM t LIMIT $n", 1, 23, "LIMIT with a parameter is not supported"},
	{"SELECT *, (SELECT * FROM u FETCH x) AS y FROM t", 1, 28, "FETCH is not supported"},
	{"SELECT *, (SELECT * FROM u x) AS y FROM t", 1, 28, `expected WHERE, GROUP BY, ORDER BY, LIMIT, START or ")", found "x"`},
	{"SELECT *, (SELECT * FROM u)[a] AS y FROM t", 1, 29, "expected an integer index"},
	{"SELECT * FROM t WHERE a = 1 /* open", 1, 29, "unterminated comment"},
	{"SELECT * FROM t WHERE a = `", 1, 27, "unterminated `...` name"},
	{"SELECT * FROM t WHERE a = ⟨⟩", 1, 27, "empty name ⟨⟩"},
	{"SELECT * FROM t WHERE a = 1 §", 1, 29, "unexpected character '§'"},
	{"SELECT * FROM t\nWHERE a =\n  §", 3, 3, "unexpected character"},
	{"SELECT * FROM t WHERE a = '\xff'", 1, 28, "not valid UTF-8"},
	{"SELECT * FROM t WHERE " + strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200), 1, 73, "nested too deeply"},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorTests {
		sel, err := Parse(tc.src)
		if err == nil {
			t.Errorf("Parse(%q) = %s, want an error", tc.src, sel)
			continue
		}
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("Parse(%q) error %T, want *Error", tc.src, err)
			continue
		}
		if e.Pos.Line != tc.line || e.Pos.Col != tc.col || !strings.Contains(e.Msg, tc.contains) {
			t.Errorf("Parse(%q) = %v\nwant %d:%d: ...%s...", tc.src, err, tc.line, tc.col, tc.contains)
		}
	}
}

func TestErrorPosition(t *testing.T) {
	src := "SELECT *\nFROM ⟨tåble⟩ WHERE x = §"
	_, err := Parse(src)
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("Parse error = %v, want *Error", err)
	}
	want := Pos{Offset: strings.Index(src, "§"), Line: 2, Col: 24}
	if e.Pos != want {
		t.Errorf("position = %+v, want %+v", e.Pos, want)
	}
	if got := e.Error(); got != "2:24: unexpected character '§'" {
		t.Errorf("Error() = %q", got)
	}
}
