package sequence_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/sequence"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

// gzipped is a package holding package.json and index.js.
func gzipped(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{
		"package.json": `{"name":"hello","version":"1.0.0","main":"index.js"}`,
		"index.js":     "module.exports = () => {};",
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// TestDeleteWithdrawnByItsClient: a delete that waits for the sequence's
// instances to end is dropped when its client goes away, so the sequence
// can be started again at once instead of being "deleted" until the kill
// wait is over.
func TestDeleteWithdrawnByItsClient(t *testing.T) {
	sys := systemtest.Boot(t)
	seqs, err := sequence.Start(sys, sequence.Options{KillWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seqs.Close() })
	ctx := context.Background()
	rec, err := seqs.Add(ctx, bytes.NewReader(gzipped(t)))
	if err != nil {
		t.Fatal(err)
	}
	// An instance counted as running that no actor serves: nothing ends
	// it, so the delete waits.
	if _, err := seqs.Reserve(ctx, rec.Id, "held"); err != nil {
		t.Fatal(err)
	}

	gone, leave := context.WithCancel(ctx)
	deleted := make(chan error, 1)
	go func() { deleted <- seqs.Delete(gone, rec.Id, true) }()
	systemtest.Eventually(t, "the delete to wait for the instance", func() bool {
		_, err := seqs.Reserve(ctx, rec.Id, "probe")
		var refused *sequence.Error
		if errors.As(err, &refused) && refused.Code == messages.CodeSequenceInUse {
			return true
		}
		if err == nil { // the delete has not reached the store yet
			seqs.Ended(rec.Id, "probe")
			seqs.Gone(rec.Id, "probe")
		}
		return false
	})
	leave()
	if err := <-deleted; !errors.Is(err, context.Canceled) {
		t.Fatalf("a delete whose client left = %v, want context.Canceled", err)
	}

	if _, err := seqs.Reserve(ctx, rec.Id, "after"); err != nil {
		t.Fatalf("starting the sequence after the delete was withdrawn: %v", err)
	}
	if _, err := seqs.Get(ctx, rec.Id); err != nil {
		t.Fatalf("the sequence after the delete was withdrawn: %v", err)
	}
}

// TestMaxSequences: past MaxSequences an upload is refused with
// CodeLimit; a replacement and an upload after a delete are not.
func TestMaxSequences(t *testing.T) {
	sys := systemtest.Boot(t)
	seqs, err := sequence.Start(sys, sequence.Options{MaxSequences: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seqs.Close() })
	ctx := context.Background()
	var ids []string
	for range 2 {
		rec, err := seqs.Add(ctx, bytes.NewReader(gzipped(t)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.Id)
	}
	var refused *sequence.Error
	if _, err := seqs.Add(ctx, bytes.NewReader(gzipped(t))); !errors.As(err, &refused) || refused.Code != messages.CodeLimit {
		t.Fatalf("a third sequence past a limit of 2: %v, want %s", err, messages.CodeLimit)
	}
	if _, err := seqs.Replace(ctx, ids[0], bytes.NewReader(gzipped(t))); err != nil {
		t.Fatalf("replacing a sequence of a full store: %v", err)
	}
	if err := seqs.Delete(ctx, ids[1], false); err != nil {
		t.Fatal(err)
	}
	if _, err := seqs.Add(ctx, bytes.NewReader(gzipped(t))); err != nil {
		t.Fatalf("a sequence after a delete made room: %v", err)
	}
	if list, err := seqs.List(ctx); err != nil || len(list) != 2 {
		t.Fatalf("stored: %d %v, want 2", len(list), err)
	}
}
