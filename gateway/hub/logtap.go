package hub

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// LogTap makes the hub's log a stream for GET /log: a slog.Handler made by
// Wrap passes every record on and also hands it, as a text line, to each
// subscriber. A subscriber's buffer is bounded (lines); one that lets it
// fill is dropped (its channel closes) rather than slowing the log down.
// The tap also keeps the last buffer lines (--hub-log-buffer), which a new
// subscriber gets first: `si hub logs` shows what happened before it came.
type LogTap struct {
	buffer int

	mu      sync.Mutex
	subs    map[chan []byte]struct{}
	backlog [][]byte // a ring of the last lines; next is where the next goes
	next    int
}

// NewLogTap returns a tap whose subscribers may lag buffer lines behind.
func NewLogTap(buffer int) *LogTap {
	if buffer <= 0 {
		buffer = 1024
	}
	return &LogTap{buffer: buffer, subs: map[chan []byte]struct{}{}}
}

// Subscribe returns the lines logged from now on, and the function that
// ends the subscription.
func (t *LogTap) Subscribe() (<-chan []byte, func()) {
	t.mu.Lock()
	c := make(chan []byte, t.buffer+len(t.backlog))
	for i := range t.backlog {
		c <- t.backlog[(t.next+i)%len(t.backlog)]
	}
	t.subs[c] = struct{}{}
	t.mu.Unlock()
	return c, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if _, ok := t.subs[c]; ok {
			delete(t.subs, c)
			close(c)
		}
	}
}

func (t *LogTap) publish(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.backlog) < t.buffer {
		t.backlog = append(t.backlog, line)
	} else {
		t.backlog[t.next] = line
		t.next = (t.next + 1) % len(t.backlog)
	}
	for c := range t.subs {
		select {
		case c <- line:
		default:
			delete(t.subs, c)
			close(c)
		}
	}
}

// Wrap returns a handler that logs through next and feeds the tap.
func (t *LogTap) Wrap(next slog.Handler) slog.Handler { return &tapHandler{tap: t, next: next} }

type tapHandler struct {
	tap    *LogTap
	next   slog.Handler
	attrs  string // preformatted " k=v" of WithAttrs
	groups string // "a.b." of WithGroup
}

func (h *tapHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *tapHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteByte(' ')
	b.WriteString(strings.ToLower(r.Level.String()))
	b.WriteByte(' ')
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.groups, a)
		return true
	})
	b.WriteByte('\n')
	h.tap.publish([]byte(b.String()))
	return h.next.Handle(ctx, r)
}

func (h *tapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range attrs {
		writeAttr(&b, h.groups, a)
	}
	return &tapHandler{tap: h.tap, next: h.next.WithAttrs(attrs), attrs: h.attrs + b.String(), groups: h.groups}
}

func (h *tapHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &tapHandler{tap: h.tap, next: h.next.WithGroup(name), attrs: h.attrs, groups: h.groups + name + "."}
}

func writeAttr(b *strings.Builder, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			writeAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	fmt.Fprintf(b, " %s%s=%q", prefix, a.Key, v.String())
}
