package sequence

import (
	"errors"
	"fmt"

	"github.com/troupe-run/troupe/messages"
)

// Why a package is refused. A *PackageError wraps one of these, so callers
// test the cause with errors.Is and the front door answers with a 4xx.
var (
	ErrNotGzip      = errors.New("not a gzip stream")
	ErrBadArchive   = errors.New("damaged or unsupported tar archive")
	ErrUnsafePath   = errors.New("entry path is absolute or leaves the package")
	ErrLink         = errors.New("link is not allowed")
	ErrSpecialFile  = errors.New("device, fifo or other special file")
	ErrDuplicate    = errors.New("entry appears twice")
	ErrTooLarge     = errors.New("package too large when unpacked")
	ErrTooManyFiles = errors.New("package has too many entries")
	ErrFileTooLarge = errors.New("file too large")
	ErrNoManifest   = errors.New("no package.json at the root of the package")
	ErrBadManifest  = errors.New("package.json is invalid")
	ErrBadMain      = errors.New("main is missing or does not name a file in the package")
)

// A PackageError says why a package was refused: the fault lies with the
// package, not with the hub, and the message is meant for its author.
type PackageError struct {
	Entry  string // the archive entry or manifest field at fault, if any
	Err    error  // one of the Err values above
	Detail string // what exactly was wrong, if more can be said
}

func (e *PackageError) Error() string {
	msg := "sequence package refused: " + e.Err.Error()
	if e.Entry != "" {
		msg += fmt.Sprintf(" (%s)", e.Entry)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *PackageError) Unwrap() error { return e.Err }

// ErrorCode says, as every refusal of the hub's domains does, what kind of
// refusal this is.
func (e *PackageError) ErrorCode() string { return messages.CodePackageRefused }

func refuse(err error, entry, detail string) error {
	return &PackageError{Entry: entry, Err: err, Detail: detail}
}
