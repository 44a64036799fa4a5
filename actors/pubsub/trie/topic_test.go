package trie

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		topic string
		why   string // substring of the error; "" means valid
	}{
		{"system", ""},
		{"notifications.email.user", ""},
		{"a-b_c.d 1", ""},
		{"", "empty"},
		{".a", "level 1 is empty"},
		{"a.", "level 2 is empty"},
		{"a..b", "level 2 is empty"},
		{"alerts.*", "wildcard"},
		{"system.#", "wildcard"},
		{"a.b*c", "wildcard"},
	}
	for _, tt := range tests {
		checkErr(t, "ValidateTopic", tt.topic, ValidateTopic(tt.topic), tt.why)
	}
}

func TestValidatePattern(t *testing.T) {
	tests := []struct {
		pattern string
		why     string
	}{
		{"system", ""},
		{"alerts.*", ""},
		{"system.#", ""},
		{"#", ""},
		{"*", ""},
		{"*.*.#", ""},
		{"notifications.email.*", ""},
		{"events.user.#", ""},
		{"", "empty"},
		{"a..b", "level 2 is empty"},
		{"a.b.", "level 3 is empty"},
		{"#.a", "'#' must be the last level"},
		{"a.#.b", "'#' must be the last level"},
		{"#.#", "'#' must be the last level"},
		{"a.b*", "whole level"},
		{"a.#b", "whole level"},
		{"**", "whole level"},
	}
	for _, tt := range tests {
		checkErr(t, "ValidatePattern", tt.pattern, ValidatePattern(tt.pattern), tt.why)
	}
}

func checkErr(t *testing.T, fn, in string, err error, why string) {
	t.Helper()
	switch {
	case why == "" && err != nil:
		t.Errorf("%s(%q) = %v, want nil", fn, in, err)
	case why != "" && err == nil:
		t.Errorf("%s(%q) = nil, want an error about %q", fn, in, why)
	case why != "" && !strings.Contains(err.Error(), why):
		t.Errorf("%s(%q) = %q, want it to say %q", fn, in, err, why)
	}
}

// matchCases are the rules of NOTES.md and the spec's examples.
var matchCases = []struct {
	pattern, topic string
	want           bool
}{
	{"system.#", "system", true},
	{"system.#", "system.disk", true},
	{"system.#", "system.disk.full", true},
	{"system.#", "systems", false},
	{"system.#", "other.system", false},
	{"alerts.*", "alerts.a", true},
	{"alerts.*", "alerts.a.b", false},
	{"alerts.*", "alerts", false},
	{"notifications.email.*", "notifications.email.user", true},
	{"events.user.#", "events.user.login", true},
	{"events.user.#", "events.admin.login", false},
	{"#", "a", true},
	{"#", "a.b.c", true},
	{"*", "a", true},
	{"*", "a.b", false},
	{"*.b", "a.b", true},
	{"*.b", "a.c", false},
	{"a.*.c", "a.x.c", true},
	{"a.*.c", "a.c", false},
	{"*.#", "a", true},
	{"*.#", "a.b.c", true},
	{"a.b", "a.b", true},
	{"a.b", "a", false},
	{"a", "a.b", false},
	{"a.*.#", "a", false},
	{"a.*.#", "a.b", true},
}

func TestMatches(t *testing.T) {
	for _, tt := range matchCases {
		if got := Matches(tt.pattern, tt.topic); got != tt.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tt.pattern, tt.topic, got, tt.want)
		}
		if got := oracle(tt.pattern).MatchString(tt.topic); got != tt.want {
			t.Fatalf("the test oracle is wrong on (%q, %q)", tt.pattern, tt.topic)
		}
	}
}

func TestMatchesAgreesWithOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p, topic := randomPattern(r), randomTopic(r)
		if got, want := Matches(p, topic), oracle(p).MatchString(topic); got != want {
			t.Fatalf("Matches(%q, %q) = %v, want %v", p, topic, got, want)
		}
	}
}

// oracle translates a valid pattern into a regular expression: a matcher
// written independently of the code under test.
func oracle(pattern string) *regexp.Regexp {
	re, ok := oracles[pattern]
	if !ok {
		re = regexp.MustCompile(patternRegexp(pattern))
		oracles[pattern] = re
	}
	return re
}

var oracles = map[string]*regexp.Regexp{}

func patternRegexp(pattern string) string {
	const level = `[^.]+`
	levels := strings.Split(pattern, ".")
	tail := ""
	if levels[len(levels)-1] == "#" {
		levels = levels[:len(levels)-1]
		tail = `(\.` + level + `)*`
		if len(levels) == 0 {
			return `^` + level + tail + `$`
		}
	}
	parts := make([]string, len(levels))
	for i, l := range levels {
		parts[i] = regexp.QuoteMeta(l)
		if l == "*" {
			parts[i] = level
		}
	}
	return `^` + strings.Join(parts, `\.`) + tail + `$`
}

// Small alphabets so that random patterns and topics often match.
var (
	topicLevels   = []string{"a", "b", "c"}
	patternLevels = []string{"a", "b", "c", "*", "*"}
)

func randomTopic(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	levels := make([]string, n)
	for i := range levels {
		levels[i] = topicLevels[r.IntN(len(topicLevels))]
	}
	return strings.Join(levels, ".")
}

func randomPattern(r *rand.Rand) string {
	n := r.IntN(4)
	levels := make([]string, n, n+1)
	for i := range levels {
		levels[i] = patternLevels[r.IntN(len(patternLevels))]
	}
	if n == 0 || r.IntN(3) == 0 {
		levels = append(levels, "#")
	}
	return strings.Join(levels, ".")
}
