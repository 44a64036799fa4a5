package ivm

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// An Op is the kind of a Change.
type Op uint8

const (
	Create Op = iota + 1
	Update
	Delete
)

var opNames = [...]string{Create: "CREATE", Update: "UPDATE", Delete: "DELETE"}

func (op Op) String() string {
	if op >= Create && op <= Delete {
		return opNames[op]
	}
	return fmt.Sprintf("Op(%d)", op)
}

// ParseOp parses CREATE, UPDATE or DELETE, in any case.
func ParseOp(s string) (Op, error) {
	for op := Create; op <= Delete; op++ {
		if strings.EqualFold(s, opNames[op]) {
			return op, nil
		}
	}
	return 0, fmt.Errorf("invalid op %q: want CREATE, UPDATE or DELETE", s)
}

// A Change is one ingested operation on a record.
type Change struct {
	Op     Op
	Table  string
	ID     string         // the record id, such as "user:1"
	Record map[string]any // the record as decoded from JSON; ignored by Delete

	// Normalized tells that Record is made of Values already, as
	// DecodeRecord returns it: Apply then stores that map itself (adding
	// its id) instead of a normalized copy.
	Normalized bool
}

// An Event is a Change as the tables applied it: the record before and
// after, as Values. Old is nil when the record was created, New is nil when
// it was deleted; both are nil for the delete of an unknown record.
type Event struct {
	Table string
	ID    string
	Old   map[string]any
	New   map[string]any
}

// Tables holds the records of every table: table -> id -> record. Records
// are stored as Values (see surql.Normalize) with their id in the "id"
// field, and are never modified once stored: views and results share them.
// Tables also indexes the fields that views look records up by.
//
// Tables is not safe for concurrent use.
type Tables struct {
	tables map[string]*table
}

type table struct {
	rows    map[string]*row
	columns []*column // see seek; a column's slot is its index here
}

// A row is a record and where it sits in each column of its table.
type row struct {
	id  string
	rec map[string]any
	at  []int32 // by column slot: the row's index in its bucket; in atBuf while it fits
	// atBuf holds at for the first columns, so that moving a row between
	// buckets, which also renumbers the row that fills its place, reads
	// each row's positions from the row itself rather than from another
	// allocation, mostly out of the cache on an ingest (a table has a
	// column per path its views seek by: a few).
	atBuf [4]int32
}

// newRow returns the row of record id, with a position for each of n
// columns.
func newRow(id string, rec map[string]any, n int) *row {
	r := &row{id: id, rec: rec}
	if n <= len(r.atBuf) {
		r.at = r.atBuf[:n]
	} else {
		r.at = make([]int32, n)
	}
	return r
}

// A column indexes the rows of a table by their value at a path. A bucket
// is a slice, and each row knows its index in it: moving a row from one
// bucket to another is a swap and an append, with no hashing of its id.
type column struct {
	path    []string
	key     string // pathKey(path)
	slot    int
	buckets map[any]*bucket // valueKey -> rows
	order   *ordered        // the keys in order, once a range seek needs them
}

type bucket struct{ rows []*row }

// NewTables returns empty tables.
func NewTables() *Tables {
	return &Tables{tables: make(map[string]*table)}
}

// Apply records ch and returns it as an Event, to be applied to every view
// that reads ch.Table. A create of a known record replaces it, and an
// update of an unknown record creates it: the source has it.
func (t *Tables) Apply(ch Change) (Event, error) {
	if ch.Table == "" {
		return Event{}, errors.New("missing table")
	}
	if ch.ID == "" {
		return Event{}, errors.New("missing record id")
	}
	ev := Event{Table: ch.Table, ID: ch.ID}
	tb := t.tables[ch.Table]
	var r *row
	if tb != nil {
		if r = tb.rows[ch.ID]; r != nil {
			ev.Old = r.rec
		}
	}
	switch ch.Op {
	case Create, Update:
		rec := ch.Record
		if !ch.Normalized {
			v, err := surql.Normalize(ch.Record)
			if err != nil {
				return Event{}, fmt.Errorf("record %s: %w", ch.ID, err)
			}
			rec, _ = v.(map[string]any)
		}
		if rec == nil {
			rec = make(map[string]any, 1)
		}
		// Strings that spell record ids are links (surql.Link), as the
		// record ids SurrealDB sent as JSON strings were; the record is
		// the change's own, so it is converted in place.
		surql.Links(rec)
		rec["id"] = idValue(ch.ID)
		if tb == nil {
			tb = &table{rows: make(map[string]*row)}
			t.tables[ch.Table] = tb
		}
		ev.New = rec
		if r == nil {
			r = newRow(ch.ID, rec, len(tb.columns))
			tb.rows[ch.ID] = r
			for _, col := range tb.columns {
				col.add(r, valueKey(lookup(rec, col.path)))
			}
			return ev, nil
		}
		r.rec = rec
		for _, col := range tb.columns {
			k := valueKey(lookup(rec, col.path))
			if oldKey := valueKey(lookup(ev.Old, col.path)); !sameKey(k, oldKey) {
				col.remove(r, oldKey)
				col.add(r, k)
			}
		}
	case Delete:
		if r == nil {
			return ev, nil
		}
		delete(tb.rows, ch.ID)
		for _, col := range tb.columns {
			col.remove(r, valueKey(lookup(ev.Old, col.path)))
		}
	default:
		return Event{}, fmt.Errorf("invalid op %v", ch.Op)
	}
	return ev, nil
}

// seek iterates over the records of a table whose value at path equals v,
// which holds no record id. The first seek of a path builds an index of
// it, which Apply then maintains: views seek by the few paths their WHERE
// clauses join on, such as id or thread in thread = $parent.id.
func (t *Tables) seek(name string, path []string, v surql.Value) iter.Seq2[string, map[string]any] {
	tb := t.tables[name]
	if tb == nil {
		return func(func(string, map[string]any) bool) {}
	}
	if len(path) == 1 && path[0] == "id" { // ids are the keys of the table
		id, _ := v.(string)
		if rid, ok := v.(surql.RecordID); ok {
			id = rid.String()
		}
		return func(yield func(string, map[string]any) bool) {
			if r, ok := tb.rows[id]; ok {
				yield(id, r.rec)
			}
		}
	}
	col := tb.column(path)
	return func(yield func(string, map[string]any) bool) {
		if b := col.buckets[valueKey(v)]; b != nil {
			for _, r := range b.rows {
				if !yield(r.id, r.rec) {
					return
				}
			}
		}
	}
}

// seekRange iterates over the records of a table whose value at path is a
// number in [lo, hi] or is no number a range holds (see ordered). The
// first range seek of a path orders its column, which Apply then keeps in
// order.
func (t *Tables) seekRange(name string, path []string, lo, hi float64) iter.Seq2[string, map[string]any] {
	tb := t.tables[name]
	if tb == nil {
		return func(func(string, map[string]any) bool) {}
	}
	col := tb.column(path)
	order := col.ordering()
	return func(yield func(string, map[string]any) bool) {
		for k := range order.keys(lo, hi) {
			for _, r := range col.buckets[k].rows {
				if !yield(r.id, r.rec) {
					return
				}
			}
		}
	}
}

// column returns the table's column of path, building it the first time.
func (tb *table) column(path []string) *column {
	key := pathKey(path)
	for _, col := range tb.columns {
		if col.key == key {
			return col
		}
	}
	col := &column{path: path, key: key, slot: len(tb.columns), buckets: make(map[any]*bucket)}
	tb.columns = append(tb.columns, col)
	for _, r := range tb.rows {
		r.at = append(r.at, 0)
		col.add(r, valueKey(lookup(r.rec, path)))
	}
	return col
}

// add puts r in the bucket of k, the valueKey of its value.
func (c *column) add(r *row, k any) {
	b := c.buckets[k]
	if b == nil {
		b = &bucket{}
		c.buckets[k] = b
		if c.order != nil {
			c.order.add(k)
		}
	}
	r.at[c.slot] = int32(len(b.rows))
	b.rows = append(b.rows, r)
}

// remove takes r out of the bucket of k, moving the bucket's last row
// into its place.
func (c *column) remove(r *row, k any) {
	b := c.buckets[k]
	i, last := r.at[c.slot], len(b.rows)-1
	moved := b.rows[last]
	b.rows[i], moved.at[c.slot] = moved, i
	b.rows[last] = nil
	b.rows = b.rows[:last]
	if last == 0 {
		delete(c.buckets, k)
		if c.order != nil {
			c.order.remove(k)
		}
	}
}

// Get returns a record.
func (t *Tables) Get(table, id string) (map[string]any, bool) {
	if tb := t.tables[table]; tb != nil {
		if r, ok := tb.rows[id]; ok {
			return r.rec, true
		}
	}
	return nil, false
}

// Len returns the number of records in a table.
func (t *Tables) Len(table string) int {
	if tb := t.tables[table]; tb != nil {
		return len(tb.rows)
	}
	return 0
}

// Names returns the names of the tables that hold records, sorted.
func (t *Tables) Names() []string {
	var names []string
	for name, tb := range t.tables {
		if len(tb.rows) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// All iterates over the records of a table, in no particular order.
func (t *Tables) All(table string) iter.Seq2[string, map[string]any] {
	return func(yield func(string, map[string]any) bool) {
		if tb := t.tables[table]; tb != nil {
			for id, r := range tb.rows {
				if !yield(id, r.rec) {
					return
				}
			}
		}
	}
}

// idValue is the value of a record's id field: the record id its id
// spells, or the id as a string if it spells none.
func idValue(id string) surql.Value {
	if rid, ok := surql.Link(id); ok {
		return rid
	}
	return id
}

// Version returns a record's content version: its integer _00_rv field,
// or 1 when that is absent or not an integer.
func Version(rec map[string]any) int64 {
	switch v := rec["_00_rv"].(type) {
	case int64:
		return v
	case float64:
		if v == math.Trunc(v) && v >= math.MinInt64 && v < math.MaxInt64 {
			return int64(v)
		}
	}
	return 1
}
