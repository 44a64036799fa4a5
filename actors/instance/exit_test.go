package instance

import "testing"

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		code   int
		status string
		reason string
	}{
		{0, StatusCompleted, "Instance completed"},
		{137, StatusCompleted, "Instance killed"},
		{138, StatusCompleted, "Instance stopped"},
		{20, StatusErrored, "Runner started with a bad environment"},
		{21, StatusErrored, "Sequence entrypoint path ./index is invalid. Check `main` field in Sequence package.json"},
		{22, StatusErrored, "Sequence failed on start"},
		{23, StatusErrored, "Sequence failed while running"},
		{1, StatusErrored, "Runner failed with exit code 1"},
	}
	for _, tt := range tests {
		if o := outcomeOf(tt.code, "./index"); o.Status != tt.status || o.Reason != tt.reason {
			t.Errorf("outcomeOf(%d) = %+v", tt.code, o)
		}
	}
}
