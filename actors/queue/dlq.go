package queue

import "slices"

// bury makes e, which is neither ready nor in flight, dead: into the DLQ if
// the queue has one, else gone.
func (s *State) bury(e *entry) Action {
	s.journal.Delete(s.messageKey(e.seq))
	if !s.cfg.DeadLetter {
		delete(s.entries, e.seq)
		return Discarded
	}
	if len(s.dead) >= s.cfg.MaxDepth {
		oldest := s.dead[0]
		s.dead[0] = nil
		s.dead = s.dead[1:]
		delete(s.entries, oldest.seq)
		s.journal.Delete(s.deadKey(oldest.deadSeq))
	}
	e.where, e.deadSeq = dead, s.nextDead
	s.nextDead++
	s.dead = append(s.dead, e)
	s.journal.Set(s.deadKey(e.deadSeq), encodeEntry(e))
	return DeadLettered
}

// DLQList returns up to limit dead messages from offset on (limit <= 0
// means all), in the order they died.
func (s *State) DLQList(offset, limit int) []Message {
	offset = max(offset, 0)
	if offset >= len(s.dead) {
		return nil
	}
	end := len(s.dead)
	if limit > 0 {
		end = min(end, offset+limit)
	}
	out := make([]Message, 0, end-offset)
	for _, e := range s.dead[offset:end] {
		out = append(out, e.message())
	}
	return out
}

// DLQRequeue moves the dead messages with the given IDs back to the ready
// queue, in their original place and with RetryCount reset to 0, and
// returns how many it moved. IDs not in the DLQ are ignored, and it stops
// moving messages when the queue is full.
func (s *State) DLQRequeue(ids []string) int {
	n := 0
	for _, id := range ids {
		seq, ok := parseID(id)
		if !ok {
			continue
		}
		if e := s.entries[seq]; e != nil && e.where == dead && s.held() < s.cfg.MaxDepth {
			s.revive(e)
			n++
		}
	}
	if n > 0 {
		s.dead = slices.DeleteFunc(s.dead, func(e *entry) bool { return e.where != dead })
	}
	return n
}

// DLQRequeueAll is DLQRequeue of the whole DLQ, oldest first.
func (s *State) DLQRequeueAll() int {
	n := 0
	for _, e := range s.dead {
		if s.held() >= s.cfg.MaxDepth {
			break
		}
		s.revive(e)
		n++
	}
	s.dead = slices.Delete(s.dead, 0, n)
	return n
}

func (s *State) revive(e *entry) {
	s.journal.Delete(s.deadKey(e.deadSeq))
	e.retries = 0
	e.order = e.seq // back in its original place
	s.makeReady(e)
	s.saveMessage(e)
}

// DLQPurge drops every dead message and returns how many.
func (s *State) DLQPurge() int {
	n := len(s.dead)
	for _, e := range s.dead {
		delete(s.entries, e.seq)
		s.journal.Delete(s.deadKey(e.deadSeq))
	}
	s.dead = nil
	return n
}
