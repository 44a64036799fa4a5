// Package queue holds the state machine of a message queue: priorities,
// delivery with acknowledgement deadlines, retries and a dead-letter queue
// (DLQ), journaled so that no published message is lost across a restart.
//
// Ordering: priority 9 is consumed first and 0 last; within a priority,
// messages go in publish order. A message that comes back for redelivery
// (ack deadline passed, restart, requeue from the DLQ) regains its original
// place, ahead of the messages published after it. A message nacked with
// requeue goes behind the messages of its priority waiting at that moment,
// as in the original server, so that a message its consumer cannot handle
// does not block the ones behind it; a restart gives it back its original
// place (the journal keeps publish order only).
//
// Retries: RetryCount counts failed deliveries (nacks and passed deadlines).
// A failure that brings it above MaxRetries makes the message dead: it
// moves to the DLQ, or is dropped when the queue has no DLQ. A nack without
// requeue makes the message dead at once.
//
// Durability: messages, the DLQ and the counters are journaled; which
// message is in flight is not. After a restart every message that was
// published and not acked is ready again, in its original place, with the
// RetryCount it had: a restart does not count as a failed delivery, and a
// consumer's ack for a delivery from before the restart fails with
// ErrNotInFlight.
//
// A State is a plain value owned by one actor; it is not safe for concurrent
// use. Every method that depends on time takes the current time.
package queue

import (
	"container/heap"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Journal receives what must be durable. The actor hands the writes of one
// command to the store before replying. Keys and values passed to it are
// never reused by the State.
type Journal interface {
	Set(key, value []byte)
	Delete(key []byte)
}

// Priorities run from MinPriority to MaxPriority; higher goes first.
const (
	MinPriority     = 0
	MaxPriority     = 9
	DefaultPriority = 5
)

// Config is a queue's configuration. The zero value is not useful: start
// from DefaultConfig.
type Config struct {
	// MaxDepth bounds the messages held, ready or in flight: Publish fails
	// with ErrQueueFull beyond it. It bounds the DLQ too, which drops its
	// oldest message to make room.
	MaxDepth int
	// AckDeadline is how long a consumed message may stay unacknowledged
	// when Consume does not say.
	AckDeadline time.Duration
	// MaxRetries is how many failed deliveries a message survives.
	MaxRetries int
	// DeadLetter keeps dead messages in the DLQ; without it they are dropped.
	DeadLetter bool
}

// DefaultConfig returns the configuration of a queue created implicitly.
func DefaultConfig() Config {
	return Config{MaxDepth: 100_000, AckDeadline: 30 * time.Second, MaxRetries: 3, DeadLetter: true}
}

// Validate reports what is wrong with c, or nil.
func (c Config) Validate() error {
	switch {
	case c.MaxDepth <= 0:
		return errors.New("max_depth must be at least 1")
	case c.AckDeadline <= 0:
		return errors.New("ack_deadline must be positive")
	case c.MaxRetries < 0:
		return errors.New("max_retries must not be negative")
	}
	return nil
}

// Errors returned by the State; they are wrapped with details, so test them
// with errors.Is.
var (
	ErrQueueFull   = errors.New("queue is full")
	ErrPriority    = fmt.Errorf("priority must be from %d to %d", MinPriority, MaxPriority)
	ErrNotFound    = errors.New("message not found")
	ErrNotInFlight = errors.New("message is not in flight")
)

// Message is a message as consumers and DLQ readers see it. Payload and
// Headers are shared with the queue and must not be modified.
type Message struct {
	ID          string
	Payload     []byte // opaque (JSON in practice)
	Priority    int
	Headers     map[string]string // nil when none
	RetryCount  int
	PublishedAt time.Time
}

// Action says what a nack did with a message.
type Action string

const (
	Requeued     Action = "requeued"      // ready again, for redelivery
	DeadLettered Action = "dead_lettered" // moved to the DLQ
	Discarded    Action = "discarded"     // dead, and the queue has no DLQ
)

// State is one queue.
type State struct {
	prefix  []byte
	cfg     Config
	journal Journal

	entries   map[uint64]*entry      // every held message, by sequence
	ready     [MaxPriority + 1]bySeq // ready messages, by priority
	readyLen  int                    // messages in ready
	inFlight  byDeadline             // consumed, not yet acked
	consumers map[string]int         // in-flight messages per consumer
	dead      []*entry               // the DLQ, in the order messages died
	nextDead  uint64                 // DLQ key of the next dead message (*)

	// Journaled counters. published also numbers the next message.
	published, consumed, acked, nacked uint64

	// (*) nextDead is not journaled: it only orders the DLQ, so resuming
	// after the last dead key found by Restore is enough.
}

// entry is a held message and where it is.
type entry struct {
	seq         uint64
	order       uint64 // place among the ready messages of its priority: seq, or later after a nack
	priority    uint8
	retries     int
	publishedAt time.Time
	headers     map[string]string
	payload     []byte

	where    place
	consumer string    // while in flight
	deadline time.Time // while in flight
	index    int       // in the inFlight heap, while in flight
	deadSeq  uint64    // DLQ journal key, while dead
}

type place uint8

const (
	ready place = iota
	inFlight
	dead
)

func (p place) String() string {
	return [...]string{"ready", "in flight", "dead-lettered"}[p]
}

// New returns an empty queue that journals under prefix. cfg must be valid
// (see Config.Validate). Call Restore with every journaled key under prefix,
// in key order, before any other method.
func New(prefix []byte, cfg Config, j Journal) *State {
	return &State{
		prefix:    prefix,
		cfg:       cfg,
		journal:   j,
		entries:   make(map[uint64]*entry),
		consumers: make(map[string]int),
	}
}

// messageID names a message by its sequence number: unique within the queue,
// never reused (the sequence is journaled), and sortable in publish order.
func messageID(seq uint64) string { return fmt.Sprintf("msg_%016x", seq) }

func parseID(id string) (uint64, bool) {
	hex, ok := strings.CutPrefix(id, "msg_")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	return seq, err == nil
}

func (e *entry) message() Message {
	return Message{
		ID:          messageID(e.seq),
		Payload:     e.payload,
		Priority:    int(e.priority),
		Headers:     e.headers,
		RetryCount:  e.retries,
		PublishedAt: e.publishedAt,
	}
}

// held counts the messages that MaxDepth bounds.
func (s *State) held() int { return s.readyLen + len(s.inFlight) }

// Publish adds a message and returns its ID and its position: its 1-based
// place in consume order among the ready messages at that moment. The queue
// keeps payload and headers; the caller must not modify them afterwards.
func (s *State) Publish(now time.Time, payload []byte, priority int, headers map[string]string) (id string, position int, err error) {
	if priority < MinPriority || priority > MaxPriority {
		return "", 0, fmt.Errorf("%w, not %d", ErrPriority, priority)
	}
	if n := s.held(); n >= s.cfg.MaxDepth {
		return "", 0, fmt.Errorf("%w: %d messages held (max_depth %d)", ErrQueueFull, n, s.cfg.MaxDepth)
	}
	if len(headers) == 0 {
		headers = nil
	}
	e := &entry{seq: s.published, order: s.published, priority: uint8(priority), publishedAt: now, headers: headers, payload: payload}
	s.published++
	s.entries[e.seq] = e
	s.makeReady(e)
	s.saveMessage(e)
	s.saveCounters()

	// The newest message is last of its priority, behind every higher one.
	for p := priority; p <= MaxPriority; p++ {
		position += len(s.ready[p])
	}
	return messageID(e.seq), position, nil
}

func (s *State) makeReady(e *entry) {
	e.where = ready
	heap.Push(&s.ready[e.priority], e)
	s.readyLen++
}

// Consume takes the next ready message for consumer and puts it in flight
// until now+ackDeadline (the configured deadline if ackDeadline <= 0). It
// returns false when no message is ready.
func (s *State) Consume(now time.Time, consumer string, ackDeadline time.Duration) (Message, bool) {
	for p := MaxPriority; p >= MinPriority; p-- {
		if len(s.ready[p]) == 0 {
			continue
		}
		e := heap.Pop(&s.ready[p]).(*entry)
		s.readyLen--
		if ackDeadline <= 0 {
			ackDeadline = s.cfg.AckDeadline
		}
		e.where, e.consumer, e.deadline = inFlight, consumer, now.Add(ackDeadline)
		heap.Push(&s.inFlight, e)
		s.consumers[consumer]++
		s.consumed++
		s.saveCounters()
		return e.message(), true
	}
	return Message{}, false
}

// Ack settles an in-flight message: it is gone for good.
func (s *State) Ack(id string) error {
	e, err := s.inFlightEntry(id)
	if err != nil {
		return err
	}
	s.land(e)
	delete(s.entries, e.seq)
	s.journal.Delete(s.messageKey(e.seq))
	s.acked++
	s.saveCounters()
	return nil
}

// Nack reports a failed delivery of an in-flight message. With requeue it
// is ready again unless it has used up its retries; without, it is dead.
func (s *State) Nack(id string, requeue bool) (Action, error) {
	e, err := s.inFlightEntry(id)
	if err != nil {
		return "", err
	}
	s.land(e)
	s.nacked++
	e.order = s.published // behind every message published so far
	a := s.fail(e, requeue)
	s.saveCounters()
	return a, nil
}

func (s *State) inFlightEntry(id string) (*entry, error) {
	seq, ok := parseID(id)
	e := s.entries[seq]
	if !ok || e == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if e.where != inFlight {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotInFlight, id, e.where)
	}
	return e, nil
}

// land takes e out of flight.
func (s *State) land(e *entry) {
	heap.Remove(&s.inFlight, e.index)
	if s.consumers[e.consumer]--; s.consumers[e.consumer] == 0 {
		delete(s.consumers, e.consumer)
	}
	e.consumer = ""
}

// fail counts a failed delivery of e, which is out of flight, and sends it
// back to the ready queue or to its death.
func (s *State) fail(e *entry, requeue bool) Action {
	e.retries++
	if requeue && e.retries <= s.cfg.MaxRetries {
		s.makeReady(e)
		s.saveMessage(e)
		return Requeued
	}
	return s.bury(e)
}

// Expired says what Tick did with the messages whose deadline had passed.
type Expired struct {
	Requeued, DeadLettered, Discarded int
}

// Tick handles every in-flight message whose ack deadline is not after now
// as a nack with requeue (without counting it as a nack).
func (s *State) Tick(now time.Time) Expired {
	var x Expired
	for len(s.inFlight) > 0 && !s.inFlight[0].deadline.After(now) {
		e := s.inFlight[0]
		s.land(e)
		switch s.fail(e, true) {
		case Requeued:
			x.Requeued++
		case DeadLettered:
			x.DeadLettered++
		case Discarded:
			x.Discarded++
		}
	}
	return x
}

// NextDeadline returns the earliest ack deadline, so the actor can schedule
// Tick; false when nothing is in flight.
func (s *State) NextDeadline() (time.Time, bool) {
	if len(s.inFlight) == 0 {
		return time.Time{}, false
	}
	return s.inFlight[0].deadline, true
}

// Purge drops every ready message and returns how many. In-flight messages
// stay, so their consumers can still ack them, and so does the DLQ.
func (s *State) Purge() int {
	n := s.readyLen
	for p := range s.ready {
		for _, e := range s.ready[p] {
			delete(s.entries, e.seq)
			s.journal.Delete(s.messageKey(e.seq))
		}
		s.ready[p] = nil
	}
	s.readyLen = 0
	return n
}

// Stats are a queue's gauges and counters.
type Stats struct {
	Depth                int // ready messages
	InFlight             int
	DeadLettered         int // messages in the DLQ
	Consumers            int // distinct consumers with messages in flight
	PublishedTotal       uint64
	ConsumedTotal        uint64 // deliveries, redeliveries included
	AckedTotal           uint64
	NackedTotal          uint64
	OldestMessageAgeSecs int64 // of the oldest ready message; 0 when none
}

// Stats returns the queue's statistics at now.
func (s *State) Stats(now time.Time) Stats {
	st := Stats{
		Depth:          s.readyLen,
		InFlight:       len(s.inFlight),
		DeadLettered:   len(s.dead),
		Consumers:      len(s.consumers),
		PublishedTotal: s.published,
		ConsumedTotal:  s.consumed,
		AckedTotal:     s.acked,
		NackedTotal:    s.nacked,
	}
	// The oldest ready message is the lowest sequence at the head of a priority.
	var oldest *entry
	for _, h := range s.ready {
		if len(h) > 0 && (oldest == nil || h[0].seq < oldest.seq) {
			oldest = h[0]
		}
	}
	if oldest != nil {
		st.OldestMessageAgeSecs = max(0, int64(now.Sub(oldest.publishedAt)/time.Second))
	}
	return st
}

// InFlightOf returns how many messages consumer holds in flight.
func (s *State) InFlightOf(consumer string) int { return s.consumers[consumer] }
