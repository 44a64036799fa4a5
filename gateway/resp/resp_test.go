package resp

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/kv"
	"github.com/troupe-run/troupe/messages"
)

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		`set a b`:                 {"set", "a", "b"},
		`  set   "a b"  'c d'  `:  {"set", "a b", "c d"},
		`echo "x\ny\x41"`:         {"echo", "x\ny\x41"},
		`echo ""`:                 {"echo", ""},
		`echo 'it\'s'`:            {"echo", "it's"},
		`get`:                     {"get"},
		"":                        nil,
		`set "a"b`:                nil, // a quote must end an argument
		`set "unbalanced`:         nil,
		`set 'unbalanced`:         nil,
		"set\ta\tb":               {"set", "a", "b"},
		`hset h "f" "v with \"q"`: {"hset", "h", "f", `v with "q`},
	} {
		got, ok := splitArgs([]byte(in), nil)
		if want == nil && in != "" {
			if ok {
				t.Errorf("splitArgs(%q) = %q, want a failure", in, got)
			}
			continue
		}
		if !ok || len(got) != len(want) {
			t.Errorf("splitArgs(%q) = %q %v, want %q", in, got, ok, want)
			continue
		}
		for i := range want {
			if string(got[i]) != want[i] {
				t.Errorf("splitArgs(%q)[%d] = %q, want %q", in, i, got[i], want[i])
			}
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"h?llo", "hello", true}, {"h?llo", "hllo", false}, {"h*llo", "heeeello", true},
		{"h[ae]llo", "hallo", true}, {"h[ae]llo", "hillo", false}, {"h[^e]llo", "hallo", true}, {"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true}, {"h[a-b]llo", "hcllo", false}, {`h\*llo`, "h*llo", true}, {`h\*llo`, "hello", false},
		{"news.*", "news.sport", true}, {"news.*", "news", false}, {"a*b*c", "aXXbYYc", true}, {"a*b*c", "aXXbYY", false},
	} {
		if got := globMatch(c.p, c.s, false); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

func TestFormatDouble(t *testing.T) {
	for f, want := range map[float64]string{1.5: "1.5", 1.1: "1.1000000000000001", 3: "3", -0.25: "-0.25",
		1e20: "1e+20", 123456789012345678: "1.2345678901234568e+17", 0.0001: "0.0001", 0.00001: "1.0000000000000001e-05"} {
		if got := formatDouble(f); got != want {
			t.Errorf("formatDouble(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestValueEncoding(t *testing.T) {
	for _, v := range []string{"", "plain", `with "quotes" and \`, "line\nbreak", "ünïcode", "\xff\xfe binary"} {
		if got := string(decode(encode([]byte(v)))); got != v {
			t.Errorf("decode(encode(%q)) = %q", v, got)
		}
	}
	if got := string(encode([]byte("\xff"))); !strings.HasPrefix(got, base64Prefix) {
		t.Errorf("bytes that are not UTF-8 are stored as %q", got)
	}
	if got := string(decode([]byte(`{"a":1}`))); got != `{"a":1}` {
		t.Errorf("a JSON object stored by the data door reads as %q", got)
	}
}

// TestInlineAndPipelines runs with an event loop (which hands the
// connection over at LLEN) and with a goroutine per connection.
func TestInlineAndPipelines(t *testing.T) {
	for _, loops := range []int{1, -1} {
		t.Run("loops="+strconv.Itoa(loops), func(t *testing.T) { inlineAndPipelines(t, loops) })
	}
}

func inlineAndPipelines(t *testing.T, loops int) {
	_, addr := door(t, Config{EventLoops: loops})
	c := dial(t, addr)
	// Inline commands, then a pipeline in one write mixing commands that
	// run side by side with ones that wait for them.
	if _, err := c.nc.Write([]byte("SET greeting \"hello world\"\r\nGET greeting\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := c.reply(); got != "+OK\r\n" {
		t.Fatalf("inline SET: %q", got)
	}
	if got := c.reply(); got != "$11\r\nhello world\r\n" {
		t.Fatalf("inline GET: %q", got)
	}
	var batch []byte
	for range 300 {
		batch = append(batch, encodeCommand("INCR", "n")...)
		batch = append(batch, encodeCommand("RPUSH", "l", "x")...)
	}
	batch = append(batch, encodeCommand("GET", "n")...)
	batch = append(batch, encodeCommand("LLEN", "l")...) // not pipelined side by side
	batch = append(batch, encodeCommand("SET", "n", "v", "EXAT", "1")...)
	batch = append(batch, encodeCommand("EXISTS", "n")...)
	// A pipelined SET over another type takes the full path, with the
	// arguments it kept.
	batch = append(batch, encodeCommand("SET", "l", "replaced")...)
	batch = append(batch, encodeCommand("GET", "l")...)
	if _, err := c.nc.Write(batch); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 300; i++ {
		if got, want := c.reply(), ":"+strconv.Itoa(i)+"\r\n"; got != want {
			t.Fatalf("INCR %d: %q, want %q", i, got, want)
		}
		if got, want := c.reply(), ":"+strconv.Itoa(i)+"\r\n"; got != want {
			t.Fatalf("RPUSH %d: %q, want %q", i, got, want)
		}
	}
	for _, want := range []string{"$3\r\n300\r\n", ":300\r\n", "+OK\r\n", ":0\r\n", "+OK\r\n", "$8\r\nreplaced\r\n"} {
		if got := c.reply(); got != want {
			t.Fatalf("after the pipeline: %q, want %q", got, want)
		}
	}
	// A protocol error is answered, then the connection closed.
	if _, err := c.nc.Write([]byte("*1\r\n#oops\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := c.reply(); got != "-ERR Protocol error: expected '$', got '#'\r\n" {
		t.Fatalf("protocol error: %q", got)
	}
	if _, err := c.rd.ReadByte(); err == nil {
		t.Fatal("the connection stayed open after a protocol error")
	}
}

// TestLoopHandover: a connection an event loop serves is handed to a
// goroutine of its own by a command that may wait on another client (a
// blocking pop, with commands the loop ran before it in the same
// pipeline), and by a reply the socket does not take at once; it is
// answered in order either way and goes on after.
func TestLoopHandover(t *testing.T) {
	s, addr := door(t, Config{})
	a, b := dial(t, addr), dial(t, addr)
	var batch []byte
	batch = append(batch, encodeCommand("SET", "k", "v")...)
	batch = append(batch, encodeCommand("BLPOP", "q", "0")...)
	batch = append(batch, encodeCommand("GET", "k")...)
	if _, err := a.nc.Write(batch); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "BLPOP to block", func() bool { return s.stats.blocked.Load() == 1 })
	if got := b.do("RPUSH", "q", "x"); got != ":1\r\n" {
		t.Fatal(got)
	}
	for _, want := range []string{"+OK\r\n", "*2\r\n$1\r\nq\r\n$1\r\nx\r\n", "$1\r\nv\r\n"} {
		if got := a.reply(); got != want {
			t.Fatalf("after BLPOP: %q, want %q", got, want)
		}
	}
	if got := a.do("INCR", "n"); got != ":1\r\n" {
		t.Fatalf("INCR on the goroutine: %q", got)
	}
	// 8 MiB of replies asked for at once, read only once all are asked:
	// the loop writes what the socket takes and hands the rest over.
	big := strings.Repeat("x", 1<<20)
	if got := b.do("SET", "big", big); got != "+OK\r\n" {
		t.Fatal(got)
	}
	batch = batch[:0]
	for range 8 {
		batch = append(batch, encodeCommand("GET", "big")...)
	}
	batch = append(batch, encodeCommand("PING")...)
	if _, err := b.nc.Write(batch); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if got := b.reply(); got != "$1048576\r\n"+big+"\r\n" {
			t.Fatalf("GET %d: %d bytes", i, len(got))
		}
	}
	if got := b.reply(); got != "+PONG\r\n" {
		t.Fatalf("PING: %q", got)
	}
}

func TestTransactions(t *testing.T) {
	_, addr := door(t, Config{})
	a, b := dial(t, addr), dial(t, addr)
	for _, step := range [][2]string{
		{"WATCH k", "+OK\r\n"}, {"MULTI", "+OK\r\n"}, {"SET k mine", "+QUEUED\r\n"},
	} {
		if got := a.do(strings.Fields(step[0])...); got != step[1] {
			t.Fatalf("%s: %q", step[0], got)
		}
	}
	if got := b.do("SET", "k", "theirs"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	if got := a.do("EXEC"); got != "*-1\r\n" {
		t.Fatalf("EXEC after the watched key changed: %q", got)
	}
	if got := a.do("GET", "k"); got != "$6\r\ntheirs\r\n" {
		t.Fatalf("the aborted EXEC wrote: %q", got)
	}
	a.do("WATCH", "k")
	a.do("MULTI")
	a.do("INCR", "c")
	a.do("LPUSH", "k", "x") // fails at EXEC (k is a string); the rest stays
	a.do("INCR", "c")
	if got := a.do("EXEC"); got != "*3\r\n:1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n" {
		t.Fatalf("EXEC: %q", got)
	}
}

func TestPubSubPushes(t *testing.T) {
	_, addr := door(t, Config{})
	sub, pub := dial(t, addr), dial(t, addr)
	if got := sub.do("HELLO", "3"); !strings.HasPrefix(got, "%7\r\n") {
		t.Fatalf("HELLO 3: %q", got)
	}
	if got := sub.do("SUBSCRIBE", "orders"); got != ">3\r\n$9\r\nsubscribe\r\n$6\r\norders\r\n:1\r\n" {
		t.Fatalf("SUBSCRIBE: %q", got)
	}
	if got := sub.do("PSUBSCRIBE", "ne?s.*"); got != ">3\r\n$10\r\npsubscribe\r\n$6\r\nne?s.*\r\n:2\r\n" {
		t.Fatalf("PSUBSCRIBE: %q", got)
	}
	// RESP3 lets a subscriber run other commands.
	if got := sub.do("SET", "a", "1"); got != "+OK\r\n" {
		t.Fatalf("SET while subscribed: %q", got)
	}
	if got := pub.do("PUBLISH", "orders", "o1"); got != ":1\r\n" {
		t.Fatalf("PUBLISH: %q", got)
	}
	if got := sub.reply(); got != ">3\r\n$7\r\nmessage\r\n$6\r\norders\r\n$2\r\no1\r\n" {
		t.Fatalf("message: %q", got)
	}
	pub.do("PUBLISH", "news.sport.live", "goal")
	if got := sub.reply(); got != ">4\r\n$8\r\npmessage\r\n$6\r\nne?s.*\r\n$15\r\nnews.sport.live\r\n$4\r\ngoal\r\n" {
		t.Fatalf("pmessage: %q", got)
	}
	// A channel that is no topic stays inside the door.
	sub.do("SUBSCRIBE", "two words")
	if got := pub.do("PUBLISH", "two words", "x"); got != ":1\r\n" {
		t.Fatalf("PUBLISH to a local channel: %q", got)
	}
	if got := sub.reply(); got != ">3\r\n$7\r\nmessage\r\n$9\r\ntwo words\r\n$1\r\nx\r\n" {
		t.Fatalf("local message: %q", got)
	}
	// RESP2 subscribed mode refuses other commands.
	r2 := dial(t, addr)
	r2.do("SUBSCRIBE", "x")
	if got := r2.do("GET", "a"); !strings.HasPrefix(got, "-ERR Can't execute 'get'") {
		t.Fatalf("GET in RESP2 subscribed mode: %q", got)
	}
	if got := r2.do("PING"); got != "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
		t.Fatalf("PING in RESP2 subscribed mode: %q", got)
	}
}

// TestSlowSubscriberDropped: a subscriber that reads nothing is closed
// once its output passes the bound, and publishers never wait on it.
func TestSlowSubscriberDropped(t *testing.T) {
	s, addr := door(t, Config{OutputBuffer: 64 << 10})
	sub, pub := dial(t, addr), dial(t, addr)
	sub.do("SUBSCRIBE", "flood")
	big := strings.Repeat("x", 32<<10)
	deadline := time.Now().Add(60 * time.Second)
	for s.stats.dropped.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the subscriber that reads nothing was never dropped")
		}
		if got := pub.do("PUBLISH", "flood", big); !strings.HasPrefix(got, ":") {
			t.Fatalf("PUBLISH: %q", got)
		}
	}
}

func TestAuthAndErrors(t *testing.T) {
	_, addr := door(t, Config{APIKeys: []string{"secret"}})
	c := dial(t, addr)
	for _, step := range [][2]string{
		{"PING", "-NOAUTH Authentication required.\r\n"},
		{"AUTH wrong", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"AUTH someone secret", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"AUTH secret", "+OK\r\n"},
		{"CLIENT SETNAME worker-1", "+OK\r\n"},
		{"CLIENT GETNAME", "$8\r\nworker-1\r\n"},
		{"CLIENT SETNAME has\x01ctl", "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
		{"SELECT 3", "-ERR DB index is out of range\r\n"},
		{"HELLO 4", "-NOPROTO unsupported protocol version\r\n"},
		{"FOO bar", "-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n"},
		{"GET", "-ERR wrong number of arguments for 'get' command\r\n"},
	} {
		if got := c.do(strings.Fields(step[0])...); got != step[1] {
			t.Errorf("%s: %q, want %q", step[0], got, step[1])
		}
	}
	if got := c.do("INFO", "keyspace"); !strings.Contains(got, "# Keyspace") {
		t.Errorf("INFO keyspace: %q", got)
	}
	if got := c.do("COMMAND", "DOCS", "get"); !strings.Contains(got, "Returns the string value of a key.") {
		t.Errorf("COMMAND DOCS get: %q", got)
	}
}

// TestBlockingPops: BLPOP waits for a push from another client, and a
// client that goes away while blocked is let go.
func TestBlockingPops(t *testing.T) {
	s, addr := door(t, Config{})
	a, b := dial(t, addr), dial(t, addr)
	a.send("BLPOP", "q1", "q2", "0")
	waitUntil(t, "the client to block", func() bool { return s.stats.blocked.Load() == 1 })
	if got := b.do("RPUSH", "q2", "job"); got != ":1\r\n" {
		t.Fatal(got)
	}
	if got := a.reply(); got != "*2\r\n$2\r\nq2\r\n$3\r\njob\r\n" {
		t.Fatalf("BLPOP: %q", got)
	}
	// The replies to commands pipelined before a blocking one go out as it
	// blocks, as Redis sends them, not once it has its answer.
	if _, err := a.nc.Write(append(encodeCommand("SET", "k", "v"), encodeCommand("BLPOP", "q4", "0")...)); err != nil {
		t.Fatal(err)
	}
	if got := a.reply(); got != "+OK\r\n" {
		t.Fatalf("SET pipelined before BLPOP: %q", got)
	}
	waitUntil(t, "the client to block", func() bool { return s.stats.blocked.Load() == 1 })
	b.do("RPUSH", "q4", "y")
	if got := a.reply(); got != "*2\r\n$2\r\nq4\r\n$1\r\ny\r\n" {
		t.Fatalf("BLPOP after a pipelined SET: %q", got)
	}
	// Commands sent while blocked are answered after.
	a.send("BRPOP", "q3", "0")
	waitUntil(t, "the client to block", func() bool { return s.stats.blocked.Load() == 1 })
	a.send("PING")
	b.do("LPUSH", "q3", "x")
	for _, want := range []string{"*2\r\n$2\r\nq3\r\n$1\r\nx\r\n", "+PONG\r\n"} {
		if got := a.reply(); got != want {
			t.Fatalf("after the pop: %q, want %q", got, want)
		}
	}
	c := dial(t, addr)
	c.send("BLPOP", "never", "0")
	waitUntil(t, "the client to block", func() bool { return s.stats.blocked.Load() == 1 })
	c.nc.Close()
	waitUntil(t, "the gone client to be let go", func() bool { return s.stats.blocked.Load() == 0 && s.Clients() == 2 })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBlockingPopsWokenByWrites: a blocked pop is answered by the write
// that gives it something, whichever way the write comes: a plain command,
// a pipelined one (sent through the connection's pipe), one inside EXEC
// (whose hold on the key is let go after), a sorted-set add for BZPOPMIN
// and BZPOPMAX; and it times out with a null array.
func TestBlockingPopsWokenByWrites(t *testing.T) {
	s, addr := door(t, Config{})
	a, b := dial(t, addr), dial(t, addr)
	blocked := func() {
		waitUntil(t, "the client to block", func() bool { return s.stats.blocked.Load() == 1 })
	}

	a.send("BLPOP", "p", "0")
	blocked()
	// Two pushes in one write: the second goes through the pipe.
	if _, err := b.nc.Write(append(encodeCommand("SET", "other", "x"), encodeCommand("RPUSH", "p", "piped")...)); err != nil {
		t.Fatal(err)
	}
	b.reply()
	b.reply()
	if got := a.reply(); got != "*2\r\n$1\r\np\r\n$5\r\npiped\r\n" {
		t.Fatalf("after a pipelined push: %q", got)
	}

	a.send("BRPOP", "tx", "0")
	blocked()
	for _, cmd := range [][]string{{"MULTI"}, {"RPUSH", "tx", "in-exec"}, {"SET", "y", "1"}} {
		b.do(cmd...)
	}
	if got := b.do("EXEC"); got != "*2\r\n:1\r\n+OK\r\n" {
		t.Fatalf("EXEC: %q", got)
	}
	if got := a.reply(); got != "*2\r\n$2\r\ntx\r\n$7\r\nin-exec\r\n" {
		t.Fatalf("after EXEC: %q", got)
	}

	a.send("BZPOPMIN", "z1", "z2", "0")
	blocked()
	b.do("ZADD", "z2", "2", "two", "1", "one")
	if got := a.reply(); got != "*3\r\n$2\r\nz2\r\n$3\r\none\r\n$1\r\n1\r\n" {
		t.Fatalf("BZPOPMIN: %q", got)
	}
	if got := a.do("BZPOPMAX", "z1", "z2", "0"); got != "*3\r\n$2\r\nz2\r\n$3\r\ntwo\r\n$1\r\n2\r\n" {
		t.Fatalf("BZPOPMAX of a non-empty set: %q", got)
	}
	b.do("SET", "str", "x")
	if got := a.do("BZPOPMIN", "str", "0"); got != "-"+wrongType+"\r\n" {
		t.Fatalf("BZPOPMIN of a string: %q", got)
	}
	if got := a.do("BZPOPMIN", "z1", "0.01"); got != "*-1\r\n" {
		t.Fatalf("BZPOPMIN timing out: %q", got)
	}

	a.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
	blocked()
	b.do("LPUSH", "src", "moved")
	if got := a.reply(); got != "$5\r\nmoved\r\n" {
		t.Fatalf("BLMOVE: %q", got)
	}
	if got := b.do("LRANGE", "dst", "0", "-1"); got != "*1\r\n$5\r\nmoved\r\n" {
		t.Fatalf("dst: %q", got)
	}
}

// TestClientIDTransactions: Synap's form of MULTI/EXEC over RESP, as its
// SDKs' RESP3 transport sends it: a transaction named by a client id,
// commands queued with TXQUEUE (from any connection), EXEC <id> aborting
// when a key the connection watches was written.
func TestClientIDTransactions(t *testing.T) {
	_, addr := door(t, Config{})
	a, b := dial(t, addr), dial(t, addr)
	steps := []struct {
		c    *client
		cmd  []string
		want string
	}{
		{a, []string{"MULTI", "tx-1"}, "+OK\r\n"},
		{a, []string{"MULTI", "tx-1"}, "-ERR MULTI calls can not be nested\r\n"},
		{a, []string{"TXQUEUE", "tx-1", "SET", "k", "1"}, "+QUEUED\r\n"},
		{b, []string{"TXQUEUE", "tx-1", "incr", "k"}, "+QUEUED\r\n"},
		{a, []string{"GET", "k"}, "$-1\r\n"},
		{a, []string{"TXQUEUE", "tx-1", "NOSUCH", "x"}, "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"},
		{a, []string{"TXQUEUE", "tx-1", "GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{a, []string{"TXQUEUE", "tx-1", "WATCH", "k"}, "-ERR Command not allowed inside a transaction\r\n"},
		{a, []string{"TXQUEUE", "nobody", "SET", "k", "1"}, "-ERR TXQUEUE without MULTI for client id 'nobody'\r\n"},
		{a, []string{"EXEC", "tx-1"}, "*2\r\n+OK\r\n:2\r\n"},
		{a, []string{"EXEC", "tx-1"}, "-ERR EXEC without MULTI\r\n"},
		{a, []string{"MULTI", "a", "b"}, "-ERR wrong number of arguments for 'multi' command\r\n"},
		// A watched key written meanwhile aborts EXEC <id>.
		{a, []string{"WATCH", "k"}, "+OK\r\n"},
		{a, []string{"MULTI", "tx-2"}, "+OK\r\n"},
		{a, []string{"TXQUEUE", "tx-2", "SET", "k", "mine"}, "+QUEUED\r\n"},
		{b, []string{"SET", "k", "theirs"}, "+OK\r\n"},
		{a, []string{"EXEC", "tx-2"}, "*-1\r\n"},
		{a, []string{"GET", "k"}, "$6\r\ntheirs\r\n"},
		{a, []string{"MULTI", "tx-3"}, "+OK\r\n"},
		{a, []string{"TXQUEUE", "tx-3", "SET", "k", "dropped"}, "+QUEUED\r\n"},
		{a, []string{"DISCARD", "tx-3"}, "+OK\r\n"},
		{a, []string{"EXEC", "tx-3"}, "-ERR EXEC without MULTI\r\n"},
		{a, []string{"MULTI"}, "+OK\r\n"},
		{a, []string{"EXEC", "tx-4"}, "-ERR Command not allowed inside a transaction\r\n"},
		{a, []string{"DISCARD"}, "+OK\r\n"},
	}
	for _, s := range steps {
		if got := s.c.do(s.cmd...); got != s.want {
			t.Fatalf("%q: %q, want %q", s.cmd, got, s.want)
		}
	}
}

// TestDocsNameCommands: every COMMAND DOCS entry (redis-cli's hints) is of
// a command the door serves, with a summary and a syntax that parses.
func TestDocsNameCommands(t *testing.T) {
	for name, d := range docs {
		if commands[name] == nil || d.summary == "" {
			t.Errorf("docs of %s: no such command, or no summary", name)
		}
		if d.syntax != "" && len(parseSyntax(d.syntax)) == 0 {
			t.Errorf("docs of %s: the syntax %q gives no arguments", name, d.syntax)
		}
	}
}

// TestCloseFreesWaits: a connection closed by the server stops waiting for
// its shard at once (with --request-timeout at ten minutes, Close would
// otherwise wait that long), and the command it waited for, held back
// behind an msetnx's reservation, is withdrawn: not applied when the
// reservation ends.
func TestCloseFreesWaits(t *testing.T) {
	s, addr := door(t, Config{}, "--shards=1", "--request-timeout=10m")
	ks := s.b.Keyspace.(*kv.Keyspace)
	reserve := &messages.DataRequest{Op: messages.DataOp_TXN_RESERVE, Txn: 9, Nx: true,
		Pairs: []*messages.Pair{{Key: "k", Value: []byte("0")}}}
	if rep, err := ks.Do(context.Background(), reserve); err != nil || !rep.Ok {
		t.Fatalf("reserve: %v %v", rep, err)
	}
	c := dial(t, addr)
	c.send("SET", "k", "late")
	waitUntil(t, "the SET to be taken", func() bool { return s.stats.commands.Load() == 1 })
	s.Close()
	if _, err := c.rd.ReadByte(); err == nil {
		t.Fatal("the closed connection answered")
	}
	if _, err := ks.Do(context.Background(), &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: 9}); err != nil {
		t.Fatal(err)
	}
	rep, err := ks.Do(context.Background(), &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: "k"})
	if err != nil || rep.Found {
		t.Fatalf("GET k after the reservation: %v %v, want not found (the SET withdrawn)", rep, err)
	}
}

// TestBlockingMPops: BLMPOP and BZMPOP block until a push or an add to one
// of their keys, then answer Redis's nested reply for the key written.
func TestBlockingMPops(t *testing.T) {
	s, addr := door(t, Config{})
	a, b := dial(t, addr), dial(t, addr)
	a.send("BLMPOP", "0", "2", "x", "y", "LEFT", "COUNT", "2")
	waitUntil(t, "BLMPOP to block", func() bool { return s.stats.blocked.Load() == 1 })
	if got := b.do("RPUSH", "y", "1", "2", "3"); got != ":3\r\n" {
		t.Fatal(got)
	}
	if got := a.reply(); got != "*2\r\n$1\r\ny\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n" {
		t.Fatalf("BLMPOP: %q", got)
	}
	a.send("BZMPOP", "0", "1", "z", "MAX")
	waitUntil(t, "BZMPOP to block", func() bool { return s.stats.blocked.Load() == 1 })
	if got := b.do("ZADD", "z", "1", "m", "2", "n"); got != ":2\r\n" {
		t.Fatal(got)
	}
	if got := a.reply(); got != "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nn\r\n$1\r\n2\r\n" {
		t.Fatalf("BZMPOP: %q", got)
	}
	if got := a.do("BZMPOP", "0.01", "1", "empty", "MIN"); got != "*-1\r\n" {
		t.Fatalf("BZMPOP timed out: %q", got)
	}
}

// TestPipelinedHSetZAddReuseRequests: pipelined HSETs and ZADDs of
// different widths, in rounds over one connection, reuse the requests and
// their pairs and members of the earlier rounds; each stores exactly its
// own fields and members.
func TestPipelinedHSetZAddReuseRequests(t *testing.T) {
	_, addr := door(t, Config{})
	c := dial(t, addr)
	for round := range 4 {
		var batch []byte
		var want []string
		for i := range 20 {
			w := (i+round)%3 + 1 // 1 to 3 fields and members
			h := []string{"HSET", "h" + strconv.Itoa(i)}
			z := []string{"ZADD", "z" + strconv.Itoa(i)}
			for f := range w {
				h = append(h, "f"+strconv.Itoa(round*3+f), strconv.Itoa(round))
				z = append(z, strconv.Itoa(round), "m"+strconv.Itoa(round*3+f))
			}
			batch = append(batch, encodeCommand(h...)...)
			batch = append(batch, encodeCommand(z...)...)
			want = append(want, ":"+strconv.Itoa(w)+"\r\n", ":"+strconv.Itoa(w)+"\r\n")
		}
		if _, err := c.nc.Write(batch); err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if got := c.reply(); got != w {
				t.Fatalf("round %d, command %d: %q, want %q", round, i, got, w)
			}
		}
	}
	// h0 got 1, 2, 3 and 1 fields in rounds 0 to 3: 7 in all.
	if got := c.do("HLEN", "h0"); got != ":7\r\n" {
		t.Fatalf("HLEN h0: %q", got)
	}
	if got := c.do("ZCARD", "z0"); got != ":7\r\n" {
		t.Fatalf("ZCARD z0: %q", got)
	}
	if got := c.do("HGET", "h0", "f4"); got != "$1\r\n1\r\n" {
		t.Fatalf("HGET h0 f4: %q", got)
	}
	if got := c.do("ZSCORE", "z0", "m9"); got != "$1\r\n3\r\n" {
		t.Fatalf("ZSCORE z0 m9: %q", got)
	}
}
