package queue

import (
	"github.com/asynkron/protoactor-go/actor"
)

// Figures are what the operator's dashboard shows of one queue.
type Figures struct {
	// Ready counts the messages waiting, by priority (index 0 to 9).
	Ready     [MaxPriority + 1]int `json:"ready"`
	InFlight  int                  `json:"in_flight"`
	DLQ       int                  `json:"dlq"`
	Consumers int                  `json:"consumers"`
	Published uint64               `json:"published_total"`
	Consumed  uint64               `json:"consumed_total"`
}

// Figures reads a queue's figures from its actor, if the actor is live
// (a queue nobody used since the start has none, and is not woken for it).
func (s *Service) Figures(name string) (Figures, error) {
	v, err := s.sys.Inspect("queues/"+name, func(a actor.Actor) any {
		q, ok := a.(*queueActor)
		if !ok || q.state == nil {
			return Figures{}
		}
		st := q.state
		f := Figures{InFlight: len(st.inFlight), DLQ: len(st.dead), Consumers: len(st.consumers) + len(q.waiters),
			Published: st.published, Consumed: st.consumed}
		for p := range st.ready {
			f.Ready[p] = len(st.ready[p])
		}
		return f
	})
	if err != nil {
		return Figures{}, err
	}
	return v.(Figures), nil
}
