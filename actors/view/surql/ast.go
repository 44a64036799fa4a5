package surql

// A Select is a parsed SELECT statement.
//
// The zero values of its optional parts mean that the clause is absent:
// no WHERE, no GROUP BY, no ORDER BY, no LIMIT, no START.
type Select struct {
	All      bool    // the projection includes *
	Fields   []Field // the other projected fields, in order
	From     string  // the table
	Where    Expr    // nil without WHERE
	GroupBy  []*Path // GROUP BY fields
	GroupAll bool    // GROUP ALL: one group of every row
	OrderBy  []Order // ORDER BY items, most significant first
	Limit    *int64  // LIMIT n
	Start    *int64  // START n
}

// A Field is one projected item other than *: a path, a subquery (perhaps
// indexed) or an aggregate call, with an optional alias.
type Field struct {
	Expr  Expr   // *Path, *Subquery, *Index or *Call
	Alias string // "" without AS
}

// An Order is one ORDER BY item.
type Order struct {
	Path *Path
	Desc bool
}

// An Expr is an expression node.
type Expr interface {
	String() string
	exprNode()
}

type (
	// A Literal is a scalar constant: None, nil (NULL), bool, int64,
	// float64, string or RecordID.
	Literal struct {
		Value Value
	}

	// An Array is an array constructor [a, b, ...].
	Array struct {
		Elems []Expr
	}

	// An Object is an object constructor {key: value, ...}.
	Object struct {
		Entries []Entry
	}

	// A Path is a field of the current record: a, a.b.c.
	Path struct {
		Parts []string
	}

	// A Param is a parameter with an optional path: $name, $auth.id,
	// $parent.author.
	Param struct {
		Name string
		Path []string
	}

	// A Unary is a negation: !x, NOT x.
	Unary struct {
		Op Op // OpNot
		X  Expr
	}

	// A Binary is a binary operation: x op y.
	Binary struct {
		Op   Op
		X, Y Expr
	}

	// A Subquery is a SELECT in parentheses.
	Subquery struct {
		Select *Select
	}

	// An Index picks one element of a subquery's result: (SELECT ...)[0].
	Index struct {
		X     Expr // *Subquery
		Index int64
	}

	// A Call is an aggregate function call in a projection: count() or
	// math::sum(path).
	Call struct {
		Name string // "count" or "math::sum"
		Args []Expr
	}
)

// An Entry is one key: value pair of an Object.
type Entry struct {
	Key   string
	Value Expr
}

func (*Literal) exprNode()  {}
func (*Array) exprNode()    {}
func (*Object) exprNode()   {}
func (*Path) exprNode()     {}
func (*Param) exprNode()    {}
func (*Unary) exprNode()    {}
func (*Binary) exprNode()   {}
func (*Subquery) exprNode() {}
func (*Index) exprNode()    {}
func (*Call) exprNode()     {}

// An Op is a unary or binary operator.
type Op int

const (
	OpOr Op = iota + 1
	OpAnd
	OpNot
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpContains
	OpContainsNot
	OpContainsAll
	OpContainsAny
	OpContainsNone
	OpInside
	OpNotInside
	OpAllInside
	OpAnyInside
	OpNoneInside
)

var opNames = [...]string{
	OpOr:           "OR",
	OpAnd:          "AND",
	OpNot:          "!",
	OpEq:           "=",
	OpNe:           "!=",
	OpLt:           "<",
	OpLe:           "<=",
	OpGt:           ">",
	OpGe:           ">=",
	OpContains:     "CONTAINS",
	OpContainsNot:  "CONTAINSNOT",
	OpContainsAll:  "CONTAINSALL",
	OpContainsAny:  "CONTAINSANY",
	OpContainsNone: "CONTAINSNONE",
	OpInside:       "INSIDE",
	OpNotInside:    "NOTINSIDE",
	OpAllInside:    "ALLINSIDE",
	OpAnyInside:    "ANYINSIDE",
	OpNoneInside:   "NONEINSIDE",
}

// String returns the canonical spelling of op.
func (op Op) String() string {
	if op > 0 && int(op) < len(opNames) {
		return opNames[op]
	}
	return "Op(?)"
}
