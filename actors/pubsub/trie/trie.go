package trie

import (
	"slices"
	"strings"
)

// Trie maps subscription patterns to the keys subscribed with them (session
// ids, for instance) and finds every key whose pattern matches a topic.
//
// Matching walks one path per literal level plus one per '*' level, so its
// cost grows with the number of levels and wildcards, not with the number of
// patterns. The zero value is an empty trie. A Trie is not safe for
// concurrent use: it is meant to be owned by one actor.
type Trie[K comparable] struct {
	root     node[K]
	patterns int // patterns with at least one key
	subs     int // (pattern, key) pairs
}

type node[K comparable] struct {
	children map[string]*node[K] // literal next levels
	star     *node[K]            // the '*' next level
	exact    set[K]              // keys whose pattern ends at this node
	rest     set[K]              // keys whose pattern is this node's path then "#"
}

type set[K comparable] map[K]struct{}

// Subscribe adds k to the keys of pattern. It reports whether k was added,
// false meaning it was already there, and fails only on an invalid pattern.
func (t *Trie[K]) Subscribe(pattern string, k K) (bool, error) {
	if err := ValidatePattern(pattern); err != nil {
		return false, err
	}
	s := t.root.setFor(pattern)
	if _, ok := (*s)[k]; ok {
		return false, nil
	}
	if *s == nil {
		*s = make(set[K])
	}
	if len(*s) == 0 {
		t.patterns++
	}
	(*s)[k] = struct{}{}
	t.subs++
	return true, nil
}

// setFor returns the key set of a valid pattern, creating the nodes on its path.
func (n *node[K]) setFor(pattern string) *set[K] {
	for {
		level, rest, more := strings.Cut(pattern, sep)
		if level == hashWild {
			return &n.rest
		}
		n = n.child(level)
		if !more {
			return &n.exact
		}
		pattern = rest
	}
}

func (n *node[K]) child(level string) *node[K] {
	if level == starWild {
		if n.star == nil {
			n.star = new(node[K])
		}
		return n.star
	}
	c := n.children[level]
	if c == nil {
		if n.children == nil {
			n.children = make(map[string]*node[K])
		}
		c = new(node[K])
		n.children[level] = c
	}
	return c
}

// Unsubscribe removes k from the keys of pattern and reports whether it was
// there. Nodes left without keys or children are freed.
func (t *Trie[K]) Unsubscribe(pattern string, k K) bool {
	if ValidatePattern(pattern) != nil {
		return false
	}
	removed, last := t.root.remove(pattern, k)
	if removed {
		t.subs--
		if last {
			t.patterns--
		}
	}
	return removed
}

// remove deletes k from the set of pattern below n. It reports whether k was
// there and whether it was the set's last key.
func (n *node[K]) remove(pattern string, k K) (removed, last bool) {
	level, rest, more := strings.Cut(pattern, sep)
	if level == hashWild {
		return n.rest.take(k)
	}
	c := n.children[level]
	if level == starWild {
		c = n.star
	}
	if c == nil {
		return false, false
	}
	if more {
		removed, last = c.remove(rest, k)
	} else {
		removed, last = c.exact.take(k)
	}
	if c.empty() {
		if level == starWild {
			n.star = nil
		} else {
			delete(n.children, level)
		}
	}
	return removed, last
}

func (s set[K]) take(k K) (removed, last bool) {
	if _, ok := s[k]; !ok {
		return false, false
	}
	delete(s, k)
	return true, len(s) == 0
}

func (n *node[K]) empty() bool {
	return len(n.children) == 0 && n.star == nil && len(n.exact) == 0 && len(n.rest) == 0
}

// Match returns every key subscribed with a pattern that matches topic, each
// once however many of its patterns match, in no particular order. The
// topic must be valid (see ValidateTopic).
func (t *Trie[K]) Match(topic string) []K {
	var buf [8]set[K]
	sets := t.root.collect(topic, false, buf[:0])
	switch len(sets) {
	case 0:
		return nil
	case 1:
		// One pattern matched: its keys are distinct already.
		out := make([]K, 0, len(sets[0]))
		for k := range sets[0] {
			out = append(out, k)
		}
		return out
	}
	total := 0
	for _, s := range sets {
		total += len(s)
	}
	seen := make(set[K], total)
	out := make([]K, 0, total)
	for _, s := range sets {
		for k := range s {
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				out = append(out, k)
			}
		}
	}
	return out
}

// collect appends to sets the non-empty key sets below n that match topic;
// done means every level of the topic has been consumed on the way to n.
func (n *node[K]) collect(topic string, done bool, sets []set[K]) []set[K] {
	if len(n.rest) > 0 {
		sets = append(sets, n.rest)
	}
	if done {
		if len(n.exact) > 0 {
			sets = append(sets, n.exact)
		}
		return sets
	}
	level, rest, more := strings.Cut(topic, sep)
	if c := n.children[level]; c != nil {
		sets = c.collect(rest, !more, sets)
	}
	if n.star != nil {
		sets = n.star.collect(rest, !more, sets)
	}
	return sets
}

// Patterns returns, sorted, the patterns that have at least one key.
func (t *Trie[K]) Patterns() []string {
	out := t.root.patterns("", make([]string, 0, t.patterns))
	slices.Sort(out)
	return out
}

func (n *node[K]) patterns(path string, out []string) []string {
	join := func(level string) string {
		if path == "" {
			return level
		}
		return path + sep + level
	}
	if len(n.exact) > 0 {
		out = append(out, path)
	}
	if len(n.rest) > 0 {
		out = append(out, join(hashWild))
	}
	for level, c := range n.children {
		out = c.patterns(join(level), out)
	}
	if n.star != nil {
		out = n.star.patterns(join(starWild), out)
	}
	return out
}

// Count returns the number of keys subscribed with pattern.
func (t *Trie[K]) Count(pattern string) int {
	if ValidatePattern(pattern) != nil {
		return 0
	}
	n := &t.root
	for {
		level, rest, more := strings.Cut(pattern, sep)
		if level == hashWild {
			return len(n.rest)
		}
		if level == starWild {
			n = n.star
		} else {
			n = n.children[level]
		}
		if n == nil {
			return 0
		}
		if !more {
			return len(n.exact)
		}
		pattern = rest
	}
}

// Len returns the number of patterns that have at least one key.
func (t *Trie[K]) Len() int { return t.patterns }

// Subscriptions returns the number of (pattern, key) pairs.
func (t *Trie[K]) Subscriptions() int { return t.subs }
