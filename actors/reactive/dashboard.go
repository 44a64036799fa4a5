package reactive

// ResourceFigures are what the operator's dashboard shows of one resource
// of a reactive service: its live instances (one per distinct params) and
// the streams reading them.
type ResourceFigures struct {
	Resource  string `json:"resource"`
	Instances int    `json:"instances"`
	Streams   int    `json:"streams"`
}

// Figures lists the service's resources with their instances and streams.
func (s *Service) Figures() []ResourceFigures {
	s.mu.Lock()
	defer s.mu.Unlock()
	byResource := map[string]*ResourceFigures{}
	for r := range s.resources {
		byResource[r] = &ResourceFigures{Resource: r}
	}
	for _, inst := range s.instances {
		f := byResource[inst.resource]
		if f == nil {
			f = &ResourceFigures{Resource: inst.resource}
			byResource[inst.resource] = f
		}
		f.Instances++
		f.Streams += len(inst.uuids)
	}
	out := make([]ResourceFigures, 0, len(byResource))
	for _, f := range byResource {
		out = append(out, *f)
	}
	return out
}
