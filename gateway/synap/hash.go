package synap

import (
	"github.com/troupe-run/troupe/messages"
)

var hashCommands = []commandSpec{
	{"hash.set", hashSet},
	{"hash.get", hashGet},
	{"hash.getall", hashGetAll},
	{"hash.del", hashDel},
	{"hash.mset", hashMset},
	{"hash.mget", hashMget},
	{"hash.exists", hashExists},
	{"hash.len", hashLen},
	{"hash.keys", hashKeys},
	{"hash.vals", hashVals},
	{"hash.values", hashVals},
	{"hash.incrby", hashIncrBy},
}

// keyField reads the key and field every single-field command needs.
func keyField(c *call) (*args, error) {
	a, err := c.args()
	if err != nil {
		return nil, err
	}
	if _, err := a.key(); err != nil {
		return nil, err
	}
	if _, err := a.field(); err != nil {
		return nil, err
	}
	return a, nil
}

// hash.set {key, field, value} -> {key, field, created, success}
func hashSet(c *call) error {
	a, err := keyField(c)
	if err != nil {
		return err
	}
	v, err := a.value()
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: a.Key,
		Pairs: []*messages.Pair{{Key: a.Field, Value: v}}})
	if err != nil {
		return err
	}
	w := c.out
	w.obj()
	w.key("key")
	w.str(a.Key)
	w.key("field")
	w.str(a.Field)
	w.key("created")
	w.bool(rep.Integer > 0)
	w.key("success")
	w.bool(true)
	w.endObj()
	return nil
}

// hash.get {key, field} -> {found, value}
func hashGet(c *call) error {
	a, err := keyField(c)
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GET, Key: a.Key, Field: a.Field})
	if err != nil {
		return err
	}
	c.out.obj()
	c.out.key("found")
	c.out.bool(rep.Found)
	c.out.key("value")
	c.out.raw(rep.Value)
	c.out.endObj()
	return nil
}

// hash.getall {key} -> {fields: {field: value}, count}
func hashGetAll(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_HASH_GETALL)
	if err != nil {
		return err
	}
	w := c.out
	w.obj()
	w.key("fields")
	w.obj()
	for _, p := range rep.Pairs {
		w.strKey(p.Key)
		w.raw(p.Value)
	}
	w.endObj()
	w.key("count")
	w.int(int64(len(rep.Pairs)))
	w.endObj()
	return nil
}

// hash.del {key, fields} or {key, field} -> {deleted}
func hashDel(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	key, err := a.key()
	if err != nil {
		return err
	}
	fields, err := a.fieldList()
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_DEL, Key: key, Fields: fields})
	if err != nil {
		return err
	}
	c.out.obj()
	c.out.key("deleted")
	c.out.int(rep.Integer)
	c.out.endObj()
	return nil
}

// fieldList gathers field and fields (an array of names).
func (a *args) fieldList() ([]string, error) {
	var fields []string
	if !absent(a.Fields) {
		var err error
		if fields, err = stringList("fields", a.Fields); err != nil {
			return nil, err
		}
	}
	if a.Field != "" {
		fields = append(fields, a.Field)
	}
	if len(fields) == 0 {
		return nil, invalid("fields is required")
	}
	return fields, nil
}

// hash.mset {key, fields: {field: value} | [{field, value}]} -> {key, success}
func hashMset(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	key, err := a.key()
	if err != nil {
		return err
	}
	pairs, err := pairList("fields", "field", a.Fields)
	if err != nil {
		return err
	}
	if _, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: key, Pairs: pairs}); err != nil {
		return err
	}
	c.out.obj()
	c.out.key("key")
	c.out.str(key)
	c.out.key("success")
	c.out.bool(true)
	c.out.endObj()
	return nil
}

// hash.mget {key, fields} -> {values: {field: value or null}}, an object as
// Synap's SDKs expect.
func hashMget(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	key, err := a.key()
	if err != nil {
		return err
	}
	fields, err := a.fieldList()
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_MGET, Key: key, Fields: fields})
	if err != nil {
		return err
	}
	w := c.out
	w.obj()
	w.key("values")
	w.obj()
	for i, f := range fields {
		w.strKey(f)
		if i < len(rep.Values) {
			w.raw(rep.Values[i])
		} else {
			w.null()
		}
	}
	w.endObj()
	w.endObj()
	return nil
}

// hash.exists {key, field} -> {exists}
func hashExists(c *call) error {
	a, err := keyField(c)
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_EXISTS, Key: a.Key, Field: a.Field})
	if err != nil {
		return err
	}
	c.out.obj()
	c.out.key("exists")
	c.out.bool(rep.Found)
	c.out.endObj()
	return nil
}

// hash.len {key} -> {length}
func hashLen(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_HASH_LEN)
	if err != nil {
		return err
	}
	return lengthReply(c, rep.Integer)
}

func lengthReply(c *call, n int64) error {
	c.out.obj()
	c.out.key("key")
	c.out.str(c.a.Key)
	c.out.key("length")
	c.out.int(n)
	c.out.endObj()
	return nil
}

// hash.keys {key} -> {fields, count}
func hashKeys(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_HASH_KEYS)
	if err != nil {
		return err
	}
	c.out.obj()
	c.out.key("fields")
	c.out.strs(rep.Keys)
	c.out.key("count")
	c.out.int(int64(len(rep.Keys)))
	c.out.endObj()
	return nil
}

// hash.vals {key} -> {values, count}
func hashVals(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_HASH_VALS)
	if err != nil {
		return err
	}
	c.out.obj()
	c.out.key("values")
	c.out.raws(rep.Values)
	c.out.key("count")
	c.out.int(int64(len(rep.Values)))
	c.out.endObj()
	return nil
}

// hash.incrby {key, field, increment (or amount)} -> {value}
func hashIncrBy(c *call) error {
	a, err := keyField(c)
	if err != nil {
		return err
	}
	raw, name := a.Increment, "increment"
	if absent(raw) {
		raw, name = a.Amount, "amount"
	}
	if absent(raw) {
		return invalid("increment is required")
	}
	n, err := intArg(name, raw, 0)
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_INCRBY, Key: a.Key, Field: a.Field, Amount: n})
	if err != nil {
		return err
	}
	c.out.obj()
	c.out.key("value")
	c.out.int(rep.Integer)
	c.out.endObj()
	return nil
}
