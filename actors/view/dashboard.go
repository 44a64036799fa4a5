package view

import (
	"errors"
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/system"
)

// Figures are what the operator's dashboard shows of one view.
type Figures struct {
	ID          string `json:"id"`
	Rows        int    `json:"rows"`
	Subscribers int    `json:"subscribers"`
	// Hash is the content hash of the view's result: it changes with each
	// delta.
	Hash string `json:"hash"`
}

// Figures lists the registered views, by id, at most limit of them: the
// engine knows each view's result; a view's subscribers are known to its
// actor, which is live only once someone subscribed.
func (s *Service) Figures(limit int) ([]Figures, error) {
	v, err := s.sys.Inspect("views/"+engineName, func(a actor.Actor) any {
		e, ok := a.(*engine)
		if !ok {
			return []Figures(nil)
		}
		ids := make([]string, 0, len(e.views))
		for id := range e.views {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		out := make([]Figures, 0, min(len(ids), limit))
		for _, id := range ids[:min(len(ids), limit)] {
			view := e.views[id].sh.view
			out = append(out, Figures{ID: id, Rows: view.Len(), Hash: view.Hash()})
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	figs := v.([]Figures)
	for i := range figs {
		n, err := s.sys.Inspect("views/"+figs[i].ID, func(a actor.Actor) any {
			if va, ok := a.(*viewActor); ok {
				return len(va.cell.subs)
			}
			return 0
		})
		switch {
		case err == nil:
			figs[i].Subscribers = n.(int)
		case !errors.Is(err, system.ErrNoActor):
			return nil, err
		}
	}
	return figs, nil
}
