// Package surql parses the subset of SurrealQL that views are written in,
// and defines its values and how they compare.
//
// A view is one SELECT statement:
//
//	SELECT projection FROM table
//		[WHERE condition]
//		[GROUP BY field, ... | GROUP ALL]
//		[ORDER BY field [ASC|DESC], ...]
//		[LIMIT n] [START n]
//
// The projection is *, field paths (a.b) with an optional alias (AS name),
// subqueries ((SELECT ...) AS name, or (SELECT ...)[i] AS name, where
// $parent is the outer record), and with GROUP BY the aggregates count()
// and math::sum(field). Conditions combine comparisons (= == != < <= > >=,
// IS, IS NOT), the containment operators (CONTAINS, CONTAINSNOT,
// CONTAINSALL, CONTAINSANY, CONTAINSNONE, INSIDE or IN, NOT INSIDE or
// NOT IN or NOTINSIDE, ALLINSIDE, ANYINSIDE, NONEINSIDE), AND (&&), OR (||),
// NOT and ! and parentheses, over field paths, parameters with paths
// ($auth.id) and literals: strings in either quote with escapes, integers,
// floats, true, false, NULL, NONE, arrays, objects and record ids
// (user:123, user:⟨a b⟩).
//
// Everything else is an error that names what is not supported, including
// other statements, other clauses (FETCH, SPLIT, TIMEOUT, ...), other
// functions and operators, and any text after the statement: nothing is
// silently ignored. Parse returns a *Select; its String method prints it
// back canonically, and what it prints parses to an equal tree.
package surql
