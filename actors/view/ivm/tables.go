package ivm

import (
	"errors"
	"fmt"
	"iter"
	"maps"
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
	tables  map[string]map[string]map[string]any
	columns map[string]map[string]*column // table -> path -> index; see seek
}

// A column indexes the records of a table by their value at a path.
type column struct {
	path []string
	ids  map[any]map[string]bool // valueKey -> ids
}

// NewTables returns empty tables.
func NewTables() *Tables {
	return &Tables{
		tables:  make(map[string]map[string]map[string]any),
		columns: make(map[string]map[string]*column),
	}
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
	rows := t.tables[ch.Table]
	ev.Old = rows[ch.ID]
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
		rec["id"] = ch.ID
		if rows == nil {
			rows = make(map[string]map[string]any)
			t.tables[ch.Table] = rows
		}
		rows[ch.ID] = rec
		ev.New = rec
	case Delete:
		delete(rows, ch.ID)
	default:
		return Event{}, fmt.Errorf("invalid op %v", ch.Op)
	}
	for _, col := range t.columns[ch.Table] {
		var oldKey any
		if ev.Old != nil {
			oldKey = valueKey(lookup(ev.Old, col.path))
		}
		if ev.New != nil {
			k := valueKey(lookup(ev.New, col.path))
			if ev.Old != nil && sameKey(k, oldKey) {
				continue // the record stays where it is
			}
			col.add(ev.ID, k)
		}
		if ev.Old != nil {
			col.remove(ev.ID, oldKey)
		}
	}
	return ev, nil
}

// seek iterates over the records of a table whose value at path equals v,
// which holds no record id. The first seek of a path builds an index of
// it, which Apply then maintains: views seek by the few paths their WHERE
// clauses join on, such as id or thread in thread = $parent.id.
func (t *Tables) seek(table string, path []string, v surql.Value) iter.Seq2[string, map[string]any] {
	rows := t.tables[table]
	if len(path) == 1 && path[0] == "id" { // ids are the keys of the table
		id, _ := v.(string)
		return func(yield func(string, map[string]any) bool) {
			if rec, ok := rows[id]; ok {
				yield(id, rec)
			}
		}
	}
	cols := t.columns[table]
	if cols == nil {
		cols = make(map[string]*column)
		t.columns[table] = cols
	}
	col := cols[pathKey(path)]
	if col == nil {
		col = &column{path: path, ids: make(map[any]map[string]bool)}
		for id, rec := range rows {
			col.add(id, valueKey(lookup(rec, path)))
		}
		cols[pathKey(path)] = col
	}
	return func(yield func(string, map[string]any) bool) {
		for id := range col.ids[valueKey(v)] {
			if !yield(id, rows[id]) {
				return
			}
		}
	}
}

// add indexes the record id under k, the valueKey of its value.
func (c *column) add(id string, k any) {
	ids := c.ids[k]
	if ids == nil {
		ids = make(map[string]bool)
		c.ids[k] = ids
	}
	ids[id] = true
}

func (c *column) remove(id string, k any) {
	ids := c.ids[k]
	delete(ids, id)
	if len(ids) == 0 {
		delete(c.ids, k)
	}
}

// Get returns a record.
func (t *Tables) Get(table, id string) (map[string]any, bool) {
	rec, ok := t.tables[table][id]
	return rec, ok
}

// Len returns the number of records in a table.
func (t *Tables) Len(table string) int { return len(t.tables[table]) }

// Names returns the names of the tables that hold records, sorted.
func (t *Tables) Names() []string {
	var names []string
	for name, rows := range t.tables {
		if len(rows) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// All iterates over the records of a table, in no particular order.
func (t *Tables) All(table string) iter.Seq2[string, map[string]any] {
	return maps.All(t.tables[table])
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
