package process

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestPythonHello(t *testing.T) {
	t.Parallel()
	r := python(t, `
async def run(context, input):
    async for name in input:
        yield f"Hello {name}!"
`, Spec{})
	r.input("text/plain", "World")
	r.expectExit(ExitCompleted)
	if got := r.output.wait(t); got != "Hello World!" {
		t.Errorf("output %q, want %q", got, "Hello World!")
	}
	r.msgs.await(t, CodeSequenceCompleted, nil)
}

func TestPythonEventsArgsAndStop(t *testing.T) {
	t.Parallel()
	r := python(t, `
import asyncio

async def run(context, input, greeting):
    context.add_stop_handler(lambda timeout, can_keep_alive: print(f"stopping {timeout} {can_keep_alive}"))
    context.on("ping", lambda message: context.emit("pong", {"got": message, "greeting": greeting, "config": context.config}))
    context.logger.info("waiting")
    await asyncio.get_running_loop().create_future()
`, Spec{Args: json.RawMessage(`["hi"]`), AppConfig: json.RawMessage(`{"a":1}`)})
	r.msgs.await(t, CodePang, nil)
	r.send(CodeEvent, event("ping", `"x"`))
	var e Event
	want := `{"got": "x", "greeting": "hi", "config": {"a": 1}}`
	if err := r.msgs.await(t, CodeEvent, named("pong")).Decode(&e); err != nil || string(e.Message) != want {
		t.Errorf("pong = %s, %v; want %s", e.Message, err, want)
	}
	if err := r.p.Stop(10*time.Second, false); err != nil {
		t.Fatal(err)
	}
	r.msgs.await(t, CodeSequenceStopped, nil)
	r.expectExit(ExitStopped)
	if got := r.stdout.wait(t); got != "stopping 10.0 False\n" { // seconds, as the original's
		t.Errorf("stdout %q", got)
	}
	if logs := r.logs.wait(t); !strings.Contains(logs, "info (Sequence) waiting") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestPythonNdjsonAndKill(t *testing.T) {
	t.Parallel()
	r := python(t, `
def run(context, input):
    context.add_kill_handler(lambda: print("killed"))
    async def doubled():
        async for item in input:
            yield {"n": item["n"] * 2}
    return doubled()
`, Spec{})
	r.p.SetInputContentType("application/x-ndjson")
	r.p.Input().Write([]byte("{\"n\":1}\n{\"n\":2}\n"))
	r.output.waitFor(t, "{\"n\": 4}\n")
	r.p.Terminate()
	r.expectExit(ExitKilled)
	if got := r.output.wait(t); got != "{\"n\": 2}\n{\"n\": 4}\n" {
		t.Errorf("output %q", got)
	}
	if got := r.stdout.wait(t); got != "killed\n" {
		t.Errorf("stdout %q", got)
	}
}

func TestPythonFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, main string
		want       int
		log        string
	}{
		{"no run", "x = 1\n", ExitFailedOnStart, "must define run"},
		{"syntax error", "def run(:\n", ExitFailedOnStart, "SyntaxError"},
		{"raises", "async def run(context, input):\n    raise ValueError('boom')\n", ExitFailedRunning, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := python(t, tt.main, Spec{})
			r.expectExit(tt.want)
			if logs := r.logs.wait(t); !strings.Contains(logs, tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, logs)
			}
		})
	}
}

func TestPythonBadMain(t *testing.T) {
	t.Parallel()
	r := started(t, "python3", "gone.py", nil, Spec{})
	r.expectExit(ExitBadMain)
	if got := r.stderr.wait(t); !strings.Contains(got, "gone.py is invalid") {
		t.Errorf("stderr %q", got)
	}
}
