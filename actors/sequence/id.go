package sequence

import (
	"crypto/rand"
	"fmt"
	"regexp"
)

// NewID returns a random (version 4) UUID, the form of sequence and
// instance ids.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics first)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// validID accepts what can name a stored package's folder and an actor:
// the UUIDs NewID makes, and names a client chose of the same alphabet.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// ValidID reports whether id may name a sequence or an instance.
func ValidID(id string) bool { return validID.MatchString(id) }
