package instance

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/messages"
)

// monitorBuffer is how many health reports a GET /monitoring reader may
// lag behind before it is dropped (its stream ends): one a second.
const monitorBuffer = 64

// monitors are the readers of an instance's health reports.
type monitors struct {
	readers []chan []byte
}

// offer hands a report line to every reader; a full one is dropped, so the
// actor never waits.
func (m *monitors) offer(line []byte) {
	m.readers = slices.DeleteFunc(m.readers, func(c chan []byte) bool {
		select {
		case c <- line:
			return false
		default:
			close(c)
			return true
		}
	})
}

func (m *monitors) remove(c chan []byte) {
	if i := slices.Index(m.readers, c); i >= 0 {
		m.readers = slices.Delete(m.readers, i, i+1)
		close(c)
	}
}

func (m *monitors) end() {
	for _, c := range m.readers {
		close(c)
	}
	m.readers = nil
}

// Local messages of the monitoring routes.
type (
	watchMonitoring struct{ reply chan *MonitorStream }
	stopMonitoring  struct{ c chan []byte }
)

// MonitorStream is the health reports of an instance as JSON lines
// ([3001, {"healthy": ...}]), from now on. C closes when the instance ends
// or the reader fell behind. It must be closed.
type MonitorStream struct {
	C       <-chan []byte
	release func()
}

// Close ends the stream.
func (m *MonitorStream) Close() { m.release() }

// Monitoring streams an instance's health reports (GET /monitoring).
func (s *Service) Monitoring(ctx context.Context, id string) (*MonitorStream, error) {
	reply := make(chan *MonitorStream, 1)
	return local(ctx, s, id, &watchMonitoring{reply: reply}, reply)
}

func (a *instanceActor) watchMonitoring() *MonitorStream {
	c := make(chan []byte, monitorBuffer)
	self, root := a.self, a.svc.sys.Root
	st := &MonitorStream{C: c, release: func() { root.Send(self, &stopMonitoring{c}) }}
	if a.s.isEnded() {
		close(c)
		return st
	}
	a.s.mon.readers = append(a.s.mon.readers, c)
	return st
}

func (a *instanceActor) setRate(rate float64) *Error {
	s := a.s
	if s.isEnded() || s.proc == nil {
		return errorf(messages.CodeNotRunning, "Instance not running")
	}
	if err := s.proc.Send(process.CodeMonitoringRate, process.MonitoringRate{MonitoringRate: rate}); err != nil {
		return errorf(messages.CodeUnavailable, "the runner does not take messages: %v", err)
	}
	return nil
}

func monitoringLine(m process.Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return append(b, '\n')
}
