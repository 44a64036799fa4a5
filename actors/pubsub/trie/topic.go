// Package trie matches dot-separated pub/sub topics against subscription
// patterns with wildcards.
//
// A topic is one or more non-empty levels separated by '.', such as
// "notifications.email.user". A pattern is a topic in which a whole level may
// be a wildcard: '*' matches exactly one level and '#' matches zero or more
// levels and may only be the last level. So "system.#" matches "system" and
// "system.disk.full", while "alerts.*" matches "alerts.a" but not "alerts" or
// "alerts.a.b".
package trie

import (
	"fmt"
	"strings"
)

const (
	sep      = "."
	starWild = "*" // exactly one level
	hashWild = "#" // zero or more levels, last only
)

// ValidateTopic reports why s cannot be published to, or nil if it can.
func ValidateTopic(s string) error {
	if s == "" {
		return fmt.Errorf("topic is empty")
	}
	for i, level := range strings.Split(s, sep) {
		if level == "" {
			return fmt.Errorf("topic %q: level %d is empty", s, i+1)
		}
		if strings.ContainsAny(level, starWild+hashWild) {
			return fmt.Errorf("topic %q: level %d (%q) contains a wildcard; wildcards are only allowed in subscription patterns", s, i+1, level)
		}
	}
	return nil
}

// ValidatePattern reports why s is not a valid subscription pattern, or nil.
func ValidatePattern(s string) error {
	if s == "" {
		return fmt.Errorf("pattern is empty")
	}
	levels := strings.Split(s, sep)
	for i, level := range levels {
		switch {
		case level == "":
			return fmt.Errorf("pattern %q: level %d is empty", s, i+1)
		case level == hashWild && i != len(levels)-1:
			return fmt.Errorf("pattern %q: '#' must be the last level", s)
		case level != starWild && level != hashWild && strings.ContainsAny(level, starWild+hashWild):
			return fmt.Errorf("pattern %q: level %d (%q) mixes a wildcard with other characters; a wildcard must be a whole level", s, i+1, level)
		}
	}
	return nil
}

// Matches reports whether a valid pattern matches a valid topic. It is the
// one-pair form of Trie.Match, for filtering a list of topics, and does not
// allocate.
func Matches(pattern, topic string) bool {
	for {
		p, prest, pmore := strings.Cut(pattern, sep)
		if p == hashWild {
			return true
		}
		t, trest, tmore := strings.Cut(topic, sep)
		if p != starWild && p != t {
			return false
		}
		if !tmore {
			// The topic is used up: only a trailing "#" (zero levels) may remain.
			return !pmore || prest == hashWild
		}
		if !pmore {
			return false
		}
		pattern, topic = prest, trest
	}
}
