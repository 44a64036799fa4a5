package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTypeStats: the *.stats commands report real totals of each type,
// read from the data (so they survive a restart), and command counts since
// the server started (which start again at 0, as the original's do).
func TestTypeStats(t *testing.T) {
	s := startServer(t, "--fsync=always")
	s.ok("hash.mset", map[string]any{"key": "h1", "fields": map[string]any{"a": 1, "b": 2}}, nil)
	s.ok("hash.set", map[string]any{"key": "h2", "field": "c", "value": 3}, nil)
	s.ok("list.rpush", map[string]any{"key": "l", "values": []any{1, 2, 3}}, nil)
	s.ok("set.add", map[string]any{"key": "s", "members": []string{"x", "y"}}, nil)
	s.ok("sortedset.zadd", map[string]any{"key": "z", "members": []any{
		map[string]any{"member": "a", "score": 1}, map[string]any{"member": "b", "score": 2}}}, nil)
	s.ok("hyperloglog.pfadd", map[string]any{"key": "hll", "elements": []string{"a", "b", "c"}}, nil)
	s.ok("bitmap.setbit", map[string]any{"key": "bm", "offset": 10, "value": 1}, nil)
	s.ok("kv.set", map[string]any{"key": "k", "value": "v"}, nil)
	s.ok("kv.get", map[string]any{"key": "k"}, nil)
	s.ok("kv.get", map[string]any{"key": "missing"}, nil)

	stats := func(cmd string) map[string]any {
		t.Helper()
		var m map[string]any
		s.ok(cmd, nil, &m)
		return m
	}
	check := func(cmd string, want map[string]any) {
		t.Helper()
		got := stats(cmd)
		for k, v := range want {
			g, _ := json.Marshal(pick(got, k))
			w, _ := json.Marshal(v)
			if string(g) != string(w) {
				t.Errorf("%s: %s = %s, want %s (all: %v)", cmd, k, g, w, got)
			}
		}
	}
	totals := func() {
		t.Helper()
		check("hash.stats", map[string]any{"total_hashes": 2, "total_fields": 3})
		check("list.stats", map[string]any{"total_lists": 1, "total_elements": 3})
		check("set.stats", map[string]any{"total_sets": 1, "total_members": 2})
		check("sortedset.stats", map[string]any{"total_keys": 1, "total_members": 2, "avg_members_per_key": 2})
		check("hyperloglog.stats", map[string]any{"total_hlls": 1, "total_cardinality": 3})
		check("bitmap.stats", map[string]any{"total_bitmaps": 1, "total_bits": 16})
		check("geospatial.stats", map[string]any{"total_keys": 1, "total_locations": 2})
	}
	totals()
	check("hash.stats", map[string]any{"operations.hset_count": 2})
	check("list.stats", map[string]any{"operations.rpush_count": 1})
	check("set.stats", map[string]any{"operations.sadd_count": 1})
	check("kv.stats", map[string]any{"operations.gets": 2, "operations.sets": 1, "operations.hits": 1,
		"operations.misses": 1, "hit_rate": 0.5})
	if m := stats("sortedset.stats"); m["memory_bytes"].(float64) <= 0 {
		t.Errorf("sortedset.stats memory_bytes: %v", m)
	}

	s.kill9()
	s.restart()
	totals()
	check("hash.stats", map[string]any{"operations.hset_count": 0})
}

// pick reads a dotted path of nested objects.
func pick(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, _ := v.(map[string]any)
		v = o[k]
	}
	return v
}
