package queue

// bySeq is a min-heap of the ready messages of one priority by sequence:
// appending a new message costs O(1) (it is the largest), and a message
// returned for redelivery slots back ahead of the newer ones in O(log n).
type bySeq []*entry

func (h bySeq) Len() int { return len(h) }
func (h bySeq) Less(i, j int) bool {
	if h[i].order != h[j].order {
		return h[i].order < h[j].order
	}
	return h[i].seq < h[j].seq
}
func (h bySeq) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *bySeq) Push(x any)   { *h = append(*h, x.(*entry)) }
func (h *bySeq) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// byDeadline is a min-heap of the in-flight messages by ack deadline (then
// sequence, so equal deadlines expire in publish order). Each entry knows
// its index, so an ack removes it in O(log n).
type byDeadline []*entry

func (h byDeadline) Len() int { return len(h) }
func (h byDeadline) Less(i, j int) bool {
	if !h[i].deadline.Equal(h[j].deadline) {
		return h[i].deadline.Before(h[j].deadline)
	}
	return h[i].seq < h[j].seq
}
func (h byDeadline) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *byDeadline) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *byDeadline) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
