package integration

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// A client that applies every frame of /view/ws as ws.go documents it holds
// exactly what /debug/view holds, at every checkpoint of a random workload
// of ingests, re-registrations with other queries, and views unregistered
// (a gone frame) and registered again.
func TestViewsWSClientApplyProperty(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)
	c := dialViews(t, s, "Bearer "+viewsSecret)
	rng := rand.New(rand.NewPCG(7, 11))

	queries := []string{
		"SELECT * FROM item WHERE n > %d",
		"SELECT * FROM item WHERE n < %d ORDER BY n DESC LIMIT 4",
		"SELECT * FROM item ORDER BY n, id LIMIT 3 START %d",
		"SELECT id, n, tags FROM item WHERE tags CONTAINS 'a' AND n >= %d",
		"SELECT *, (SELECT * FROM item WHERE n = $parent.n AND id != $parent.id) AS same FROM item WHERE n > %d LIMIT 5",
		"SELECT grp, count() AS c FROM item WHERE n > %d GROUP BY grp",
		"SELECT id, owner.name AS who FROM item WHERE owner.age > %d ORDER BY id",
	}
	query := func() string { return fmt.Sprintf(queries[rng.IntN(len(queries))], rng.IntN(10)) }
	const nviews = 12
	ids := make([]string, nviews)
	for i := range ids {
		ids[i] = fmt.Sprintf("prop:%d", i)
		api.register(ids[i], query(), nil)
	}
	c.subscribe(ids)

	live := map[string]bool{}
	checkpoint := func() {
		t.Helper()
		for _, id := range ids {
			c.converge(api, id)
		}
	}
	for step := 1; step <= 300; step++ {
		switch r := rng.IntN(20); {
		case r == 0: // another query under the same id
			api.register(ids[rng.IntN(nviews)], query(), nil)
		case r == 1: // gone, then registered and subscribed again
			id := ids[rng.IntN(nviews)]
			api.mustDo("POST", "/view/unregister", map[string]any{"id": id})
			if f := c.next(); f.Type != "gone" || !slices.Equal(f.IDs, []string{id}) {
				t.Fatalf("step %d: unregister %s: %s, want a gone frame", step, id, f.raw)
			}
			api.register(id, query(), nil)
			c.subscribe([]string{id})
		case r < 5: // a linked record
			id := fmt.Sprintf("user:%d", rng.IntN(4))
			api.ingest("user", "UPDATE", id, map[string]any{"name": fmt.Sprint("u", rng.IntN(3)), "age": rng.IntN(10)})
		default:
			id := fmt.Sprintf("item:%d", rng.IntN(30))
			if live[id] && rng.IntN(4) == 0 {
				delete(live, id)
				api.ingest("item", "DELETE", id, nil)
				break
			}
			op := "CREATE"
			if live[id] {
				op = "UPDATE"
			}
			live[id] = true
			tags := []any{}
			if rng.IntN(2) == 0 {
				tags = append(tags, "a")
			}
			api.ingest("item", op, id, map[string]any{"n": rng.IntN(10), "grp": rng.IntN(3), "tags": tags, "_00_rv": step,
				"owner": fmt.Sprintf("user:%d", rng.IntN(5))})
		}
		if step%5 == 0 {
			checkpoint()
		}
	}
	checkpoint()
	c.checkErrs()
}
