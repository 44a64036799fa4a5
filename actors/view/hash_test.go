package view

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"lukechampine.com/blake3"

	"github.com/troupe-run/troupe/actors/view/ivm"
)

// The expected texts are what serde_json (with ryu for floats) writes for
// the same values: the original hashes serde_json's output.
func TestCanonicalJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string // a record as ingested
		want string
	}{
		{`{"b":1,"a":"x"}`, `{"a":"x","b":1}`},
		{`{"z":{"y":[3,{"d":null,"c":true}],"x":false}}`, `{"z":{"x":false,"y":[3,{"c":true,"d":null}]}}`},
		{`{"n":-42,"big":9223372036854775807}`, `{"big":9223372036854775807,"n":-42}`},
		// u64 past i64 is a float in serde_json's Value and here.
		{`{"u":18446744073709551615}`, `{"u":1.8446744073709552e19}`},
		{`{"f":3.0}`, `{"f":3.0}`},
		{`{"f":1.5}`, `{"f":1.5}`},
		{`{"f":0.1}`, `{"f":0.1}`},
		{`{"f":1e3}`, `{"f":1000.0}`},
		{`{"f":1e15}`, `{"f":1000000000000000.0}`},
		{`{"f":1e16}`, `{"f":1e16}`},
		{`{"f":1.25e16}`, `{"f":1.25e16}`},
		{`{"f":123456789.125}`, `{"f":123456789.125}`},
		{`{"f":0.0001}`, `{"f":0.0001}`},
		{`{"f":0.00001}`, `{"f":0.00001}`},
		{`{"f":0.000001}`, `{"f":1e-6}`},
		{`{"f":1.5e-7}`, `{"f":1.5e-7}`},
		{`{"f":-2.5e-300}`, `{"f":-2.5e-300}`},
		{`{"f":0.0}`, `{"f":0.0}`},
		{`{"f":-0.0}`, `{"f":-0.0}`},
		{`{"f":1.7976931348623157e308}`, `{"f":1.7976931348623157e308}`},
		{`{"s":"a\"b\\c\/d"}`, `{"s":"a\"b\\c/d"}`},
		{`{"s":"\b\f\n\r\t\u0001\u001f\u007f"}`, "{\"s\":\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"}"},
		{`{"s":"<>&\u2028é日本"}`, "{\"s\":\"<>&\u2028é日本\"}"},
		{`{"é":1,"e":2,"Z":3}`, `{"Z":3,"e":2,"é":1}`},
		{`{"a":[],"b":{}}`, `{"a":[],"b":{}}`},
	} {
		rec, err := ivm.DecodeRecord([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := string(appendCanonical(nil, rec)); got != tc.want {
			t.Errorf("canonical(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Floats round-trip: the text read back is the same float.
func TestCanonicalFloatRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		text := string(appendFloat(nil, f))
		rec, err := ivm.DecodeRecord([]byte(`{"f":` + text + `}`))
		if err != nil {
			t.Fatalf("%v: %s: %v", f, text, err)
		}
		if g, ok := rec["f"].(float64); !ok || g != f {
			t.Fatalf("%v written as %s reads back as %v", f, text, rec["f"])
		}
	}
}

// refHash is the original's hash_table written out plainly: pairs sorted
// by raw id, each raw id, 0, canonical JSON, 0.
func refHash(pairs [][2]string) string {
	h := blake3.New(32, nil)
	for _, p := range pairs {
		h.Write([]byte(p[0]))
		h.Write([]byte{0})
		h.Write([]byte(p[1]))
		h.Write([]byte{0})
	}
	return "b3:" + hex.EncodeToString(h.Sum(nil))
}

func TestTableHash(t *testing.T) {
	tables := ivm.NewTables()
	kept := newTableHashes()
	apply := func(op ivm.Op, id, rec string) {
		t.Helper()
		var r map[string]any
		if rec != "" {
			var err error
			if r, err = ivm.DecodeRecord([]byte(rec)); err != nil {
				t.Fatal(err)
			}
		}
		ev, err := tables.Apply(ivm.Change{Op: op, Table: "user", ID: id, Record: r, Normalized: true})
		if err != nil {
			t.Fatal(err)
		}
		if op == ivm.Delete {
			kept.del("user", id)
		} else {
			kept.set("user", id, ev.New)
		}
	}
	apply(ivm.Create, "user:b", `{"name":"bob","age":25}`)
	apply(ivm.Create, "user:a", `{"age":30,"name":"alice"}`)
	// The record hashed holds its id, as the scheduler's SELECT * row does.
	want := refHash([][2]string{
		{"a", `{"age":30,"id":"user:a","name":"alice"}`},
		{"b", `{"age":25,"id":"user:b","name":"bob"}`},
	})
	if got := hashTable(tables, "user"); got != want {
		t.Fatalf("hashTable = %s, want %s", got, want)
	}
	if got := kept.sum("user"); got != want {
		t.Fatalf("kept hash = %s, want %s", got, want)
	}
	apply(ivm.Update, "user:b", `{"name":"bob","age":26}`)
	want = refHash([][2]string{
		{"a", `{"age":30,"id":"user:a","name":"alice"}`},
		{"b", `{"age":26,"id":"user:b","name":"bob"}`},
	})
	if got := kept.sum("user"); got != want || hashTable(tables, "user") != want {
		t.Fatalf("after an update: kept %s, computed %s, want %s", got, hashTable(tables, "user"), want)
	}
	apply(ivm.Delete, "user:a", "")
	want = refHash([][2]string{{"b", `{"age":26,"id":"user:b","name":"bob"}`}})
	if got := kept.sum("user"); got != want {
		t.Fatalf("after a delete: %s, want %s", got, want)
	}
	apply(ivm.Delete, "user:b", "")
	if got := kept.sum("user"); got != "" {
		t.Fatalf("a table without rows has hash %q, want none", got)
	}
	if EmptyTableHash() != refHash(nil) {
		t.Fatalf("empty hash %s, want %s", EmptyTableHash(), refHash(nil))
	}
}

// The kept hashes equal the ones computed from scratch after any sequence
// of changes.
func TestTableHashIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tables := ivm.NewTables()
	kept := newTableHashes()
	for i := range 3000 {
		table := fmt.Sprintf("t%d", r.IntN(3))
		id := fmt.Sprintf("%s:%d", table, r.IntN(200))
		if r.IntN(4) == 0 {
			if _, err := tables.Apply(ivm.Change{Op: ivm.Delete, Table: table, ID: id}); err != nil {
				t.Fatal(err)
			}
			kept.del(table, id)
		} else {
			rec, _ := ivm.DecodeRecord(fmt.Appendf(nil, `{"v":%d,"f":%g,"s":"x\n%d"}`, r.IntN(10), r.Float64(), i))
			ev, err := tables.Apply(ivm.Change{Op: ivm.Update, Table: table, ID: id, Record: rec, Normalized: true})
			if err != nil {
				t.Fatal(err)
			}
			kept.set(table, id, ev.New)
		}
		if i%97 == 0 {
			for _, name := range tables.Names() {
				if got, want := kept.sum(name), hashTable(tables, name); got != want {
					t.Fatalf("step %d, table %s: kept %s, computed %s", i, name, got, want)
				}
			}
		}
	}
}

func TestRawID(t *testing.T) {
	for in, want := range map[string]string{"user:abc": "abc", "user:a:b": "a:b", "plain": "plain", "t:": ""} {
		if got := rawID(in); got != want {
			t.Errorf("rawID(%q) = %q, want %q", in, got, want)
		}
	}
}

// The canonical JSON of any record reads back as the same record and
// encodes to the same bytes again.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"b":[1.5,"x\n",null,{"z":true,"a":-0.0}],"a":1e300}`, `{"é":"\u0001<>"}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := ivm.DecodeRecord(raw)
		if err != nil || rec == nil {
			return
		}
		once := appendCanonical(nil, rec)
		back, err := ivm.DecodeRecord(once)
		if err != nil {
			t.Fatalf("canonical %s of %s does not decode: %v", once, raw, err)
		}
		if twice := appendCanonical(nil, back); string(twice) != string(once) {
			t.Fatalf("canonical of %s: %s, then %s", raw, once, twice)
		}
	})
}
