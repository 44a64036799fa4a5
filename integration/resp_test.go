package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// The Redis-protocol door against a real redis-server: the same scripted
// commands go to both and the replies must be byte for byte the same.

var redisOnce sync.Once

// needRedis makes sure redis-server and redis-cli are installed, with
// apt-get when they are not (as the npm tests install their packages).
func needRedis(t *testing.T) {
	t.Helper()
	redisOnce.Do(func() {
		if _, err := exec.LookPath("redis-server"); err == nil {
			if _, err := exec.LookPath("redis-cli"); err == nil {
				return
			}
		}
		cmd := exec.Command("apt-get", "install", "-y", "-q", "redis-server", "redis-tools")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get install redis-server redis-tools: %v\n%s", err, out)
		}
	})
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed (apt-get install redis-server redis-tools): %v", bin, err)
		}
	}
}

// startRedis runs a redis-server without persistence on a free port.
func startRedis(t *testing.T) string {
	t.Helper()
	needRedis(t)
	port := freePort(t)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + port
	waitFor(t, 30*time.Second, "redis-server to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// respConn is a raw connection that reads whole replies as bytes.
type respConn struct {
	t  *testing.T
	nc net.Conn
	rd *bufio.Reader
}

func dialRESP(t *testing.T, addr string) *respConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &respConn{t: t, nc: nc, rd: bufio.NewReader(nc)}
}

func (c *respConn) do(args ...string) string {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.nc.Write([]byte(b.String())); err != nil {
		c.t.Fatal(err)
	}
	return c.reply()
}

func (c *respConn) reply() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out strings.Builder
	if err := copyReply(c.rd, &out); err != nil {
		c.t.Fatalf("reading a reply: %v (so far %q)", err, out.String())
	}
	return out.String()
}

func copyReply(rd *bufio.Reader, out *strings.Builder) error {
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	out.WriteString(line)
	n, _ := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
	switch line[0] {
	case '$', '=':
		if n >= 0 {
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(rd, buf); err != nil {
				return err
			}
			out.Write(buf)
		}
	case '*', '~', '>', '%':
		if line[0] == '%' {
			n *= 2
		}
		for range max(n, 0) {
			if err := copyReply(rd, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortedElements reorders a flat array reply's elements (for replies whose
// order Redis leaves open: SMEMBERS, KEYS, HGETALL's pairs ...).
func sortedElements(reply string, pairs bool) string {
	rd := bufio.NewReader(strings.NewReader(reply))
	head, _ := rd.ReadString('\n')
	if head == "" || (head[0] != '*' && head[0] != '~' && head[0] != '%') {
		return reply
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(head[1:], "\r\n"))
	if head[0] == '%' {
		n *= 2
	}
	var items []string
	for i := 0; i < n; i++ {
		var b strings.Builder
		copyReply(rd, &b)
		if pairs {
			var v strings.Builder
			copyReply(rd, &v)
			i++
			b.WriteString(v.String())
		}
		items = append(items, b.String())
	}
	sort.Strings(items)
	return head + strings.Join(items, "")
}

// Remaining times to live are left out of the script: two servers cannot
// be asked at the same millisecond.
//
// respScript is the differential test's command sequence: every family the
// door serves, errors included. An entry starting with "~" compares the
// reply with its elements sorted, "~~" sorted by pairs.
var respScript = [][]string{
	{"PING"}, {"PING", "hello"}, {"ECHO", "hi there"}, {"SELECT", "0"}, {"SELECT", "x"},
	{"NOSUCHCOMMAND", "a", "b"}, {"GET"}, {"SET", "k"},
	// strings
	{"SET", "s", "v1"}, {"GET", "s"}, {"GET", "missing"}, {"SET", "s", "v2", "NX"}, {"SET", "s", "v3", "XX", "GET"},
	{"SET", "s2", "x", "XX"}, {"SET", "s", "v", "EX", "0"}, {"SET", "s", "v", "EX", "abc"}, {"SET", "s", "v", "NX", "XX"},
	{"SET", "e", "v", "EX", "100"}, {"PERSIST", "e"}, {"TTL", "e"}, {"TTL", "missing"},
	{"SET", "e", "w", "KEEPTTL"}, {"GETSET", "e", "z"}, {"SETNX", "e", "q"}, {"SETNX", "nx1", "q"},
	{"SETEX", "sx", "100", "v"}, {"SETEX", "sx", "-1", "v"}, {"PSETEX", "px", "100000", "v"},
	{"MSET", "m1", "a", "m2", "b"}, {"MGET", "m1", "m2", "missing"}, {"MSET", "m1"}, {"MSETNX", "m1", "x", "m9", "y"},
	{"MSETNX", "m8", "x", "m9", "y"}, {"INCR", "n"}, {"INCRBY", "n", "41"}, {"DECR", "n"}, {"DECRBY", "n", "10"},
	{"INCRBY", "n", "x"}, {"INCR", "s"}, {"SET", "big", "9223372036854775807"}, {"INCR", "big"},
	{"INCRBYFLOAT", "f", "10.5"}, {"INCRBYFLOAT", "f", "0.1"}, {"INCRBYFLOAT", "f", "x"}, {"INCRBYFLOAT", "s", "1"},
	{"APPEND", "ap", "hello"}, {"APPEND", "ap", " world"}, {"STRLEN", "ap"}, {"STRLEN", "missing"},
	{"GETRANGE", "ap", "0", "4"}, {"GETRANGE", "ap", "-5", "-1"}, {"GETRANGE", "ap", "20", "30"},
	{"SETRANGE", "ap", "6", "Redis"}, {"GET", "ap"}, {"SETRANGE", "sr", "3", "x"}, {"GET", "sr"},
	{"GETDEL", "ap"}, {"GETDEL", "ap"}, {"GETEX", "m1", "PERSIST"}, {"GETEX", "m1", "EX", "50"},
	{"GETEX", "missing"},
	// keys
	{"EXISTS", "m1", "m2", "missing", "m1"}, {"DEL", "m2", "missing"}, {"UNLINK", "m9"}, {"TYPE", "m1"}, {"TYPE", "missing"},
	{"EXPIRE", "m1", "100"}, {"EXPIRE", "missing", "100"}, {"EXPIRE", "m1", "200", "NX"}, {"EXPIRE", "m1", "200", "XX"},
	{"EXPIRE", "m1", "50", "GT"}, {"EXPIRE", "m1", "300", "GT"}, {"PEXPIRE", "m1", "100000"},
	{"EXPIRE", "m1", "x"}, {"EXPIRE", "m1", "1", "NX", "XX"},
	{"RENAME", "m1", "r1"}, {"GET", "r1"}, {"RENAME", "missing", "r2"}, {"RENAMENX", "r1", "n"}, {"RENAMENX", "r1", "r3"},
	{"COPY", "r3", "c1"}, {"COPY", "r3", "c1"}, {"COPY", "r3", "c1", "REPLACE"}, {"GET", "c1"},
	// hashes
	{"HSET", "h", "a", "1", "b", "2"}, {"HSET", "h", "a", "3"}, {"HGET", "h", "a"}, {"HGET", "h", "zz"},
	{"HMGET", "h", "a", "zz", "b"}, {"~~", "HGETALL", "h"}, {"HLEN", "h"}, {"HEXISTS", "h", "a"}, {"HEXISTS", "h", "q"},
	{"HDEL", "h", "a", "q"}, {"~", "HKEYS", "h"}, {"~", "HVALS", "h"}, {"HINCRBY", "h", "b", "5"}, {"HINCRBY", "h", "c", "x"},
	{"HINCRBYFLOAT", "h", "fl", "2.5"}, {"HSETNX", "h", "b", "9"}, {"HSETNX", "h", "nb", "9"}, {"HSTRLEN", "h", "nb"},
	{"HSET", "h", "odd"}, {"HGET", "s", "a"}, {"HSET", "hs", "x", "text"}, {"HINCRBY", "hs", "x", "1"}, {"HMSET", "hm", "a", "1"},
	// lists
	{"RPUSH", "l", "a", "b", "c"}, {"LPUSH", "l", "z"}, {"LRANGE", "l", "0", "-1"}, {"LRANGE", "l", "1", "2"},
	{"LLEN", "l"}, {"LINDEX", "l", "0"}, {"LINDEX", "l", "10"}, {"LSET", "l", "1", "A"}, {"LSET", "l", "10", "x"},
	{"LSET", "nolist", "0", "x"}, {"LPOP", "l"}, {"RPOP", "l"}, {"RPUSH", "l", "a", "b", "a", "c", "a"},
	{"LREM", "l", "2", "a"}, {"LRANGE", "l", "0", "-1"}, {"LPOP", "l", "2"}, {"LPOP", "missing", "2"}, {"LPOP", "l", "0"},
	{"LPOP", "l", "-1"}, {"LTRIM", "l", "0", "0"}, {"LRANGE", "l", "0", "-1"}, {"LPUSHX", "missing", "a"}, {"RPUSHX", "l", "q"},
	{"LINSERT", "l", "BEFORE", "q", "p"}, {"LINSERT", "l", "AFTER", "nope", "p"}, {"LRANGE", "l", "0", "-1"},
	{"RPUSH", "lp", "a", "b", "c", "b"}, {"LPOS", "lp", "b"}, {"LPOS", "lp", "b", "RANK", "2"}, {"LPOS", "lp", "b", "COUNT", "0"},
	{"LPOS", "lp", "x"}, {"LMOVE", "lp", "lq", "LEFT", "RIGHT"}, {"RPOPLPUSH", "lp", "lq"}, {"LRANGE", "lq", "0", "-1"},
	{"LPUSH", "s", "x"}, {"LMOVE", "lp", "s", "LEFT", "LEFT"}, {"BLPOP", "lq", "0"}, {"BRPOP", "emptyl", "0.01"},
	{"BLMOVE", "lq", "lr", "RIGHT", "LEFT", "0"},
	{"RPUSH", "ml1", "a", "b", "c"}, {"LMPOP", "2", "mlnone", "ml1", "LEFT"}, {"LMPOP", "2", "mlnone", "ml1", "RIGHT", "COUNT", "5"},
	{"LMPOP", "1", "ml1", "LEFT"}, {"LMPOP", "0", "ml1", "LEFT"}, {"LMPOP", "x", "ml1", "LEFT"}, {"LMPOP", "3", "a", "LEFT"},
	{"LMPOP", "2", "a", "LEFT"}, {"LMPOP", "1", "ml1", "UP"}, {"LMPOP", "1", "ml1", "left", "COUNT", "0"},
	{"LMPOP", "1", "ml1", "LEFT", "COUNT"}, {"LMPOP", "1", "ml1", "LEFT", "COUNT", "1", "COUNT", "1"}, {"LMPOP", "1", "ml1"},
	{"RPUSH", "ml2", "x", "y"}, {"LMPOP", "2", "h", "ml2", "LEFT"}, {"LMPOP", "2", "ml2", "h", "LEFT", "count", "1"},
	{"BLMPOP", "0.01", "1", "mlnone", "LEFT"}, {"RPUSH", "ml3", "p", "q"}, {"BLMPOP", "0", "2", "mlnone", "ml3", "RIGHT", "COUNT", "2"},
	{"BLMPOP", "-1", "1", "x", "LEFT"}, {"BLMPOP", "x", "1", "a", "LEFT"}, {"BLMPOP", "0", "0", "a", "LEFT"}, {"BLMPOP", "0", "1", "h", "LEFT"},
	// sets
	{"SADD", "st", "a", "b", "c"}, {"SADD", "st", "a"}, {"SREM", "st", "c", "q"}, {"~", "SMEMBERS", "st"},
	{"SISMEMBER", "st", "a"}, {"SISMEMBER", "st", "q"}, {"SMISMEMBER", "st", "a", "q"}, {"SCARD", "st"},
	{"SADD", "st2", "b", "c"}, {"~", "SINTER", "st", "st2"}, {"~", "SUNION", "st", "st2"}, {"~", "SDIFF", "st", "st2"},
	{"SINTERSTORE", "st3", "st", "st2"}, {"SUNIONSTORE", "st4", "st", "st2"}, {"SDIFFSTORE", "st5", "st", "st2"},
	{"SMOVE", "st", "st2", "a"}, {"SMOVE", "st", "st2", "zz"}, {"SCARD", "st2"}, {"SINTERCARD", "2", "st2", "st4"},
	{"SADD", "s", "x"}, {"SPOP", "missing"}, {"SRANDMEMBER", "missing"}, {"SPOP", "st5", "0"},
	// sorted sets
	{"ZADD", "z", "1", "a", "2", "b", "3", "c"}, {"ZADD", "z", "NX", "5", "a"}, {"ZADD", "z", "XX", "CH", "5", "a", "9", "new"},
	{"ZADD", "z", "GT", "1", "a"}, {"ZADD", "z", "LT", "CH", "1", "a"}, {"ZADD", "z", "INCR", "2", "b"},
	{"ZADD", "z", "NX", "XX", "1", "a"}, {"ZADD", "z", "x", "a"}, {"ZADD", "z", "1"}, {"ZSCORE", "z", "b"}, {"ZSCORE", "z", "q"},
	{"ZMSCORE", "z", "a", "q"}, {"ZINCRBY", "z", "1.5", "c"}, {"ZCARD", "z"}, {"ZRANK", "z", "c"}, {"ZREVRANK", "z", "c"},
	{"ZRANK", "z", "q"}, {"ZRANGE", "z", "0", "-1"}, {"ZRANGE", "z", "0", "-1", "WITHSCORES"}, {"ZRANGE", "z", "0", "1", "REV"},
	{"ZRANGE", "z", "(1", "4", "BYSCORE"}, {"ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2", "WITHSCORES"},
	{"ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"}, {"ZREVRANGE", "z", "0", "0"}, {"ZRANGEBYSCORE", "z", "-inf", "(4.5"},
	{"ZREVRANGEBYSCORE", "z", "10", "2", "WITHSCORES", "LIMIT", "1", "1"}, {"ZRANGEBYSCORE", "z", "x", "1"},
	{"ZCOUNT", "z", "(1", "+inf"}, {"ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"}, {"ZRANGEBYLEX", "lex", "[b", "(d"},
	{"ZRANGE", "lex", "-", "+", "BYLEX", "LIMIT", "1", "2"}, {"ZREVRANGEBYLEX", "lex", "+", "[b"}, {"ZLEXCOUNT", "lex", "-", "(c"},
	{"ZRANGEBYLEX", "lex", "b", "c"}, {"ZREM", "z", "new", "q"}, {"ZPOPMIN", "z"}, {"ZPOPMAX", "z", "2"}, {"ZPOPMIN", "missing"},
	{"ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"}, {"ZREMRANGEBYRANK", "z", "0", "0"}, {"ZREMRANGEBYSCORE", "z", "(2", "3"},
	{"ZREMRANGEBYLEX", "lex", "[a", "[b"}, {"ZADD", "z2", "10", "b", "20", "x"}, {"ZUNIONSTORE", "zu", "2", "z", "z2"},
	{"ZRANGE", "zu", "0", "-1", "WITHSCORES"}, {"ZINTERSTORE", "zi", "2", "z", "z2", "WEIGHTS", "2", "1", "AGGREGATE", "MAX"},
	{"ZRANGE", "zi", "0", "-1", "WITHSCORES"}, {"ZUNION", "2", "z", "z2", "WITHSCORES"}, {"ZDIFF", "2", "z", "z2"},
	{"ZADD", "s", "1", "a"}, {"ZSCORE", "s", "a"},
	{"ZADD", "mz", "1", "a", "2", "b", "3", "c"}, {"ZMPOP", "2", "mznone", "mz", "MIN"}, {"ZMPOP", "1", "mz", "MAX", "COUNT", "5"},
	{"ZMPOP", "1", "mz", "MIN"}, {"ZMPOP", "0", "mz", "MIN"}, {"ZMPOP", "1", "mz", "LEFT"}, {"ZMPOP", "1", "mz", "MIN", "COUNT", "-1"},
	{"ZADD", "mz2", "1.5", "x", "2.5", "y"}, {"ZMPOP", "2", "h", "mz2", "MIN"}, {"ZMPOP", "2", "mz2", "h", "max"},
	{"BZMPOP", "0.01", "1", "mznone", "MAX"}, {"BZMPOP", "0", "2", "mznone", "mz2", "MAX", "COUNT", "3"},
	{"BZMPOP", "1", "1", "x", "MIN", "BOGUS"}, {"BZMPOP", "-2", "1", "x", "MIN"},
	// geo
	{"GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"},
	{"GEOADD", "geo", "CH", "NX", "13.361389", "38.115556", "Palermo", "2.349014", "48.864716", "Paris"},
	{"GEOADD", "geo", "XX", "CH", "12.496366", "41.902782", "Palermo", "0", "0", "Nowhere"},
	{"GEOADD", "geo", "NX", "XX", "1", "2", "x"}, {"GEOADD", "geo", "1", "2"}, {"GEOADD", "geo", "200", "10", "x"},
	{"GEOADD", "geo", "10", "86", "x"}, {"GEOADD", "geo", "a", "10", "x"}, {"GEOADD", "s", "1", "2", "x"},
	{"GEOADD", "geo", "-0.127758", "51.507351", "London", "-3.703790", "40.416775", "Madrid", "16.373819", "48.208176", "Vienna"},
	{"GEOADD", "geo", "-73.935242", "40.730610", "NewYork", "151.209290", "-33.868820", "Sydney", "179.9", "-85", "Edge"},
	{"GEOPOS", "geo", "Palermo", "Catania", "nosuch", "Sydney", "Edge"}, {"GEOPOS", "missing", "a"}, {"GEOPOS", "s", "a"},
	{"GEOHASH", "geo", "Palermo", "Catania", "nosuch", "Sydney"}, {"GEOHASH", "missing", "a"},
	{"GEODIST", "geo", "Palermo", "Catania"}, {"GEODIST", "geo", "Paris", "London", "km"}, {"GEODIST", "geo", "Paris", "London", "MI"},
	{"GEODIST", "geo", "Paris", "London", "ft"}, {"GEODIST", "geo", "Paris", "nosuch"}, {"GEODIST", "geo", "Paris", "London", "yd"},
	{"GEODIST", "geo", "a", "b", "m", "x"}, {"GEODIST", "missing", "a", "b"}, {"ZSCORE", "geo", "Paris"},
	{"GEORADIUS", "geo", "15", "37", "200", "km"}, {"GEORADIUS", "geo", "15", "37", "200", "km", "ASC"},
	{"GEORADIUS", "geo", "15", "37", "2000", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "DESC"},
	{"GEORADIUS", "geo", "15", "37", "2000", "km", "COUNT", "2"}, {"GEORADIUS", "geo", "15", "37", "5000", "km", "COUNT", "2", "ANY"},
	{"GEORADIUS", "geo", "15", "37", "200", "km", "ANY"}, {"GEORADIUS", "geo", "15", "37", "200", "km", "COUNT", "0"},
	{"GEORADIUS", "geo", "15", "37", "200", "km", "COUNT", "x"}, {"GEORADIUS", "geo", "15", "37", "-1", "km"},
	{"GEORADIUS", "geo", "15", "37", "x", "km"}, {"GEORADIUS", "geo", "15", "37", "10", "yd"}, {"GEORADIUS", "geo", "15", "37", "10", "km", "BOGUS"},
	{"GEORADIUS", "geo", "15", "37", "20000", "km", "WITHDIST"}, {"GEORADIUS", "geo", "0", "0", "1", "m", "WITHDIST"},
	{"GEORADIUS", "geo", "15", "37", "2000", "km", "STORE", "gstore"}, {"ZRANGE", "gstore", "0", "-1", "WITHSCORES"},
	// A stored distance is compared by its order only: Go's sin, cos and asin
	// differ from glibc's in the last bits, which only the full-precision
	// score shows (distances replied have four decimals).
	{"GEORADIUS", "geo", "15", "37", "2000", "km", "STOREDIST", "gstore", "DESC", "COUNT", "3"}, {"ZRANGE", "gstore", "0", "-1"},
	{"GEORADIUS", "geo", "15", "37", "2000", "km", "STORE", "gstore", "WITHDIST"}, {"GEORADIUS_RO", "geo", "15", "37", "2000", "km", "STORE", "x"},
	{"GEORADIUS", "geo", "100", "-80", "10", "km", "STORE", "gstore"}, {"EXISTS", "gstore"},
	{"GEORADIUS", "missing", "15", "37", "200", "km"}, {"GEORADIUS", "missing", "15", "37", "200", "km", "STORE", "gstore"},
	{"GEORADIUS_RO", "geo", "2", "48", "600", "mi", "WITHDIST", "ASC"},
	{"GEORADIUSBYMEMBER", "geo", "Paris", "1500", "km", "WITHDIST", "ASC"}, {"GEORADIUSBYMEMBER", "geo", "nosuch", "1500", "km"},
	{"GEORADIUSBYMEMBER", "missing", "nosuch", "1500", "km"}, {"GEORADIUSBYMEMBER_RO", "geo", "Vienna", "1000", "km", "WITHCOORD"},
	{"GEOSEARCH", "geo", "FROMMEMBER", "Paris", "BYRADIUS", "1000", "km"},
	{"GEOSEARCH", "geo", "FROMLONLAT", "10", "45", "BYBOX", "2000", "1500", "km", "WITHDIST", "ASC"},
	{"GEOSEARCH", "geo", "FROMLONLAT", "10", "45", "BYBOX", "400", "400", "mi", "WITHCOORD", "DESC", "COUNT", "2"},
	{"GEOSEARCH", "geo", "BYRADIUS", "10", "km"}, {"GEOSEARCH", "geo", "FROMMEMBER", "Paris", "WITHDIST"},
	{"geosearch", "geo", "FROMMEMBER", "Paris", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "m"},
	{"GEOSEARCH", "geo", "FROMMEMBER", "nosuch", "BYRADIUS", "10", "km"}, {"GEOSEARCH", "geo", "FROMLONLAT", "10", "45", "BYBOX", "-1", "1", "km"},
	{"GEOSEARCH", "geo", "FROMLONLAT", "10", "45", "BYBOX", "x", "1", "km"}, {"GEOSEARCH", "geo", "FROMLONLAT", "10", "45", "BYBOX", "1", "x", "km"},
	{"GEOSEARCH", "geo", "FROMLONLAT", "10", "45", "BYRADIUS", "1", "km", "STORE", "x"},
	{"GEOSEARCH", "missing", "FROMMEMBER", "a", "BYRADIUS", "10", "km"}, {"GEOSEARCH", "s", "FROMMEMBER", "a", "BYRADIUS", "10", "km"},
	{"GEOSEARCHSTORE", "gs", "geo", "FROMMEMBER", "Paris", "BYRADIUS", "1500", "km", "STOREDIST"}, {"ZRANGE", "gs", "0", "-1"},
	{"GEOSEARCHSTORE", "gs", "geo", "FROMMEMBER", "Paris", "BYBOX", "3000", "3000", "km", "COUNT", "2"}, {"ZRANGE", "gs", "0", "-1", "WITHSCORES"},
	{"GEOSEARCHSTORE", "gs", "geo", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km", "WITHDIST"},
	{"GEOSEARCHSTORE", "gs", "missing", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km"}, {"EXISTS", "gs"},
	{"ZREM", "geo", "Edge"}, {"ZCARD", "geo"},
	// HyperLogLog and bitmaps
	{"PFADD", "hll", "a", "b", "c"}, {"PFADD", "hll", "a"}, {"PFCOUNT", "hll"}, {"PFADD", "hll2", "c", "d"},
	{"PFCOUNT", "hll", "hll2"}, {"PFMERGE", "hll3", "hll", "hll2"}, {"PFCOUNT", "hll3"}, {"PFADD", "s", "a"},
	{"SETBIT", "bm", "7", "1"}, {"SETBIT", "bm", "7", "0"}, {"SETBIT", "bm", "100", "1"}, {"GETBIT", "bm", "100"},
	{"GETBIT", "bm", "5"}, {"BITCOUNT", "bm"}, {"SETBIT", "bm", "x", "1"}, {"SETBIT", "bm", "1", "2"},
	{"SET", "bs", "foobar"}, {"BITCOUNT", "bs"}, {"BITCOUNT", "bs", "1", "1"}, {"BITCOUNT", "bs", "5", "30", "BIT"},
	{"BITPOS", "bs", "1"}, {"BITPOS", "bs", "0"}, {"GETBIT", "bs", "1"}, {"SET", "b2", "abc"},
	{"BITOP", "AND", "bd", "bs", "b2"}, {"GET", "bd"}, {"BITOP", "NOT", "bn", "b2"}, {"GET", "bn"}, {"BITOP", "NOT", "bn", "b2", "bs"},
	// transactions
	{"MULTI"}, {"SET", "t", "1"}, {"INCR", "t"}, {"GET", "t"}, {"EXEC"}, {"EXEC"}, {"DISCARD"},
	{"MULTI"}, {"SET", "t", "1"}, {"NOSUCH"}, {"EXEC"}, {"GET", "t"},
	{"MULTI"}, {"INCR", "s"}, {"SET", "t", "9"}, {"EXEC"}, {"MULTI"}, {"MULTI"}, {"DISCARD"}, {"WATCH", "t"}, {"UNWATCH"},
	// pub/sub with no subscribers
	{"PUBLISH", "news", "hello"}, {"PUBSUB", "NUMSUB", "news"}, {"PUBSUB", "NUMPAT"},
	// scan
	{"DEL", "c1", "r3", "r1"}, {"~", "KEYS", "h*"}, {"~", "KEYS", "?t"}, {"~", "KEYS", "s[a-t][0-9]"}, {"DBSIZE"},
	{"FLUSHDB"}, {"DBSIZE"}, {"KEYS", "*"}, {"SCAN", "0"}, {"RANDOMKEY"},
}

func TestRESPDifferential(t *testing.T) {
	redisAddr := startRedis(t)
	s := startServer(t, "--data-dir=")
	for _, proto := range []string{"2", "3"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			troupe, real := dialRESP(t, s.resp), dialRESP(t, redisAddr)
			troupe.do("FLUSHALL")
			real.do("FLUSHALL")
			if proto == "3" {
				troupe.do("HELLO", "3")
				real.do("HELLO", "3")
			}
			for _, cmd := range respScript {
				sortIt, pairs := false, false
				if cmd[0] == "~" || cmd[0] == "~~" {
					sortIt, pairs = true, cmd[0] == "~~"
					cmd = cmd[1:]
				}
				got, want := troupe.do(cmd...), real.do(cmd...)
				if sortIt {
					got, want = sortedElements(got, pairs), sortedElements(want, pairs)
				}
				if got != want {
					t.Errorf("%q:\ntroupe: %q\nredis:  %q", cmd, got, want)
				}
			}
		})
	}
}

// TestRESPClients drives the door with redis-cli (including a --pipe mass
// insert) and go-redis, and checks that the data door sees the same data.
func TestRESPClients(t *testing.T) {
	needRedis(t)
	s := startServer(t)
	host, port, _ := net.SplitHostPort(s.resp)
	cli := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := cli("SET", "greeting", "hello world"); got != "OK" {
		t.Fatalf("redis-cli SET: %q", got)
	}
	if got := cli("GET", "greeting"); got != "hello world" {
		t.Fatalf("redis-cli GET: %q", got)
	}
	// The same key through the data door.
	body := postJSON(t, s.data+"/api/v1/command", `{"command":"kv.get","payload":{"key":"greeting"}}`)
	if !strings.Contains(body, `"value":"hello world"`) {
		t.Fatalf("the data door does not see the RESP door's write: %s", body)
	}

	// Mass insert of 100k keys with redis-cli --pipe.
	var in strings.Builder
	const n = 100000
	for i := range n {
		k, v := "mass:"+strconv.Itoa(i), "value-"+strconv.Itoa(i)
		fmt.Fprintf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
	}
	pipe := exec.Command("redis-cli", "-h", host, "-p", port, "--pipe")
	pipe.Stdin = strings.NewReader(in.String())
	out, err := pipe.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "errors: 0, replies: 100000") {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out)
	}
	if got := cli("DBSIZE"); got != strconv.Itoa(n+1) {
		t.Fatalf("DBSIZE after the mass insert: %s", got)
	}
	if got := cli("GET", "mass:99999"); got != "value-99999" {
		t.Fatalf("GET mass:99999: %q", got)
	}

	// go-redis, RESP3 by default.
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: s.resp})
	defer rdb.Close()
	if err := rdb.Set(ctx, "gr", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Incr(ctx, "gr").Result(); err != nil || v != 2 {
		t.Fatalf("INCR: %v %v", v, err)
	}
	if err := rdb.HSet(ctx, "grh", "a", "1", "b", "2").Err(); err != nil {
		t.Fatal(err)
	}
	if m, err := rdb.HGetAll(ctx, "grh").Result(); err != nil || m["a"] != "1" || m["b"] != "2" {
		t.Fatalf("HGETALL: %v %v", m, err)
	}
	if err := rdb.ZAdd(ctx, "grz", redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 1, Member: "a"}).Err(); err != nil {
		t.Fatal(err)
	}
	if zs, err := rdb.ZRangeWithScores(ctx, "grz", 0, -1).Result(); err != nil || len(zs) != 2 || zs[0].Member != "a" || zs[1].Score != 2 {
		t.Fatalf("ZRANGE WITHSCORES: %v %v", zs, err)
	}
	if err := rdb.LPush(ctx, "grl", "x").Err(); err == nil {
		if err := rdb.Get(ctx, "grl").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
			t.Fatalf("GET on a list: %v", err)
		}
	}
	if err := rdb.Get(ctx, "nothing").Err(); err != redis.Nil {
		t.Fatalf("GET of a missing key: %v", err)
	}
	// A pipeline keeps its order.
	p := rdb.Pipeline()
	var incrs []*redis.IntCmd
	for range 100 {
		incrs = append(incrs, p.Incr(ctx, "pipe"))
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range incrs {
		if c.Val() != int64(i+1) {
			t.Fatalf("pipelined INCR %d answered %d", i, c.Val())
		}
	}

	// A transaction whose watched key changed aborts.
	other := redis.NewClient(&redis.Options{Addr: s.resp})
	defer other.Close()
	err = rdb.Watch(ctx, func(tx *redis.Tx) error {
		if err := other.Set(ctx, "watched", "changed", 0).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "watched", "mine", 0)
			return nil
		})
		return err
	}, "watched")
	if err != redis.TxFailedErr {
		t.Fatalf("a transaction whose watched key changed: %v", err)
	}
	if v, _ := rdb.Get(ctx, "watched").Result(); v != "changed" {
		t.Fatalf("the aborted transaction wrote: %q", v)
	}
	// One whose watched key did not change commits.
	err = rdb.Watch(ctx, func(tx *redis.Tx) error {
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "watched", "mine", 0)
			return nil
		})
		return err
	}, "watched")
	if err != nil {
		t.Fatal(err)
	}

	// Pub/sub across the doors: a RESP subscriber gets a message published
	// on the data door, and one published on the RESP door.
	sub := rdb.Subscribe(ctx, "alerts.cpu")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	postJSON(t, s.data+"/api/v1/command", `{"command":"pubsub.publish","payload":{"topic":"alerts.cpu","message":"from http"}}`)
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Channel != "alerts.cpu" || msg.Payload != "from http" {
		t.Fatalf("message from the data door: %+v %v", msg, err)
	}
	if n, err := other.Publish(ctx, "alerts.cpu", "from resp").Result(); err != nil || n != 1 {
		t.Fatalf("PUBLISH: %v %v", n, err)
	}
	msg, err = sub.ReceiveMessage(ctx)
	if err != nil || msg.Payload != "from resp" {
		t.Fatalf("message from the RESP door: %+v %v", msg, err)
	}
}

// TestRESPDurability: writes acknowledged on the RESP door survive kill -9.
func TestRESPDurability(t *testing.T) {
	s := startServer(t, "--fsync=always")
	c := dialRESP(t, s.resp)
	for i := range 200 {
		if got := c.do("SET", "d:"+strconv.Itoa(i), strconv.Itoa(i)); got != "+OK\r\n" {
			t.Fatalf("SET: %q", got)
		}
	}
	c.do("RPUSH", "dl", "a", "b")
	c.do("HSET", "dh", "f", "v")
	c.do("ZADD", "dz", "1.5", "m")
	// Pipelined commands travel to their shards in batches, one commit
	// each: acknowledged, they are durable too.
	var batch strings.Builder
	for i := range 500 {
		fmt.Fprintf(&batch, "*3\r\n$3\r\nSET\r\n$%d\r\np:%d\r\n$%d\r\n%d\r\n", len("p:"+strconv.Itoa(i)), i, len(strconv.Itoa(i)), i)
		batch.WriteString("*2\r\n$4\r\nINCR\r\n$3\r\npcn\r\n")
	}
	if _, err := c.nc.Write([]byte(batch.String())); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if got := c.reply(); got != "+OK\r\n" {
			t.Fatalf("pipelined SET %d: %q", i, got)
		}
		if got, want := c.reply(), fmt.Sprintf(":%d\r\n", i+1); got != want {
			t.Fatalf("pipelined INCR %d: %q, want %q", i, got, want)
		}
	}
	s.kill9()
	s.start()
	c = dialRESP(t, s.resp)
	for i := range 200 {
		want := fmt.Sprintf("$%d\r\n%d\r\n", len(strconv.Itoa(i)), i)
		if got := c.do("GET", "d:"+strconv.Itoa(i)); got != want {
			t.Fatalf("GET d:%d after kill -9: %q", i, got)
		}
	}
	for i := range 500 {
		want := fmt.Sprintf("$%d\r\n%d\r\n", len(strconv.Itoa(i)), i)
		if got := c.do("GET", "p:"+strconv.Itoa(i)); got != want {
			t.Fatalf("GET p:%d (pipelined) after kill -9: %q", i, got)
		}
	}
	for cmd, want := range map[string]string{
		"LRANGE dl 0 -1": "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "HGET dh f": "$1\r\nv\r\n", "ZSCORE dz m": "$3\r\n1.5\r\n",
		"GET pcn": "$3\r\n500\r\n",
	} {
		if got := c.do(strings.Fields(cmd)...); got != want {
			t.Errorf("%s after kill -9: %q, want %q", cmd, got, want)
		}
	}
}

// TestRESPAuth: with --api-keys a connection must AUTH first.
func TestRESPAuth(t *testing.T) {
	s := startServer(t, "--api-keys=k1,k2")
	c := dialRESP(t, s.resp)
	if got := c.do("GET", "x"); got != "-NOAUTH Authentication required.\r\n" {
		t.Fatalf("GET before AUTH: %q", got)
	}
	if got := c.do("AUTH", "nope"); got != "-WRONGPASS invalid username-password pair or user is disabled.\r\n" {
		t.Fatalf("AUTH with a wrong key: %q", got)
	}
	if got := c.do("AUTH", "default", "k2"); got != "+OK\r\n" {
		t.Fatalf("AUTH default k2: %q", got)
	}
	if got := c.do("GET", "x"); got != "$-1\r\n" {
		t.Fatalf("GET after AUTH: %q", got)
	}
	d := dialRESP(t, s.resp)
	if got := d.do("HELLO", "3", "AUTH", "default", "k1"); !strings.HasPrefix(got, "%7\r\n") {
		t.Fatalf("HELLO 3 AUTH: %q", got)
	}
}

func postJSON(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRESPRueidis drives the door with rueidis, a RESP3-only client
// (client-side caching off: the door does not track keys).
func TestRESPRueidis(t *testing.T) {
	s := startServer(t, "--data-dir=")
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.resp}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Set().Key("rk").Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Do(ctx, c.B().Get().Key("rk").Build()).ToString(); err != nil || v != "v" {
		t.Fatalf("GET: %q %v", v, err)
	}
	if err := c.Do(ctx, c.B().Get().Key("none").Build()).Error(); !rueidis.IsRedisNil(err) {
		t.Fatalf("GET of a missing key: %v", err)
	}
	if err := c.Do(ctx, c.B().Hset().Key("rh").FieldValue().FieldValue("a", "1").FieldValue("b", "2").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Do(ctx, c.B().Hgetall().Key("rh").Build()).AsStrMap(); err != nil || m["a"] != "1" || m["b"] != "2" {
		t.Fatalf("HGETALL: %v %v", m, err)
	}
	// DoMulti pipelines.
	cmds := make(rueidis.Commands, 0, 50)
	for range 50 {
		cmds = append(cmds, c.B().Incr().Key("rn").Build())
	}
	for i, r := range c.DoMulti(ctx, cmds...) {
		if n, err := r.AsInt64(); err != nil || n != int64(i+1) {
			t.Fatalf("pipelined INCR %d: %d %v", i, n, err)
		}
	}
	if err := c.Do(ctx, c.B().Zadd().Key("rz").ScoreMember().ScoreMember(1.5, "m").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Do(ctx, c.B().Zscore().Key("rz").Member("m").Build()).AsFloat64(); err != nil || f != 1.5 {
		t.Fatalf("ZSCORE: %v %v", f, err)
	}
	if err := c.Do(ctx, c.B().Lpush().Key("rk").Element("x").Build()).Error(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("LPUSH on a string: %v", err)
	}
}
