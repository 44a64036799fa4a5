package main

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oklog/run"

	"github.com/troupe-run/troupe/actors/reactive"
	admindoor "github.com/troupe-run/troupe/gateway/admin"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// dashboardRows is the most actors of one kind whose figures are read each
// sample (the first by name): reading one is a message to its actor, and
// the page draws no more rows than this anyway. The tree lists every actor.
const dashboardRows = 500

// sessionDoors names the front door of a session supervisor
// ("gateway/ssp") where its metrics call it otherwise.
var sessionDoors = map[string]string{"ssp": "views"}

// dashboard reads the running domains for the admin door.
type dashboard struct {
	d *domains
	// reactive are the Skip services, set once their doors are open.
	mu       sync.Mutex
	reactive []*reactive.Service
}

// listenAdmin opens the operator's dashboard door, unless --admin-addr is off.
func (d *domains) listenAdmin(g *run.Group, servers *sync.WaitGroup) error {
	sys, c := d.sys, d.sys.Config
	if d.socks.admin == nil {
		return nil
	}
	door := admindoor.New(admindoor.Config{
		APIKeys:      c.APIKeys,
		Insecure:     c.Insecure,
		Chaos:        c.Chaos,
		Version:      system.Version,
		Interval:     time.Second,
		History:      c.AdminHistory,
		SSEBuffer:    c.AdminSSEBuffer,
		SSEClients:   c.AdminSSEClients,
		WriteTimeout: c.RequestTimeout,
	}, d.dash, sys.Log.With("door", "admin"))
	serveHTTP(g, servers, "admin", d.socks.admin, door, door.Close, limits(c), sys.Log)
	return nil
}

func (b *dashboard) setReactive(svcs []*reactive.Service) {
	b.mu.Lock()
	b.reactive = svcs
	b.mu.Unlock()
}

func (b *dashboard) Crash(actor string) error { return b.d.sys.Crash(actor) }

func (b *dashboard) Sample(ctx context.Context) admindoor.Sample {
	sys := b.d.sys
	s := admindoor.Sample{Tree: sys.Tree(), Doors: sys.Metrics.DoorLatencies(), Sessions: map[string]int{}}
	children := map[string][]system.ActorNode{}
	for _, dom := range s.Tree.Domains {
		children[dom.Name] = dom.Children
		if door, ok := strings.CutPrefix(dom.Name, "gateway/"); ok {
			if alias, ok := sessionDoors[door]; ok {
				door = alias
			}
			s.Sessions[door] = len(dom.Children)
		}
	}
	each := func(domain string, read func(name string)) {
		kids := children[domain]
		for _, c := range kids[:min(len(kids), dashboardRows)] {
			if ctx.Err() != nil {
				return
			}
			read(c.Name)
		}
	}
	each("queues", func(name string) {
		f, err := b.d.queues.Figures(name)
		if err != nil {
			return // stopped since the tree was read
		}
		s.Queues = append(s.Queues, admindoor.Queue{Name: name, Ready: f.Ready, InFlight: f.InFlight, DLQ: f.DLQ,
			Consumers: f.Consumers, Published: f.Published, Consumed: f.Consumed})
	})
	each("rooms", func(name string) {
		r, err := b.d.rooms.Do(ctx, &messages.RoomRequest{Op: messages.RoomOp_ROOM_STATS, Room: name})
		if err != nil || r.Stats == nil {
			return
		}
		s.Rooms = append(s.Rooms, admindoor.Room{Name: name, FirstOffset: r.Stats.OldestOffset, LastOffset: r.Stats.NewestOffset,
			Events: r.Stats.EventCount, Subscribers: r.Stats.Subscribers})
	})
	if views, err := b.d.views.Figures(dashboardRows); err == nil {
		for _, v := range views {
			s.Views = append(s.Views, admindoor.View{ID: v.ID, Rows: v.Rows, Subscribers: v.Subscribers, Hash: v.Hash})
		}
	}
	now := time.Now()
	insts := b.d.insts.List()
	for _, in := range insts[:min(len(insts), dashboardRows)] {
		var up float64
		if in.StartedMs > 0 {
			end := now
			if in.EndedMs > 0 {
				end = time.UnixMilli(in.EndedMs)
			}
			up = end.Sub(time.UnixMilli(in.StartedMs)).Seconds()
		}
		s.Instances = append(s.Instances, admindoor.Instance{ID: in.Id, Sequence: in.SequenceId, Status: in.Status,
			Healthy: in.Healthy, Uptime: up})
	}
	b.mu.Lock()
	svcs := b.reactive
	b.mu.Unlock()
	for _, svc := range svcs {
		for _, r := range svc.Figures() {
			s.Reactive = append(s.Reactive, admindoor.Resource{Service: svc.Name(), Resource: r.Resource,
				Instances: r.Instances, Streams: r.Streams})
		}
	}
	s.Store = admindoor.Store{Durable: sys.Store.Durable(), Size: dirSize(sys.Path("store")), Commits: sys.Metrics.CommitLatencies(), Syncs: sys.Metrics.Syncs()}
	return s
}

// dirSize is the bytes of the files under dir (0 for "", memory only).
func dirSize(dir string) int64 {
	if dir == "" {
		return 0
	}
	var n int64
	filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed meanwhile (a compaction) is not an error
		}
		if e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
