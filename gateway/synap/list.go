package synap

import (
	"github.com/troupe-run/troupe/messages"
)

var listCommands = []commandSpec{
	{"list.lpush", listPush(messages.DataOp_LIST_LPUSH)},
	{"list.rpush", listPush(messages.DataOp_LIST_RPUSH)},
	{"list.lpop", listPop(messages.DataOp_LIST_LPOP)},
	{"list.rpop", listPop(messages.DataOp_LIST_RPOP)},
	{"list.range", listRange},
	{"list.lrange", listRange},
	{"list.len", listLen},
	{"list.llen", listLen},
	{"list.index", listIndex},
	{"list.lindex", listIndex},
	{"list.set", listSet},
	{"list.lset", listSet},
	{"list.trim", listTrim},
	{"list.ltrim", listTrim},
	{"list.rem", listRem},
	{"list.lrem", listRem},
}

// list.lpush / list.rpush {key, values} or {key, value} -> {key, length}
func listPush(op messages.DataOp) command {
	return func(c *call) error {
		a, key, err := keyArgs(c)
		if err != nil {
			return err
		}
		values := make([][]byte, 0, len(a.Values)+1)
		for _, v := range a.Values {
			values = append(values, compact(v))
		}
		if len(a.Value) > 0 {
			values = append(values, compact(a.Value))
		}
		if len(values) == 0 {
			return invalid("values is required")
		}
		rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Values: values})
		if err != nil {
			return err
		}
		return lengthReply(c, rep.Integer)
	}
}

// list.lpop / list.rpop {key, count = 1} -> {key, values}
func listPop(op messages.DataOp) command {
	return func(c *call) error {
		a, key, err := keyArgs(c)
		if err != nil {
			return err
		}
		count, err := countArg("count", a.Count, 1)
		if err != nil {
			return err
		}
		rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Count: count})
		if err != nil {
			return err
		}
		return valuesReply(c, rep.Values)
	}
}

func valuesReply(c *call, values [][]byte) error {
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(c.a.Key)
	c.out.Key("values")
	c.out.Raws(values)
	c.out.EndObj()
	return nil
}

// rangeArgs reads start and stop, defaults 0 and -1: the whole list.
func rangeArgs(a *args) (start, stop int64, err error) {
	if start, err = intArg("start", a.Start, 0); err != nil {
		return 0, 0, err
	}
	stop, err = intArg("stop", a.Stop, -1)
	return start, stop, err
}

// list.range {key, start = 0, stop = -1} -> {key, values}
func listRange(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	start, stop, err := rangeArgs(a)
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_RANGE, Key: key, Start: start, Stop: stop})
	if err != nil {
		return err
	}
	return valuesReply(c, rep.Values)
}

// list.len {key} -> {key, length}
func listLen(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_LIST_LEN)
	if err != nil {
		return err
	}
	return lengthReply(c, rep.Integer)
}

// indexArg reads the required index of list.index and list.set.
func indexArg(a *args) (int64, error) {
	if absent(a.Index) {
		return 0, invalid("index is required")
	}
	return intArg("index", a.Index, 0)
}

// list.index {key, index} -> {key, index, value}; value is null past the end.
func listIndex(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	index, err := indexArg(a)
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_INDEX, Key: key, Start: index})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(key)
	w.Key("index")
	w.Int(index)
	w.Key("value")
	if rep.Found {
		w.Raw(rep.Value)
	} else {
		w.Null()
	}
	w.EndObj()
	return nil
}

// list.set {key, index, value} -> {key, index, success}
func listSet(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	index, err := indexArg(a)
	if err != nil {
		return err
	}
	v, err := a.value()
	if err != nil {
		return err
	}
	if _, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_SET, Key: key, Start: index, Value: v}); err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(key)
	w.Key("index")
	w.Int(index)
	w.Key("success")
	w.Bool(true)
	w.EndObj()
	return nil
}

// list.trim {key, start = 0, stop = -1} -> {key, success}
func listTrim(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	start, stop, err := rangeArgs(a)
	if err != nil {
		return err
	}
	if _, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_TRIM, Key: key, Start: start, Stop: stop}); err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(key)
	c.out.Key("success")
	c.out.Bool(true)
	c.out.EndObj()
	return nil
}

// list.rem {key, value, count = 0} -> {key, removed}. As in Redis, count > 0
// removes from the head, < 0 from the tail, 0 every occurrence.
func listRem(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	v, err := a.value()
	if err != nil {
		return err
	}
	count, err := intArg("count", a.Count, 0)
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_REM, Key: key, Count: count, Value: v})
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(key)
	c.out.Key("removed")
	c.out.Int(rep.Integer)
	c.out.EndObj()
	return nil
}
