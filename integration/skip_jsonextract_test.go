package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// jsonExtractCases are patterns of Skip's JSON pattern language with the
// values they are matched against: the cases of Skip's own tests of the
// language (its skjson library and testJSONExtract) and a few more.
var jsonExtractCases = [][2]string{
	{`{x[]: var1, ?"y[0]": var2}`, `{"x":[1,2,3], "y[0]":[4,5,6,null]}`},
	{`{x[]: var1, ?y[0]: var2}`, `{"x":[1,2,3], "y":[4,5,6,null]}`},
	{`{%: var, x:var<int>}`, `{"x":1, "y":2}`},
	{`{%: var, x:var<int>, y:y}`, `{"x":1, "y":2}`},
	{`{%: var}`, `{"x":1, "y":2}`},
	{`{?%: var, x:var<int>, y:y}`, `{"x":1, "y":2}`},
	{`{%.x: var, y:y}`, `{"x":1, "y":2}`},
	{`{.%.x: var, y:y}`, `{"x":1, "y":2}`},
	{`{.%x: var, y:y}`, `{"x":1, "y":2}`},
	{`{.x%: var, y:y}`, `{"x":1, "y":2}`},
	{`{x%: var, y:y}`, `{"x":1, "y":2}`},
	{`{x%[]: var, y:y}`, `{"x":[1], "y":2}`},
	{`{%.x: var, y:var2}`, `{"x":1, "y":[{"x":5}]}`},
	{`{%.x: var}`, `{"x":1, "y":[{"x":5}]}`},
	{`{%.x: var, z:foo}`, `{"x":1, "y":[{"x":5}]}`},
	{`{%.x: var, ?z:foo}`, `{"x":1, "y":[{"x":5}]}`},
	{`{tags[]: tag<string>}`, `{"tags":["#foo1","#foo2"]}`},
	{`{data[]: {id<int>, n<string>}}`, `{"data":[{"id":1,"n":"n1"},{"id":2,"n":"n2"}],"s":2}`},
	{`{%:{id<int>, n<string>}}`, `{"data":[{"id":1,"n":"n1"},{"id":2,"n":"n2"}],"s":2}`},
	{`{%data%:{id<int>, n<string>}}`, `{"data":[{"id":1,"n":"n1"},{"id":2,"n":"n2"}],"s":2}`},
	{`{%data[%]:{id<int>, n<string>}}`, `{"data":[{"id":1,"n":"n1"},{"id":2,"n":"n2"}],"s":2}`},
	{`{data[][]:{id<int>, n<string>}}`, `{"data":[[{"id":1,"n":"n1"},{"id":2,"n":"n2"}]],"s":2}`},
	{`{data[%]:{id<int>, n<string>}}`, `{"data":[[{"id":1,"n":"n1"},{"id":2,"n":"n2"}]],"s":2}`},
	{`{x[]: v1, y[]: v2}`, `{"x":[1,2,3], "y":[4,5,6]}`},
	{`{x[0]: x}`, `{"x":[]}`},
	{`{x[0]: x}`, `{"x":[0]}`},
	{`{x[]: x}`, `{"x":[]}`},
	{`{x[]: x}`, `{"x":[0, 1]}`},
	{`{x[].y: x}`, `{"x":[{"y":0}]}`},
	{`{?c: x}`, `{}`},
	{`{?c: x}`, `{"c":0}`},
	{`{?c: x}`, `{"z":0}`},
	{`{}`, `{}`},
	{`{x:[],y}`, `{"x":[],"y":0}`},
	{`{x:{},y}`, `{"x":{},"y":0}`},
	{`{"a.b":x}`, `{"a.b":0}`},
	{`{"a.b":x}`, `{"a":{"b":0}}`},
	{`{a.b:x}`, `{"a":{"b":0}}`},
	{`{a.b:x}`, `{"a":{"c":{"b":0}}}`},
	{`{a<num>}`, `{"a":0}`},
	{`{a<float>}`, `{"a":0.5}`},
	{`{a<int>}`, `{"a":0.5}`},
	{`{a<int|string>, b<null|bool>}`, `{"a":"s","b":null}`},
	{`{obj<{c:{d:[num]}}>}`, `{"obj":{"c":{"d":[0, 1, 2.3]}}}`},
	{`{obj<{c:int}>}`, `{"obj":{"c":1,"d":2}}`},
	{`{obj<{c:int, ?d:int}>}`, `{"obj":{"c":1,"d":2}}`},
	{`{ user : { name : who , ?age : years } }`, `{"user":{"name":"ada"}}`},
	{`%.a:a`, `{"a":0}`},
	// Blanks are skipped everywhere, and a field named twice: the last.
	{`{x y}`, `{"xy":1}`},
	{`{x:a, x:b}`, `{"x":1}`},
}

// jsonExtractRefused are patterns Skip refuses: the write that meets them
// is refused whole.
var jsonExtractRefused = []string{`{x:`, `{a<nope>}`, `{x:1a}`, `{%a:x, %b:y}`, `{x[a]:y}`, ``}

// TestSkipJSONExtract runs context.jsonExtract on the same patterns in the
// real Skip server and in Troupe: equal results, and the same refusals.
func TestSkipJSONExtract(t *testing.T) {
	file := skipService(t, "json.mjs")
	real := startSkipReal(t, file)
	_, troupe := startSkipTroupe(t, file)
	entries := make([]string, len(jsonExtractCases))
	for i, c := range jsonExtractCases {
		p, _ := json.Marshal(c[0])
		entries[i] = fmt.Sprintf(`[%d,[{"pattern":%s,"value":%s}]]`, i, p, c[1])
	}
	body := "[" + strings.Join(entries, ",") + "]"
	var got [2][][2]json.RawMessage
	for j, d := range []*skipDoors{real, troupe} {
		d.patch("input", body)
		if err := json.Unmarshal([]byte(d.snapshot("extract", `{}`)), &got[j]); err != nil {
			t.Fatal(err)
		}
	}
	if len(got[0]) != len(got[1]) {
		t.Fatalf("%d keys from Skip, %d from Troupe", len(got[0]), len(got[1]))
	}
	for i := range got[0] {
		var a, b any
		_ = json.Unmarshal(got[0][i][1], &a)
		_ = json.Unmarshal(got[1][i][1], &b)
		if sa, sb := canon(a, true), canon(b, true); sa != sb {
			c := jsonExtractCases[i]
			t.Errorf("jsonExtract(%s, %q):\n skip   %s\n troupe %s", c[1], c[0], sa, sb)
		}
	}
	for _, p := range jsonExtractRefused {
		q, _ := json.Marshal(p)
		w := fmt.Sprintf(`[[1000,[{"pattern":%s,"value":{"x":1}}]]]`, q)
		for _, d := range []*skipDoors{real, troupe} {
			if st, body := d.do("PATCH", "/v1/inputs/input", w); st == 200 {
				t.Errorf("%s: pattern %q accepted: %s", d.name, p, body)
			}
		}
	}
}
