package synaprpc

import "encoding/json"

func nameArg(field string) func(a argv) (obj, string) {
	return func(a argv) (obj, string) {
		n, e := a.str(0)
		return obj{field: n}, e
	}
}

// payloadBytes is a message's payload as the original hands it back: the
// bytes as published (the text of a JSON value for one that was not).
func payloadBytes(v any) []byte {
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	if vs, ok := v.([]any); ok {
		b := make([]byte, 0, len(vs))
		for _, x := range vs {
			n := num(x)
			if n < 0 || n > 255 {
				raw, _ := json.Marshal(v)
				return raw
			}
			b = append(b, byte(n))
		}
		return b
	}
	raw, _ := json.Marshal(v)
	return raw
}

var messagingNatives = map[string]nativeFunc{
	// QCREATE name [max_depth] [ack_deadline_secs] (0: the default).
	"QCREATE": simple("queue.create", func(a argv) (obj, string) {
		n, e := a.str(0)
		if e != "" {
			return nil, e
		}
		cfg := obj{}
		if len(a) > 1 {
			d, e := a.int(1)
			if e != "" {
				return nil, e
			}
			if d > 0 {
				cfg["max_depth"] = d
			}
		}
		if len(a) > 2 {
			d, e := a.int(2)
			if e != "" {
				return nil, e
			}
			if d > 0 {
				cfg["ack_deadline"] = d
			}
		}
		return obj{"name": n, "config": cfg}, ""
	}, ok),
	"QDELETE": simple("queue.delete", nameArg("queue"), boolField("deleted")),
	"QLIST":   simple("queue.list", noArgs, field("queues")),
	// QPUBLISH queue payload [priority] [max_retries]
	"QPUBLISH": simple("queue.publish", func(a argv) (obj, string) {
		q, e := a.str(0)
		if e != "" {
			return nil, e
		}
		v, e := a.value(1)
		if e != "" {
			return nil, e
		}
		p := obj{"queue": q, "payload": v}
		if len(a) > 2 {
			n, e := a.int(2)
			if e != "" {
				return nil, e
			}
			p["priority"] = n
		}
		if len(a) > 3 {
			n, e := a.int(3)
			if e != "" {
				return nil, e
			}
			p["max_retries"] = n
		}
		return p, ""
	}, func(rep obj) any { return text(rep["message_id"]) }),
	// QCONSUME queue consumer_id: a message or Null, at once.
	"QCONSUME": simple("queue.consume", func(a argv) (obj, string) {
		q, e := a.str(0)
		if e != "" {
			return nil, e
		}
		id, e := a.str(1)
		return obj{"queue": q, "consumer_id": id}, e
	}, func(rep obj) any {
		m, _ := rep["message"].(obj)
		if m == nil {
			return nil
		}
		return Map{{"id", text(m["id"])}, {"payload", payloadBytes(m["payload"])},
			{"priority", num(m["priority"])}, {"retry_count", num(m["retry_count"])}}
	}),
	"QACK": simple("queue.ack", func(a argv) (obj, string) {
		q, e := a.str(0)
		if e != "" {
			return nil, e
		}
		id, e := a.str(1)
		return obj{"queue": q, "message_id": id}, e
	}, ok),
	// QNACK queue message_id [requeue] (requeue by default).
	"QNACK": simple("queue.nack", func(a argv) (obj, string) {
		q, e := a.str(0)
		if e != "" {
			return nil, e
		}
		id, e := a.str(1)
		if e != "" {
			return nil, e
		}
		requeue := true
		if len(a) > 2 {
			switch v := a[2].(type) {
			case bool:
				requeue = v
			case int64:
				requeue = v != 0
			default:
				s, _ := a.str(2)
				requeue = s != "false" && s != "0"
			}
		}
		return obj{"queue": q, "message_id": id, "requeue": requeue}, ""
	}, ok),
	"QSTATS": simple("queue.stats", nameArg("queue"), func(rep obj) any {
		m := Map{}
		for _, k := range []string{"depth", "consumers", "published", "consumed", "acked", "nacked", "dead_lettered"} {
			m = append(m, Pair{k, num(rep[k])})
		}
		return m
	}),
	"QPURGE": simple("queue.purge", nameArg("queue"), intField("purged")),

	// SCREATE room [max_events]
	"SCREATE": simple("stream.create", func(a argv) (obj, string) {
		r, e := a.str(0)
		if e != "" {
			return nil, e
		}
		p := obj{"room": r}
		if len(a) > 1 {
			n, e := a.int(1)
			if e != "" {
				return nil, e
			}
			if n > 0 {
				p["max_events"] = n
			}
		}
		return p, ""
	}, ok),
	"SGETORCREATE": simple("stream.get_or_create", nameArg("room"), func(rep obj) any {
		if truth(rep["created"]) {
			return "CREATED"
		}
		return "EXISTS"
	}),
	// SPUBLISH room event data: data is the JSON text of the event's data.
	"SPUBLISH": simple("stream.publish", func(a argv) (obj, string) {
		r, e := a.str(0)
		if e != "" {
			return nil, e
		}
		ev, e := a.str(1)
		if e != "" {
			return nil, e
		}
		d, e := a.value(2)
		return obj{"room": r, "event": ev, "data": jsonOrText(d)}, e
	}, intField("offset")),
	// SREAD room subscriber_id from_offset [limit]
	"SREAD": simple("stream.consume", func(a argv) (obj, string) {
		r, e := a.str(0)
		if e != "" {
			return nil, e
		}
		sub, e := a.str(1)
		if e != "" {
			return nil, e
		}
		from, e := a.int(2)
		if e != "" {
			return nil, e
		}
		p := obj{"room": r, "subscriber_id": sub, "from_offset": from, "limit": int64(100)}
		if len(a) > 3 {
			n, e := a.int(3)
			if e != "" {
				return nil, e
			}
			p["limit"] = n
		}
		return p, ""
	}, func(rep obj) any {
		evs, _ := rep["events"].([]any)
		out := make([]any, 0, len(evs))
		for _, x := range evs {
			ev, _ := x.(obj)
			data := text(ev["data"])
			out = append(out, Map{{"id", text(ev["event_id"])}, {"offset", num(ev["offset"])},
				{"event", text(ev["event"])}, {"data", data}, {"timestamp", num(ev["timestamp"])}})
		}
		return out
	}),
	"SDELETE": simple("stream.delete", nameArg("room"), ok),
	"SLIST":   simple("stream.list", noArgs, field("rooms")),
	"SSTATS": simple("stream.stats", nameArg("room"), func(rep obj) any {
		m := Map{{"name", text(rep["name"])}}
		for _, k := range []string{"message_count", "min_offset", "max_offset", "subscriber_count", "total_published", "created_at", "generation"} {
			m = append(m, Pair{k, num(rep[k])})
		}
		return m
	}),

	// PUBLISH topic payload: the payload is the JSON text of the message
	// (a text that is not JSON is published as a string).
	"PUBLISH": simple("pubsub.publish", func(a argv) (obj, string) {
		t, e := a.str(0)
		if e != "" {
			return nil, e
		}
		v, e := a.value(1)
		return obj{"topic": t, "payload": jsonOrText(v)}, e
	}, func(rep obj) any {
		return Map{{"message_id", text(rep["message_id"])}, {"subscribers_matched", num(rep["subscribers_matched"])}}
	}),
	"TOPICS":  simple("pubsub.topics", noArgs, field("topics")),
	"PSSTATS": simple("pubsub.stats", noArgs, whole),
}

func clientArg(a argv) (obj, string) {
	id, e := a.str(0)
	return obj{"client_id": id}, e
}

var txnNatives = map[string]nativeFunc{
	"MULTI":   simple("transaction.multi", clientArg, ok),
	"DISCARD": simple("transaction.discard", clientArg, ok),
	"UNWATCH": simple("transaction.unwatch", clientArg, ok),
	"WATCH": simple("transaction.watch", func(a argv) (obj, string) {
		p, e := clientArg(a)
		if e != "" {
			return nil, e
		}
		ks, e := a.strs(1)
		if len(ks) == 0 && e == "" {
			e = "ERR WATCH requires at least one key"
		}
		p["keys"] = ks
		return p, e
	}, ok),
	// EXEC client_id: the results, each as its JSON text, or Null when a
	// watched key changed.
	"EXEC": simple("transaction.exec", clientArg, func(rep obj) any {
		if truth(rep["aborted"]) {
			return nil
		}
		rs, _ := rep["results"].([]any)
		out := make([]any, len(rs))
		for i, r := range rs {
			b, _ := json.Marshal(r)
			out[i] = string(b)
		}
		return out
	}),
}
