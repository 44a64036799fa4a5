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
	a, _, err := keyArgs(c)
	if err != nil {
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
	w.Obj()
	w.Key("key")
	w.Str(a.Key)
	w.Key("field")
	w.Str(a.Field)
	w.Key("created")
	w.Bool(rep.Integer > 0)
	w.Key("success")
	w.Bool(true)
	w.EndObj()
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
	c.out.Obj()
	c.out.Key("found")
	c.out.Bool(rep.Found)
	c.out.Key("value")
	c.out.Raw(rep.Value)
	c.out.EndObj()
	return nil
}

// hash.getall {key} -> {fields: {field: value}, count}
func hashGetAll(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_HASH_GETALL)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("fields")
	w.Obj()
	for _, p := range rep.Pairs {
		w.StrKey(p.Key)
		w.Raw(p.Value)
	}
	w.EndObj()
	w.Key("count")
	w.Int(int64(len(rep.Pairs)))
	w.EndObj()
	return nil
}

// hash.del {key, fields} or {key, field} -> {deleted}
func hashDel(c *call) error {
	a, key, err := keyArgs(c)
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
	return intReply(c, "deleted", rep.Integer)
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
	a, key, err := keyArgs(c)
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
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(key)
	c.out.Key("success")
	c.out.Bool(true)
	c.out.EndObj()
	return nil
}

// hash.mget {key, fields} -> {values: {field: value or null}}, an object as
// Synap's SDKs expect.
func hashMget(c *call) error {
	a, key, err := keyArgs(c)
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
	w.Obj()
	w.Key("values")
	w.Obj()
	for i, f := range fields {
		w.StrKey(f)
		if i < len(rep.Values) {
			w.Raw(rep.Values[i])
		} else {
			w.Null()
		}
	}
	w.EndObj()
	w.EndObj()
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
	return boolReply(c, "exists", rep.Found)
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
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(c.a.Key)
	c.out.Key("length")
	c.out.Int(n)
	c.out.EndObj()
	return nil
}

// hash.keys {key} -> {fields, count}
func hashKeys(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_HASH_KEYS)
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("fields")
	c.out.Strs(rep.Keys)
	c.out.Key("count")
	c.out.Int(int64(len(rep.Keys)))
	c.out.EndObj()
	return nil
}

// hash.vals {key} -> {values, count}
func hashVals(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_HASH_VALS)
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("values")
	c.out.Raws(rep.Values)
	c.out.Key("count")
	c.out.Int(int64(len(rep.Values)))
	c.out.EndObj()
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
	return intReply(c, "value", rep.Integer)
}
