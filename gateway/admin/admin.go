// Package admin is the operator's door: GET /dashboard, a page showing the
// live supervisor tree and per-kind figures with charts of the last
// minutes, and the JSON (GET /admin/api/tree) and server-sent events (GET
// /admin/api/events) it is drawn from. With --chaos, POST /admin/api/chaos
// crashes an actor so the operator can watch its supervisor restart it.
package admin

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/access"
	"github.com/troupe-run/troupe/gateway/internal/recovery"
	"github.com/troupe-run/troupe/system"
)

//go:embed assets
var assets embed.FS

// Config is how the door behaves.
type Config struct {
	APIKeys  []string
	Insecure bool
	// Chaos enables POST /admin/api/chaos (and the page's crash buttons).
	Chaos   bool
	Version string
	// Interval is the time between two samples (one chart point each).
	Interval time.Duration
	// History is how far back the charts reach.
	History time.Duration
	// SSEBuffer is the frames queued per event-stream client; one that
	// falls further behind gets a resync frame instead.
	SSEBuffer int
	// SSEClients is the event-stream clients served at once.
	SSEClients int
	// WriteTimeout is the deadline of each write to an event-stream client.
	WriteTimeout time.Duration
}

// Source reads the running server.
type Source interface {
	// Sample reads the tree and every kind's figures.
	Sample(ctx context.Context) Sample
	// Crash injects a panic into the named actor now (--chaos only).
	Crash(actor string) error
}

// Door serves the dashboard. It samples its Source every Interval from
// New until Close.
type Door struct {
	cfg     Config
	src     Source
	log     *slog.Logger
	gate    access.Gate
	started time.Time
	static  http.Handler

	mu       sync.Mutex
	state    State // the last sample's, without Series
	prev     Sample
	prevAt   time.Time
	hist     *history
	viewSeen map[string]viewSeen
	clients  map[*client]struct{}

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type viewSeen struct {
	hash string
	at   *time.Time
}

// New starts the door's sampler; Close stops it.
func New(cfg Config, src Source, log *slog.Logger) *Door {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	d := &Door{
		cfg:      cfg,
		src:      src,
		log:      log,
		gate:     access.NewGate(cfg.APIKeys, cfg.Insecure),
		started:  time.Now(),
		static:   http.StripPrefix("/dashboard/assets/", http.FileServerFS(sub)),
		hist:     newHistory(int(cfg.History / cfg.Interval)),
		viewSeen: map[string]viewSeen{},
		clients:  map[*client]struct{}{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	d.sample()
	go d.run()
	return d
}

// Close stops the sampler and ends every event stream.
func (d *Door) Close() {
	d.closeOnce.Do(func() {
		close(d.stop)
		<-d.done
	})
}

func (d *Door) run() {
	defer close(d.done)
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.sample()
		}
	}
}

// sample reads the source, turns its totals into rates, records a chart
// point and sends the frame to every event-stream client.
func (d *Door) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), max(d.cfg.Interval, time.Second))
	s := d.src.Sample(ctx)
	cancel()
	now := time.Now()

	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.build(s, now)
	d.hist.add(st.Point)
	d.prev, d.prevAt, d.state = s, now, st
	if len(d.clients) == 0 {
		return // nobody watches: the frame (600 KB with 10,000 queues) is not worth making
	}
	frame, err := json.Marshal(st)
	if err != nil {
		d.log.Error("dashboard frame", "err", err)
		return
	}
	for c := range d.clients {
		c.offer(frame)
	}
}

// build makes the State of a sample; d.mu is held.
func (d *Door) build(s Sample, now time.Time) State {
	dt := now.Sub(d.prevAt)
	if d.prevAt.IsZero() {
		dt = 0
	}
	st := State{
		At: now, Uptime: now.Sub(d.started).Seconds(), Version: d.cfg.Version, Chaos: d.cfg.Chaos,
		History: d.cfg.History.Seconds(), Tree: s.Tree, Rooms: s.Rooms, Instances: s.Instances, Reactive: s.Reactive,
		Store: s.Store,
		// Queues and views get figures of their own: copies, so that the
		// source's sample (kept as the previous one) stays as read.
		Queues: slices.Clone(s.Queues), Views: slices.Clone(s.Views),
	}
	p := Point{T: now.Unix()}

	prevQ := map[string]Queue{}
	for _, q := range d.prev.Queues {
		prevQ[q.Name] = q
	}
	for i := range st.Queues {
		q := &st.Queues[i]
		q.Depth = 0
		for _, n := range q.Ready {
			q.Depth += n
		}
		if old, ok := prevQ[q.Name]; ok {
			q.PublishRate = rate(q.Published, old.Published, dt)
			q.ConsumeRate = rate(q.Consumed, old.Consumed, dt)
		}
		p.QueueDepth += float64(q.Depth)
		p.PublishRate += q.PublishRate
		p.ConsumeRate += q.ConsumeRate
	}

	seen := make(map[string]viewSeen, len(st.Views))
	for i := range st.Views {
		v := &st.Views[i]
		old, ok := d.viewSeen[v.ID]
		switch {
		case ok && old.hash == v.Hash:
			v.LastDelta = old.at
		case ok || !d.prevAt.IsZero():
			at := now
			v.LastDelta = &at
		}
		seen[v.ID] = viewSeen{v.Hash, v.LastDelta}
		p.ViewSubscribers += float64(v.Subscribers)
	}
	d.viewSeen = seen
	for _, r := range st.Rooms {
		p.RoomSubscribers += float64(r.Subscribers)
	}

	if d.prevAt.IsZero() {
		st.Store.CommitRate = 0
	} else {
		c := s.Store.Commits.Since(d.prev.Store.Commits)
		st.Store.CommitRate = rate(s.Store.Commits.Count, d.prev.Store.Commits.Count, dt)
		st.Store.SyncRate = rate(s.Store.Syncs, d.prev.Store.Syncs, dt)
		st.Store.CommitP99, st.Store.CommitMean = ms(c.Quantile(0.99)), ms(c.Mean())
	}
	p.CommitRate, p.SyncRate, p.CommitP99, p.StoreBytes = st.Store.CommitRate, st.Store.SyncRate, st.Store.CommitP99, float64(st.Store.Size)

	st.Doors = d.doors(s, dt)
	var all system.Latencies
	for door, l := range s.Doors {
		if old, ok := d.prev.Doors[door]; ok && dt > 0 {
			c := l.Since(old)
			all.Count += c.Count
			for i := range c.Buckets {
				all.Buckets[i] += c.Buckets[i]
			}
		}
	}
	if dt > 0 {
		p.RequestRate = float64(all.Count) / dt.Seconds()
	}
	p.P99 = ms(all.Quantile(0.99))
	for _, door := range st.Doors {
		p.Sessions += float64(door.Sessions)
	}
	for _, dom := range st.Tree.Domains {
		p.Restarts += float64(dom.Stats.Restarts)
		p.Mailbox += float64(dom.Stats.Mailbox)
		for _, c := range dom.Children {
			p.Restarts += float64(c.Stats.Restarts)
			p.Mailbox += float64(c.Stats.Mailbox)
		}
	}
	st.Point = p
	return st
}

// doors lists each front door that answered a request or holds sessions.
func (d *Door) doors(s Sample, dt time.Duration) []FrontDoor {
	byName := map[string]*FrontDoor{}
	get := func(name string) *FrontDoor {
		if byName[name] == nil {
			byName[name] = &FrontDoor{Door: name}
		}
		return byName[name]
	}
	for name, l := range s.Doors {
		door := get(name)
		if old, ok := d.prev.Doors[name]; ok && dt > 0 {
			c := l.Since(old)
			door.RequestRate = float64(c.Count) / dt.Seconds()
			door.P99 = ms(c.Quantile(0.99))
		}
	}
	for name, n := range s.Sessions {
		get(name).Sessions = n
	}
	out := make([]FrontDoor, 0, len(byName))
	for _, door := range byName {
		out = append(out, *door)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Door < out[j].Door })
	return out
}

// resync is the full state: the last sample with every chart point kept.
func (d *Door) resync() ([]byte, error) {
	d.mu.Lock()
	st := d.state
	st.Series = d.hist.series()
	d.mu.Unlock()
	return json.Marshal(st)
}

func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer recovery.Recover(d.log, "dashboard", r, func() {
		writeError(w, http.StatusInternalServerError, "internal error")
	})
	path := r.URL.Path
	if strings.HasPrefix(path, "/dashboard/assets/") {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		d.static.ServeHTTP(w, r)
		return
	}
	method := http.MethodGet
	switch path {
	case "/", "/dashboard", "/admin/api/tree", "/admin/api/events":
	case "/admin/api/chaos":
		method = http.MethodPost
	default:
		writeError(w, http.StatusNotFound, "no such page: "+path)
		return
	}
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		writeError(w, http.StatusMethodNotAllowed, "use "+method)
		return
	}
	switch _, v := d.gate.Check(r, "key"); v {
	case access.NoKey:
		writeError(w, http.StatusUnauthorized, "an API key is required (X-API-Key, a bearer token, or ?key=)")
		return
	case access.WrongKey:
		writeError(w, http.StatusUnauthorized, "the API key matches none")
		return
	case access.Protected:
		writeError(w, http.StatusForbidden, "no API key is configured: the dashboard serves loopback clients only (see --api-keys, --insecure)")
		return
	}
	switch path {
	case "/":
		target := "/dashboard"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusFound)
	case "/dashboard":
		page, _ := assets.ReadFile("assets/dashboard.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	case "/admin/api/tree":
		body, err := d.resync()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	case "/admin/api/events":
		d.serveEvents(w, r)
	case "/admin/api/chaos":
		d.serveChaos(w, r)
	}
}

// serveChaos answers POST /admin/api/chaos {"actor": "queues/tasks"}.
func (d *Door) serveChaos(w http.ResponseWriter, r *http.Request) {
	if !d.cfg.Chaos {
		writeError(w, http.StatusForbidden, "fault injection is off (start with --chaos)")
		return
	}
	var req struct {
		Actor string `json:"actor"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, "the body must be at most 4 KiB")
		return
	case json.Unmarshal(body, &req) != nil:
		writeError(w, http.StatusBadRequest, `the body must be {"actor": "queues/tasks"}`)
		return
	case req.Actor == "":
		writeError(w, http.StatusBadRequest, "actor is required")
		return
	}
	if err := d.src.Crash(req.Actor); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, system.ErrNoActor) {
			status = http.StatusNotFound
		}
		writeError(w, status, err.Error())
		return
	}
	d.log.Warn("dashboard: fault injected", "actor", req.Actor, "fault", "panic")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"actor": req.Actor, "fault": "panic"})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
