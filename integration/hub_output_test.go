package integration

import "testing"

// Through si, output is written as the original runners write it. Python
// (its runner.py): strings as they are (text/plain, the default), bytes
// as they are, and with a declared application/x-ndjson every chunk a JSON
// line, strings too; a run that returns nothing, or a false value, writes
// nothing (the original's "if result:"). Dicts, which the original's
// text/plain output cannot encode (it fails), go as JSON lines. Node (its
// runner.ts): a last function that returns nothing writes "undefined".
// Every one completes, and its first start or its second (on the runner
// the hub started ahead) writes the same.
func TestHubSIOutputAsTheOriginal(t *testing.T) {
	t.Parallel()
	npm := hubNpmDir(t)
	s := hubServer(t)
	h := hubOf(s)
	si := newHubSI(t, npm, s.hub)
	cases := []struct {
		name, want string
		pkg        []byte
	}{
		{"py-strings", "a\nb\n", hubPython(t, "py-strings", `
async def run(context, input):
    yield "a\n"
    yield "b\n"
`)},
		{"py-bytes", "\x00\x01raw", hubPython(t, "py-bytes", `
async def run(context, input):
    yield b"\x00\x01"
    yield b"raw"
`)},
		{"py-dicts", "{\"n\": 1}\n{\"n\": 2}\n", hubPython(t, "py-dicts", `
async def run(context, input):
    for n in (1, 2):
        yield {"n": n}
`)},
		{"py-ndjson", "\"hi\"\n{\"n\": 1}\n", hubPython(t, "py-ndjson", `
provides = {"provides": "", "contentType": "application/x-ndjson"}

async def run(context, input):
    yield "hi"
    yield {"n": 1}
`)},
		{"py-nothing", "", hubPython(t, "py-nothing", `
async def run(context, input):
    context.logger.info("ran")
`)},
		{"py-false", "", hubPython(t, "py-false", `
async def run(context, input):
    return 0
`)},
		{"node-nothing", "undefined", hubNode(t, "node-nothing", `
module.exports = async function () { this.exitTimeout = 0; };
`)},
	}
	for _, c := range cases {
		var seq struct {
			ID string `json:"_id"`
		}
		si.json(&seq, "seq", "send", si.file(c.name+".tar.gz", c.pkg))
		for run := range 2 {
			var inst struct {
				ID string `json:"_id"`
			}
			si.json(&inst, "seq", "start", seq.ID)
			if i := h.ended(inst.ID); i.Status != "completed" || i.Terminated.ExitCode != 0 {
				t.Errorf("%s run %d: %+v %+v", c.name, run, i, i.Terminated)
			}
			if got := si.run(nil, "inst", "output", inst.ID); got != c.want {
				t.Errorf("%s run %d: si inst output %q, want %q", c.name, run, got, c.want)
			}
		}
	}
}
