package integration

import (
	"slices"
	"testing"
)

// TestViewsOriginalBugs: each known bug of the original engine (NOTES.md)
// end to end, over HTTP and a WebSocket subscriber: a DELETE through a
// filter removes the record; an UPDATE changes membership both ways; ORDER
// BY x DESC on strings sorts descending; n = 5 does not match "5". (The
// fifth, trailing text ignored, is in TestViewsBadRequests.)
func TestViewsOriginalBugs(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)
	c := dialViews(t, s, api.auth)
	// expect checks a view's ids on /debug/view and on the subscriber.
	expect := func(view string, ids ...string) {
		t.Helper()
		d := c.converge(api, view)
		if got := viewIDs(d.Cache); !slices.Equal(got, ids) && !(len(got) == 0 && len(ids) == 0) {
			t.Fatalf("%s (%s): %v, want %v", view, d.Surql, got, ids)
		}
	}

	// A DELETE of a record that matched a filter removes it.
	api.register("bug:delete", "SELECT * FROM product WHERE price > 10", nil)
	c.subscribe([]string{"bug:delete"})
	api.ingest("product", "CREATE", "product:a", map[string]any{"price": 20})
	api.ingest("product", "CREATE", "product:b", map[string]any{"price": 5})
	api.ingest("product", "CREATE", "product:c", map[string]any{"price": 30})
	expect("bug:delete", "product:a", "product:c")
	api.ingest("product", "DELETE", "product:a", nil)
	expect("bug:delete", "product:c")
	// A DELETE may carry the record, as the scheduler sends it.
	api.ingest("product", "DELETE", "product:c", map[string]any{"price": 30})
	expect("bug:delete")
	if r := api.register("bug:delete", "SELECT * FROM product WHERE price > 10", nil); len(r.Records) != 0 {
		t.Fatalf("deleted records still in the view: %s", showViewRows(r.Records))
	}
	if info := api.info(); info.CircuitTables["product"] != 1 {
		t.Fatalf("circuit_tables after deletes: %v", info.CircuitTables)
	}

	// An UPDATE makes a record enter and leave the view.
	api.register("bug:update", "SELECT * FROM task WHERE done = false", nil)
	c.subscribe([]string{"bug:update"})
	api.ingest("task", "CREATE", "task:1", map[string]any{"done": false, "title": "write"})
	api.ingest("task", "CREATE", "task:2", map[string]any{"done": true, "title": "read"})
	expect("bug:update", "task:1")
	api.ingest("task", "UPDATE", "task:1", map[string]any{"done": true, "title": "write", "_00_rv": 2})
	expect("bug:update")
	api.ingest("task", "UPDATE", "task:2", map[string]any{"done": false, "title": "read", "_00_rv": 2})
	expect("bug:update", "task:2")
	api.ingest("task", "UPDATE", "task:1", map[string]any{"done": false, "title": "write", "_00_rv": 3})
	expect("bug:update", "task:1", "task:2")
	// An UPDATE of a record never seen is a create.
	api.ingest("task", "UPDATE", "task:3", map[string]any{"done": false})
	expect("bug:update", "task:1", "task:2", "task:3")
	// A field removed by an UPDATE is NONE, which is not false.
	api.ingest("task", "UPDATE", "task:2", map[string]any{"title": "read", "_00_rv": 3})
	expect("bug:update", "task:1", "task:3")
	if keys := viewKeys(api.debug("bug:update").Cache); !slices.Equal(keys, []string{"task:1@3", "task:3@1"}) {
		t.Fatalf("versions: %v", keys)
	}

	// ORDER BY x DESC on strings sorts descending, and the window of a
	// LIMIT refills from the rest of the table.
	for _, n := range []string{"carol", "alice", "eve", "bob", "dave"} {
		api.ingest("person", "CREATE", "person:"+n, map[string]any{"name": n})
	}
	api.register("bug:desc", "SELECT * FROM person ORDER BY name DESC", nil)
	api.register("bug:desc2", "SELECT name FROM person ORDER BY name DESC LIMIT 2", nil)
	api.register("bug:asc", "SELECT * FROM person ORDER BY name ASC LIMIT 2 START 1", nil)
	c.subscribe([]string{"bug:desc", "bug:desc2", "bug:asc"})
	expect("bug:desc", "person:eve", "person:dave", "person:carol", "person:bob", "person:alice")
	expect("bug:desc2", "person:eve", "person:dave")
	expect("bug:asc", "person:bob", "person:carol")
	api.ingest("person", "DELETE", "person:eve", nil)
	expect("bug:desc2", "person:dave", "person:carol")
	api.ingest("person", "CREATE", "person:zed", map[string]any{"name": "zed"})
	api.ingest("person", "UPDATE", "person:alice", map[string]any{"name": "zoe", "_00_rv": 2})
	expect("bug:desc", "person:alice", "person:zed", "person:dave", "person:carol", "person:bob")
	expect("bug:desc2", "person:alice", "person:zed")
	expect("bug:asc", "person:carol", "person:dave")
	if recs := api.debug("bug:desc2").Cache; !jsonEqual(recs[0].Record, []byte(`{"name":"zoe"}`)) {
		t.Fatalf("projection of bug:desc2: %s", showViewRows(recs))
	}

	// Values of different types are never equal: n = 5 does not match "5";
	// integers and floats compare as numbers.
	api.ingest("thing", "CREATE", "thing:int", map[string]any{"n": 5})
	api.ingest("thing", "CREATE", "thing:str", map[string]any{"n": "5"})
	api.ingest("thing", "CREATE", "thing:float", map[string]any{"n": 5.0})
	api.ingest("thing", "CREATE", "thing:bool", map[string]any{"n": true})
	api.ingest("thing", "CREATE", "thing:none", map[string]any{})
	api.ingest("thing", "CREATE", "thing:null", map[string]any{"n": nil})
	api.ingest("thing", "CREATE", "thing:arr", map[string]any{"n": []any{5}})
	api.ingest("thing", "CREATE", "thing:six", map[string]any{"n": 6.5})
	api.register("bug:int", "SELECT * FROM thing WHERE n = 5", nil)
	api.register("bug:str", "SELECT * FROM thing WHERE n = '5'", nil)
	api.register("bug:ne", "SELECT * FROM thing WHERE n != 5", nil)
	api.register("bug:param", "SELECT * FROM thing WHERE n = $n", map[string]any{"n": 5})
	c.subscribe([]string{"bug:int", "bug:str", "bug:ne", "bug:param"})
	// 5.0 in JSON: encoding/json writes it as 5, so send it as written.
	api.mustDo("POST", "/ingest", `{"table":"thing","op":"UPDATE","id":"thing:float","record":{"n":5.0}}`)
	expect("bug:int", "thing:float", "thing:int")
	expect("bug:param", "thing:float", "thing:int")
	expect("bug:str", "thing:str")
	expect("bug:ne", "thing:arr", "thing:bool", "thing:none", "thing:null", "thing:six", "thing:str")
	api.ingest("thing", "UPDATE", "thing:str", map[string]any{"n": 5, "_00_rv": 2})
	api.ingest("thing", "UPDATE", "thing:int", map[string]any{"n": "5", "_00_rv": 2})
	expect("bug:int", "thing:float", "thing:str")
	expect("bug:str", "thing:int")
	c.checkErrs()
}

// TestViewsSampleQueries runs the queries NOTES.md lists as seen in real
// use, with their params, and follows them through changes.
func TestViewsSampleQueries(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)
	c := dialViews(t, s, api.auth)
	expect := func(view string, ids ...string) viewsDebug {
		t.Helper()
		d := c.converge(api, view)
		if got := viewIDs(d.Cache); !slices.Equal(got, ids) && !(len(got) == 0 && len(ids) == 0) {
			t.Fatalf("%s (%s): %v, want %v\n%s", view, d.Surql, got, ids, d.raw)
		}
		return d
	}

	for _, u := range []struct{ id, username, email string }{
		{"user:1", "alice", "alice@example.com"}, {"user:2", "alice", "other@example.com"},
		{"user:3", "bob", "alice@example.com"}, {"user:4", "carol", "carol@example.com"},
	} {
		api.ingest("user", "CREATE", u.id, map[string]any{"username": u.username, "email": u.email})
	}
	// Params, as an object and as the string the sp00ky clients send.
	r := api.register("q:login", "SELECT * FROM user WHERE username = $username AND email = $email",
		map[string]any{"username": "alice", "email": "alice@example.com"})
	r2 := api.register("q:login2", "SELECT * FROM user WHERE username = $username AND email = $email",
		`{"username":"bob","email":"alice@example.com"}`)
	if !slices.Equal(viewIDs(r.Records), []string{"user:1"}) || !slices.Equal(viewIDs(r2.Records), []string{"user:3"}) {
		t.Fatalf("params: %s / %s", showViewRows(r.Records), showViewRows(r2.Records))
	}
	c.subscribe([]string{"q:login", "q:login2"})
	api.ingest("user", "UPDATE", "user:2", map[string]any{"username": "alice", "email": "alice@example.com", "_00_rv": 2})
	expect("q:login", "user:1", "user:2")
	// A param that is not given is NONE: it matches nothing here.
	if r := api.register("q:noparam", "SELECT * FROM user WHERE username = $username", nil); len(r.Records) != 0 {
		t.Fatalf("unbound param matched: %s", showViewRows(r.Records))
	}

	// ORDER BY price DESC LIMIT 2, integers and floats together.
	for id, price := range map[string]any{"product:a": 10, "product:b": 30, "product:c": 20, "product:d": 25.5} {
		api.ingest("product", "CREATE", id, map[string]any{"price": price})
	}
	top := api.register("q:top", "SELECT * FROM product ORDER BY price DESC LIMIT 2", nil)
	if !slices.Equal(viewIDs(top.Records), []string{"product:b", "product:d"}) {
		t.Fatalf("top 2: %s", showViewRows(top.Records))
	}
	c.subscribe([]string{"q:top"})
	api.ingest("product", "DELETE", "product:b", nil)
	expect("q:top", "product:d", "product:c")
	api.ingest("product", "UPDATE", "product:a", map[string]any{"price": 100, "_00_rv": 2})
	expect("q:top", "product:a", "product:d")
	api.ingest("product", "UPDATE", "product:a", map[string]any{"price": 1, "_00_rv": 3})
	expect("q:top", "product:d", "product:c")

	// The original's prefix match: a string literal ending in *.
	for id, title := range map[string]string{"thread:1": "hello", "thread:2": "help me", "thread:3": "world",
		"thread:4": "hel", "thread:5": "shell"} {
		api.ingest("thread", "CREATE", id, map[string]any{"title": title, "author": "user:1", "created_at": id[len(id)-1:]})
	}
	// The original's prefix match, for views of format "sp00ky" (elsewhere
	// the * is a character, as in SurrealDB).
	api.registerBody(map[string]any{"id": "q:prefix", "surql": "SELECT * FROM thread WHERE title = 'hel*'",
		"clientId": "it", "ttl": "1h", "format": "sp00ky"})
	api.register("q:star", "SELECT * FROM thread WHERE title = 'hel*'", nil)
	if ids := viewIDs(api.debug("q:star").Cache); len(ids) != 0 {
		t.Errorf("title = 'hel*' without format sp00ky: %v, want none", ids)
	}
	c.subscribe([]string{"q:prefix"})
	expect("q:prefix", "thread:1", "thread:2", "thread:4")
	api.ingest("thread", "UPDATE", "thread:3", map[string]any{"title": "helicopter", "author": "user:3", "created_at": "3", "_00_rv": 2})
	api.ingest("thread", "UPDATE", "thread:1", map[string]any{"title": "goodbye", "author": "user:1", "created_at": "1", "_00_rv": 2})
	expect("q:prefix", "thread:2", "thread:3", "thread:4")

	// A subquery with $parent and [0]: each thread with its author.
	api.register("q:threads", "SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM thread ORDER BY created_at DESC LIMIT 10", nil)
	c.subscribe([]string{"q:threads"})
	d := expect("q:threads", "thread:5", "thread:4", "thread:3", "thread:2", "thread:1")
	if !jsonEqual(d.Cache[2].Record, []byte(`{"id":"thread:3","title":"helicopter","created_at":"3","_00_rv":2,
		"author":{"id":"user:3","username":"bob","email":"alice@example.com"}}`)) {
		t.Fatalf("thread:3 with its author: %s", d.Cache[2].Record)
	}
	if !slices.Equal(d.SubqueryTables, []string{"user"}) || !slices.Contains(d.ReferencedTables, "thread") ||
		!slices.Contains(d.ReferencedTables, "user") {
		t.Fatalf("tables of q:threads: %s", d.raw)
	}
	gen, hash := d.ContentGeneration, d.LastHash
	// The author changes: no thread changes, yet the view does.
	api.ingest("user", "UPDATE", "user:3", map[string]any{"username": "bobby", "email": "alice@example.com", "_00_rv": 2})
	d = c.converge(api, "q:threads")
	if d.ContentGeneration <= gen || d.LastHash == hash ||
		!jsonEqual(d.Cache[2].Record, []byte(`{"id":"thread:3","title":"helicopter","created_at":"3","_00_rv":2,
		"author":{"id":"user:3","username":"bobby","email":"alice@example.com","_00_rv":2}}`)) {
		t.Fatalf("q:threads after its author changed (generation %d, hash %s): %s", gen, hash, d.raw)
	}
	// The author goes: the [0] of nothing leaves the field out.
	api.ingest("user", "DELETE", "user:3", nil)
	d = c.converge(api, "q:threads")
	if !jsonEqual(d.Cache[2].Record, []byte(`{"id":"thread:3","title":"helicopter","created_at":"3","_00_rv":2}`)) {
		t.Fatalf("thread:3 without its author: %s", d.Cache[2].Record)
	}

	// A subquery without [0]: each thread with its comments.
	api.register("q:comments", "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread", nil)
	c.subscribe([]string{"q:comments"})
	d = expect("q:comments", "thread:1", "thread:2", "thread:3", "thread:4", "thread:5")
	gen = d.ContentGeneration
	api.ingest("comment", "CREATE", "comment:1", map[string]any{"thread": "thread:2", "text": "first"})
	api.ingest("comment", "CREATE", "comment:2", map[string]any{"thread": "thread:2", "text": "second"})
	api.ingest("comment", "CREATE", "comment:3", map[string]any{"thread": "thread:9", "text": "elsewhere"})
	d = c.converge(api, "q:comments")
	if d.ContentGeneration <= gen || !jsonEqual(d.Cache[1].Record, []byte(`{"id":"thread:2","title":"help me","author":"user:1",
		"created_at":"2","comments":[{"id":"comment:1","thread":"thread:2","text":"first"},{"id":"comment:2","thread":"thread:2","text":"second"}]}`)) ||
		!jsonEqual(d.Cache[0].Record, []byte(`{"id":"thread:1","title":"goodbye","author":"user:1","created_at":"1","_00_rv":2,"comments":[]}`)) {
		t.Fatalf("q:comments after comments: %s", d.raw)
	}
	api.ingest("comment", "DELETE", "comment:1", nil)
	d = c.converge(api, "q:comments")
	if !jsonEqual(d.Cache[1].Record, []byte(`{"id":"thread:2","title":"help me","author":"user:1",
		"created_at":"2","comments":[{"id":"comment:2","thread":"thread:2","text":"second"}]}`)) {
		t.Fatalf("q:comments after a comment went: %s", d.Cache[1].Record)
	}

	// $auth.id, a param with a path.
	for id, author := range map[string]string{"post:1": "user:1", "post:2": "user:2", "post:3": "user:1"} {
		api.ingest("post", "CREATE", id, map[string]any{"author": author})
	}
	mine := api.register("q:mine", "SELECT * FROM post WHERE author = $auth.id", map[string]any{"auth": map[string]any{"id": "user:1"}})
	theirs := api.register("q:theirs", "SELECT * FROM post WHERE author = $auth.id", map[string]any{"auth": map[string]any{"id": "user:2"}})
	if !slices.Equal(viewIDs(mine.Records), []string{"post:1", "post:3"}) || !slices.Equal(viewIDs(theirs.Records), []string{"post:2"}) {
		t.Fatalf("$auth.id: %s / %s", showViewRows(mine.Records), showViewRows(theirs.Records))
	}
	c.subscribe([]string{"q:mine", "q:theirs"})
	api.ingest("post", "UPDATE", "post:3", map[string]any{"author": "user:2", "_00_rv": 2})
	expect("q:mine", "post:1")
	expect("q:theirs", "post:2", "post:3")

	// GROUP BY with count() and math::sum.
	api.register("q:group", "SELECT author, count() AS n, math::sum(likes) AS likes FROM post GROUP BY author", nil)
	c.subscribe([]string{"q:group"})
	api.ingest("post", "UPDATE", "post:1", map[string]any{"author": "user:1", "likes": 3, "_00_rv": 2})
	api.ingest("post", "UPDATE", "post:2", map[string]any{"author": "user:2", "likes": 4, "_00_rv": 2})
	api.ingest("post", "UPDATE", "post:3", map[string]any{"author": "user:2", "likes": 5, "_00_rv": 3})
	d = c.converge(api, "q:group")
	if len(d.Cache) != 2 || !jsonEqual(d.Cache[0].Record, []byte(`{"author":"user:1","n":1,"likes":3}`)) ||
		!jsonEqual(d.Cache[1].Record, []byte(`{"author":"user:2","n":2,"likes":9}`)) {
		t.Fatalf("q:group: %s", d.raw)
	}
	c.checkErrs()
}
