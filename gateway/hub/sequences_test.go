package hub_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

const helloJS = `
module.exports = function (input) {
    return input.map((name) => "Hello " + name + "!");
};
`

func TestHelloThroughTheHub(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, helloJS))

	var list []struct {
		ID        string
		Config    map[string]any
		Instances []string
	}
	h.json("GET", "/sequences", "", http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != seq || list[0].Config["name"] != t.Name() || list[0].Config["entrypointPath"] != "index.js" {
		t.Fatalf("GET /sequences = %+v", list)
	}

	id := h.start(seq, `{"appConfig":{"x":1},"args":[]}`)
	if status, body := h.do("POST", "/instance/"+id+"/input", strings.NewReader("World"), "Content-Type", "text/plain"); status != http.StatusOK {
		t.Fatalf("POST input = %d %s", status, body)
	}
	// The output was written before this reader came: it was kept for it.
	if got := h.stream("/instance/" + id + "/output"); got != "Hello World!" {
		t.Errorf("output %q, want %q", got, "Hello World!")
	}
	i := h.ended(id)
	if i.Status != "completed" || i.Terminated.ExitCode != 0 || i.Terminated.Reason != "Instance completed" || i.Sequence != seq || i.Started == "" {
		t.Errorf("ended instance = %+v %+v", i, i.Terminated)
	}
	// Ended, it is no longer one of the sequence's instances, as in the
	// sequence's own description.
	var ids []string
	h.json("GET", "/sequence/"+seq+"/instances", "", http.StatusOK, &ids)
	if len(ids) != 0 {
		t.Errorf("sequence instances after the end = %v, want none", ids)
	}
	// The ended instance's output was read: a later reader gets its end.
	if got := h.stream("/instance/" + id + "/output"); got != "" {
		t.Errorf("second read of the output = %q", got)
	}
}

func TestArgsToOutputUploadedAsMultipart(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("appConfig", "{}")
	fw, _ := mw.CreateFormFile("file", "args.tar.gz")
	fw.Write(node(t, `module.exports = async function* (_input, ...args) { yield JSON.stringify(args); };`))
	mw.Close()
	var r struct{ ID string }
	h.json("POST", "/sequence", form.String(), http.StatusAccepted, &r, "Content-Type", mw.FormDataContentType())
	id := h.start(r.ID, `{"args":["a",2,{"b":true}]}`)
	// The generator's string comes as a JSON line, as the original's.
	if got := h.stream("/instance/" + id + "/output"); got != `"[\"a\",2,{\"b\":true}]"`+"\n" {
		t.Errorf("output %s", got)
	}
}

func TestPythonHello(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(pkg(t, `{"name":"py-hello","main":"main.py","engines":{"python3":"3"}}`, map[string]string{"main.py": `
async def run(context, input, *args):
    async for name in input:
        yield "Hello " + name + "!"
`}))
	id := h.start(seq, "")
	h.do("POST", "/instance/"+id+"/input", strings.NewReader("Py"), "Content-Type", "text/plain")
	if got := h.stream("/instance/" + id + "/output"); got != "Hello Py!" {
		t.Errorf("output %q", got)
	}
	if i := h.ended(id); i.Status != "completed" {
		t.Errorf("status %s", i.Status)
	}
}

// Without the scramjet framework a Python sequence still gets a Stream
// (the runner's own, also what "from scramjet.streams import Stream"
// imports), and text input comes as lines with their ends, as the
// original's runner gives it: multibyte characters count as one.
func TestPythonStreamAndTextLines(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(pkg(t, `{"name":"py-lengths","main":"main.py","engines":{"python3":"3"}}`, map[string]string{"main.py": `
from scramjet.streams import Stream

def run(context, input: Stream):
    return input.map(len).filter(lambda n: n > 0).batch(2).map(lambda b: ",".join(map(str, b)) + ";")
`}))
	id := h.start(seq, "")
	h.do("POST", "/instance/"+id+"/input", strings.NewReader("foo\nbar baz\nżółw\nend"), "Content-Type", "text/plain")
	if got := h.stream("/instance/" + id + "/output"); got != "4,8;5,3;" {
		t.Errorf("output %q, want 4,8;5,3;", got)
	}
	if i := h.ended(id); i.Status != "completed" {
		t.Errorf("status %s", i.Status)
	}
}

func TestRefusedPackageSaysWhy(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	for _, tc := range []struct {
		archive []byte
		why     string
	}{
		{[]byte("not a package"), "not a gzip stream"},
		{pkg(t, `{"name":"x"}`, map[string]string{"index.js": ""}), "main is missing"},
		{pkg(t, `{"main":"index.js"}`, map[string]string{"index.js": "", "../escape.js": ""}), "leaves the package"},
	} {
		status, body := h.do("POST", "/sequence", bytes.NewReader(tc.archive), "Content-Type", "application/octet-stream")
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, tc.why) {
			t.Errorf("POST /sequence = %d %s, want 422 saying %q", status, body, tc.why)
		}
	}
	var list []any
	h.json("GET", "/sequences", "", http.StatusOK, &list)
	if len(list) != 0 {
		t.Errorf("refused packages were listed: %v", list)
	}
}

func TestDeleteSequence(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, `module.exports = function () { return new Promise(() => {}); };`))
	id := h.start(seq, "")
	h.running(id)
	var e struct{ Error string }
	h.json("DELETE", "/sequence/"+seq, "", http.StatusConflict, &e)
	if e.Error != "Can't remove sequence in use." {
		t.Errorf("409 body %+v", e)
	}
	var ok struct{ OpStatus, ID string }
	h.json("DELETE", "/sequence/"+seq, "", http.StatusOK, &ok, "X-Seq-Kill-Inst", "true")
	if ok.OpStatus != "OK" || ok.ID != seq {
		t.Errorf("DELETE = %+v", ok)
	}
	if i := h.ended(id); i.Terminated.ExitCode != 137 {
		t.Errorf("instance of the deleted sequence: %+v", i.Terminated)
	}
	h.json("GET", "/sequence/"+seq, "", http.StatusNotFound, nil)
	h.json("DELETE", "/sequence/"+seq, "", http.StatusNotFound, nil)
	h.json("POST", "/sequence/"+seq+"/start", "{}", http.StatusNotFound, nil)
}

func TestSequencesSurviveARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"--data-dir=" + dir + "/store"}
	first := newHub(t, hubOptions{args: args, dataDir: dir + "/sequences"})
	seq := first.send(node(t, helloJS))
	first.sys.Close()

	second := newHub(t, hubOptions{args: args, dataDir: dir + "/sequences"})
	var v struct {
		ID     string
		Config map[string]any
	}
	second.json("GET", "/sequence/"+seq, "", http.StatusOK, &v)
	if v.ID != seq || v.Config["name"] != t.Name() {
		t.Fatalf("after the restart GET /sequence = %+v", v)
	}
	id := second.start(seq, "")
	second.do("POST", "/instance/"+id+"/input", strings.NewReader("again"), "Content-Type", "text/plain")
	if got := second.stream("/instance/" + id + "/output"); got != "Hello again!" {
		t.Errorf("output after the restart %q", got)
	}
}
