package admin

import (
	"time"

	"github.com/troupe-run/troupe/system"
)

// Sample is what a Source reads of the running server at one moment. Its
// counters are totals since the start; the door turns them into rates.
type Sample struct {
	Tree      system.Tree
	Queues    []Queue
	Rooms     []Room
	Views     []View
	Instances []Instance
	Reactive  []Resource
	Store     Store
	// Doors are the request latencies of each front door since the start.
	Doors map[string]system.Latencies
	// Sessions are the sessions (WebSocket and SSE clients) of each front door.
	Sessions map[string]int
}

// Queue is one queue's figures.
type Queue struct {
	Name string `json:"name"`
	// Ready counts the messages waiting by priority, 0 to 9.
	Ready     [10]int `json:"ready"`
	Depth     int     `json:"depth"`
	InFlight  int     `json:"in_flight"`
	DLQ       int     `json:"dlq"`
	Consumers int     `json:"consumers"`
	// PublishRate and ConsumeRate are messages a second since the last
	// sample; Published and Consumed are the totals they come from.
	PublishRate float64 `json:"publish_per_s"`
	ConsumeRate float64 `json:"consume_per_s"`
	Published   uint64  `json:"-"`
	Consumed    uint64  `json:"-"`
}

// Room is one event-stream room's figures.
type Room struct {
	Name        string `json:"name"`
	FirstOffset int64  `json:"first_offset"`
	LastOffset  int64  `json:"last_offset"`
	Events      int64  `json:"events"`
	Subscribers int64  `json:"subscribers"`
}

// View is one registered view's figures. LastDelta is when the door first
// saw its current content hash (so within one sample interval of the delta
// that made it; unknown for a view unchanged since the door started).
type View struct {
	ID          string     `json:"id"`
	Rows        int        `json:"rows"`
	Subscribers int        `json:"subscribers"`
	Hash        string     `json:"hash"`
	LastDelta   *time.Time `json:"last_delta,omitempty"`
}

// Instance is one hub instance (a running sequence).
type Instance struct {
	ID       string  `json:"id"`
	Sequence string  `json:"sequence"`
	Status   string  `json:"status"`
	Healthy  bool    `json:"healthy"`
	Uptime   float64 `json:"uptime_s"`
}

// Resource is one resource of a reactive service.
type Resource struct {
	Service   string `json:"service"`
	Resource  string `json:"resource"`
	Instances int    `json:"instances"`
	Streams   int    `json:"streams"`
}

// Store is the durable store's figures.
type Store struct {
	Durable bool  `json:"durable"`
	Size    int64 `json:"size_bytes"`
	// Commits are the latencies of its group writes since the start.
	Commits system.Latencies `json:"-"`
	// Syncs counts the times it made its writes durable since the start.
	Syncs uint64 `json:"-"`
	// Per second and milliseconds, since the last sample.
	CommitRate float64 `json:"commits_per_s"`
	SyncRate   float64 `json:"fsyncs_per_s"`
	CommitP99  float64 `json:"commit_p99_ms"`
	CommitMean float64 `json:"commit_mean_ms"`
}

// FrontDoor is one front door's figures since the last sample.
type FrontDoor struct {
	Door        string  `json:"door"`
	RequestRate float64 `json:"requests_per_s"`
	P99         float64 `json:"p99_ms"`
	Sessions    int     `json:"sessions"`
}

// State is the JSON of GET /admin/api/tree and of each SSE frame.
type State struct {
	At      time.Time `json:"at"`
	Uptime  float64   `json:"uptime_s"`
	Version string    `json:"version"`
	Chaos   bool      `json:"chaos"`
	// History is how far back the charts reach, in seconds.
	History   float64     `json:"history_s"`
	Tree      system.Tree `json:"tree"`
	Queues    []Queue     `json:"queues"`
	Rooms     []Room      `json:"rooms"`
	Views     []View      `json:"views"`
	Instances []Instance  `json:"instances"`
	Reactive  []Resource  `json:"reactive"`
	Store     Store       `json:"store"`
	Doors     []FrontDoor `json:"doors"`
	// Series are the charts' points, oldest first: in the answer to GET
	// /admin/api/tree and in resync frames; an update frame carries only
	// its own Point.
	Series *Series `json:"series,omitempty"`
	Point  Point   `json:"point"`
}

// Point is one sample of the charted figures.
type Point struct {
	T               int64   `json:"t"` // unix seconds
	QueueDepth      float64 `json:"queue_depth"`
	PublishRate     float64 `json:"publish_per_s"`
	ConsumeRate     float64 `json:"consume_per_s"`
	RequestRate     float64 `json:"requests_per_s"`
	P99             float64 `json:"p99_ms"`
	Sessions        float64 `json:"sessions"`
	CommitRate      float64 `json:"commits_per_s"`
	SyncRate        float64 `json:"fsyncs_per_s"`
	CommitP99       float64 `json:"commit_p99_ms"`
	StoreBytes      float64 `json:"store_bytes"`
	Restarts        float64 `json:"restarts"`
	Mailbox         float64 `json:"mailbox"`
	RoomSubscribers float64 `json:"room_subscribers"`
	ViewSubscribers float64 `json:"view_subscribers"`
}

// Series are Points by column, as the charting library takes them.
type Series struct {
	T               []int64   `json:"t"`
	QueueDepth      []float64 `json:"queue_depth"`
	PublishRate     []float64 `json:"publish_per_s"`
	ConsumeRate     []float64 `json:"consume_per_s"`
	RequestRate     []float64 `json:"requests_per_s"`
	P99             []float64 `json:"p99_ms"`
	Sessions        []float64 `json:"sessions"`
	CommitRate      []float64 `json:"commits_per_s"`
	SyncRate        []float64 `json:"fsyncs_per_s"`
	CommitP99       []float64 `json:"commit_p99_ms"`
	StoreBytes      []float64 `json:"store_bytes"`
	Restarts        []float64 `json:"restarts"`
	Mailbox         []float64 `json:"mailbox"`
	RoomSubscribers []float64 `json:"room_subscribers"`
	ViewSubscribers []float64 `json:"view_subscribers"`
}

func (s *Series) add(p Point) {
	s.T = append(s.T, p.T)
	s.QueueDepth = append(s.QueueDepth, p.QueueDepth)
	s.PublishRate = append(s.PublishRate, p.PublishRate)
	s.ConsumeRate = append(s.ConsumeRate, p.ConsumeRate)
	s.RequestRate = append(s.RequestRate, p.RequestRate)
	s.P99 = append(s.P99, p.P99)
	s.Sessions = append(s.Sessions, p.Sessions)
	s.CommitRate = append(s.CommitRate, p.CommitRate)
	s.SyncRate = append(s.SyncRate, p.SyncRate)
	s.CommitP99 = append(s.CommitP99, p.CommitP99)
	s.StoreBytes = append(s.StoreBytes, p.StoreBytes)
	s.Restarts = append(s.Restarts, p.Restarts)
	s.Mailbox = append(s.Mailbox, p.Mailbox)
	s.RoomSubscribers = append(s.RoomSubscribers, p.RoomSubscribers)
	s.ViewSubscribers = append(s.ViewSubscribers, p.ViewSubscribers)
}

// history keeps the last points, at most cap of them.
type history struct {
	points []Point
	next   int
	full   bool
}

func newHistory(n int) *history { return &history{points: make([]Point, max(n, 1))} }

func (h *history) add(p Point) {
	h.points[h.next] = p
	h.next = (h.next + 1) % len(h.points)
	if h.next == 0 {
		h.full = true
	}
}

// series returns the points kept, oldest first.
func (h *history) series() *Series {
	s := &Series{}
	if h.full {
		for _, p := range h.points[h.next:] {
			s.add(p)
		}
	}
	for _, p := range h.points[:h.next] {
		s.add(p)
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rate is a count's increase per second between two samples.
func rate[T int64 | uint64](now, prev T, dt time.Duration) float64 {
	if dt <= 0 || now < prev {
		return 0
	}
	return float64(now-prev) / dt.Seconds()
}
