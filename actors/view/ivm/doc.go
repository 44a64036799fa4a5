// Package ivm keeps the results of views up to date incrementally.
//
// Tables holds the records; each ingested Change is applied to it, which
// gives an Event (the record before and after). A View is a compiled
// SELECT (see package surql) with its current result; View.Apply brings it
// up to date with an Event and returns the exact Delta of its result. An
// Index finds the views an Event can change, so that an ingest runs only
// those:
//
//	tables := ivm.NewTables()
//	view, err := ivm.Compile(sel, params)
//	view.Load(tables)
//	index.Add("query:1", view)
//	...
//	ev, err := tables.Apply(change)
//	for _, id := range index.Match(ev) {
//		v, _ := index.View(id)
//		delta := v.Apply(tables, ev)
//	}
//
// Evaluate computes a result from scratch; it is the reference the
// incremental engine is tested against.
//
// DecodeRecord (or a Decoder) turns an ingested JSON record straight into
// Values, for a Change marked Normalized. Views compiled from the same
// query with equal ParamsKeys always have the same result, so that one
// View can serve them all.
//
// # Results
//
// A result is a list of rows (id, version, projected record). The version
// of a record's row is its _00_rv field (1 when absent). Rows are ordered
// by ORDER BY, comparing values with surql.Compare (mixed types order as
// in SurrealDB); rows that tie, and all rows without ORDER BY, are ordered
// by id, bytewise. START and LIMIT then cut a window.
//
// A grouped view (GROUP BY or GROUP ALL) has a row per group. Its id is
// the table and the GROUP BY values as a SurrealDB array record id, such
// as product:['books', 3] (product:[] for GROUP ALL); its version is the
// sum of its members' versions, so that a member joining, leaving or
// changing version changes it. Equal values group together: 3 and 3.0 are
// one group, reported as 3. Groups without ORDER BY are ordered by their
// GROUP BY values. math::sum adds numbers exactly and ignores other
// values; it is an integer when every summed value is.
//
// A subquery is run for each row of the window with $parent bound to the
// row's record; its value is the array of its result's records, or with
// [i] the record at index i (the field is absent when there is none).
//
// # Hash and generation
//
// The hash of a view is a stable hash of its rows' ids and versions, as a
// set, and of its generation. The generation counts the changes that
// altered some row's subquery values: such a change may leave every id and
// version as it was, and the generation makes the hash change anyway.
package ivm
