// Package topic is the hub's topics: named streams between producers (HTTP
// clients, instances' output) and consumers (HTTP clients, instances'
// input). One actor per topic, "topics/<name>", owns its content type,
// its consumers and its line of producers.
//
// Delivery: every consumer gets every chunk published from the moment it
// joined. Each consumer has a buffer bounded in bytes; a consumer that
// lets it fill is dropped (its stream ends with ErrTooSlow and the drop is
// logged and counted), so the producer never waits on a slow consumer.
// While a topic has no consumer at all, what is published waits in a
// backlog of the same size for the first one, and past that the producer
// waits: data sent to a topic before its reader came is not lost.
package topic

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// Error codes of topic replies, beside messages.CodeNotFound,
// messages.CodeInvalid and messages.CodeLimit.
const (
	CodeContentType = "UNSUPPORTED_MEDIA_TYPE" // the topic exists with another content type
	CodeExists      = "TOPIC_EXISTS"           // POST /topics of a topic that exists
)

// ContentTypes are the content types a topic may have.
var ContentTypes = []string{"text/x-ndjson", "application/x-ndjson", "text/plain", "application/octet-stream"}

// DefaultContentType is a topic's type when its first user names none.
const DefaultContentType = "application/x-ndjson"

// validName is the original hub's rule for topic names.
var validName = regexp.MustCompile(`^[A-Za-z0-9_+-]{1,200}$`)

// Error is a refused topic command.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string     { return e.Message }
func (e *Error) ErrorCode() string { return e.Code }

// Options bound the topics.
type Options struct {
	ConsumerBuffer int // bytes buffered per consumer (and for a topic's first consumer)
	MaxTopics      int // topics that may exist; 0: no limit
}

// DefaultConsumerBuffer is Options.ConsumerBuffer when zero.
const DefaultConsumerBuffer = 1 << 20

// Service is the topics domain.
type Service struct {
	sys  *system.System
	opts Options

	mu    sync.Mutex
	types map[string]string // topic -> content type, for every topic that exists
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
	s := &Service{sys: sys, opts: opts, types: map[string]string{}}
	err := sys.Registry.Domain("topics", func(name string) actor.Producer {
		return func() actor.Actor { return &topicActor{svc: s, name: name} }
	})
	return s, err
}

func actorName(topic string) string { return "topics/" + topic }

// ValidName reports whether name may name a topic.
func ValidName(name string) bool { return validName.MatchString(name) }

// ValidContentType reports whether a topic may carry ct.
func ValidContentType(ct string) bool { return slices.Contains(ContentTypes, ct) }

func check(name, ct string) error {
	if !validName.MatchString(name) {
		return &Error{messages.CodeInvalid, "Topic id incorrect format"}
	}
	if ct != "" && !ValidContentType(ct) {
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

func (s *Service) forgetType(name string) {
	s.mu.Lock()
	delete(s.types, name)
	s.mu.Unlock()
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
	timeout := s.sys.Config.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	res, err := s.sys.Request(pid, msg, timeout)
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
// type is fine, unless exclusive; one of another type is CodeContentType.
func (s *Service) Create(ctx context.Context, name, ct string, exclusive bool) (*messages.TopicReply, error) {
	if ct == "" {
		ct = DefaultContentType
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

// Delete removes a topic: its consumers' streams end with ErrDeleted and
// its producers are let go.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := check(name, ""); err != nil {
		return err
	}
	if s.typeOf(name) == "" {
		return &Error{messages.CodeNotFound, fmt.Sprintf("Topic %s not found", name)}
	}
	if _, _, err := s.ask(ctx, name, &messages.TopicDelete{}); err != nil {
		return err
	}
	if err := s.sys.Registry.Forget(actorName(name)); err != nil {
		s.sys.Log.Warn("stopping a deleted topic's actor", "topic", name, "err", err)
	}
	return nil
}

// Produce joins the topic's line of producers, creating the topic with
// content type ct on first use; a topic that exists with another type is
// CodeContentType. With ct empty (an instance whose output names a topic
// but no type), the topic's type is taken, or DefaultContentType. The
// producer must Wait for its turn before it publishes, and be closed.
func (s *Service) Produce(ctx context.Context, name, ct string) (*Producer, error) {
	pid, _, err := s.ensure(ctx, name, ct, ct != "")
	if err != nil {
		return nil, err
	}
	p := newProducer(s, name, pid)
	s.sys.Root.Send(pid, &openProducer{p})
	return p, nil
}

// Consume joins the topic as a consumer, creating the topic with content
// type ct (DefaultContentType when empty) on first use. A consumer of an
// existing topic is not held to ct: it gets the topic's type.
func (s *Service) Consume(ctx context.Context, name, ct string) (*Consumer, string, error) {
	pid, r, err := s.ensure(ctx, name, ct, false)
	if err != nil {
		return nil, "", err
	}
	c := newConsumer(s, name, s.opts.ConsumerBuffer)
	s.sys.Root.Send(pid, &subscribe{c})
	return c, r.ContentType, nil
}

// ensure creates the topic unless it exists. strict holds a topic that
// exists to ct.
func (s *Service) ensure(ctx context.Context, name, ct string, strict bool) (*actor.PID, *messages.TopicReply, error) {
	if ct == "" {
		ct = DefaultContentType
	}
	if err := check(name, ct); err != nil {
		return nil, nil, err
	}
	if existing := s.typeOf(name); existing != "" && !strict {
		ct = existing
	}
	return s.ask(ctx, name, &messages.TopicCreate{ContentType: ct})
}
