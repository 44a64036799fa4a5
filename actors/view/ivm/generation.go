package ivm

// SetGeneration sets the view's generation: a view rebuilt after a restart
// resumes the generation it had, so that its hash is the same.
func (v *View) SetGeneration(gen uint64) { v.gen = gen }
