package view

import (
	"github.com/asynkron/protoactor-go/actor"
)

// Figures are what the operator's dashboard shows of one view.
type Figures struct {
	Rows        int `json:"rows"`
	Subscribers int `json:"subscribers"`
	// Seq numbers the last delta the view's subscribers were sent.
	Seq uint64 `json:"seq"`
}

// Figures reads a view's figures from its actor; ok is false for the
// engine, the domain's one child that is no view.
func (s *Service) Figures(id string) (f Figures, ok bool, err error) {
	if id == engineName {
		return Figures{}, false, nil
	}
	v, err := s.sys.Inspect("views/"+id, func(a actor.Actor) any {
		va, ok := a.(*viewActor)
		if !ok {
			return nil
		}
		return Figures{Rows: len(va.cell.records), Subscribers: len(va.cell.subs), Seq: va.cell.seq}
	})
	if err != nil || v == nil {
		return Figures{}, false, err
	}
	return v.(Figures), true, nil
}
