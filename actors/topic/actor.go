package topic

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/durable"
	"github.com/troupe-run/troupe/system/store"
)

// Local messages: they carry the Go values of producers and consumers,
// which stay on this node with the connection or process they serve.
type (
	openProducer  struct{}
	closeProducer struct{}
	publish       struct {
		data []byte
		done chan error // buffered, one per producer: the actor never waits on it
	}
	subscribe struct {
		c     *Consumer
		from  int64 // < 0: none named
		reply chan error
	}
	storeAck struct {
		id   string
		next int64
		done chan error // buffered
	}
	advanced struct{} // a consumer read on while a publish waited for room
	ageTick  struct{}
)

// topicActor owns one topic: its content type and its journal, which it
// alone appends to, trims and writes to the store. It exists before the
// topic does (a Spawn on first use); contentType is "" until TopicCreate.
//
// The journal is the service's, not the actor's: a restarted actor takes
// it over as it was, and the consumers reading it go on. Publishes that
// waited for room are failed with ErrRestart (their producers may retry).
// Its writes go through a durable.Log: a write the store could not make
// fails the producer that waits on it and restarts the actor.
type topicActor struct {
	svc         *Service
	log         durable.Log
	name        string
	contentType string
	// provisional: a reader that named no type made the topic; the first
	// producer that names one sets it, while no chunk was ever published
	// (si topic get may come before si topic send). Not kept over a
	// restart: the type then stays.
	provisional bool
	j           *journal
	producers   int
	parked      []*publish // waiting for room, in order
	age         *time.Timer
	self        *actor.PID
}

func (a *topicActor) Receive(ctx actor.Context) {
	a.log.Receive(ctx, a.svc.sys, a)
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.armAge()
	case *actor.Restarting:
		a.failParked(ErrRestart)
		a.stopAge()
	case *actor.Stopping:
		a.failParked(ErrDeleted)
		a.stopAge()
	case *messages.TopicCreate:
		ctx.Respond(a.create(msg))
	case *messages.TopicInfoRequest:
		ctx.Respond(a.info())
	case *messages.TopicDelete:
		if a.contentType == "" {
			ctx.Respond(&messages.TopicReply{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("Topic %s not found", a.name)})
			return
		}
		a.delete()
		ctx.Respond(&messages.TopicReply{Name: a.name})
	case *openProducer:
		a.producers++
	case *closeProducer:
		a.producers--
	case *publish:
		if len(a.parked) > 0 {
			a.parked = append(a.parked, msg)
			return
		}
		if !a.append(msg) {
			a.parked = append(a.parked, msg)
		}
	case *subscribe:
		msg.reply <- a.subscribe(msg)
	case *storeAck:
		a.storeAck(msg)
	case *advanced:
		a.unpark()
	case *ageTick:
		a.trimAge()
		a.unpark()
		a.armAge()
	}
}

// Recover takes the topic's journal over (durable.State): the one in
// memory, which its consumers read, or the one the store holds the first
// time (the service reads it from the same store as r).
func (a *topicActor) Recover(store.Reader) error {
	a.self = a.log.Self()
	a.contentType = a.svc.typeOf(a.name)
	j, err := a.svc.journalOf(a.name)
	if err != nil {
		return fmt.Errorf("topic %s: reading its journal: %w", a.name, err)
	}
	a.j = j
	return nil
}

func (a *topicActor) create(msg *messages.TopicCreate) *messages.TopicReply {
	switch {
	case a.contentType == "":
		if !a.svc.setType(a.name, msg.ContentType) {
			return &messages.TopicReply{ErrorCode: messages.CodeLimit,
				ErrorMessage: fmt.Sprintf("there are already %d topics, the limit", a.svc.opts.MaxTopics)}
		}
		a.contentType, a.provisional = msg.ContentType, msg.Provisional
		a.log.Set(metaKey(a.name), append([]byte{version}, a.contentType...))
		a.log.Then(a.svc.logFailure(a.name))
	case a.provisional && !msg.Provisional && !msg.Exclusive && a.neverPublished():
		a.provisional = false
		if msg.ContentType != a.contentType {
			a.svc.setType(a.name, msg.ContentType)
			a.contentType = msg.ContentType
			a.log.Set(metaKey(a.name), append([]byte{version}, a.contentType...))
			a.log.Then(a.svc.logFailure(a.name))
		}
	case msg.Exclusive:
		return &messages.TopicReply{ErrorCode: messages.CodeTopicExists, ErrorMessage: "Topic with given id already exist"}
	case a.contentType != msg.ContentType:
		return &messages.TopicReply{ErrorCode: messages.CodeContentType,
			ErrorMessage: fmt.Sprintf("Acceptable Content-Type for %s is %s", a.name, a.contentType)}
	}
	return a.info()
}

// neverPublished reports whether the topic has never held a chunk.
func (a *topicActor) neverPublished() bool {
	a.j.mu.Lock()
	defer a.j.mu.Unlock()
	return a.j.base == 0 && len(a.j.chunks) == 0
}

func (a *topicActor) info() *messages.TopicReply {
	if a.contentType == "" {
		return &messages.TopicReply{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("Topic %s not found", a.name)}
	}
	a.j.mu.Lock()
	consumers := len(a.j.readers)
	a.j.mu.Unlock()
	return &messages.TopicReply{Name: a.name, ContentType: a.contentType,
		Consumers: int32(consumers), Producers: int32(a.producers)}
}

// append journals a chunk, unless the journal has no room for it: then it
// reports false and the chunk waits. The producer hears once the chunk is
// durable.
func (a *topicActor) append(m *publish) bool {
	if a.contentType == "" {
		m.done <- ErrDeleted
		return true
	}
	j, limit := a.j, a.svc.opts.Retention
	j.mu.Lock()
	if need := j.bytes + int64(len(m.data)) - limit; need > 0 && len(j.chunks) > 0 {
		// Room: the oldest chunks every live consumer, and the next new
		// one, have been given.
		protected := j.protected()
		cut, freed := 0, int64(0)
		for cut < len(j.chunks) && j.base+int64(cut) < protected && freed < need {
			freed += int64(len(j.chunks[cut].data))
			cut++
		}
		if cut > 0 {
			from := j.base
			j.dropFront(cut)
			a.log.DeleteRange(chunkKey(a.name, from), chunkKey(a.name, j.base))
			a.log.Then(a.svc.logFailure(a.name))
		}
		if j.bytes+int64(len(m.data)) > limit && len(j.chunks) > 0 {
			j.starved = true
			j.mu.Unlock()
			return false
		}
	}
	off, now := j.next(), time.Now().UnixNano()
	j.chunks = append(j.chunks, chunk{at: now, data: m.data})
	j.bytes += int64(len(m.data))
	j.starved = false
	j.notify()
	j.mu.Unlock()
	a.log.Set(chunkKey(a.name, off), encodeChunk(now, m.data))
	done := m.done
	a.log.Then(func(err error) { done <- err })
	if a.age == nil {
		a.armAge()
	}
	return true
}

// unpark publishes the chunks that waited, as long as there is room.
func (a *topicActor) unpark() {
	for len(a.parked) > 0 && a.append(a.parked[0]) {
		a.parked[0] = nil
		a.parked = a.parked[1:]
	}
}

func (a *topicActor) failParked(err error) {
	for _, m := range a.parked {
		m.done <- err
	}
	a.parked = nil
}

// subscribe places a new consumer: at the offset it names, else where its
// id acknowledged, else at the first chunk no consumer has been given.
func (a *topicActor) subscribe(m *subscribe) error {
	if a.contentType == "" {
		return &Error{messages.CodeNotFound, fmt.Sprintf("Topic %s not found", a.name)}
	}
	j, c := a.j, m.c
	j.mu.Lock()
	defer j.mu.Unlock()
	acked, known := j.acks[c.id]
	if c.id != "" && !known && len(j.acks) >= a.svc.opts.ConsumerIDs {
		return &Error{messages.CodeLimit, fmt.Sprintf("topic %s remembers %d consumer ids, the limit: read it without x-consumer-id, or delete the topic",
			a.name, len(j.acks))}
	}
	c.maxIDs = a.svc.opts.ConsumerIDs
	switch {
	case m.from >= 0:
		c.pos = m.from
	case c.id != "" && known:
		c.pos = acked
	default:
		// What no consumer has been given is this one's: the next
		// consumer without an offset starts after it.
		c.pos = j.delivered
		j.delivered = j.next()
	}
	c.pos = min(max(c.pos, j.base), j.next())
	c.start = c.pos
	c.j = j
	j.readers[c] = struct{}{}
	return nil
}

func (a *topicActor) storeAck(m *storeAck) {
	if a.contentType == "" {
		m.done <- ErrDeleted
		return
	}
	a.log.Set(ackKey(a.name, m.id), binary.AppendUvarint([]byte{version}, uint64(m.next)))
	done := m.done
	a.log.Then(func(err error) { done <- err })
}

// trimAge drops the chunks older than the topic's age limit, read or not.
func (a *topicActor) trimAge() {
	j := a.j
	cutoff := time.Now().Add(-a.svc.opts.MaxAge).UnixNano()
	j.mu.Lock()
	n := 0
	for n < len(j.chunks) && j.chunks[n].at < cutoff {
		n++
	}
	if n == 0 {
		j.mu.Unlock()
		return
	}
	from := j.base
	j.dropFront(n)
	to := j.base
	j.notify()
	j.mu.Unlock()
	a.log.DeleteRange(chunkKey(a.name, from), chunkKey(a.name, to))
	a.log.Then(a.svc.logFailure(a.name))
}

// armAge schedules the next age trim: when the oldest chunk expires.
func (a *topicActor) armAge() {
	a.stopAge()
	j := a.j
	j.mu.Lock()
	empty := len(j.chunks) == 0
	var oldest int64
	if !empty {
		oldest = j.chunks[0].at
	}
	j.mu.Unlock()
	if empty {
		return
	}
	wait := time.Until(time.Unix(0, oldest).Add(a.svc.opts.MaxAge)) + time.Second
	self, root := a.self, a.svc.sys.Root
	a.age = time.AfterFunc(max(wait, time.Second), func() { root.Send(self, &ageTick{}) })
}

func (a *topicActor) stopAge() {
	if a.age != nil {
		a.age.Stop()
		a.age = nil
	}
}

// delete ends the topic: its readers' streams end, waiting producers are
// let go, and its records leave the store.
func (a *topicActor) delete() {
	j := a.j
	j.mu.Lock()
	j.ended = ErrDeleted
	j.notify()
	j.mu.Unlock()
	a.failParked(ErrDeleted)
	a.stopAge()
	a.contentType = ""
	a.svc.forget(a.name)
	a.log.Delete(metaKey(a.name))
	a.log.DeleteRange(chunksOf(a.name), store.PrefixEnd(chunksOf(a.name)))
	a.log.DeleteRange(acksOf(a.name), store.PrefixEnd(acksOf(a.name)))
	a.log.Then(a.svc.logFailure(a.name))
}
