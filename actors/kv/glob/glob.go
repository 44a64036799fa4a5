// Package glob matches keys against Redis-style glob patterns (`*`, `?`,
// `[a-z]`, `[^a]`, `\\` escapes), for kv.keys and for watching keys: one
// matcher, so that a pattern selects the same keys in both.
package glob

// Match reports whether s matches the Redis-style glob pattern p. A
// malformed class matches its '[' literally, as Redis does.
func Match(p, s string) bool {
	// Iterative with one backtrack point for the last '*': linear in
	// practice, and no recursion for a hostile pattern to exploit.
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				pi++
				si++
				continue
			case '[':
				if ok, next, valid := matchClass(p, pi, s[si]); valid {
					if ok {
						pi, si = next, si+1
						continue
					}
				} else if s[si] == '[' {
					pi++
					si++
					continue
				}
			case '\\':
				if pi+1 < len(p) && p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			default:
				if p[pi] == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchClass matches b against the class starting at p[i] == '['. It
// returns whether b is in it, the index after the class, and whether the
// class is closed at all.
func matchClass(p string, i int, b byte) (ok bool, next int, valid bool) {
	j := i + 1
	neg := j < len(p) && p[j] == '^'
	if neg {
		j++
	}
	first := true
	for j < len(p) && (p[j] != ']' || first) {
		first = false
		lo := p[j]
		if lo == '\\' && j+1 < len(p) {
			j++
			lo = p[j]
		}
		hi := lo
		if j+2 < len(p) && p[j+1] == '-' && p[j+2] != ']' {
			hi = p[j+2]
			j += 2
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		if b >= lo && b <= hi {
			ok = true
		}
		j++
	}
	if j >= len(p) {
		return false, 0, false
	}
	return ok != neg, j + 1, true
}
