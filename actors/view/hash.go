package view

import (
	"github.com/troupe-run/troupe/actors/view/surql"

	"cmp"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"lukechampine.com/blake3"

	"github.com/troupe-run/troupe/actors/view/ivm"
)

// Table content hashes, as the original SSP and its scheduler compute them
// (ssp-protocol's snapshot_hash::hash_table): the rows of a table sorted
// by raw id (the id after its first ':', the original's raw_id), and for
// each row raw_id 0x00 canonical_json(record) 0x00 fed to blake3; the
// hash is "b3:" and the digest in lowercase hex. The record is the row
// as the engine holds it, its "id" field ("table:raw") included, as the
// scheduler hashes the rows of SELECT * FROM table.
//
// canonical_json is serde_json's output with object keys sorted (byte
// order, recursively): strings escaped as serde_json escapes them (only
// '"', '\\' and control characters, \u00xx in lowercase hex), integers in
// decimal, floats as Rust's ryu formats an f64 ("3.0", "0.001", "1e30",
// "1.5e-7"). The engine keeps integers (int64) and floats (float64)
// apart as serde_json does, so a float that holds a whole number is
// hashed as "3.0" on both sides.

// hashPrefix names the algorithm, as in the original.
const hashPrefix = "b3:"

// rawID is the original's raw_id: the id after its first ':'.
func rawID(id string) string {
	if _, raw, ok := strings.Cut(id, ":"); ok {
		return raw
	}
	return id
}

// appendCanonical appends the canonical JSON of v, a record value.
func appendCanonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case string:
		return appendString(b, v)
	case surql.RecordID: // a link, ingested as the string it spells
		return appendString(b, v.String())
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float64:
		return appendFloat(b, v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendCanonical(b, v[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	}
	// Records hold only the types above; anything else is encoded as
	// encoding/json does, so that a hash never panics.
	raw, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as serde_json does: '"' and '\\' escaped, the
// control characters as \b \t \n \f \r or \u00xx, everything else (non-
// ASCII included) as it is. Invalid UTF-8 cannot reach here (decoded
// strings are valid), but is written as U+FFFD, as a Rust String holds it.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat writes f as serde_json writes an f64 (ryu's format64): the
// shortest digits that read back as f, laid out in decimal when the
// exponent is small and in scientific notation otherwise; NaN and the
// infinities, which JSON cannot hold, as null.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(b, "null"...)
	case f == 0:
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	var scratch [32]byte
	s := strconv.AppendFloat(scratch[:0], f, 'e', -1, 64) // [-]d[.ddd]e±XX
	if s[0] == '-' {
		b = append(b, '-')
		s = s[1:]
	}
	e := slices.Index(s, 'e')
	exp, _ := strconv.Atoi(string(s[e+1:]))
	var digits []byte
	digits = append(digits, s[0])
	if e > 1 {
		digits = append(digits, s[2:e]...)
	}
	length := len(digits)
	kk := exp + 1 // 10^(kk-1) <= |f| < 10^kk
	k := kk - length
	switch {
	case 0 <= k && kk <= 16: // 1234e7 -> 12340000000.0
		b = append(b, digits...)
		for range k {
			b = append(b, '0')
		}
		return append(b, '.', '0')
	case 0 < kk && kk <= 16: // 1234e-2 -> 12.34
		b = append(b, digits[:kk]...)
		b = append(b, '.')
		return append(b, digits[kk:]...)
	case -5 < kk && kk <= 0: // 1234e-6 -> 0.001234
		b = append(b, '0', '.')
		for range -kk {
			b = append(b, '0')
		}
		return append(b, digits...)
	case length == 1: // 1e30
		b = append(b, digits[0], 'e')
		return strconv.AppendInt(b, int64(kk-1), 10)
	default: // 1234e30 -> 1.234e33
		b = append(b, digits[0], '.')
		b = append(b, digits[1:]...)
		b = append(b, 'e')
		return strconv.AppendInt(b, int64(kk-1), 10)
	}
}

// tableHashes keeps the hash of every table up to date as rows change:
// each row's canonical JSON is encoded once, when the row changes, and a
// table's hash is computed when it is asked for and kept until the table
// changes again. So an ingest costs the encoding of its own row, not a
// scan of its table; asking for a hash after a change costs one pass of
// blake3 over the table's encoded rows (no decoding, no sorting unless a
// row came or went).
type tableHashes struct {
	tables map[string]*hashedTable
	buf    []byte
}

type hashedTable struct {
	rows  map[string]*hashedRow // by full id
	order []*hashedRow          // sorted by raw id; nil once a row came or went
	sum   string                // "" once a row changed
}

type hashedRow struct {
	id, raw string
	canon   []byte // canonical JSON of the record
}

func newTableHashes() *tableHashes {
	return &tableHashes{tables: map[string]*hashedTable{}}
}

// set records the new content of a row and returns the length of its
// canonical JSON.
func (h *tableHashes) set(table, id string, rec map[string]any) int {
	t := h.tables[table]
	if t == nil {
		t = &hashedTable{rows: map[string]*hashedRow{}}
		h.tables[table] = t
	}
	h.buf = appendCanonical(h.buf[:0], rec)
	t.sum = ""
	if r := t.rows[id]; r != nil {
		r.canon = append(r.canon[:0], h.buf...)
		return len(h.buf)
	}
	t.rows[id] = &hashedRow{id: id, raw: rawID(id), canon: slices.Clone(h.buf)}
	t.order = nil
	return len(h.buf)
}

// del records that a row is gone.
func (h *tableHashes) del(table, id string) {
	t := h.tables[table]
	if t == nil {
		return
	}
	if _, ok := t.rows[id]; !ok {
		return
	}
	delete(t.rows, id)
	t.order, t.sum = nil, ""
	if len(t.rows) == 0 {
		delete(h.tables, table)
	}
}

// sum returns the hash of a table ("" for a table without rows).
func (h *tableHashes) sum(table string) string {
	t := h.tables[table]
	if t == nil {
		return ""
	}
	if t.sum != "" {
		return t.sum
	}
	if t.order == nil {
		t.order = make([]*hashedRow, 0, len(t.rows))
		for _, r := range t.rows {
			t.order = append(t.order, r)
		}
		slices.SortFunc(t.order, compareRows)
	}
	t.sum = digest(t.order)
	return t.sum
}

// digest hashes rows in order. The rows are framed into a buffer that
// blake3 takes a block at a time: many small writes cost it several times
// more than the hashing itself.
func digest(rows []*hashedRow) string {
	const block = 64 << 10
	hs := blake3.New(32, nil)
	buf := make([]byte, 0, block)
	for _, r := range rows {
		buf = append(buf, r.raw...)
		buf = append(buf, 0)
		buf = append(buf, r.canon...)
		buf = append(buf, 0)
		if len(buf) >= block {
			hs.Write(buf)
			buf = buf[:0]
		}
	}
	hs.Write(buf)
	return hashPrefix + hex.EncodeToString(hs.Sum(nil))
}

// compareRows orders rows by raw id, as the original sorts them; two ids
// with the same raw id (a table holding both "t:1" and "1") keep an order
// of their own by full id.
func compareRows(a, b *hashedRow) int {
	if c := cmp.Compare(a.raw, b.raw); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// hashTable computes a table's hash from its records, encoding each: what
// /info answers when the hashes are not kept (standalone mode), and what
// the tests check the kept hashes against.
func hashTable(t *ivm.Tables, table string) string {
	var rows []*hashedRow
	var buf []byte
	for id, rec := range t.All(table) {
		buf = appendCanonical(buf[:0], rec)
		rows = append(rows, &hashedRow{id: id, raw: rawID(id), canon: slices.Clone(buf)})
	}
	slices.SortFunc(rows, compareRows)
	return digest(rows)
}

// emptyHash is the hash of a table without rows, which the original
// compares a table missing on one side with.
var emptyHash = hashPrefix + hex.EncodeToString(blake3.New(32, nil).Sum(nil))

// EmptyTableHash is the hash of a table without rows.
func EmptyTableHash() string { return emptyHash }
