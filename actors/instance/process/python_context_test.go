package process

import (
	"strings"
	"testing"

	"github.com/troupe-run/troupe/actors/sequence"
)

// The sequence's __pypackages__ is importable; module-level provides is
// announced; keep_alive is awaitable and chainable; a returned async
// iterator is streamed without being awaited.
func TestPythonPackagesProvidesKeepAlive(t *testing.T) {
	t.Parallel()
	r := started(t, sequence.Python, "main.py", map[string]string{
		"__pypackages__/greeter/__init__.py": "def greet(name):\n    return f'hi {name}'\n",
		"main.py": `
import greeter

provides = {"provides": "greetings", "contentType": "text/plain"}

def run(context, input):
    async def out():
        await context.keep_alive(10)
        context.keep_alive().emit("kept", None)
        yield greeter.greet("there")
    return out()
`}, Spec{})
	r.expectExit(ExitCompleted)
	if got := r.output.wait(t); got != "hi there" {
		t.Errorf("output %q", got)
	}
	var topics Topics
	if err := r.msgs.await(t, CodePang, func(m Message) bool {
		var tp Topics
		return m.Decode(&tp) == nil && tp.Provides != ""
	}).Decode(&topics); err != nil || topics.Provides != "greetings" || topics.ContentType != "text/plain" {
		t.Errorf("PANG %+v, %v; want provides greetings", topics, err)
	}
	r.msgs.await(t, CodeEvent, named("kept"))
	r.msgs.await(t, CodeAlive, nil)
}

// A failing sequence's traceback reaches stderr and the log.
func TestPythonTracebackToStderr(t *testing.T) {
	t.Parallel()
	r := python(t, `
async def run(context, input):
    raise ValueError("broken on purpose")
`, Spec{})
	r.expectExit(ExitFailedRunning)
	if got := r.stderr.wait(t); !strings.Contains(got, "Traceback") || !strings.Contains(got, "ValueError: broken on purpose") {
		t.Errorf("stderr %q lacks the traceback", got)
	}
	if got := r.logs.wait(t); !strings.Contains(got, "broken on purpose") {
		t.Errorf("log %q lacks the error", got)
	}
}

// A stop with timeout 0 ends with 138, as the Node runner's does.
func TestPythonStopTimeoutZero(t *testing.T) {
	t.Parallel()
	for _, r := range []*run{
		python(t, "import asyncio\n\nasync def run(context, input):\n    await asyncio.get_running_loop().create_future()\n", Spec{}),
		node(t, "module.exports = function () { return new Promise(() => {}); };", Spec{}),
	} {
		r.msgs.await(t, CodePang, nil)
		if err := r.p.Stop(0, false); err != nil {
			t.Fatal(err)
		}
		r.expectExit(ExitStopped)
	}
}
