package resp

import "strings"

// doc is what COMMAND DOCS says of a command. syntax is its arguments in
// a small notation: words in lower case are arguments ("key" ones are
// keys), upper-case words are tokens, "TOKEN arg" an argument introduced
// by its token, [ ... ] optional, a|b one of, and a trailing "..." that
// the argument repeats.
type doc struct {
	group, summary, syntax string
}

var docs = map[string]doc{
	"get":                  {"string", "Returns the string value of a key.", "key"},
	"set":                  {"string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"},
	"setnx":                {"string", "Set the string value of a key only when the key doesn't exist.", "key value"},
	"setex":                {"string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "key seconds value"},
	"psetex":               {"string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "key milliseconds value"},
	"getset":               {"string", "Returns the previous string value of a key after setting it to a new value.", "key value"},
	"mget":                 {"string", "Atomically returns the string values of one or more keys.", "key..."},
	"mset":                 {"string", "Atomically creates or modifies the string values of one or more keys.", "key value..."},
	"msetnx":               {"string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "key value..."},
	"incr":                 {"string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "key"},
	"decr":                 {"string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "key"},
	"incrby":               {"string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "key increment"},
	"decrby":               {"string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "key decrement"},
	"incrbyfloat":          {"string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "key increment"},
	"append":               {"string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "key value"},
	"strlen":               {"string", "Returns the length of a string value.", "key"},
	"getrange":             {"string", "Returns a substring of the string stored at a key.", "key start end"},
	"setrange":             {"string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "key offset value"},
	"getdel":               {"string", "Returns the string value of a key after deleting the key.", "key"},
	"getex":                {"string", "Returns the string value of a key after setting its expiration time.", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"},
	"del":                  {"generic", "Deletes one or more keys.", "key..."},
	"unlink":               {"generic", "Asynchronously deletes one or more keys.", "key..."},
	"exists":               {"generic", "Determines whether one or more keys exist.", "key..."},
	"expire":               {"generic", "Sets the expiration time of a key in seconds.", "key seconds [NX|XX|GT|LT]"},
	"pexpire":              {"generic", "Sets the expiration time of a key in milliseconds.", "key milliseconds [NX|XX|GT|LT]"},
	"expireat":             {"generic", "Sets the expiration time of a key to a Unix timestamp.", "key unix-time-seconds [NX|XX|GT|LT]"},
	"pexpireat":            {"generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "key unix-time-milliseconds [NX|XX|GT|LT]"},
	"ttl":                  {"generic", "Returns the expiration time in seconds of a key.", "key"},
	"pttl":                 {"generic", "Returns the expiration time in milliseconds of a key.", "key"},
	"persist":              {"generic", "Removes the expiration time of a key.", "key"},
	"type":                 {"generic", "Determines the type of value stored at a key.", "key"},
	"scan":                 {"generic", "Iterates over the key names in the database.", "cursor [MATCH pattern] [COUNT count] [TYPE type]"},
	"keys":                 {"generic", "Returns all key names that match a pattern.", "pattern"},
	"rename":               {"generic", "Renames a key and overwrites the destination.", "key newkey"},
	"renamenx":             {"generic", "Renames a key only when the target key name doesn't exist.", "key newkey"},
	"copy":                 {"generic", "Copies the value of a key to a new key.", "source destination [DB destination-db] [REPLACE]"},
	"randomkey":            {"generic", "Returns a random key name from the database.", ""},
	"hset":                 {"hash", "Creates or modifies the value of a field in a hash.", "key field value..."},
	"hget":                 {"hash", "Returns the value of a field in a hash.", "key field"},
	"hmget":                {"hash", "Returns the values of all fields in a hash.", "key field..."},
	"hgetall":              {"hash", "Returns all fields and values in a hash.", "key"},
	"hdel":                 {"hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "key field..."},
	"hexists":              {"hash", "Determines whether a field exists in a hash.", "key field"},
	"hincrby":              {"hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "key field increment"},
	"hlen":                 {"hash", "Returns the number of fields in a hash.", "key"},
	"lpush":                {"list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "key element..."},
	"rpush":                {"list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "key element..."},
	"lpop":                 {"list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "key [count]"},
	"rpop":                 {"list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "key [count]"},
	"lrange":               {"list", "Returns a range of elements from a list.", "key start stop"},
	"llen":                 {"list", "Returns the length of a list.", "key"},
	"blpop":                {"list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "key... timeout"},
	"brpop":                {"list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "key... timeout"},
	"lmove":                {"list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "source destination LEFT|RIGHT LEFT|RIGHT"},
	"blmove":               {"list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "source destination LEFT|RIGHT LEFT|RIGHT timeout"},
	"sadd":                 {"set", "Adds one or more members to a set. Creates the key if it doesn't exist.", "key member..."},
	"srem":                 {"set", "Removes one or more members from a set. Deletes the set if the last member was removed.", "key member..."},
	"smembers":             {"set", "Returns all members of a set.", "key"},
	"sismember":            {"set", "Determines whether a member belongs to a set.", "key member"},
	"scard":                {"set", "Returns the number of members in a set.", "key"},
	"geoadd":               {"geo", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", "key [NX|XX] [CH] longitude latitude member..."},
	"geopos":               {"geo", "Returns the longitude and latitude of members from a geospatial index.", "key [member...]"},
	"geohash":              {"geo", "Returns members from a geospatial index as geohash strings.", "key [member...]"},
	"geodist":              {"geo", "Returns the distance between two members of a geospatial index.", "key member1 member2 [M|KM|FT|MI]"},
	"georadius":            {"geo", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", "key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]"},
	"georadius_ro":         {"geo", "Returns members from a geospatial index that are within a distance from a coordinate.", "key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]"},
	"georadiusbymember":    {"geo", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", "key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]"},
	"georadiusbymember_ro": {"geo", "Returns members from a geospatial index that are within a distance from a member.", "key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]"},
	"geosearch":            {"geo", "Queries a geospatial index for members inside an area of a box or a circle.", "key FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"},
	"geosearchstore":       {"geo", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", "destination source FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI [ASC|DESC] [COUNT count [ANY]] [STOREDIST]"},
	"lmpop":                {"list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "numkeys key... LEFT|RIGHT [COUNT count]"},
	"blmpop":               {"list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "timeout numkeys key... LEFT|RIGHT [COUNT count]"},
	"zmpop":                {"sorted-set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", "numkeys key... MIN|MAX [COUNT count]"},
	"bzmpop":               {"sorted-set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "timeout numkeys key... MIN|MAX [COUNT count]"},
	"bzpopmin":             {"sorted-set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise.", "key... timeout"},
	"bzpopmax":             {"sorted-set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member is available otherwise.", "key... timeout"},
	"txqueue":              {"transactions", "Queues a command in the transaction a client id opened with MULTI <id> (Synap's form).", "client-id command [arg...]"},
	"zadd":                 {"sorted-set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "key [NX|XX] [GT|LT] [CH] [INCR] score member..."},
	"zrange":               {"sorted-set", "Returns members in a sorted set within a range of indexes.", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"},
	"zscore":               {"sorted-set", "Returns the score of a member in a sorted set.", "key member"},
	"zrem":                 {"sorted-set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "key member..."},
	"zcard":                {"sorted-set", "Returns the number of members in a sorted set.", "key"},
	"zincrby":              {"sorted-set", "Increments the score of a member in a sorted set.", "key increment member"},
	"zrangebyscore":        {"sorted-set", "Returns members in a sorted set within a range of scores.", "key min max [WITHSCORES] [LIMIT offset count]"},
	"pfadd":                {"hyperloglog", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", "key [element...]"},
	"pfcount":              {"hyperloglog", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", "key..."},
	"setbit":               {"bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", "key offset value"},
	"getbit":               {"bitmap", "Returns a bit value by offset.", "key offset"},
	"bitcount":             {"bitmap", "Counts the number of set bits (population counting) in a string.", "key [start end [BYTE|BIT]]"},
	"multi":                {"transactions", "Starts a transaction.", ""},
	"exec":                 {"transactions", "Executes all commands in a transaction.", ""},
	"watch":                {"transactions", "Monitors changes to keys to determine the execution of a transaction.", "key..."},
	"subscribe":            {"pubsub", "Listens for messages published to channels.", "channel..."},
	"psubscribe":           {"pubsub", "Listens for messages published to channels that match one or more patterns.", "pattern..."},
	"publish":              {"pubsub", "Posts a message to a channel.", "channel message"},
	"ping":                 {"connection", "Returns the server's liveliness response.", "[message]"},
	"echo":                 {"connection", "Returns the given string.", "message"},
	"auth":                 {"connection", "Authenticates the connection.", "[username] password"},
	"hello":                {"connection", "Handshakes with the Redis server.", "[protover [AUTH username password] [SETNAME clientname]]"},
	"select":               {"connection", "Changes the selected database.", "index"},
	"info":                 {"server", "Returns information and statistics about the server.", "[section...]"},
	"dbsize":               {"server", "Returns the number of keys in the database.", ""},
	"flushdb":              {"server", "Remove all keys from the current database.", "[ASYNC|SYNC]"},
	"flushall":             {"server", "Removes all keys from all databases.", "[ASYNC|SYNC]"},
	"zrevrangebyscore":     {"sorted-set", "Returns members in a sorted set within a range of scores in reverse order.", "key max min [WITHSCORES] [LIMIT offset count]"},
}

// arg is one argument of COMMAND DOCS.
type arg struct {
	name, typ, token string
	optional, multi  bool
	sub              []arg
}

// parseSyntax turns a syntax line into COMMAND DOCS arguments.
func parseSyntax(s string) []arg {
	toks := strings.Fields(strings.NewReplacer("[", " [ ", "]", " ] ", "|", " | ").Replace(s))
	args, _ := parseSeq(toks, 0)
	return args
}

// parseSeq parses until "]" or the end; alternatives ("|") make a oneof.
func parseSeq(toks []string, i int) ([]arg, int) {
	var alts [][]arg
	var cur []arg
	for i < len(toks) {
		t := toks[i]
		switch {
		case t == "]":
			i++
			goto done
		case t == "|":
			alts = append(alts, cur)
			cur = nil
			i++
		case t == "[":
			inner, next := parseSeq(toks, i+1)
			i = next
			a := group(inner)
			a.optional = true
			cur = append(cur, a)
		default:
			i++
			multi := strings.HasSuffix(t, "...")
			t = strings.TrimSuffix(t, "...")
			if strings.ToUpper(t) == t && t != strings.ToLower(t) {
				// A token, with the argument after it when one follows.
				if i < len(toks) && isArgWord(toks[i]) {
					n := strings.TrimSuffix(toks[i], "...")
					cur = append(cur, arg{name: n, typ: argType(n), token: t, multi: multi || strings.HasSuffix(toks[i], "...")})
					i++
				} else {
					cur = append(cur, arg{name: strings.ToLower(t), typ: "pure-token", token: t})
				}
				continue
			}
			cur = append(cur, arg{name: t, typ: argType(t), multi: multi})
		}
	}
done:
	if len(alts) == 0 {
		return cur, i
	}
	alts = append(alts, cur)
	var one arg
	one.name, one.typ = "choice", "oneof"
	for _, alt := range alts {
		one.sub = append(one.sub, group(alt))
	}
	return []arg{one}, i
}

func isArgWord(t string) bool {
	w := strings.TrimSuffix(t, "...")
	return w != "" && w != "[" && w != "]" && w != "|" && strings.ToLower(w) == w
}

// group makes one argument of a sequence: itself, or a block.
func group(seq []arg) arg {
	if len(seq) == 1 {
		return seq[0]
	}
	return arg{name: "block", typ: "block", sub: seq}
}

func argType(name string) string {
	switch name {
	case "key", "source", "destination", "newkey":
		return "key"
	case "pattern":
		return "pattern"
	case "count", "offset", "start", "stop", "end", "seconds", "milliseconds", "index", "increment", "decrement", "cursor", "protover":
		return "integer"
	case "score", "min", "max", "timeout":
		return "double"
	case "unix-time-seconds", "unix-time-milliseconds":
		return "unix-time"
	}
	return "string"
}

func (c *conn) writeArgs(args []arg) {
	c.w.array(len(args))
	for _, a := range args {
		n := 2
		if a.token != "" {
			n++
		}
		if a.optional || a.multi {
			n++
		}
		if len(a.sub) > 0 {
			n++
		}
		c.w.mapOf(n)
		c.w.bulkString("name")
		c.w.bulkString(a.name)
		c.w.bulkString("type")
		c.w.bulkString(a.typ)
		if a.token != "" {
			c.w.bulkString("token")
			c.w.bulkString(a.token)
		}
		if a.optional || a.multi {
			var flags []string
			if a.optional {
				flags = append(flags, "optional")
			}
			if a.multi {
				flags = append(flags, "multiple")
			}
			c.w.bulkString("flags")
			c.w.array(len(flags))
			for _, f := range flags {
				c.w.simple(f)
			}
		}
		if len(a.sub) > 0 {
			c.w.bulkString("arguments")
			c.writeArgs(a.sub)
		}
	}
}
