package resp

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/troupe-run/troupe/messages"
)

var (
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

// redisVersion is the Redis release whose replies the door gives.
const redisVersion = "7.0.15"

func init() {
	register(
		&cmdSpec{name: "ping", arity: -1, flags: fPubSub | fFast, run: cmdPing},
		&cmdSpec{name: "echo", arity: 2, flags: fFast, run: func(c *conn, a [][]byte) { c.w.bulk(a[1]) }},
		&cmdSpec{name: "quit", arity: -1, flags: fNoAuth | fPubSub | fNoMulti, run: func(c *conn, a [][]byte) { c.w.ok(); c.quit = true }},
		&cmdSpec{name: "reset", arity: 1, flags: fNoAuth | fPubSub | fNoMulti, run: cmdReset},
		&cmdSpec{name: "hello", arity: -1, flags: fNoAuth | fFast | fNoScript, run: cmdHello},
		&cmdSpec{name: "auth", arity: -2, flags: fNoAuth | fFast | fNoScript, run: cmdAuth},
		&cmdSpec{name: "select", arity: 2, flags: fFast, run: cmdSelect},
		&cmdSpec{name: "client", arity: -2, run: cmdClient},
		&cmdSpec{name: "info", arity: -1, run: cmdInfo},
		&cmdSpec{name: "command", arity: -1, run: cmdCommand},
		&cmdSpec{name: "config", arity: -2, run: cmdConfig},
		&cmdSpec{name: "dbsize", arity: 1, flags: fReadonly | fFast, run: cmdDBSize},
		&cmdSpec{name: "flushdb", arity: -1, flags: fWrite, run: cmdFlush},
		&cmdSpec{name: "flushall", arity: -1, flags: fWrite, run: cmdFlush},
		&cmdSpec{name: "time", arity: 1, flags: fFast, run: cmdTime},
	)
}

func cmdPing(c *conn, a [][]byte) {
	if len(a) > 2 {
		c.w.err(wrongArity("ping"))
		return
	}
	if c.subscribed() && !c.w.resp3 {
		// In RESP2 subscribed mode Redis answers a pong push.
		c.w.array(2)
		c.w.bulkString("pong")
		if len(a) == 2 {
			c.w.bulk(a[1])
		} else {
			c.w.bulkString("")
		}
		return
	}
	if len(a) == 2 {
		c.w.bulk(a[1])
		return
	}
	c.w.simple("PONG")
}

func cmdReset(c *conn, _ [][]byte) {
	c.multi, c.multiBad, c.queued = false, false, nil
	c.unwatch()
	if c.sub != nil {
		c.unsubscribeAll()
	}
	c.name = ""
	c.w.resp3 = false
	c.setResp3(false)
	c.authed = !c.s.gate.Keyed()
	c.w.simple("RESET")
}

func cmdHello(c *conn, a [][]byte) {
	proto := int64(0)
	i := 1
	if len(a) > 1 {
		v, ok := argInt(a[1])
		if !ok {
			c.w.err("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			c.w.err("NOPROTO unsupported protocol version")
			return
		}
		proto = v
		i = 2
	}
	name, rename := "", false
	for ; i < len(a); i++ {
		more := len(a) - i - 1
		switch {
		case eq(a[i], "AUTH") && more >= 2:
			if !c.authorizeHello(string(a[i+1]), string(a[i+2])) {
				c.w.err(wrongPass)
				return
			}
			i += 2
		case eq(a[i], "SETNAME") && more >= 1:
			if !validName(a[i+1]) {
				c.w.err("ERR Client names cannot contain spaces, newlines or special characters.")
				return
			}
			name, rename = string(a[i+1]), true
			i++
		default:
			c.w.err("ERR Syntax error in HELLO option '" + string(a[i]) + "'")
			return
		}
	}
	if !c.authed {
		c.w.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if rename {
		c.name = name
	}
	if proto != 0 {
		c.w.resp3 = proto == 3
		c.setResp3(c.w.resp3)
	}
	w := &c.w
	w.mapOf(7)
	w.bulkString("server")
	w.bulkString("redis")
	w.bulkString("version")
	w.bulkString(redisVersion)
	w.bulkString("proto")
	if w.resp3 {
		w.int(3)
	} else {
		w.int(2)
	}
	w.bulkString("id")
	w.int(c.id)
	w.bulkString("mode")
	w.bulkString("standalone")
	w.bulkString("role")
	w.bulkString("master")
	w.bulkString("modules")
	w.array(0)
}

// authorizeHello is AUTH inside HELLO: without keys configured the
// default user takes any password, as Redis's nopass default user does.
func (c *conn) authorizeHello(user, key string) bool {
	if !c.s.gate.Keyed() {
		return user == "default"
	}
	return c.authorize(user, key)
}

func cmdAuth(c *conn, a [][]byte) {
	if len(a) > 3 {
		c.w.err(syntaxErr)
		return
	}
	if !c.s.gate.Keyed() {
		if len(a) == 2 {
			c.w.err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		if string(a[1]) == "default" {
			c.w.ok()
			return
		}
		c.w.err(wrongPass)
		return
	}
	user, key := "", string(a[1])
	if len(a) == 3 {
		user, key = string(a[1]), string(a[2])
	}
	if !c.authorize(user, key) {
		c.w.err(wrongPass)
		return
	}
	c.w.ok()
}

func cmdSelect(c *conn, a [][]byte) {
	n, ok := argInt(a[1])
	switch {
	case !ok:
		c.w.err(notInteger)
	case n != 0:
		c.w.err("ERR DB index is out of range")
	default:
		c.w.ok()
	}
}

func validName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func cmdClient(c *conn, a [][]byte) {
	sub := strings.ToLower(string(a[1]))
	switch {
	case sub == "setname" && len(a) == 3:
		if !validName(a[2]) {
			c.w.err("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.name = string(a[2])
		c.w.ok()
	case sub == "getname" && len(a) == 2:
		if c.name == "" {
			c.w.null()
			return
		}
		c.w.bulkString(c.name)
	case sub == "id" && len(a) == 2:
		c.w.int(c.id)
	case sub == "info" && len(a) == 2:
		c.w.verbatim(c.info())
	case sub == "list" && len(a) == 2:
		c.s.mu.Lock()
		conns := make([]*conn, 0, len(c.s.conns))
		for o := range c.s.conns {
			conns = append(conns, o)
		}
		c.s.mu.Unlock()
		sort.Slice(conns, func(i, j int) bool { return conns[i].id < conns[j].id })
		var b strings.Builder
		for _, o := range conns {
			if o == c {
				b.WriteString(c.info())
				continue
			}
			// Another connection's fields belong to its goroutine: list
			// what does not change.
			fmt.Fprintf(&b, "id=%d addr=%s laddr=%s fd=-1 name= age=%d idle=0 flags=N db=0 cmd=NULL user=default resp=2\n",
				o.id, o.addr, o.laddr, int(time.Since(o.created).Seconds()))
		}
		c.w.verbatim(b.String())
	case sub == "setinfo" || sub == "no-evict" || sub == "no-touch":
		// Clients send these at connect (go-redis, rueidis): accepted and
		// ignored, as they change nothing here.
		c.w.ok()
	case sub == "help":
		c.w.strings([]string{"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"GETNAME", "    Return the name of the current connection.",
			"ID", "    Return the ID of the current connection.",
			"INFO", "    Return information about the current client connection.",
			"LIST", "    Return information about client connections.",
			"SETNAME <name>", "    Assign the name <name> to the current connection."})
	default:
		c.w.err("ERR unknown subcommand or wrong number of arguments for '" + string(a[1]) + "'. Try CLIENT HELP.")
	}
}

func (c *conn) info() string {
	multi := -1
	if c.multi {
		multi = len(c.queued)
	}
	resp := 2
	if c.w.resp3 {
		resp = 3
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=-1 name=%s age=%d idle=0 flags=N db=0 sub=%d psub=%d ssub=0 multi=%d qbuf=%d qbuf-free=%d argv-mem=0 multi-mem=0 rbs=%d rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default redir=-1 resp=%d\n",
		c.id, c.addr, c.laddr, c.name, int(time.Since(c.created).Seconds()), len(c.channels), len(c.patterns),
		multi, c.rd.buffered(), len(c.rd.buf)-c.rd.buffered(), len(c.rd.buf), resp)
}

func cmdTime(c *conn, _ [][]byte) {
	now := time.Now()
	c.w.array(2)
	c.w.bulkString(strconv.FormatInt(now.Unix(), 10))
	c.w.bulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdDBSize(c *conn, _ [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_COUNT})
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

// cmdFlush deletes every key, a page of the scan at a time (the keyspace
// has no single command for it). ASYNC and SYNC are accepted; both wait.
func cmdFlush(c *conn, a [][]byte) {
	if len(a) > 2 || (len(a) == 2 && !eq(a[1], "ASYNC") && !eq(a[1], "SYNC")) {
		c.w.err(syntaxErr)
		return
	}
	for {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SCAN, Count: 1000})
		if c.failed(rep, err) {
			return
		}
		if len(rep.Keys) == 0 {
			break
		}
		del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: rep.Keys})
		if c.failed(del, err) {
			return
		}
	}
	c.w.ok()
}

func cmdConfig(c *conn, a [][]byte) {
	switch {
	case eq(a[1], "GET") && len(a) >= 3:
		vals := map[string]string{
			"save": "", "appendonly": "no", "databases": "1", "maxclients": strconv.Itoa(c.s.cfg.MaxClients),
			"proto-max-bulk-len": strconv.Itoa(c.s.cfg.MaxRequest), "timeout": "0",
		}
		if c.s.cfg.DataDir != "" {
			vals["appendonly"] = "yes"
			vals["appendfsync"] = map[string]string{"always": "always", "batch": "everysec", "none": "no"}[c.s.cfg.Fsync]
		}
		var keys []string
		for _, p := range a[2:] {
			for k := range vals {
				if globMatch(strings.ToLower(string(p)), k, false) && !contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
		sort.Strings(keys)
		c.w.mapOf(len(keys))
		for _, k := range keys {
			c.w.bulkString(k)
			c.w.bulkString(vals[k])
		}
	case eq(a[1], "SET") || eq(a[1], "RESETSTAT") || eq(a[1], "REWRITE"):
		c.w.err("ERR CONFIG " + strings.ToUpper(string(a[1])) + " is not supported: Troupe is configured by its flags")
	default:
		c.w.err("ERR unknown subcommand or wrong number of arguments for '" + string(a[1]) + "'. Try CONFIG HELP.")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cmdInfo answers INFO with the sections clients and operators read, with
// the door's and the process's real figures.
func cmdInfo(c *conn, a [][]byte) {
	want := map[string]bool{}
	for _, s := range a[1:] {
		want[strings.ToLower(string(s))] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	var b strings.Builder
	section := func(name string, body func()) {
		if !all && !want[strings.ToLower(name)] {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
		body()
	}
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	s := c.s
	up := time.Since(s.started)
	section("Server", func() {
		kv("redis_version", redisVersion)
		kv("troupe_version", s.cfg.Version)
		kv("redis_mode", "standalone")
		kv("os", runtime.GOOS+" "+runtime.GOARCH)
		kv("arch_bits", 64)
		kv("go_version", runtime.Version())
		kv("process_id", os.Getpid())
		kv("tcp_port", c.localPort())
		kv("uptime_in_seconds", int64(up.Seconds()))
		kv("uptime_in_days", int64(up.Hours()/24))
	})
	section("Clients", func() {
		kv("connected_clients", s.Clients())
		kv("maxclients", s.cfg.MaxClients)
		kv("blocked_clients", s.stats.blocked.Load())
		kv("pubsub_clients", s.stats.subscribers.Load())
	})
	section("Memory", func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		kv("used_memory", m.HeapAlloc)
		kv("used_memory_human", human(int64(m.HeapAlloc)))
		kv("used_memory_rss", m.Sys)
		kv("used_memory_peak", m.HeapSys)
		kv("total_system_memory", 0)
		kv("mem_allocator", "go")
	})
	section("Persistence", func() {
		durable := s.cfg.DataDir != ""
		kv("loading", 0)
		kv("aof_enabled", b2i(durable))
		kv("troupe_fsync", s.cfg.Fsync)
		kv("troupe_data_dir", s.cfg.DataDir)
		kv("rdb_changes_since_last_save", 0)
		kv("rdb_bgsave_in_progress", 0)
		kv("aof_rewrite_in_progress", 0)
	})
	section("Stats", func() {
		kv("total_connections_received", s.stats.connections.Load())
		kv("total_commands_processed", s.stats.commands.Load())
		kv("instantaneous_ops_per_sec", 0)
		kv("total_net_output_bytes", s.stats.netOut.Load())
		kv("rejected_connections", s.stats.rejected.Load())
		kv("pubsub_channels", s.local.channelCount())
		kv("pubsub_patterns", s.local.patternCount())
		kv("client_output_buffer_limit_disconnections", s.stats.dropped.Load())
	})
	section("Replication", func() {
		kv("role", "master")
		kv("connected_slaves", 0)
	})
	section("Keyspace", func() {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_COUNT})
		if err == nil && rep.ErrorCode == "" && rep.Integer > 0 {
			kv("db0", fmt.Sprintf("keys=%d,expires=0,avg_ttl=0", rep.Integer))
		}
	})
	c.w.verbatim(b.String())
}

func (c *conn) localPort() string {
	_, port, _ := strings.Cut(c.nc.LocalAddr().String(), "]:")
	if port == "" {
		if i := strings.LastIndexByte(c.nc.LocalAddr().String(), ':'); i >= 0 {
			port = c.nc.LocalAddr().String()[i+1:]
		}
	}
	return port
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// cmdCommand answers COMMAND, COMMAND COUNT, INFO, LIST and DOCS from the
// command table.
func cmdCommand(c *conn, a [][]byte) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(a) == 1 {
		c.w.array(len(names))
		for _, n := range names {
			c.commandInfo(commands[n])
		}
		return
	}
	switch strings.ToLower(string(a[1])) {
	case "count":
		c.w.int(int64(len(names)))
	case "list":
		c.w.strings(names)
	case "info":
		if len(a) == 2 {
			c.w.array(len(names))
			for _, n := range names {
				c.commandInfo(commands[n])
			}
			return
		}
		c.w.array(len(a) - 2)
		for _, n := range a[2:] {
			if cs := commands[strings.ToLower(string(n))]; cs != nil {
				c.commandInfo(cs)
			} else {
				c.w.nullArray()
			}
		}
	case "docs":
		want := names
		if len(a) > 2 {
			want = nil
			for _, n := range a[2:] {
				if commands[strings.ToLower(string(n))] != nil {
					want = append(want, strings.ToLower(string(n)))
				}
			}
		}
		c.w.mapOf(len(want))
		for _, n := range want {
			c.w.bulkString(n)
			c.commandDocs(n)
		}
	case "getkeys":
		if len(a) < 3 {
			c.w.err(wrongArity("command|getkeys"))
			return
		}
		cs := commands[strings.ToLower(string(a[2]))]
		if cs == nil {
			c.w.err("ERR Invalid command specified")
			return
		}
		keys := cs.keysOf(a[2:])
		if len(keys) == 0 {
			c.w.err("ERR The command has no key arguments")
			return
		}
		c.w.strings(keys)
	default:
		c.w.err("ERR unknown subcommand '" + string(a[1]) + "'. Try COMMAND HELP.")
	}
}

func (c *conn) commandInfo(cs *cmdSpec) {
	w := &c.w
	w.array(10)
	w.bulkString(cs.name)
	w.int(int64(cs.arity))
	var flags []string
	if cs.flags&fWrite != 0 {
		flags = append(flags, "write")
	}
	if cs.flags&fReadonly != 0 {
		flags = append(flags, "readonly")
	}
	if cs.flags&fNoAuth != 0 {
		flags = append(flags, "no_auth")
	}
	if cs.flags&fPubSub != 0 {
		flags = append(flags, "pubsub")
	}
	if cs.flags&fFast != 0 {
		flags = append(flags, "fast")
	}
	if cs.flags&fBlocking != 0 {
		flags = append(flags, "blocking")
	}
	w.setOf(len(flags))
	for _, f := range flags {
		w.simple(f)
	}
	w.int(int64(cs.first))
	w.int(int64(cs.last))
	w.int(int64(cs.ste))
	w.setOf(0)
	w.setOf(0)
	w.array(0)
	w.array(0)
}

// commandDocs writes COMMAND DOCS's entry of one command: its summary,
// group and arguments, which redis-cli turns into hints.
func (c *conn) commandDocs(name string) {
	d := docs[name]
	args := parseSyntax(d.syntax)
	c.w.mapOf(3 + b2i(len(args) > 0))
	c.w.bulkString("summary")
	c.w.bulkString(d.summary)
	c.w.bulkString("since")
	c.w.bulkString("1.0.0")
	c.w.bulkString("group")
	group := d.group
	if group == "" {
		group = "generic"
	}
	c.w.bulkString(group)
	if len(args) > 0 {
		c.w.bulkString("arguments")
		c.writeArgs(args)
	}
}
