package system

import (
	"fmt"
	"regexp"
	"slices"
	"sync"

	"github.com/troupe-run/troupe/system/store"
)

var validName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,200}$`)

// CheckName says what is wrong with the name of a queue, room or other
// named actor (kind names it in the message), or nil.
func CheckName(kind, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%s name %q: want 1 to 200 of A-Z a-z 0-9 _ . : -", kind, name)
	}
	return nil
}

// Names is the set of actors of a domain that exist (queues, rooms): a
// service consults it before spawning, so a name that does not exist costs
// no actor. It is loaded from the records that make each one durable.
type Names struct {
	mu    sync.Mutex
	names map[string]bool
}

// LoadNames collects the names of the store's keys under prefix (the name
// is the rest of the key).
func LoadNames(st store.Reader, prefix string) (*Names, error) {
	n := &Names{names: map[string]bool{}}
	err := st.Scan([]byte(prefix), func(key, _ []byte) error {
		n.names[string(key[len(prefix):])] = true
		return nil
	})
	return n, err
}

// Has reports whether name exists, and how many names do.
func (n *Names) Has(name string) (exists bool, count int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.names[name], len(n.names)
}

// Add records that name exists.
func (n *Names) Add(name string) {
	n.mu.Lock()
	n.names[name] = true
	n.mu.Unlock()
}

// Remove records that name is gone.
func (n *Names) Remove(name string) {
	n.mu.Lock()
	delete(n.names, name)
	n.mu.Unlock()
}

// Sorted returns the names in order.
func (n *Names) Sorted() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.names))
	for name := range n.names {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Recheck reads name's record under prefix from the store when the set
// does not hold it, and adds it when it is there. In cluster mode another
// member may have created the queue or room since this one loaded the set.
func (n *Names) Recheck(st store.Reader, prefix, name string) (exists bool, count int, err error) {
	if exists, count = n.Has(name); exists {
		return exists, count, nil
	}
	if _, found, err := st.Get([]byte(prefix + name)); err != nil || !found {
		return false, count, err
	}
	n.Add(name)
	exists, count = n.Has(name)
	return exists, count, nil
}

// Reload replaces the set with the names of the store's keys under prefix.
// In cluster mode the members share the journal, where every member's
// creations and deletions are, while each member's set holds what it
// loaded at start and saw since: a listing reloads it first.
func (n *Names) Reload(st store.Reader, prefix string) error {
	fresh, err := LoadNames(st, prefix)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.names = fresh.names
	n.mu.Unlock()
	return nil
}
