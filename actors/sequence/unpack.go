package sequence

import (
	"archive/tar"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Default limits, used for the fields of Limits left at zero.
const (
	DefaultMaxBytes     = 1 << 30 // 1 GiB unpacked
	DefaultMaxFiles     = 50_000  // node_modules of a mid-sized program
	DefaultMaxFileBytes = 256 << 20
)

// maxNameBytes is PATH_MAX: a longer name cannot be a file of a package,
// and a name is unpacked as that many nested folders at most.
const maxNameBytes = 4096

// Limits bound what a package may unpack to. A zero field takes its default.
type Limits struct {
	MaxBytes     int64 // total size of the files
	MaxFiles     int   // files, folders and links, counting folders made implicitly
	MaxFileBytes int64 // size of one file
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	return l
}

// Unpack reads a gzipped tar archive from r into dir and reads its
// package.json. dir must not exist; its parent must. On any error dir is
// removed again. A package refused for what it holds yields a *PackageError;
// other errors (reading r, writing the disk) are the hub's or the network's.
//
// What is refused: entries whose path is absolute or has a ".." component;
// hard links; device files and fifos; any entry whose path goes through a
// symbolic link of the archive or a file; an entry given twice (a folder may
// repeat). A symbolic link is unpacked only when, once the archive is
// unpacked, it resolves to something inside dir, so node_modules/.bin links
// work and nothing can point out of the package.
func Unpack(r io.Reader, dir string, lim Limits) (*Package, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := unpack(r, dir, lim.withDefaults())
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

func unpack(r io.Reader, dir string, lim Limits) (*Package, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	zr, err := gzip.NewReader(r)
	if err != nil {
		if isFormatError(err) {
			return nil, refuse(ErrNotGzip, "", err.Error())
		}
		return nil, fmt.Errorf("reading sequence package: %w", err)
	}
	u := unpacker{root: root, lim: lim, kinds: map[string]kind{".": folder}}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		// A non-local name comes with ErrInsecurePath under some GODEBUG
		// settings; entry refuses it with a better message.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return nil, archiveError(err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return nil, err
		}
	}
	if err := u.checkLinks(); err != nil {
		return nil, err
	}
	return load(root)
}

// kind is what a path of the package was unpacked as.
type kind uint8

const (
	folder kind = iota + 1
	file
	link
)

// unpacker remembers every path it made, so that it can refuse writing
// through a link or a file before touching the disk.
type unpacker struct {
	root  *os.Root
	lim   Limits
	kinds map[string]kind
	links []string
	bytes int64
}

func (u *unpacker) entry(hdr *tar.Header, tr *tar.Reader) error {
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // PAX records for later entries; nothing to unpack
	case tar.TypeDir:
		if k, ok := u.kinds[name]; ok {
			if k != folder {
				return refuse(ErrDuplicate, hdr.Name, "")
			}
			return nil
		}
		if err := u.makeParents(hdr.Name, name); err != nil {
			return err
		}
		if err := u.add(hdr.Name, name, folder); err != nil {
			return err
		}
		return u.root.Mkdir(name, 0o755)
	case tar.TypeReg:
		return u.writeFile(hdr, name, tr)
	case tar.TypeSymlink:
		target := hdr.Linkname
		if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, 0) {
			return refuse(ErrLink, hdr.Name, "symbolic link target must be a relative path")
		}
		if err := u.makeParents(hdr.Name, name); err != nil {
			return err
		}
		if err := u.add(hdr.Name, name, link); err != nil {
			return err
		}
		u.links = append(u.links, name)
		return u.root.Symlink(target, name)
	case tar.TypeLink:
		return refuse(ErrLink, hdr.Name, "hard links are not supported")
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return refuse(ErrSpecialFile, hdr.Name, "")
	default:
		return refuse(ErrBadArchive, hdr.Name, fmt.Sprintf("unsupported entry type %q", hdr.Typeflag))
	}
}

// entryName checks an archive path and returns it cleaned of "./" and
// trailing slashes, "." for the root itself.
func entryName(raw string) (string, error) {
	if len(raw) > maxNameBytes {
		return "", refuse(ErrBadArchive, raw[:64]+"...", "name longer than 4096 bytes")
	}
	if raw == "" || strings.HasPrefix(raw, "/") || strings.ContainsRune(raw, 0) {
		return "", refuse(ErrUnsafePath, raw, "")
	}
	var parts []string
	for _, p := range strings.Split(raw, "/") {
		switch p {
		case "..":
			return "", refuse(ErrUnsafePath, raw, "")
		case "", ".":
			continue
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}

// makeParents makes the folders above name that the archive did not list,
// after checking that none of them is a link or a file.
func (u *unpacker) makeParents(raw, name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		parent := name[:i]
		switch u.kinds[parent] {
		case folder:
			continue
		case link:
			return refuse(ErrLink, raw, "path goes through the symbolic link "+parent)
		case file:
			return refuse(ErrDuplicate, raw, parent+" is a file")
		}
		if err := u.add(raw, parent, folder); err != nil {
			return err
		}
		if err := u.root.Mkdir(parent, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// add records a new path, counting it against MaxFiles.
func (u *unpacker) add(raw, name string, k kind) error {
	if _, ok := u.kinds[name]; ok {
		return refuse(ErrDuplicate, raw, "")
	}
	// The root "." is in kinds but is not an entry.
	if len(u.kinds) > u.lim.MaxFiles {
		return refuse(ErrTooManyFiles, "", fmt.Sprintf("more than %d", u.lim.MaxFiles))
	}
	u.kinds[name] = k
	return nil
}

func (u *unpacker) writeFile(hdr *tar.Header, name string, tr *tar.Reader) error {
	if hdr.Size > u.lim.MaxFileBytes {
		return refuse(ErrFileTooLarge, hdr.Name, fmt.Sprintf("%d bytes, more than %d", hdr.Size, u.lim.MaxFileBytes))
	}
	if u.bytes += hdr.Size; u.bytes > u.lim.MaxBytes {
		return refuse(ErrTooLarge, "", fmt.Sprintf("more than %d bytes", u.lim.MaxBytes))
	}
	if err := u.makeParents(hdr.Name, name); err != nil {
		return err
	}
	if err := u.add(hdr.Name, name, file); err != nil {
		return err
	}
	// Only the execute bits are kept: a package cannot make setuid or
	// world-writable files.
	perm := os.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, archiveReader{tr})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var ae archiveReadError
	if errors.As(err, &ae) {
		return archiveError(ae.err)
	}
	return err
}

// checkLinks refuses links that, now that every entry is in place, resolve
// to nothing or to a place outside the package. os.Root resolves them the
// way the kernel will when the sequence runs, and refuses to leave dir.
func (u *unpacker) checkLinks() error {
	for _, name := range u.links {
		if _, err := u.root.Stat(name); err != nil {
			return refuse(ErrLink, name, "symbolic link points outside the package or to nothing")
		}
	}
	return nil
}

// archiveReader tells errors reading the archive from errors writing files.
type archiveReader struct{ r io.Reader }

type archiveReadError struct{ err error }

func (e archiveReadError) Error() string { return e.err.Error() }

func (a archiveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		err = archiveReadError{err}
	}
	return n, err
}

// archiveError turns a decoding error into a refusal and passes other
// errors (the request body failing) through.
func archiveError(err error) error {
	if isFormatError(err) {
		return refuse(ErrBadArchive, "", err.Error())
	}
	return fmt.Errorf("reading sequence package: %w", err)
}

func isFormatError(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, tar.ErrHeader) || errors.Is(err, tar.ErrFieldTooLong) ||
		errors.As(err, &corrupt)
}
