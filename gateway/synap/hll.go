package synap

import (
	"encoding/json"
	"sync/atomic"

	"github.com/axiomhq/hyperloglog"

	"github.com/troupe-run/troupe/messages"
)

var hllCommands = []commandSpec{
	{"hyperloglog.pfadd", hllAdd},
	{"hyperloglog.pfcount", hllCount},
	{"hyperloglog.pfmerge", hllMerge},
	{"hyperloglog.stats", hllStats},
}

// hllCounters count the HyperLogLog commands served since start, for
// hyperloglog.stats (the original's figures; they are not durable).
type hllCounters struct {
	adds, counts, merges atomic.Int64
}

// payloadInto decodes the payload of a command with a shape of its own.
func payloadInto(c *call, v any) error {
	if len(c.payload) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.payload, v); err != nil {
		return jsonError(err, "payload")
	}
	return nil
}

// element is a HyperLogLog element as the SDKs send it: a string, or an
// array of byte values; both stand for the same bytes.
type element string

func (e *element) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var bs []byte
		var nums []int
		if err := json.Unmarshal(b, &nums); err != nil {
			return invalid("an element must be a string or an array of bytes")
		}
		for _, n := range nums {
			if n < 0 || n > 255 {
				return invalid("an element's byte %d is out of range", n)
			}
			bs = append(bs, byte(n))
		}
		*e = element(bs)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return invalid("an element must be a string or an array of bytes")
	}
	*e = element(s)
	return nil
}

// hyperloglog.pfadd {key, elements} -> {key, added}: added is 1 when the
// sketch changed, as Redis's PFADD answers.
func hllAdd(c *call) error {
	var p struct {
		Key      string    `json:"key"`
		Elements []element `json:"elements"`
	}
	if err := payloadInto(c, &p); err != nil {
		return err
	}
	if p.Key == "" {
		return invalid("key is required")
	}
	c.s.hll.adds.Add(1)
	added := int64(0)
	if len(p.Elements) > 0 {
		members := make([]string, len(p.Elements))
		for i, e := range p.Elements {
			members[i] = string(e)
		}
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HLL_ADD, Key: p.Key, Members: members})
		if err != nil {
			return err
		}
		if rep.Ok {
			added = 1
		}
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("added")
	w.Int(added)
	w.EndObj()
	return nil
}

// sketches reads the sketches of keys (on whichever shards own them) and
// merges them; a missing key adds nothing.
func sketches(c *call, keys []string) (*hyperloglog.Sketch, error) {
	sum := hyperloglog.New14()
	for _, k := range keys {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HLL_GET, Key: k})
		if err != nil {
			return nil, err
		}
		if !rep.Found {
			continue
		}
		sk := hyperloglog.New14()
		if err := sk.UnmarshalBinary(rep.Value); err != nil {
			return nil, invalid("key %q holds a damaged sketch: %v", k, err)
		}
		if err := sum.Merge(sk); err != nil {
			return nil, invalid("key %q: %v", k, err)
		}
	}
	return sum, nil
}

// hyperloglog.pfcount {key} or {keys} -> {key, count}: the estimated number
// of distinct elements (of the union, for several keys).
func hllCount(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	keys, err := a.keyList()
	if err != nil {
		return err
	}
	c.s.hll.counts.Add(1)
	sum, err := sketches(c, keys)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(keys[0])
	w.Key("count")
	w.Int(int64(sum.Estimate()))
	w.EndObj()
	return nil
}

// hyperloglog.pfmerge {destination, sources} -> {destination, count}. The
// sources are read, then merged into the destination in one step on its
// shard: a write to a source meanwhile may or may not be counted.
func hllMerge(c *call) error {
	var p struct {
		Destination string   `json:"destination"`
		Sources     []string `json:"sources"`
	}
	if err := payloadInto(c, &p); err != nil {
		return err
	}
	if p.Destination == "" {
		return invalid("destination is required")
	}
	c.s.hll.merges.Add(1)
	var raws [][]byte
	for _, k := range p.Sources {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HLL_GET, Key: k})
		if err != nil {
			return err
		}
		if rep.Found {
			raws = append(raws, rep.Value)
		}
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HLL_MERGE, Key: p.Destination, Values: raws})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("destination")
	w.Str(p.Destination)
	w.Key("count")
	w.Int(rep.Integer)
	w.EndObj()
	return nil
}

// hyperloglog.stats {} -> {total_hlls, total_cardinality, pfadd_count,
// pfcount_count, pfmerge_count}: the keys holding a sketch now; the command
// counts since the server started; total_cardinality, the sum of every
// sketch's estimate, reads them all, as the original does.
func hllStats(c *call) error {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_COUNT, Field: "hyperloglog"})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("total_hlls")
	w.Int(rep.Integer)
	w.Key("total_cardinality")
	w.Int(rep.Elements)
	w.Key("pfadd_count")
	w.Int(c.s.hll.adds.Load())
	w.Key("pfcount_count")
	w.Int(c.s.hll.counts.Load())
	w.Key("pfmerge_count")
	w.Int(c.s.hll.merges.Load())
	w.EndObj()
	return nil
}
