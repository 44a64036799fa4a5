// Package topic is the hub's topics: named streams between producers (HTTP
// clients, instances' output) and consumers (HTTP clients, instances'
// input). One actor per topic, "topics/<name>", owns its content type and
// its journal.
//
// Topics lose nothing: each is a journal of chunks in the store, with
// offsets that never go back, bounded by bytes (Options.Retention) and age
// (Options.MaxAge). Every consumer reads every chunk in order from where
// it started: an offset it names, the position its consumer id last
// acknowledged, or the first chunk no consumer has been given (so what is
// published before anyone reads waits for the first reader). Producers
// publish at once, in whole chunks (whole lines for ndjson and text). When
// the journal is full of chunks a live consumer has not read, producers
// wait: a slow consumer slows the producers rather than losing data. Only
// age drops chunks unread. Topics, their chunks and consumers' positions
// survive a restart.
package topic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// validName is the original hub's rule for topic names.
var validName = regexp.MustCompile(`^[A-Za-z0-9_+-]{1,200}$`)

// Error is a refused topic command; its codes are messages.Code*.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string     { return e.Message }
func (e *Error) ErrorCode() string { return e.Code }

// Options bound the topics.
type Options struct {
	ConsumerBuffer int           // the longest partial line a producer holds before publishing it as it is
	MaxTopics      int           // topics that may exist; 0: no limit
	Retention      int64         // bytes a topic's journal keeps
	MaxAge         time.Duration // chunks older than this leave the journal, read or not
	// ConsumerIDs bounds the consumer ids (x-consumer-id) a topic
	// remembers the position of: the ids are the clients' to choose.
	ConsumerIDs int
}

// Defaults of Options fields left zero.
const (
	DefaultConsumerBuffer = 1 << 20
	DefaultRetention      = 16 << 20
	DefaultMaxAge         = 24 * time.Hour
	DefaultConsumerIDs    = 1024
)

// Service is the topics domain.
type Service struct {
	sys  *system.System
	opts Options

	mu       sync.Mutex
	types    map[string]string   // topic -> content type, for every topic that exists
	journals map[string]*journal // topic -> its journal, once an actor read it
}

// Summary is one topic as GET /topics lists it.
type Summary struct {
	Name        string
	ContentType string
}

// Start registers the topics domain.
func Start(sys *system.System, opts Options) (*Service, error) {
	if opts.ConsumerBuffer <= 0 {
		opts.ConsumerBuffer = DefaultConsumerBuffer
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.ConsumerIDs <= 0 {
		opts.ConsumerIDs = DefaultConsumerIDs
	}
	s := &Service{sys: sys, opts: opts, types: map[string]string{}, journals: map[string]*journal{}}
	// The topics that exist, from the store: their journals are read when
	// their actors start.
	err := sys.Store.Scan([]byte(metaPrefix), func(key, value []byte) error {
		if len(value) == 0 || value[0] != version {
			return errCorrupt
		}
		s.types[string(key[len(metaPrefix):])] = string(value[1:])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("topics: reading the stored topics: %w", err)
	}
	err = sys.Registry.Domain("topics", func(name string) actor.Producer {
		return func() actor.Actor { return &topicActor{svc: s, name: name} }
	})
	return s, err
}

// journalOf is a topic's journal: the one in memory, or read from the
// store the first time.
func (s *Service) journalOf(name string) (*journal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.journals[name]; j != nil {
		return j, nil
	}
	j := newJournal()
	if err := j.load(s.sys.Store, name); err != nil {
		return nil, err
	}
	s.journals[name] = j
	return j, nil
}

// forget drops a deleted topic's type and journal; its actor is stopped
// by Delete.
func (s *Service) forget(name string) {
	s.mu.Lock()
	delete(s.types, name)
	delete(s.journals, name)
	s.mu.Unlock()
}

// poke tells a topic's actor that a consumer moved on.
func (s *Service) poke(name string) {
	if pid, ok := s.sys.Registry.Lookup(actorName(name)); ok {
		s.sys.Root.Send(pid, &advanced{})
	}
}

// storeAck has a topic's actor store a consumer's position, and waits
// until it is durable (bounded by the request timeout): a consumer that
// comes back right after its close finds it.
func (s *Service) storeAck(name, id string, next int64) {
	pid, ok := s.sys.Registry.Lookup(actorName(name))
	if !ok {
		return
	}
	done := make(chan error, 1)
	s.sys.Root.Send(pid, &storeAck{id: id, next: next, done: done})
	timer := time.NewTimer(s.sys.Config.RequestTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, ErrDeleted) {
			s.sys.Log.Warn("topic: storing a consumer's position", "topic", name, "consumer", id, "err", err)
		}
	case <-timer.C:
		s.sys.Log.Warn("topic: a consumer's position was not stored in time", "topic", name, "consumer", id)
	}
}

// logFailure is the commit callback of a topic's writes whose producer
// waits for nothing: a failure is logged (the store is failing).
func (s *Service) logFailure(name string) func(error) {
	return func(err error) {
		if err != nil {
			s.sys.Log.Error("topic: writing to the store", "topic", name, "err", err)
		}
	}
}

func actorName(topic string) string { return "topics/" + topic }

// ValidName reports whether name may name a topic.
func ValidName(name string) bool { return validName.MatchString(name) }

// validContentType reports whether a topic may carry ct.
func validContentType(ct string) bool { return slices.Contains(messages.TopicContentTypes, ct) }

func check(name, ct string) error {
	if !validName.MatchString(name) {
		return &Error{messages.CodeInvalid, "Topic id incorrect format"}
	}
	if ct != "" && !validContentType(ct) {
		return &Error{messages.CodeInvalid, "Unsupported content-type"}
	}
	return nil
}

func (s *Service) typeOf(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.types[name]
}

// setType records a new topic; false when the limit is reached.
func (s *Service) setType(name, ct string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.types[name]; !ok && s.opts.MaxTopics > 0 && len(s.types) >= s.opts.MaxTopics {
		return false
	}
	s.types[name] = ct
	return true
}

// List returns the topics, sorted by name.
func (s *Service) List() []Summary {
	s.mu.Lock()
	out := make([]Summary, 0, len(s.types))
	for name, ct := range s.types {
		out = append(out, Summary{name, ct})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Summary) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func (s *Service) ask(ctx context.Context, name string, msg any) (*actor.PID, *messages.TopicReply, error) {
	pid, err := s.sys.Registry.Get(actorName(name))
	if err != nil {
		return nil, nil, err
	}
	// Every command is answered at once: a client that hangs up frees
	// its wait, and the command, already sent, is carried out.
	res, err := s.sys.Ask(ctx, pid, msg)
	if err != nil {
		return nil, nil, err
	}
	r := res.(*messages.TopicReply)
	if r.ErrorCode != "" {
		return pid, r, &Error{r.ErrorCode, r.ErrorMessage}
	}
	return pid, r, nil
}

// Create makes a topic with a content type. An existing topic of the same
// type is fine, unless exclusive; one of another type is messages.CodeContentType.
func (s *Service) Create(ctx context.Context, name, ct string, exclusive bool) (*messages.TopicReply, error) {
	if ct == "" {
		ct = messages.DefaultTopicContentType
	}
	if err := check(name, ct); err != nil {
		return nil, err
	}
	_, r, err := s.ask(ctx, name, &messages.TopicCreate{ContentType: ct, Exclusive: exclusive})
	return r, err
}

// Info describes a topic.
func (s *Service) Info(ctx context.Context, name string) (*messages.TopicReply, error) {
	if err := check(name, ""); err != nil {
		return nil, err
	}
	if s.typeOf(name) == "" {
		return nil, &Error{messages.CodeNotFound, fmt.Sprintf("Topic %s not found", name)}
	}
	_, r, err := s.ask(ctx, name, &messages.TopicInfoRequest{})
	return r, err
}

// Delete removes a topic and its journal: its consumers' streams end with
// ErrDeleted and its waiting producers are let go.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := check(name, ""); err != nil {
		return err
	}
	if s.typeOf(name) == "" {
		return &Error{messages.CodeNotFound, fmt.Sprintf("Topic %s not found", name)}
	}
	// The answer is awaited even when the client has gone (within
	// --request-timeout): the deleted topic's actor is stopped after it.
	if _, _, err := s.ask(context.WithoutCancel(ctx), name, &messages.TopicDelete{}); err != nil {
		return err
	}
	if err := s.sys.Registry.Forget(actorName(name)); err != nil {
		s.sys.Log.Warn("stopping a deleted topic's actor", "topic", name, "err", err)
	}
	return nil
}

// Produce makes a producer of the topic, creating the topic with content
// type ct on first use; a topic that exists with another type is
// messages.CodeContentType. With ct empty (an instance whose output names a topic
// but no type), the topic's type is taken, or messages.DefaultTopicContentType. The
// producer must be closed.
func (s *Service) Produce(ctx context.Context, name, ct string) (*Producer, error) {
	pid, r, err := s.ensure(ctx, name, ct, ct != "")
	if err != nil {
		return nil, err
	}
	p := newProducer(s, name, r.ContentType, pid)
	s.sys.Root.Send(pid, &openProducer{})
	return p, nil
}

// From says where a consumer starts.
type From struct {
	Offset     int64  // the first offset to read; < 0 for none named
	ConsumerID string // resume where this id last acknowledged (Consumer.Ack)
}

// Consume joins the topic as a consumer at the first chunk no consumer
// has been given, creating the topic with content type ct
// (messages.DefaultTopicContentType when empty) on first use. A consumer of an existing
// topic is not held to ct: it gets the topic's type. It must be closed.
func (s *Service) Consume(ctx context.Context, name, ct string) (*Consumer, string, error) {
	return s.ConsumeFrom(ctx, name, ct, From{Offset: -1})
}

// ConsumeFrom is Consume starting where from says.
func (s *Service) ConsumeFrom(ctx context.Context, name, ct string, from From) (*Consumer, string, error) {
	if from.ConsumerID != "" && !validName.MatchString(from.ConsumerID) {
		return nil, "", &Error{messages.CodeInvalid, "Consumer id incorrect format: want [A-Za-z0-9_+-]{1,200}"}
	}
	pid, r, err := s.ensure(ctx, name, ct, false)
	if err != nil {
		return nil, "", err
	}
	c := &Consumer{svc: s, topic: name, id: from.ConsumerID}
	reply := make(chan error, 1)
	s.sys.Root.Send(pid, &subscribe{c: c, from: from.Offset, reply: reply})
	select {
	case err := <-reply:
		if err != nil {
			return nil, "", err
		}
	case <-ctx.Done():
		// The actor answers soon; a consumer it placed meanwhile must not
		// stay to hold the journal back.
		timeout := s.sys.Config.RequestTimeout
		go func() {
			select {
			case err := <-reply:
				if err == nil {
					c.Close()
				}
			case <-time.After(timeout):
			}
		}()
		return nil, "", ctx.Err()
	}
	return c, r.ContentType, nil
}

// ensure creates the topic unless it exists. strict holds a topic that
// exists to ct.
func (s *Service) ensure(ctx context.Context, name, ct string, strict bool) (*actor.PID, *messages.TopicReply, error) {
	provisional := ct == ""
	if ct == "" {
		ct = messages.DefaultTopicContentType
	}
	if err := check(name, ct); err != nil {
		return nil, nil, err
	}
	if existing := s.typeOf(name); existing != "" && !strict {
		ct = existing
	}
	return s.ask(ctx, name, &messages.TopicCreate{ContentType: ct, Provisional: provisional})
}
